"""A capture that holds each connection twice, before and after address translation, links the two views."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
from scapy.utils import PcapReader, wrpcap

from conftest import CAPTURES, analyse
from conversation import NS, Conversation, tls13_ok
from pcapdiag.report import FlowReport

NAT_CASES = ("dnat", "dnat-refused")


def _merge(paths: list[pathlib.Path], out: pathlib.Path) -> pathlib.Path:
    """Interleave captures by time, as one capture on a host that sees both sides of a NAT would
    (all namespaces of a recording share one clock)."""
    packets = []
    for path in paths:
        with PcapReader(str(path)) as reader:
            packets.extend(reader)
    packets.sort(key=lambda p: p.time)
    wrpcap(str(out), packets)
    return out


def _by_id(flows: list[FlowReport]) -> dict[int, FlowReport]:
    return {f.id: f for f in flows}


@pytest.mark.parametrize("case", NAT_CASES)
@pytest.mark.parametrize("encoding", ["eth", "eth-nsec"])
def test_recorded_dnat_seen_on_both_sides_is_one_connection_twice(
    tmp_path: pathlib.Path, case: str, encoding: str
) -> None:
    """Real kernel TCP, DNAT'd by a real router: the client-side and server-side views, merged,
    are what a capture on the router would hold. Every connection appears twice, linked both ways,
    with the same label and the addresses each side of the translation used."""
    truth = json.loads((CAPTURES / case / "truth.json").read_text())
    merged = _merge(
        [CAPTURES / case / f"client-{encoding}.pcap", CAPTURES / case / f"server-{encoding}.pcap"],
        tmp_path / "router.pcap",
    )
    report, flows = analyse(merged)
    assert report.error is None
    by_id = _by_id(flows)
    both = [c for c in truth["connections"] if set(c["points"]) >= {"client", "server"}]
    assert both, "the case must have connections seen at both points"
    for conn in both:
        views = [f for f in flows if f.client.port == conn["client_port"]]
        assert len(views) == 2, [f.server for f in views]
        seen = {(f.server.ip, f.server.port) for f in views}
        assert seen == {
            (conn["server_ip_at"][point], conn["server_port_at"][point]) for point in ("client", "server")
        }
        for f in views:
            assert f.label.value == conn["label"]
            assert f.translated is not None, f.explanation
            other = by_id[f.translated.flow_id]
            assert other is not f and other in views
            assert (f.translated.server.ip, f.translated.server.port) == (other.server.ip, other.server.port)
            assert f.translated.client == other.client == f.client
            said = " ".join(f.findings)
            assert "twice" in said and f"flow {other.id}" in said


@pytest.mark.parametrize("case", NAT_CASES)
def test_recorded_router_capture_links_the_views(case: str) -> None:
    """tcpdump -i any in the router that DNATs: the real forwarding view, TTLs and all."""
    truth = json.loads((CAPTURES / case / "truth.json").read_text())
    (router,) = truth["router_captures"]
    report, flows = analyse(CAPTURES / case / router["file"])
    assert report.error is None
    by_id = _by_id(flows)
    assert len(flows) == 2 * len(truth["connections"])
    for conn in truth["connections"]:
        views = [f for f in flows if f.client.port == conn["client_port"]]
        assert {(f.server.ip, f.server.port) for f in views} == {
            (conn["server_ip"], conn["server_port"]),
            (conn["server_ip_at"]["server"], conn["server_port_at"]["server"]),
        }
        for f in views:
            assert f.label.value == conn["label"], f.explanation
            assert f.translated is not None
            assert by_id[f.translated.flow_id] in views and f.translated.flow_id != f.id
            # The router saw the SYN arrive (service address) before it sent it on (pod address).
            original = (f.server.ip, f.server.port) == (conn["server_ip"], conn["server_port"])
            assert f.translated.view == ("original" if original else "translated")
            if f.kubernetes_error and "dial tcp" in f.kubernetes_error:
                # the error the client reports names the address it dialled, in both views
                assert f"{conn['server_ip']}:{conn['server_port']}" in f.kubernetes_error


@pytest.mark.parametrize("case", ["refused", "ok-tls13", "keepalive"])
def test_the_same_packets_captured_twice_are_duplicates_not_translations(
    tmp_path: pathlib.Path, case: str
) -> None:
    """Without NAT the two views carry the same 4-tuple: one connection, its copies duplicates."""
    truth = json.loads((CAPTURES / case / "truth.json").read_text())
    merged = _merge(
        [CAPTURES / case / "client-eth.pcap", CAPTURES / case / "server-eth.pcap"], tmp_path / "m.pcap"
    )
    _, flows = analyse(merged)
    assert all(f.translated is None for f in flows)
    assert len(flows) == len({c["client_port"] for c in truth["connections"]})


def _write(tmp_path: pathlib.Path, *convs: Conversation) -> pathlib.Path:
    from scapy.layers.l2 import Ether

    records = sorted((r for c in convs for r in c.records), key=lambda r: r.ts_ns)
    packets = []
    for r in records:
        p = Ether(r.data)
        p.time = r.ts_ns / NS
        packets.append(p)
    out = tmp_path / "built.pcap"
    wrpcap(str(out), packets)
    return out


def _ok(client: tuple[str, int], server: tuple[str, int], t: float, isn: int) -> Conversation:
    conv = Conversation(client=client, server=server, client_isn=isn)
    tls13_ok(conv, t)
    return conv


def test_snat_views_are_linked(tmp_path: pathlib.Path) -> None:
    """Source NAT: the client's address and port rewritten, the server kept."""
    inside = _ok(("198.18.0.2", 40000), ("198.19.0.2", 443), 0.0, 7_000)
    outside = _ok(("198.18.1.1", 61000), ("198.19.0.2", 443), 0.00002, 7_000)
    _, flows = analyse(_write(tmp_path, inside, outside))
    assert len(flows) == 2
    a, b = flows
    assert a.translated is not None and b.translated is not None
    assert (a.translated.flow_id, b.translated.flow_id) == (b.id, a.id)
    assert "client address" in " ".join(a.findings)
    views = {f.client.port: f.translated.view for f in flows if f.translated is not None}
    assert views == {40000: "original", 61000: "translated"}, "the inside SYN was captured first"


