"""The command line as users and scripts run it: output formats, filters, exit codes, bad input."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from clirun import run_cli
from conftest import CAPTURES, CONTRACT_LABELS, run_on_terminal

REFUSED = CAPTURES / "refused" / "client-eth.pcap"
OK = CAPTURES / "ok-tls13" / "client-eth.pcap"


def pcapdiag(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The command line in this process (see clirun); the tests that need a real process say so."""
    return run_cli(*args, stdin=stdin)


def test_ok_capture_exits_0_and_failing_exits_1() -> None:
    assert pcapdiag("analyze", str(OK)).returncode == 0
    result = pcapdiag("analyze", str(REFUSED))
    assert result.returncode == 1
    text = result.stdout.decode()
    assert "refused" in text and "connect: connection refused" in text
    assert "next steps:" in text and "kubectl get endpoints" in text
    assert re.search(r"Summary: \d+ connections?: .*refused \d", text)


def test_json_schema_fields() -> None:
    result = pcapdiag("analyze", "--format", "json", str(REFUSED), str(OK))
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert {"flows", "summary", "captures"} <= doc.keys()
    assert [c["path"] for c in doc["captures"]] == [str(REFUSED), str(OK)]
    for cap in doc["captures"]:
        assert {"path", "format", "link_types", "packets"} <= cap.keys()
        assert cap["format"] == "pcap" and cap["link_types"] == ["EN10MB"] and cap["packets"] > 0
    for flow in doc["flows"]:
        assert {
            "client",
            "server",
            "label",
            "kubernetes_error",
            "explanation",
            "next_steps",
            "sni",
            "tls_version",
            "start",
            "duration_s",
            "packets",
            "evidence",
        } <= flow.keys()
        assert set(flow["client"]) == {"ip", "port"} and set(flow["server"]) == {"ip", "port"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", flow["start"])
        for e in flow["evidence"]:
            assert {"frame", "time", "direction", "summary"} <= e.keys()
    labels = sorted(f["label"] for f in doc["flows"])
    assert doc["summary"]["by_label"] == {label: labels.count(label) for label in set(labels)}


def test_port_and_server_filters() -> None:
    doc = json.loads(pcapdiag("analyze", "--format", "json", "--port", "9", str(OK)).stdout)
    assert doc["flows"] == []
    ok = json.loads(pcapdiag("analyze", "--format", "json", str(OK)).stdout)["flows"][0]
    server = f"{ok['server']['ip']}:{ok['server']['port']}"
    doc = json.loads(pcapdiag("analyze", "--format", "json", "--server", server, str(OK)).stdout)
    assert len(doc["flows"]) == 1
    doc = json.loads(pcapdiag("analyze", "--format", "json", "--server", ok["client"]["ip"], str(OK)).stdout)
    assert doc["flows"] == []  # --server matches the server role, not the client


def test_stdin_gzip_and_output_file(tmp_path: pathlib.Path) -> None:
    data = gzip.compress(REFUSED.read_bytes())
    out = tmp_path / "r.json"
    result = pcapdiag("analyze", "--format", "json", "-o", str(out), "-", stdin=data)
    assert result.returncode == 1 and result.stdout == b""
    doc = json.loads(out.read_text())
    assert doc["captures"][0]["format"] == "pcap+gzip"
    assert doc["flows"][0]["label"] == "refused"


def test_jsonl_one_object_per_connection() -> None:
    result = pcapdiag("analyze", "--format", "jsonl", str(REFUSED), str(OK))
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    doc = json.loads(pcapdiag("analyze", "--format", "json", str(REFUSED), str(OK)).stdout)
    assert lines[:-1] == doc["flows"]
    assert lines[-1] == {
        "summary": doc["summary"],
        "captures": doc["captures"],
        "clock_offsets": doc["clock_offsets"],
        "kubernetes": doc["kubernetes"],
    }
    assert {f["label"] for f in doc["flows"]} == {"refused", "ok"}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.pcap", b"", "empty file"),
        ("text.pcap", b"this is not a capture at all\n", "not a pcap or pcapng capture"),
        ("short.pcap", b"\xd4\xc3\xb2\xa1\x02\x00", "truncated"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: pathlib.Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = pcapdiag("analyze", str(path), str(REFUSED))
    err = result.stderr.decode()
    assert result.returncode == 2
    assert err.count("\n") == 1 and str(path) in err and message in err, err
    assert "Traceback" not in err
    assert "refused" in result.stdout.decode()  # the good file is still analysed


def test_missing_file_and_directory(tmp_path: pathlib.Path) -> None:
    for target, message in ((tmp_path / "nope.pcap", "No such file"), (tmp_path, "is a directory")):
        result = pcapdiag("analyze", str(target))
        assert result.returncode == 2
        err = result.stderr.decode()
        assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_truncated_last_record_keeps_what_was_decided(tmp_path: pathlib.Path) -> None:
    data = REFUSED.read_bytes()
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:-10])
    result = pcapdiag("analyze", "--format", "json", str(path))
    err = result.stderr.decode()
    assert "cut off at byte offset" in err and err.count("\n") == 1
    doc = json.loads(result.stdout)
    assert doc["captures"][0]["truncated_at_offset"] is not None
    assert result.returncode in (0, 1)


