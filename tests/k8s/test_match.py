"""Tying a connection to its webhook: SNI forms, named ports, defaults, url webhooks, IPv6, hostNetwork."""

from __future__ import annotations

import pytest

from k8s.kubectl import (
    endpoint_slice,
    endpoints,
    healthy_cluster,
    kube_list,
    pod,
    service,
    service_webhook,
    url_webhook,
    webhook_configuration,
)
from pcapdiag.k8s import FailurePolicy, Inventory, IpKind, MatchBy, WebhookKind

POD = "webhook-7d9f8b6c4-x2x9q"


def inventory(*items: dict[str, object]) -> Inventory:
    return Inventory.from_documents([kube_list(*items)])


@pytest.mark.parametrize(
    "sni",
    [
        "webhook.pcd-system.svc",
        "webhook.pcd-system.svc.cluster.local",
        "WEBHOOK.pcd-system.svc.",
        "webhook.pcd-system.svc.k8s.example",
    ],
)
def test_every_form_of_the_service_name_matches(sni: str) -> None:
    m = inventory(*healthy_cluster()).webhook_for(sni=sni, ip="198.18.100.1", port=443)
    assert m is not None and m.matched_by is MatchBy.SNI and m.service == "pcd-system/webhook"


def test_an_sni_that_names_another_service_falls_back_to_the_address() -> None:
    inv = inventory(*healthy_cluster())
    m = inv.webhook_for(sni="other.pcd-system.svc", ip="198.18.100.1", port=443)
    assert m is not None and m.matched_by is MatchBy.SERVICE_ADDRESS
    assert inv.webhook_for(sni="other.pcd-system.svc", ip="198.19.0.9", port=443) is None
    assert inv.webhook_for(sni=None, ip="not-an-ip", port=443) is None


def test_a_named_target_port_resolves_through_the_pods_container_port() -> None:
    # no Endpoints given: the service's selector picks the pod, whose port "https" is 8443
    inv = inventory(service(), pod(ports=(("metrics", 9402), ("https", 8443))), webhook_configuration())
    m = inv.webhook_for(sni=None, ip="198.19.0.2", port=8443)
    assert m is not None and m.matched_by is MatchBy.ENDPOINT_ADDRESS
    assert (m.target_port, m.target_port_name, m.endpoints_given) == (8443, "https", False)
    assert [(b.ip, b.port, b.ready) for b in m.backends] == [("198.19.0.2", 8443, True)]


def test_an_endpoint_port_wins_and_endpoints_without_target_ref_find_their_pod_by_address() -> None:
    inv = inventory(
        service(ports=(("https", 443, 10250),)),
        endpoints(ready=(("198.19.0.2", None, None),)),
        pod(),
        webhook_configuration(),
    )
    m = inv.webhook_for(sni=None, ip="198.19.0.2", port=10250)
    assert m is not None
    (b,) = m.backends
    assert (b.pod, b.node, b.ready) == (f"pcd-system/{POD}", "node-b", True)


def test_endpoint_slices_win_over_endpoints_and_a_missing_ready_condition_means_ready() -> None:
    inv = inventory(
        service(),
        endpoints(ready=(), not_ready=(("198.19.0.2", POD, "node-b"),)),
        endpoint_slice(endpoints=(("198.19.0.2", POD, "node-b", None),)),
        pod(),
        webhook_configuration(),
    )
    m = inv.webhook_for(sni="webhook.pcd-system.svc", ip="198.18.100.1", port=443)
    assert m is not None and [b.ready for b in m.backends] == [True]


def test_webhooks_sharing_a_service_are_all_named() -> None:
    validating = webhook_configuration("pcd-validating", service_webhook("validate.pcd.example.com"))
    mutating = webhook_configuration(
        "pcd-mutating",
        service_webhook("mutate.pcd.example.com", path="/mutate", timeout=5),
        kind="MutatingWebhookConfiguration",
    )
    inv = inventory(*healthy_cluster()[:-1], validating, mutating)
    m = inv.webhook_for(sni="webhook.pcd-system.svc", ip="198.18.100.1", port=443)
    assert m is not None
    assert m.names == ("mutate.pcd.example.com", "validate.pcd.example.com")
    assert [w.kind for w in m.webhooks] == [WebhookKind.MUTATING, WebhookKind.VALIDATING]
    assert m.webhook.path == "/mutate" and m.timeouts_s == (5, 10)


def test_the_port_picks_between_webhooks_on_two_ports_of_one_service() -> None:
    svc = service(ports=(("https", 443, 10250), ("alt", 8443, 10260)))
    alt = pod(ports=(("https", 10250), ("alt", 10260)))
    hooks = webhook_configuration(
        "pcd", service_webhook("a.pcd.example.com"), service_webhook("b.pcd.example.com", port=8443)
    )
    inv = inventory(svc, alt, hooks)
    for port, name in ((443, "a"), (10250, "a"), (8443, "b"), (10260, "b")):
        m = inv.webhook_for(sni="webhook.pcd-system.svc", ip="198.19.0.2", port=port)
        assert m is not None and m.names == (f"{name}.pcd.example.com",), port
    m = inv.webhook_for(sni=None, ip="198.19.0.2", port=10260)
    assert m is not None and m.names == ("b.pcd.example.com",) and m.service_port == 8443


