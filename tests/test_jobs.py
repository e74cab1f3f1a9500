"""analyze --jobs N reads several files in worker processes and prints exactly the --jobs 1 report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CAPTURES, ROOT

FOUR = [
    str(CAPTURES / "syn-timeout" / "client-eth.pcap"),
    str(CAPTURES / "syn-timeout" / "server-any.pcap"),
    str(CAPTURES / "refused" / "client.pcapng"),
    str(CAPTURES / "cert-rejected-tls13" / "client-eth-nsec.pcap"),
]
"""Two views of one failure (matched across captures) and two unrelated captures, in four encodings."""


def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pcapdiag", "analyze", *args],
        input=stdin,
        capture_output=True,
        timeout=300,
        check=False,
    )


def _same(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run with --jobs 1 and --jobs 2 (and 4); assert identical stdout, stderr and exit status."""
    one = _run(*args, "--jobs", "1", stdin=stdin)
    for jobs in ("2", "4"):
        many = _run(*args, "--jobs", jobs, stdin=stdin)
        assert many.stdout == one.stdout, f"--jobs {jobs}"
        assert (many.stderr, many.returncode) == (one.stderr, one.returncode), f"--jobs {jobs}"
    return one


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_four_files_same_report(fmt: str) -> None:
    run = _same([*FOUR, "--format", fmt])
    assert run.returncode == 1
    if fmt == "json":
        report = json.loads(run.stdout)
        assert len(report["captures"]) == 4
        assert {f["match"] for f in report["flows"]} >= {"isn", "single"}  # matched across captures
        assert report["clock_offsets"]


def test_named_sides_with_k8s_same_report() -> None:
    """--side names and --k8s (the inventory goes to every worker): the same report."""
    client, server = CAPTURES / "return-path" / "client-eth.pcap", CAPTURES / "return-path" / "server.pcapng"
    k8s = ["--k8s", str(CAPTURES / "k8s" / "cluster.json"), "--k8s", str(CAPTURES / "k8s" / "webhooks.json")]
    run = _same(["--side", f"apiserver={client}", "--side", f"webhook={server}", *k8s, "--format", "json"])
    flows = json.loads(run.stdout)["flows"]
    assert flows and all(f["where"] for f in flows)
    assert all(f["kubernetes"] for f in flows)


def test_bad_files_same_lines_and_status(tmp_path: Path) -> None:
    """A missing file, a directory, a file that is not a capture and one cut off mid-record among good
    ones: the same stderr lines in the same order and the same exit status as --jobs 1."""
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture at all")
    data = (CAPTURES / "ok-tls13" / "client-eth.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-100])
    args = [FOUR[0], str(tmp_path / "missing.pcap"), str(tmp_path), str(junk), str(cut), FOUR[2]]
    run = _same([*args, "--format", "json"])
    assert run.returncode == 2
    lines = run.stderr.decode().splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        str(p) for p in (tmp_path / "missing.pcap", tmp_path, junk, cut)
    ]
    assert len(json.loads(run.stdout)["captures"]) == 3  # the cut file's packets still count


def test_stdin_is_read_by_the_parent() -> None:
    """'-' cannot go to a worker: the parent reads it while the workers read the files."""
    stdin = Path(FOUR[1]).read_bytes()
    run = _same([FOUR[0], "-", FOUR[2], "--format", "json"], stdin=stdin)
    paths = [c["path"] for c in json.loads(run.stdout)["captures"]]
    assert paths == [FOUR[0], "-", FOUR[2]]


def test_tshark_engine_in_workers() -> None:
    pytest.importorskip("pyshark")
    run = _same([*FOUR[:3], "--format", "json", "--engine", "tshark"])
    report = json.loads(run.stdout)
    assert {c["engine"] for c in report["captures"]} == {"tshark"}
    native = json.loads(_run(*FOUR[:3], "--format", "json").stdout)
    assert report["flows"] == native["flows"]


def _group_cpu_s(pgid: int, but: int) -> float:
    """CPU seconds used so far by the processes of a process group, but one (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == but:
            continue
        try:
            stat = (Path("/proc") / entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:  # pgrp is the 5th field; fields[0] is the state (3rd)
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def test_ctrl_c_stops_every_worker(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole process group) during a --jobs run: the workers stop reading, the
    report of what was decided is printed, nothing is left running, no traceback."""
    files = []
    for seed in (1, 2):
        path = tmp_path / f"mix-{seed}.pcap"
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "gen.py"), "mix", "-o", str(path), "--packets", "300k",
             "--seed", str(seed)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        files.append(str(path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pcapdiag", "analyze", *files, "--jobs", "2", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    # Interrupt once the workers are reading (their CPU time adds up), however loaded the machine is.
    deadline = time.monotonic() + 60
    while _group_cpu_s(proc.pid, but=proc.pid) < 2.0 and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err, err.decode()
    assert proc.returncode in (0, 1), err.decode()
    report = json.loads(out)
    stopped = [c["stopped"] for c in report["captures"]]
    assert "interrupted (SIGINT)" in stopped, stopped
    assert all(c["packets"] < 300_000 for c in report["captures"] if c["stopped"])
    for _ in range(50):  # the fork server and workers go as their parent goes
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("processes of the --jobs run are still running")
