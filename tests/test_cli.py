"""The command line as users and scripts run it: output formats, filters, exit codes, bad input."""

from __future__ import annotations

import gzip
import json
import pathlib
import re
import subprocess
import sys

import pytest

from conftest import CAPTURES, CONTRACT_LABELS, run_on_terminal

REFUSED = CAPTURES / "refused" / "client-eth.pcap"
OK = CAPTURES / "ok-tls13" / "client-eth.pcap"


def pcapdiag(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pcapdiag", *args], input=stdin, capture_output=True, timeout=120, check=False
    )


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
    assert b"\x1b[1;31mrefused" in _run_on_terminal(env)
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