@pytest.mark.parametrize(
    ("api_version", "timeout", "policy"),
    [
        ("admissionregistration.k8s.io/v1", 10, FailurePolicy.FAIL),
        ("admissionregistration.k8s.io/v1beta1", 30, FailurePolicy.IGNORE),
    ],
)
def test_defaults_depend_on_the_api_version(api_version: str, timeout: int, policy: FailurePolicy) -> None:
    bare = service_webhook(timeout=None, policy=None, port=None, path=None)
    inv = inventory(*healthy_cluster()[:-1], webhook_configuration("pcd", bare, api_version=api_version))
    (w,) = inv.webhooks
    assert (w.timeout_s, w.failure_policy, w.timeout_defaulted, w.failure_policy_defaulted) == (
        timeout,
        policy,
        True,
        True,
    )
    assert (w.port, w.path) == (443, "/")
    given = webhook_configuration("pcd", service_webhook(timeout=7, policy="Ignore"), api_version=api_version)
    (w,) = inventory(given).webhooks
    assert (w.timeout_s, w.failure_policy, w.timeout_defaulted) == (7, FailurePolicy.IGNORE, False)


def test_url_webhooks_match_by_host_name_or_address() -> None:
    hooks = webhook_configuration(
        "external",
        url_webhook("by-name.pcd.example.com", "https://hooks.example.com/check"),
        url_webhook("by-ip.pcd.example.com", "https://[2001:DB8:5::10]:8443/v1/check?x=1"),
    )
    inv = inventory(hooks)
    by_name = inv.webhook_for(sni="hooks.example.com", ip="198.18.7.7", port=443)
    assert by_name is not None and by_name.matched_by is MatchBy.SNI
    w = by_name.webhook
    assert (w.url_host, w.port, w.path, w.service) == ("hooks.example.com", 443, "/check", None)
    assert (by_name.service, by_name.target_port, by_name.backends) == (None, 443, ())
    by_ip = inv.webhook_for(sni=None, ip="2001:db8:5::10", port=8443)
    assert by_ip is not None and by_ip.matched_by is MatchBy.URL_ADDRESS
    assert (by_ip.webhook.url_host, by_ip.webhook.path) == ("2001:db8:5::10", "/v1/check")
    assert inv.webhook_for(sni=None, ip="2001:db8:5::10", port=443) is None


def test_a_url_with_a_bad_port_is_read_without_crashing() -> None:
    inv = inventory(
        webhook_configuration("x", url_webhook("bad.pcd.example.com", "https://hooks.example.com:99999/"))
    )
    (w,) = inv.webhooks
    assert w.port == 443 and w.url_host is None


def test_ipv6_single_stack_service_and_pod() -> None:
    inv = inventory(
        service(cluster_ips=("2001:db8:100::20",)),
        endpoint_slice(family="IPv6", endpoints=(("2001:db8:2::2", POD, "node-b", True),)),
        pod(ips=("2001:db8:2::2",), host_ips=("2001:db8:2::1",)),
        webhook_configuration(),
    )
    m = inv.webhook_for(sni=None, ip="2001:DB8:100:0::20", port=443)
    assert m is not None and m.matched_by is MatchBy.SERVICE_ADDRESS
    assert [(b.ip, b.port) for b in m.backends] == [("2001:db8:2::2", 10250)]
    name = inv.describe_ip("2001:db8:2::1")
    assert name is not None and name.kind is IpKind.NODE and name.name == "node-b"


def test_dual_stack_cluster_ips_both_match_and_the_selector_picks_one_address_per_family() -> None:
    svc = service(cluster_ips=("198.18.100.1", "2001:db8:100::1"))
    inv = inventory(svc, pod(ips=("198.19.0.2", "2001:db8:2::2")), webhook_configuration())
    for ip in ("198.18.100.1", "2001:db8:100::1"):
        m = inv.webhook_for(sni=None, ip=ip, port=443)
        assert m is not None and m.matched_by is MatchBy.SERVICE_ADDRESS
        assert [b.ip for b in m.backends] == ["198.19.0.2", "2001:db8:2::2"]
    v4_only = inventory(service(), pod(ips=("198.19.0.2", "2001:db8:2::2")), webhook_configuration())
    m = v4_only.webhook_for(sni=None, ip="198.18.100.1", port=443)
    assert m is not None and [b.ip for b in m.backends] == ["198.19.0.2"]


def test_a_host_network_webhook_is_named_by_its_node_and_matched_on_the_node_address() -> None:
    inv = inventory(
        service(ports=(("https", 443, 10260),)),
        pod(ips=("198.19.0.1",), host_ips=("198.19.0.1",), ports=(("https", 10260),), host_network=True),
        webhook_configuration(),
    )
    name = inv.describe_ip("198.19.0.1")
    assert name is not None and name.kind is IpKind.NODE
    assert str(name) == f"node node-b (hostNetwork: pcd-system/{POD})"
    m = inv.webhook_for(sni=None, ip="198.19.0.1", port=10260)
    assert m is not None and m.matched_by is MatchBy.ENDPOINT_ADDRESS
    assert [(b.host_network, b.node) for b in m.backends] == [(True, "node-b")]


def test_a_pod_ip_equal_to_its_host_ip_means_host_network_even_without_the_flag() -> None:
    inv = inventory(pod(ips=("198.19.0.1",), host_ips=("198.19.0.1",)))
    (p,) = inv.pods
    assert p.host_network


def test_a_finished_pod_does_not_hide_the_running_pod_that_reuses_its_address() -> None:
    inv = inventory(pod(name="old-job-x", phase="Succeeded", ready=False), pod())
    name = inv.describe_ip("198.19.0.2")
    assert name is not None and name.name == POD


def test_a_webhook_whose_service_is_missing_still_matches_by_sni() -> None:
    inv = inventory(service("pcd-system", "other"), webhook_configuration())
    m = inv.webhook_for(sni="webhook.pcd-system.svc", ip="198.18.100.9", port=443)
    assert m is not None and not m.service_exists and m.backends == () and m.target_port is None