def test_usage_error_exits_2() -> None:
    assert pcapdiag("analyze").returncode == 2
    assert pcapdiag("analyze", "--server", "not-an-ip", str(OK)).returncode == 2


def test_labels_command_lists_the_vocabulary() -> None:
    text = pcapdiag("labels").stdout.decode()
    for label in CONTRACT_LABELS:
        assert re.search(rf"^{label}$", text, re.M)


def test_unknown_link_type_is_named_once(tmp_path: pathlib.Path) -> None:
    from builders import Record, write_pcap

    path = write_pcap(tmp_path / "usb.pcap", [Record(b"\x00" * 40), Record(b"\x01" * 40)], linktype=189)
    result = pcapdiag("analyze", str(path))
    err = result.stderr.decode()
    assert result.returncode == 2
    assert err.count("\n") == 1 and "link type 189" in err and "2 frames skipped" in err


def _run_on_terminal(env: dict[str, str]) -> bytes:
    return run_on_terminal(
        [sys.executable, "-m", "pcapdiag", "analyze", str(REFUSED)], stdout_tty=True, env=env
    )


def test_labels_are_coloured_on_a_terminal_unless_no_color() -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = _run_on_terminal(env)
    assert b"\x1b[31m\x1b[1mrefused" in coloured  # click.style: failing labels bold red
    assert b"\x1b[" not in _run_on_terminal({**env, "NO_COLOR": "1"})
    assert b"\x1b[" not in pcapdiag("analyze", str(REFUSED)).stdout  # not a terminal


