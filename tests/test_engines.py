"""Both engines, pcapdiag's own decoder and tshark's dissection, label every connection alike wherever both
decode its packets; where only tshark decodes them (other file formats, GTP, AYIYA, VN-Tag) it finds them."""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6DestUnreach, IPv6
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Raw

from builders import write_pcap
from conftest import CAPTURES, ROOT
from pcapdiag.pipeline import Options
from pcapdiag.runner import FileResult, Task, Workers, analyse_path
from pcapdiag.tshark import TsharkUnavailable, check_available

CORPUS = Path(os.environ.get("PCAPDIAG_ZEEK_CORPUS", ROOT.parent / "shared" / "corpus" / "zeek"))
IN_CI = os.environ.get("CI") == "true"


def _missing() -> str | None:
    try:
        check_available()
    except TsharkUnavailable as exc:
        return str(exc)
    return None


MISSING = _missing()
pytestmark = [
    pytest.mark.tshark,
    # CI installs tshark and pyshark (setup.sh): there a missing tshark fails these tests instead.
    pytest.mark.skipif(MISSING is not None and not IN_CI, reason=MISSING or ""),
]

CAPTURE_FILES = sorted(str(p.relative_to(ROOT)) for p in CAPTURES.glob("*/*.pcap*"))
"""Every bundled capture (pcap and pcapng), as paths relative to the repository."""

ZEEK_TRACES = (
    sorted({row["trace"] for row in csv.DictReader((CORPUS / "MANIFEST.tsv").open(), delimiter="\t")})
    if (CORPUS / "MANIFEST.tsv").is_file()
    else []
)
"""Every trace the Zeek corpus's MANIFEST.tsv names (traces it has no TCP row for are in TRACES.tsv only)."""

TSHARK_ONLY = {
    "Traces/tunnels/ayiya3.pcap": "AYIYA (IPv6 in UDP)",
    "Traces/tunnels/gtp/gtp1_gn_normal_incl_fragmentation.pcap": "GTP-U, outer IPv4 fragments reassembled",
    "Traces/tunnels/gtp/gtp2_different_udp_port.pcap": "GTP-U",
    "Traces/tunnels/gtp/gtp6_gtp_0x32.pcap": "GTP-U",
    "Traces/vntag_vlan_sandwich_clean.pcap": "VN-Tag",
}
"""Traces whose connections travel in encapsulations only tshark decodes: it finds Zeek's connections."""

LABEL_DIFFERENCES: dict[tuple[str, tuple[str, int, str, int]], tuple[str, str]] = {}
"""(trace, connection) -> (native label, tshark label) where the engines legitimately differ: none now.
(pppoe-over-qinq.pcap was one until the native decoder bounded a PPPoE packet by the PPPoE LENGTH.)"""

Key = tuple[str, int, str, int, int]
Outcome = tuple[str, str, int]


def _flows(result: FileResult) -> dict[Key, Outcome]:
    """Connection (client, server, first frame) -> (label, history, packets)."""
    return {
        (f.client.ip, f.client.port, f.server.ip, f.server.port, f.first_frame): (
            f.label.value,
            f.history,
            f.packets,
        )
        for f in result.flows
    }


def _task(path: str, engine: str) -> Task:
    return Task(path, Options(), paired=True, engine=engine)  # paired: every flow is kept


@functools.cache
def native(path: str) -> FileResult:
    return analyse_path(_task(path, "native"))


@pytest.fixture(scope="module")
def tshark() -> dict[str, FileResult]:
    """tshark's analysis of every bundled capture and Zeek trace, two files at a time (tshark's start-up
    dominates on small files), through the same worker pool as analyze --jobs."""
    if MISSING is not None:
        pytest.fail(f"CI must run the tshark engine: {MISSING}")
    paths = [str(ROOT / p) for p in CAPTURE_FILES] + [str(CORPUS / t) for t in ZEEK_TRACES]
    tasks = [_task(p, "tshark") for p in paths]
    with Workers(2) as workers:
        futures = [workers.submit(t) for t in tasks]
        results = {t.path: workers.result(f, t, lambda: None) for t, f in zip(tasks, futures, strict=True)}
    return {path: result for path, result in results.items() if result is not None}


# -- captures/: real kernel TCP and TLS, every encoding -------------------------------------------


@pytest.mark.parametrize("capture", CAPTURE_FILES)
def test_bundled_captures_same_labels(capture: str, tshark: dict[str, FileResult]) -> None:
    """Every connection of every bundled capture: same label, history and packet count from both engines."""
    path = str(ROOT / capture)
    ours, theirs = native(path), tshark[path]
    assert ours.report is not None and theirs.report is not None, (ours.problem, theirs.problem)
    assert theirs.report.error is None, theirs.report.error
    assert theirs.report.engine == "tshark" and ours.report.engine == "native"
    assert _flows(ours) or capture.startswith("captures/unreachable/server")  # no SYN got that far
    assert _flows(theirs) == _flows(ours)
    assert (theirs.report.packets, theirs.report.tcp_packets) == (
        ours.report.packets,
        ours.report.tcp_packets,
    )


