"""Evidence extraction and redaction: small captures that open in tshark and keep the diagnosis."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from clirun import run_cli
from conftest import CAPTURES, CONTRACT_LABELS

CASES = sorted(p for p in CAPTURES.glob("*/client-eth.pcap"))
FAILING_LABELS = set(CONTRACT_LABELS) - {"ok", "incomplete", "partial"}
WITH_FAILURES = [
    p
    for p in CASES
    if any(
        c["label"] in FAILING_LABELS for c in json.loads((p.parent / "truth.json").read_text())["connections"]
    )
]


def _json(*args: str) -> dict[str, object]:
    result = run_cli("analyze", "--format", "json", *args)
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _failing(doc: dict[str, object]) -> list[dict[str, object]]:
    return [f for f in doc["flows"] if f["failing"]]  # type: ignore[attr-defined, index]


@pytest.mark.parametrize("path", WITH_FAILURES, ids=lambda p: p.parent.name)
def test_extract_by_label_keeps_those_connections(tmp_path: Path, path: Path) -> None:
    doc = _json(str(path))
    failing = _failing(doc)
    assert failing
    label = str(failing[0]["label"])
    out = tmp_path / "evidence.pcap"
    result = run_cli("extract", str(path), "--label", label, "-o", str(out))
    assert result.returncode == 0, result.stderr
    extracted = _json(str(out))
    flows = doc["flows"]
    assert isinstance(flows, list)
    want = sorted((f["client"]["port"], f["label"]) for f in flows if f["label"] == label)
    assert sorted((f["client"]["port"], f["label"]) for f in extracted["flows"]) == want  # type: ignore[attr-defined]
    ours = extracted["captures"][0]["packets"]  # type: ignore[index]
    tcp = sum(f["packets"] for f in flows if f["label"] == label)
    icmp = sum(
        1 for f in flows if f["label"] == label for e in f["evidence"] if e["direction"] == "network->client"
    )
    assert ours >= tcp + icmp  # plus any second copies of packets (captured twice, counted once)
    assert shutil.which("tshark"), "tshark is installed by setup.sh"
    count = subprocess.run(
        ["tshark", "-r", str(out), "-T", "fields", "-e", "frame.number"], capture_output=True
    )
    assert len(count.stdout.split()) == ours


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.parent.name)
def test_redacted_extract_hides_addresses_and_names_but_keeps_labels(tmp_path: Path, path: Path) -> None:
    doc = _json(str(path))
    labels = sorted({str(f["label"]) for f in doc["flows"]})  # type: ignore[attr-defined,index]
    out = tmp_path / "redacted.pcap"
    args = [x for label in labels for x in ("--label", label)]
    result = run_cli("extract", str(path), *args, "--redact", "-o", str(out))
    assert result.returncode == 0, result.stderr
    blob = out.read_bytes()
    import ipaddress

    for f in doc["flows"]:  # type: ignore[attr-defined]
        for ip in (f["client"]["ip"], f["server"]["ip"]):
            assert ipaddress.ip_address(ip).packed not in blob
        if f["sni"]:
            assert f["sni"].encode() not in blob
    redacted = _json(str(out))
    assert sorted(f["label"] for f in redacted["flows"]) == sorted(f["label"] for f in doc["flows"])  # type: ignore[attr-defined,index]


def test_redacted_report_is_consistent_and_says_so() -> None:
    path = CAPTURES / "cert-rejected-tls12" / "client-eth.pcap"
    plain = _json(str(path))
    doc = _json("--redact", str(path))
    text = json.dumps(doc)
    assert doc["redacted"] is True
    for f in plain["flows"]:  # type: ignore[attr-defined]
        assert f["client"]["ip"] not in text and f["server"]["ip"] not in text
        assert f["sni"] not in text
    clients = {f["client"]["ip"] for f in doc["flows"]}  # type: ignore[attr-defined,index]
    assert len(clients) == len({f["client"]["ip"] for f in plain["flows"]})  # type: ignore[attr-defined,index]
    assert [f["label"] for f in doc["flows"]] == [f["label"] for f in plain["flows"]]  # type: ignore[attr-defined,index]
    assert str(CAPTURES) not in text


def test_extract_needs_a_selection_and_a_file(tmp_path: Path) -> None:
    path = str(CASES[0])
    assert run_cli("extract", path, "-o", str(tmp_path / "x")).returncode == 2
    bad = run_cli("extract", path, "--label", "nope", "-o", str(tmp_path / "x"))
    assert bad.returncode == 2
    ok = str(CAPTURES / "ok-tls13" / "client-eth.pcap")
    none = run_cli("extract", ok, "--label", "refused", "-o", str(tmp_path / "x"))
    assert none.returncode == 1 and b"no connection matched" in none.stderr