@pytest.mark.parametrize(
    ("second", "isn", "delay", "why"),
    [
        (("198.18.0.2", 40000), 8_000, 0.00002, "another ISN"),
        (("198.18.0.2", 40000), 7_000, 0.2, "too far apart to be one forwarded packet"),
        (("198.18.1.1", 61000), 7_000, 0.00002, "both ends rewritten and the client port too"),
    ],
)
def test_look_alikes_are_not_linked(
    tmp_path: pathlib.Path, second: tuple[str, int], isn: int, delay: float, why: str
) -> None:
    first = _ok(("198.18.0.2", 40000), ("198.19.0.2", 443), 0.0, 7_000)
    other = _ok(second, ("198.19.9.9", 8443), delay, isn)
    _, flows = analyse(_write(tmp_path, first, other))
    assert len(flows) == 2
    assert all(f.translated is None for f in flows), why


def test_redact_replaces_the_translated_addresses(tmp_path: pathlib.Path) -> None:
    merged = _merge(
        [CAPTURES / "dnat" / "client-eth.pcap", CAPTURES / "dnat" / "server-eth.pcap"], tmp_path / "r.pcap"
    )
    out = subprocess.run(
        [sys.executable, "-m", "pcapdiag", "analyze", str(merged), "--format", "json", "--redact"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode in (0, 1), out.stderr
    report = json.loads(out.stdout)
    translated = [f["translated"] for f in report["flows"] if f["translated"]]
    assert translated
    for address in ("198.18.0.2", "198.18.100.1", "198.19.0.2"):
        assert address not in out.stdout
    for t, f in zip(translated, [f for f in report["flows"] if f["translated"]], strict=True):
        other = next(g for g in report["flows"] if g["id"] == t["flow_id"])
        assert t["server"] == other["server"] and t["client"] == other["client"] == f["client"]