# -- ../shared/corpus/zeek: real traces, odd encapsulations ---------------------------------------


@pytest.mark.skipif(not ZEEK_TRACES, reason=f"no Zeek corpus at {CORPUS}")
@pytest.mark.parametrize("trace", ZEEK_TRACES)
def test_zeek_traces_same_labels_where_both_decode(trace: str, tshark: dict[str, FileResult]) -> None:
    """Connections both engines decode carry the same label (but for LABEL_DIFFERENCES); tshark finds
    connections the native decoder does not only in TSHARK_ONLY's encapsulations; never the reverse."""
    path = str(CORPUS / trace)
    ours, theirs = native(path), tshark[path]
    assert theirs.report is not None and theirs.report.error is None, theirs.problem or theirs.report
    mine, its = _flows(ours), _flows(theirs)
    assert set(mine) <= set(its), "connections only the native decoder found"
    for key in mine:
        expected = LABEL_DIFFERENCES.get((trace, key[:4]))
        if expected is None:
            assert its[key] == mine[key], key
        else:
            assert (mine[key][0], its[key][0]) == expected, f"{key}: LABEL_DIFFERENCES is out of date"
    only_tshark = set(its) - set(mine)
    assert bool(only_tshark) == (trace in TSHARK_ONLY), sorted(only_tshark)


@pytest.mark.skipif(not ZEEK_TRACES, reason=f"no Zeek corpus at {CORPUS}")
@pytest.mark.parametrize("trace", sorted(TSHARK_ONLY))
def test_tshark_finds_zeeks_connections_in_encapsulations_native_skips(
    trace: str, tshark: dict[str, FileResult]
) -> None:
    """The point of the second engine: in GTP, AYIYA and VN-Tag it finds every connection Zeek logged."""
    rows = [
        r for r in csv.DictReader((CORPUS / "MANIFEST.tsv").open(), delimiter="\t") if r["trace"] == trace
    ]
    zeek = {frozenset({(r["orig_h"], int(r["orig_p"])), (r["resp_h"], int(r["resp_p"]))}) for r in rows}
    found = {frozenset({(k[0], k[1]), (k[2], k[3])}) for k in _flows(tshark[str(CORPUS / trace)])}
    assert zeek and zeek <= found
    assert not (zeek & {frozenset({(k[0], k[1]), (k[2], k[3])}) for k in _flows(native(str(CORPUS / trace)))})


# -- built captures: what no bundled file has ----------------------------------------------------

SYN = TCP(sport=40001, dport=443, flags="S", seq=1000, options=[("MSS", 1460)])
RST = TCP(sport=443, dport=40001, flags="RA", seq=0, ack=1001)


def _run_both(path: Path) -> tuple[dict[Key, Outcome], dict[Key, Outcome]]:
    ours, theirs = analyse_path(_task(str(path), "native")), analyse_path(_task(str(path), "tshark"))
    assert ours.report is not None and theirs.report is not None
    return _flows(ours), _flows(theirs)


def test_icmpv6_error_and_vxlan_on_linux_port(tmp_path: Path) -> None:
    """An ICMPv6 error quoting a SYN, and a refused connection in VXLAN on 8472 (flannel): same labels."""
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    v6 = IPv6(src="2001:db8:1::2", dst="2001:db8:2::2")
    inner = IP(src="198.18.0.2", dst="198.19.0.2")
    back = IP(src="198.19.0.2", dst="198.18.0.2")
    outer = IP(src="198.18.1.1", dst="198.18.1.2") / UDP(sport=50000, dport=8472) / VXLAN(vni=1)
    packets = [
        eth / v6 / SYN,
        eth / IPv6(src="2001:db8:1::1", dst="2001:db8:1::2") / ICMPv6DestUnreach(code=1) / v6 / SYN,
        eth / outer / eth / inner / SYN,
        eth / outer / eth / back / RST,
    ]
    path = write_pcap(tmp_path / "built.pcap", packets)
    ours, theirs = _run_both(path)
    assert sorted(label for label, _, _ in ours.values()) == ["refused", "unreachable"]
    assert theirs == ours


def _gtp_u(inner: IP, teid: int = 7) -> Raw:
    """A GTP-U G-PDU (3GPP TS 29.281: version 1, PT 1, message type 255, length, TEID) carrying ``inner``.
    Built by hand: importing scapy.contrib.gtp would bind UDP port 2152 for every later test."""
    payload = bytes(inner)
    return Raw(struct.pack("!BBHI", 0x30, 0xFF, len(payload), teid) + payload)


