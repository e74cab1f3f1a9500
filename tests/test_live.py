"""Live analysis from a pipe: verdicts arrive while the capture runs; cut pipes and signals lose nothing.

The end-to-end test makes its own network namespaces joined by a veth pair (198.18.5.0/24 only),
pipes `tcpdump -U -w -` into pcapdiag, refuses one connection and drops the SYNs of another, and
deletes the namespaces on exit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import CAPTURES

CLIENT_IP, SERVER_IP = "198.18.5.1", "198.18.5.2"
REFUSED_PORT, DROPPED_PORT = 8081, 8082
PCAPDIAG = [sys.executable, "-m", "pcapdiag", "analyze"]


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


@pytest.fixture
def netns() -> Iterator[tuple[str, str]]:
    """A client and a server namespace joined by a veth pair; deleted on exit."""
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("ip", "tcpdump", "nft")):
        pytest.skip("needs root, iproute2, nftables and tcpdump")
    tag = f"pcdt{os.getpid() % 100000}"
    client, server = f"{tag}c", f"{tag}s"
    try:
        _sh("ip", "netns", "add", client)
        _sh("ip", "netns", "add", server)
        _sh(
            "ip",
            "link",
            "add",
            f"{tag}a",
            "netns",
            client,
            "type",
            "veth",
            "peer",
            f"{tag}b",
            "netns",
            server,
        )
        for ns, dev, ip in ((client, f"{tag}a", CLIENT_IP), (server, f"{tag}b", SERVER_IP)):
            _sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            _sh("ip", "-n", ns, "link", "set", dev, "up")
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
        # The server's side drops SYNs to DROPPED_PORT (as a firewall or network policy would).
        rules = (
            "table inet pcdtest {\n chain input {\n type filter hook input priority 0; policy accept;\n"
            f" tcp dport {DROPPED_PORT} drop\n }}\n}}\n"
        )
        subprocess.run(
            ["ip", "netns", "exec", server, "nft", "-f", "-"],
            input=rules.encode(),
            check=True,
            capture_output=True,
            timeout=30,
        )
        yield client, f"{tag}a"
    finally:
        for ns in (client, server):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30, check=False)


def _connect(ns: str, port: int, timeout: float) -> None:
    code = (
        "import socket\n"
        f"s = socket.socket(); s.settimeout({timeout})\n"
        f"try: s.connect(('{SERVER_IP}', {port}))\n"
        "except OSError as e: print(type(e).__name__)\n"
    )
    subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code], timeout=timeout + 10, check=False)


@pytest.mark.netns
def test_tcpdump_pipe_gets_verdicts_while_capturing(netns: tuple[str, str]) -> None:
    ns, dev = netns
    tcpdump = subprocess.Popen(
        ["ip", "netns", "exec", ns, "tcpdump", "-i", dev, "-U", "-w", "-", "tcp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert tcpdump.stdout is not None and tcpdump.stderr is not None
    diag = subprocess.Popen(
        [*PCAPDIAG, "--format", "jsonl", "--timeout", "3", "-"],
        stdin=tcpdump.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    tcpdump.stdout.close()
    assert diag.stdout is not None
    lines: list[tuple[float, dict[str, object]]] = []

    def collect() -> None:
        assert diag.stdout is not None
        for raw in diag.stdout:
            lines.append((time.monotonic(), json.loads(raw)))

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 10
        ready = b""
        while b"listening on" not in ready and time.monotonic() < deadline:
            ready += tcpdump.stderr.read1(4096)  # type: ignore[attr-defined]
        assert b"listening on" in ready, ready

        _connect(ns, REFUSED_PORT, timeout=2)
        refused_at = time.monotonic()
        deadline = refused_at + 5
        while not any(d.get("label") == "refused" for _, d in lines) and time.monotonic() < deadline:
            time.sleep(0.02)
        got = [(t, d) for t, d in lines if d.get("label") == "refused"]
        assert got, lines
        assert got[0][0] - refused_at < 1.0, "refused must be reported within 1 s of the RST"
        assert got[0][1]["server"] == {"ip": SERVER_IP, "port": REFUSED_PORT}

        started = time.monotonic()
        _connect(ns, DROPPED_PORT, timeout=2)  # SYNs at 0 and 1 s, then the client gives up
        deadline = started + 10
        while not any(d.get("label") == "syn-timeout" for _, d in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(d.get("label") == "syn-timeout" for _, d in lines), lines
        assert tcpdump.poll() is None, "the verdict must arrive while the capture is still running"
    finally:
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(timeout=10)
        diag.wait(timeout=20)
        reader.join(timeout=5)
    assert diag.returncode == 1  # failing connections were seen
    summary = lines[-1][1]
    assert "label" not in summary
    assert summary["summary"]["by_label"] == {"refused": 1, "syn-timeout": 1}  # type: ignore[index]


def _records(data: bytes) -> list[int]:
    """Byte offsets where each pcap record starts (little-endian µs pcap)."""
    offsets, off = [], 24
    while off + 16 <= len(data):
        offsets.append(off)
        off += 16 + int.from_bytes(data[off + 8 : off + 12], "little")
    return offsets


def test_producer_killed_mid_record_loses_nothing_decided(tmp_path: Path) -> None:
    source = CAPTURES / "refused" / "client-eth.pcap"
    data = source.read_bytes()
    cut = _records(data)[-1] + 20  # inside the last record's data
    part = tmp_path / "part.pcap"
    part.write_bytes(data[:cut])
    producer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys,time; sys.stdout.buffer.write(open({str(part)!r},'rb').read()); "
            "sys.stdout.flush(); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    diag = subprocess.Popen(
        [*PCAPDIAG, "--format", "json", "-"],
        stdin=producer.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert producer.stdout is not None
    producer.stdout.close()
    time.sleep(1.0)
    producer.kill()
    producer.wait(timeout=10)
    out, err = diag.communicate(timeout=30)
    doc = json.loads(out)
    assert doc["captures"][0]["truncated_at_offset"] == _records(data)[-1]
    assert f"cut off at byte offset {_records(data)[-1]}" in err.decode()
    assert err.decode().count("\n") == 1 and "Traceback" not in err.decode()
    whole = tmp_path / "whole-records.pcap"
    whole.write_bytes(data[: _records(data)[-1]])
    expected = json.loads(
        subprocess.run([*PCAPDIAG, "--format", "json", str(whole)], capture_output=True, check=False).stdout
    )
    assert doc["flows"] and doc["flows"] == [dict(f, capture="-") for f in expected["flows"]]
    assert diag.returncode == 1


def test_sigint_reports_what_was_decided() -> None:
    data = (CAPTURES / "refused" / "client-eth.pcap").read_bytes()
    diag = subprocess.Popen(
        [*PCAPDIAG, "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert diag.stdin is not None
    diag.stdin.write(data)
    diag.stdin.flush()  # the pipe stays open: pcapdiag waits for more packets
    time.sleep(1.5)
    diag.send_signal(signal.SIGINT)
    out, err = diag.communicate(timeout=20)
    text = out.decode()
    assert "refused" in text and "Summary:" in text and "stopped: interrupted (SIGINT)" in text
    assert "Traceback" not in err.decode()
    assert diag.returncode == 1


def test_closed_stdout_ends_quietly() -> None:
    captures = [str(p) for p in sorted(CAPTURES.glob("*/client-eth.pcap"))]
    pipeline = subprocess.run(
        f"{sys.executable} -m pcapdiag analyze {' '.join(captures)} | head -1",
        shell=True,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert len(pipeline.stdout.decode().splitlines()) == 1
    assert pipeline.stderr == b""


def test_count_and_duration_stop_early() -> None:
    path = str(CAPTURES / "keepalive" / "client-eth.pcap")
    doc = json.loads(
        subprocess.run(
            [*PCAPDIAG, "--format", "json", "--count", "3", path], capture_output=True, check=False
        ).stdout
    )
    assert doc["captures"][0]["packets"] == 3 and doc["captures"][0]["stopped"] == "--count 3 reached"
    doc = json.loads(
        subprocess.run(
            [*PCAPDIAG, "--format", "json", "--duration", "0.1", path], capture_output=True, check=False
        ).stdout
    )
    assert doc["captures"][0]["stopped"] == "--duration 0.1 s reached"
    assert doc["captures"][0]["packets"] > 0


def test_a_dial_on_a_quiet_pipe_is_decided_once_its_next_syn_is_overdue() -> None:
    # Classic SYNs at 0, 1 and 3 s, written at once, then nothing: the pipe stays open and quiet, so
    # capture time moves on by the wall clock. --timeout 1 alone would decide at 3 + 1.5 s; the SYN
    # due at 7 s may come up to 7.51 s (RTO + 1/8 + a tick), plus half a second of path slack: the
    # verdict comes about 5 s after the last SYN, and it reads the give-up from the missing SYN.
    from builders import pcap_header, pcap_record
    from conversation import Conversation

    dial = Conversation()
    for t in (0.0, 1.003, 3.012):
        dial.syn(t)
    data = pcap_header() + b"".join(pcap_record(r) for r in dial.records)
    diag = subprocess.Popen(
        [*PCAPDIAG, "--format", "jsonl", "--timeout", "1", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert diag.stdin is not None and diag.stdout is not None
    try:
        diag.stdin.write(data)
        diag.stdin.flush()
        written = time.monotonic()
        line = diag.stdout.readline()  # the verdict, while the pipe is still open
        waited = time.monotonic() - written
        assert diag.poll() is None
    finally:
        diag.stdin.close()  # EOF: the run ends with its summary
        diag.wait(timeout=30)
    out, err = diag.stdout.read(), diag.stderr.read() if diag.stderr else b""
    flow = json.loads(line)
    assert flow["label"] == "syn-timeout"
    assert 4.0 <= waited <= 15.0, waited
    timing = flow["timing"]
    assert timing["syn_count"] == 3 and timing["syn_schedule"] == "classic"
    assert timing["gave_up_s"] == pytest.approx([3.012, 7.012])
    assert "summary" in json.loads(out.splitlines()[-1])
    assert err == b""