def test_progress_on_a_terminal_for_large_files(tmp_path: pathlib.Path) -> None:
    data = OK.read_bytes()
    header, records = data[:24], data[24:]
    big = tmp_path / "big.pcap"
    big.write_bytes(header + records * (17 * 1024 * 1024 // len(records) + 1))
    cmd = [sys.executable, "-m", "pcapdiag", "analyze", "--format", "json", "-o", str(tmp_path / "r.json")]
    err = run_on_terminal([*cmd, str(big)], stdout_tty=False)
    assert b"MiB" in err and b"%" in err
    quiet = pcapdiag("analyze", "--format", "json", "-o", str(tmp_path / "q.json"), str(big))
    assert b"MiB" not in quiet.stderr  # not a terminal: no progress


# -- files the user may not read ------------------------------------------------------------------

PR_CAPBSET_DROP = 24  # linux/prctl.h: remove a capability from the bounding set
NOBODY = 65534


def _drop_every_capability() -> None:
    """preexec_fn: empty the bounding set, so the exec'd program (still uid 0) has no capability and
    is held to file permission bits like any user (no CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    cap = 0
    while libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1


class Unprivileged:
    """Runs pcapdiag without the right to read a file only root (or another user) may read.

    As uid 65534 when this machine's interpreter and packages can be run by it, on a root-owned
    0600 copy of a capture in a directory it can traverse; else (the interpreter under /root, 0700)
    as uid 0 with every capability dropped, on a 0600 copy owned by uid 65534: either way the
    process is neither the file's owner nor privileged to override its mode.
    """

    def __init__(self, base: pathlib.Path) -> None:
        self.dir = base / "shared"
        self.dir.mkdir()
        for d in (base, self.dir):
            d.chmod(0o755)
        self.as_nobody = True
        try:
            self.as_nobody = self._run("-c", "import click, pcapdiag").returncode == 0
        except PermissionError:  # the interpreter itself is out of its reach
            self.as_nobody = False
        self.owner = 0 if self.as_nobody else NOBODY
        """Owns the files the process may not read."""
        self.uid = NOBODY if self.as_nobody else 0
        """The process's own uid."""

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        cmd = [sys.executable, *args]
        if self.as_nobody:
            return subprocess.run(
                cmd,
                capture_output=True,
                timeout=120,
                check=False,
                cwd="/",
                user=NOBODY,
                group=NOBODY,
                extra_groups=[],
            )
        return subprocess.run(
            cmd, capture_output=True, timeout=120, check=False, cwd="/", preexec_fn=_drop_every_capability
        )

    def secret(self, source: pathlib.Path) -> pathlib.Path:
        """A 0600 copy of ``source`` the unprivileged process may not read."""
        path = self.dir / source.name
        path.write_bytes(source.read_bytes())
        path.chmod(0o600)
        os.chown(path, self.owner, self.owner)
        return path

    def write_only(self, name: str) -> pathlib.Path:
        """An existing 0200 file of the process's own: it may write it, not read it."""
        path = self.dir / name
        path.write_bytes(b"")
        path.chmod(0o200)
        os.chown(path, self.uid, self.uid)
        return path

    def run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        """pcapdiag with these arguments, as the unprivileged process."""
        return self._run("-m", "pcapdiag", *args)


@pytest.fixture
def unprivileged() -> Iterator[Unprivileged]:
    if os.geteuid() != 0:
        pytest.skip("not root: cannot make a file this user may not read while the test may (run as root)")
    import tempfile

    base = pathlib.Path(tempfile.mkdtemp(prefix="pcapdiag-perm-"))
    try:
        yield Unprivileged(base)
    finally:
        shutil.rmtree(base)


def _one_line(result: subprocess.CompletedProcess[bytes], path: pathlib.Path, message: str) -> str:
    err = result.stderr.decode()
    assert result.returncode == 2, (result.returncode, err)
    assert err.count("\n") == 1 and err.startswith("pcapdiag: "), err
    assert str(path) in err and message in err and "Traceback" not in err, err
    return err


def test_a_capture_the_user_may_not_read(unprivileged: Unprivileged) -> None:
    secret = unprivileged.secret(REFUSED)
    probe = unprivileged.run("analyze", str(REFUSED))
    assert probe.returncode == 1, "the unprivileged process runs pcapdiag on a readable capture"
    _one_line(unprivileged.run("analyze", str(secret)), secret, "Permission denied")
    both = unprivileged.run("analyze", "--format", "json", str(secret), str(OK))
    _one_line(both, secret, "Permission denied")
    doc = json.loads(both.stdout)
    assert [f["label"] for f in doc["flows"]] == ["ok"], "the readable capture is still analysed"
    _one_line(unprivileged.run("analyze", "--jobs", "2", str(secret), str(OK)), secret, "Permission denied")
    _one_line(
        unprivileged.run("extract", str(secret), "--label", "refused", "-o", "/dev/null"), secret, "denied"
    )
    _one_line(unprivileged.run("analyze", str(OK), "--k8s", str(secret)), secret, "Permission denied")
    if shutil.which("tshark") and shutil.which("capinfos") and importlib.util.find_spec("pyshark"):
        _one_line(unprivileged.run("analyze", "--engine", "tshark", str(secret)), secret, "permission")
    # An output the user may write but not read is fine (click used to call it "not readable").
    out = unprivileged.write_only("report.txt")
    assert unprivileged.run("analyze", str(REFUSED), "-o", str(out)).returncode == 1
    assert b"refused" in out.read_bytes()


def test_a_directory_given_as_a_file(tmp_path: pathlib.Path) -> None:
    d = tmp_path
    _one_line(pcapdiag("analyze", str(d)), d, "is a directory")
    _one_line(pcapdiag("analyze", "--jobs", "2", str(d), str(OK)), d, "is a directory")
    _one_line(pcapdiag("extract", str(d), "--label", "refused", "-o", str(d / "x.pcap")), d, "is a directory")
    _one_line(pcapdiag("analyze", str(OK), "--k8s", str(d)), d, "Is a directory")
    _one_line(pcapdiag("analyze", str(OK), "-o", str(d)), d, "Is a directory")
    _one_line(pcapdiag("extract", str(REFUSED), "--label", "refused", "-o", str(d)), d, "Is a directory")