def test_gtp_only_tshark(tmp_path: Path) -> None:
    """A refused connection inside GTP-U (a mobile core's tunnel): only tshark decodes it."""
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    udp = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=2152, dport=2152)
    packets = [
        eth / udp / _gtp_u(IP(src="198.18.0.2", dst="198.19.0.2") / SYN),
        eth / udp / _gtp_u(IP(src="198.19.0.2", dst="198.18.0.2") / RST),
    ]
    ours, theirs = _run_both(write_pcap(tmp_path / "gtp.pcap", packets))
    assert ours == {}
    assert list(theirs.values()) == [("refused", "Sr", 2)]


@pytest.mark.skipif(shutil.which("editcap") is None and not IN_CI, reason="editcap (tshark's) missing")
@pytest.mark.parametrize("file_type", ["snoop", "netmon2", "ngsniffer", "k12text"])
def test_formats_only_tshark_reads(file_type: str, tmp_path: Path) -> None:
    """A bundled capture rewritten by editcap in another file format: the native reader refuses it (exit
    2), tshark reads it and labels its connections as the native engine labels the original."""
    original = CAPTURES / "cert-rejected-tls12" / "client-eth.pcap"
    converted = tmp_path / f"capture.{file_type}"
    subprocess.run(["editcap", "-F", file_type, str(original), str(converted)], check=True)
    ours = analyse_path(_task(str(converted), "native"))
    assert ours.report is None and ours.problem is not None and "not a pcap or pcapng" in ours.problem
    theirs = analyse_path(_task(str(converted), "tshark"))
    assert theirs.report is not None and theirs.report.error is None
    labels = [(k[:4], v[0]) for k, v in _flows(theirs).items()]
    assert labels == [(k[:4], v[0]) for k, v in _flows(native(str(original))).items()]
    assert "cert-rejected" in {label for _, label in labels}


# -- the command line ------------------------------------------------------------------------------


def _cli(
    *args: str, env: dict[str, str] | None = None, code: str | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "pcapdiag", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)


def test_cli_engine_tshark_json_matches_native(tmp_path: Path) -> None:
    """--engine tshark prints the same connections as the default engine; the report names the engine."""
    capture = str(CAPTURES / "unreachable" / "client-eth.pcap")
    native_run = _cli("analyze", capture, "--format", "json")
    tshark_run = _cli("analyze", capture, "--format", "json", "--engine", "tshark")
    assert (native_run.returncode, tshark_run.returncode) == (1, 1), tshark_run.stderr
    assert tshark_run.stderr == ""
    ours, theirs = json.loads(native_run.stdout), json.loads(tshark_run.stdout)
    assert theirs["flows"] == ours["flows"]
    assert theirs["captures"][0]["engine"] == "tshark" and ours["captures"][0]["engine"] == "native"


def test_cli_without_tshark_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """No tshark on PATH, or no pyshark: one line on stderr naming what to install, exit status 2."""
    capture = str(CAPTURES / "refused" / "client-eth.pcap")
    env = {**os.environ, "PATH": str(tmp_path)}
    run = _cli("analyze", capture, "--engine", "tshark", env=env)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and "tshark" in run.stderr and "Traceback" not in run.stderr
    no_pyshark = "import sys; sys.modules['pyshark'] = None; from pcapdiag.cli import main; main()"
    run = _cli("analyze", capture, "--engine", "tshark", code=no_pyshark)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and "pip install 'pcapdiag[tshark]'" in run.stderr


def test_cli_tshark_bad_input(tmp_path: Path) -> None:
    """stdin, a missing file, a file cut off mid-record: one line each on stderr, exit status 2."""
    run = subprocess.run(
        [sys.executable, "-m", "pcapdiag", "analyze", "-", "--engine", "tshark"],
        input=b"",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2 and run.stderr.decode().count("\n") == 1
    assert b"not stdin" in run.stderr
    run = _cli("analyze", str(tmp_path / "missing.pcap"), "--engine", "tshark")
    assert (
        run.returncode == 2
        and run.stderr == f"pcapdiag: {tmp_path / 'missing.pcap'}: No such file or directory\n"
    )
    data = (CAPTURES / "ok-tls13" / "client-eth.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 100])
    run = _cli("analyze", str(cut), "--engine", "tshark")
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "cut short in the middle of a packet" in run.stderr
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr


def test_cli_tshark_count_stops_tshark(tmp_path: Path) -> None:
    """--count stops reading early; the report says so and nothing is left running or complaining."""
    run = _cli(
        "analyze", str(CAPTURES / "ok-tls13" / "client-eth.pcap"), "--engine", "tshark", "--count", "3"
    )
    assert run.returncode == 0, run.stderr
    assert "stopped: --count 3 reached" in run.stdout and run.stderr == ""
