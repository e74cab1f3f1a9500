"""--redact cannot leak: no address or name of the input survives in any format, nor in a redacted extract.

For every recorded case (its `-i any` capture at each point, which holds every packet, and a two-point
run), with and without a --k8s fixture, the addresses are read from the capture by scapy (every IP
header, ICMP quotes included) and the names from the scenario and the fixture; none may appear in the
text, json, jsonl, markdown or html of a redacted report. A redacted extract holds no address of the
input, and gives each address the pseudonym the redacted report gives it.
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import pytest
from click.testing import CliRunner
from scapy.all import IP, IPv6, rdpcap
from scapy.layers.inet import IPerror
from scapy.layers.inet6 import IPerror6

from conftest import CAPTURES
from pcapdiag.cli import main

FORMATS = ("text", "json", "jsonl", "markdown", "html")
K8S = [str(CAPTURES / "k8s" / "cluster.json"), str(CAPTURES / "k8s" / "webhooks.json")]
CASES = sorted(p.parent for p in CAPTURES.glob("*/truth.json"))


def addresses(path: pathlib.Path) -> set[str]:
    """Every IP address in the capture, as scapy reads it (outer headers and ICMP quotes)."""
    found: set[str] = set()
    for pkt in rdpcap(str(path)):
        for layer in (IP, IPv6, IPerror, IPerror6):
            if pkt.haslayer(layer):
                found.update((pkt[layer].src, pkt[layer].dst))
    return found


def _names_of(doc: Any) -> set[str]:
    """The Kubernetes names in kubectl JSON: every object's name and namespace, node names, the pods and
    services that endpoints and webhooks refer to, webhook and container names."""
    out: set[str] = set()
    if isinstance(doc, dict):
        meta = doc.get("metadata")
        if isinstance(meta, dict):
            out |= {v for k, v in meta.items() if k in ("name", "namespace") and isinstance(v, str)}
        for key in ("nodeName", "targetRef", "service", "webhooks", "containers"):
            value = doc.get(key)
            if isinstance(value, str):
                out.add(value)
            items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
            for item in items:
                if isinstance(item, dict):
                    out |= {v for k, v in item.items() if k in ("name", "namespace") and isinstance(v, str)}
        for value in doc.values():
            out |= _names_of(value)
    elif isinstance(doc, list):
        for value in doc:
            out |= _names_of(value)
    return out


COMMON_WORDS = {"webhook", "kubernetes", "default", "kube-apiserver"}
"""Names that are also ordinary words of pcapdiag's own sentences ('the webhook's port'); they are
checked inside the names that contain them (the SNI, the pod's name), not on their own."""


_HOST = re.compile(r"(?:[a-z0-9-]+\.)+(?:svc|example|local|internal|com|org|net)")


def _hosts(value: Any) -> set[str]:
    """Host names in the scenario's own record (SNIs, certificate names), and their namespace labels."""
    if isinstance(value, dict):
        return {h for v in value.values() for h in _hosts(v)}
    if isinstance(value, list):
        return {h for v in value for h in _hosts(v)}
    out = set()
    for host in _HOST.findall(value) if isinstance(value, str) else ():
        out.add(host)
        parts = host.split(".")
        if len(parts) >= 3:
            out.add(parts[1])  # <svc>.<ns>.svc: the namespace
    return out


def names(truth: dict[str, Any], k8s: bool) -> set[str]:
    """Host names and Kubernetes names of the input: the SNI (and its namespace label), certificate
    names, and with --k8s every name in the fixture."""
    out = {"webhook.pcd-system.svc", "pcd-system", "other-webhook.pcd-other.svc", "pcd-other"} | _hosts(truth)
    if k8s:
        for path in K8S:
            out |= _names_of(json.loads(pathlib.Path(path).read_text()))
    return {n for n in out if n.lower() not in COMMON_WORDS and len(n) > 2}


def leaks(output: str, addrs: set[str], hidden: set[str]) -> list[str]:
    """What of the input shows in ``output``: addresses as whole tokens, names as whole names."""
    found = []
    for a in addrs:
        boundary = r"(?<![0-9A-Fa-f:.])" + re.escape(a) + r"(?![0-9A-Fa-f]|:[0-9A-Fa-f]*:|\.\d)"
        if re.search(boundary, output):
            found.append(a)
    for n in hidden:
        if re.search(r"(?<![\w.-])" + re.escape(n) + r"(?![\w-])", output):
            found.append(n)
    return found


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def _params() -> list[Any]:
    out = []
    for case in CASES:
        for point in ("client", "server"):
            path = case / f"{point}-any.pcap"
            if path.exists():
                out.append(pytest.param(path, id=f"{case.name}/{path.name}"))
    return out


@pytest.mark.parametrize("path", _params())
@pytest.mark.parametrize("k8s", [False, True], ids=["plain", "k8s"])
def test_no_format_leaks_an_address_or_a_name(path: pathlib.Path, k8s: bool) -> None:
    truth = json.loads((path.parent / "truth.json").read_text())
    addrs, hidden = addresses(path), names(truth, k8s)
    extra = [arg for f in K8S for arg in ("--k8s", f)] if k8s else []
    for fmt in FORMATS:
        out = run("analyze", str(path), "--redact", "--format", fmt, "--all", *extra)
        assert not leaks(out, addrs, hidden), (fmt, leaks(out, addrs, hidden))
        if fmt == "json":
            assert json.loads(out)["redacted"] is True


@pytest.mark.parametrize("case", [c for c in CASES if (c / "client-any.pcap").exists()], ids=lambda c: c.name)
def test_two_point_reports_leak_nothing(case: pathlib.Path) -> None:
    truth = json.loads((case / "truth.json").read_text())
    paths = [case / "client-any.pcap", case / "server-any.pcap"]
    addrs = addresses(paths[0]) | addresses(paths[1])
    for fmt in FORMATS:
        out = run(
            "analyze",
            *map(str, paths),
            "--redact",
            "--format",
            fmt,
            "--all",
            *[a for f in K8S for a in ("--k8s", f)],
        )
        assert not leaks(out, addrs, names(truth, True)), (fmt, leaks(out, addrs, names(truth, True)))


def _failing_labels(path: pathlib.Path) -> list[str]:
    doc = json.loads(run("analyze", str(path), "--format", "json"))
    return sorted({f["label"] for f in doc["flows"]})


@pytest.mark.parametrize("path", _params())
def test_redacted_extract_leaks_nothing_and_agrees_with_the_report(
    path: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    labels = _failing_labels(path)
    if not labels:
        pytest.skip("the capture holds no connection to extract")
    out = tmp_path / "extract.pcap"
    args = [a for label in labels for a in ("--label", label)]
    CliRunner().invoke(
        main, ["extract", str(path), *args, "--redact", "-o", str(out)], catch_exceptions=False
    )
    raw = out.read_bytes()
    assert b"pcd-system" not in raw and b"webhook.pcd" not in raw
    real = addresses(path)
    seen = addresses(out)
    assert seen and not seen & real, seen & real
    report = json.loads(run("analyze", str(path), "--redact", "--format", "json"))
    pseudonyms = {
        (f["client"]["port"], f["server"]["port"]): (f["client"]["ip"], f["server"]["ip"])
        for f in report["flows"]
    }
    from scapy.all import TCP

    for pkt in rdpcap(str(out)):
        if not pkt.haslayer(TCP) or pkt.haslayer(IPerror) or pkt.haslayer(IPerror6):
            continue
        ip = pkt[IP] if pkt.haslayer(IP) else pkt[IPv6]
        tcp = pkt[TCP]
        key = (tcp.sport, tcp.dport) if (tcp.sport, tcp.dport) in pseudonyms else (tcp.dport, tcp.sport)
        client, server = pseudonyms[key]
        assert {ip.src, ip.dst} == {client, server}, (key, ip.src, ip.dst, client, server)
