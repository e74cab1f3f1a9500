"""captures/k8s is the cluster the bundled captures were recorded in: names, matches and checks on it."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

import pytest

from conftest import CAPTURES, analyse
from k8s.kubectl import FIXTURES, fixture_documents
from pcapdiag.k8s import FailurePolicy, Inventory, IpKind, MatchBy, Severity, WebhookKind

INV = Inventory.from_documents(fixture_documents())
SNI = "webhook.pcd-system.svc"
POD = "webhook-7d9f8b6c4-x2x9q"


@pytest.mark.parametrize(
    ("ip", "kind", "text"),
    [
        ("198.18.100.1", IpKind.SERVICE, "service pcd-system/webhook"),
        ("2001:db8:100::1", IpKind.SERVICE, "service pcd-system/webhook"),
        ("198.18.96.1", IpKind.SERVICE, "service default/kubernetes"),
        ("198.19.0.2", IpKind.POD, f"pod pcd-system/{POD} on node node-b"),
        ("2001:db8:2:0::2", IpKind.POD, f"pod pcd-system/{POD} on node node-b"),
        ("198.19.0.1", IpKind.NODE, "node node-b"),
        ("198.18.0.2", IpKind.NODE, "node node-a (hostNetwork: kube-system/kube-apiserver-node-a)"),
        ("2001:db8:1::2", IpKind.NODE, "node node-a (hostNetwork: kube-system/kube-apiserver-node-a)"),
    ],
)
def test_every_address_of_the_topology_has_a_name(ip: str, kind: IpKind, text: str) -> None:
    name = INV.describe_ip(ip)
    assert name is not None and name.kind is kind and str(name) == text
    assert name.ip == ipaddress.ip_address(ip).compressed


def test_addresses_outside_the_cluster_have_no_name() -> None:
    assert INV.describe_ip("198.19.0.3") is None
    assert INV.describe_ip("not an address") is None


def test_the_api_server_side_maps_sni_and_cluster_ip_to_the_webhook() -> None:
    m = INV.webhook_for(sni=SNI, ip="198.18.100.1", port=443)
    assert m is not None and m.matched_by is MatchBy.SNI
    w = m.webhook
    assert (w.name, w.kind, w.configuration) == (
        "validate.pcd.example.com",
        WebhookKind.VALIDATING,
        "pcd-webhook",
    )
    assert (w.path, w.timeout_s, w.failure_policy) == ("/validate", 10, FailurePolicy.FAIL)
    assert not w.timeout_defaulted and not w.failure_policy_defaulted
    assert (m.service, m.service_port, m.target_port, m.target_port_name) == (
        "pcd-system/webhook",
        443,
        10250,
        "https",
    )
    assert [(b.ip, b.port, b.pod, b.node, b.ready, b.host_network) for b in m.backends] == [
        ("198.19.0.2", 10250, f"pcd-system/{POD}", "node-b", True, False),
        ("2001:db8:2::2", 10250, f"pcd-system/{POD}", "node-b", True, False),
    ]
    assert [(c.name, c.port) for c in m.container_ports] == [("https", 10250), ("healthcheck", 8080)]
    assert [(p.port, p.port_name, p.handler) for p in m.readiness_ports] == [(8080, "healthcheck", "httpGet")]
    no_sni = INV.webhook_for(sni=None, ip="198.18.100.1", port=443)
    assert no_sni is not None and no_sni.matched_by is MatchBy.SERVICE_ADDRESS and no_sni.names == m.names


def test_the_webhook_side_maps_the_pod_address_and_target_port_to_the_webhook() -> None:
    for ip in ("198.19.0.2", "2001:db8:2::2"):
        m = INV.webhook_for(sni=None, ip=ip, port=10250)
        assert m is not None and m.matched_by is MatchBy.ENDPOINT_ADDRESS
        assert m.names == ("validate.pcd.example.com",)
    assert INV.webhook_for(sni=None, ip="198.19.0.2", port=443) is None
    assert INV.webhook_for(sni=None, ip="198.18.100.1", port=10250) is None


def _truth(case: str) -> dict[str, Any]:
    return json.loads((CAPTURES / case / "truth.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("point", ["client", "server"])
@pytest.mark.parametrize("use_sni", [True, False])
def test_the_dnat_captures_are_tied_to_the_webhook_from_both_sides(point: str, use_sni: bool) -> None:
    truth = _truth("dnat")
    conn = truth["connections"][0]
    _, flows = analyse(CAPTURES / "dnat" / f"{point}-eth.pcap")
    (flow,) = [f for f in flows if f.client.port == conn["client_port"]]
    assert (flow.server.ip, flow.server.port) == (conn["server_ip_at"][point], conn["server_port_at"][point])
    assert str(flow.sni) == SNI
    m = INV.webhook_for(sni=str(flow.sni) if use_sni else None, ip=flow.server.ip, port=flow.server.port)
    assert m is not None and m.names == ("validate.pcd.example.com",)
    expected = {"client": MatchBy.SERVICE_ADDRESS, "server": MatchBy.ENDPOINT_ADDRESS}[point]
    assert m.matched_by is (MatchBy.SNI if use_sni else expected)
    client = INV.describe_ip(flow.client.ip)
    assert client is not None and "kube-apiserver-node-a" in str(client)


def test_the_fixture_cluster_is_healthy_but_for_a_note_on_the_readiness_port() -> None:
    findings = INV.checks()
    assert [(f.severity, str(f.subject)) for f in findings] == [(Severity.INFO, f"pod pcd-system/{POD}")]
    assert "checks port 8080, not the webhook's port 10250" in str(findings[0].text)


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def _address(token: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(token)
    except ValueError:
        return None


def test_the_fixtures_use_documentation_addresses_only() -> None:
    allowed = [ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("2001:db8::/32")]
    seen = set()
    for doc in fixture_documents():
        for s in _strings(doc):
            for token in re.split(r"[\s,=/\"']+", s):
                addr = _address(token) or _address(token.rsplit(":", 1)[0])  # "198.18.0.2:6443"
                if addr is not None:
                    seen.add(addr)
                    assert any(addr in net for net in allowed), (token, s)
    expected = {
        "198.18.100.1",
        "198.18.96.1",
        "198.18.0.2",
        "198.19.0.1",
        "198.19.0.2",
        "198.18.96.0",
        "2001:db8:100::1",
        "2001:db8:100::",
        "2001:db8:1::2",
        "2001:db8:2::1",
        "2001:db8:2::2",
    }
    assert {str(a) for a in seen} == expected


def test_the_fixtures_look_like_kubectl_output() -> None:
    for name in ("cluster.json", "webhooks.json"):
        raw = (FIXTURES / name).read_text()
        doc = json.loads(raw)
        assert (doc["apiVersion"], doc["kind"], doc["metadata"]) == ("v1", "List", {"resourceVersion": ""})
        assert raw == json.dumps(doc, indent=4, sort_keys=True) + "\n", "kubectl prints sorted keys, 4 spaces"
        for item in doc["items"]:
            assert {"apiVersion", "kind", "metadata"} <= item.keys()
            assert {"name", "uid", "resourceVersion", "creationTimestamp"} <= item["metadata"].keys()
