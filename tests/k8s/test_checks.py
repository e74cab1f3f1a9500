"""The guide's cross-checks on broken clusters: a finding appears when the data proves it, and only then."""

from __future__ import annotations

from k8s.kubectl import (
    endpoints,
    healthy_cluster,
    kube_list,
    node,
    pod,
    service,
    service_webhook,
    url_webhook,
    webhook_configuration,
)
from pcapdiag.k8s import Finding, Inventory, Severity

POD = "webhook-7d9f8b6c4-x2x9q"
SUBJECT = f"pod pcd-system/{POD}"


def findings(*items: dict[str, object]) -> tuple[Finding, ...]:
    return Inventory.from_documents([kube_list(*items)]).checks()


def only(found: tuple[Finding, ...], severity: Severity, subject: str, *words: str) -> Finding:
    """The one finding of this severity and subject, which must contain every word."""
    (f,) = [f for f in found if f.severity is severity and str(f.subject) == subject]
    for word in words:
        assert word in str(f.text), (word, str(f.text))
    return f


def test_a_healthy_cluster_has_no_finding() -> None:
    assert findings(*healthy_cluster()) == ()


def test_numeric_target_port_not_among_the_container_ports() -> None:
    found = findings(
        service(ports=(("https", 443, 8443),)),
        endpoints(ports=(("https", 8443),)),
        pod(),
        webhook_configuration(),
    )
    f = only(found, Severity.WARNING, SUBJECT, "targetPort 8443", "declare only 10250 (https)", "refused")
    assert str(f).startswith(f"warning: {SUBJECT}: service pcd-system/webhook sends port 443")


def test_named_target_port_that_no_container_declares() -> None:
    found = findings(service(), pod(ports=(("webhook", 10250),)), webhook_configuration())
    only(found, Severity.ERROR, SUBJECT, 'targetPort "https"', "declared: 10250 (webhook)", "no endpoint")


def test_readiness_probe_on_another_port_than_the_webhook_port() -> None:
    cluster = [
        service(),
        endpoints(),
        pod(ports=(("https", 10250), ("healthz", 6080)), readiness_port=6080),
        webhook_configuration(),
    ]
    only(findings(*cluster), Severity.INFO, SUBJECT, "checks port 6080", "webhook's port 10250")
    same = [service(), endpoints(), pod(readiness_port=10250), webhook_configuration()]
    assert findings(*same) == ()


def test_readiness_probe_naming_a_port_no_container_declares() -> None:
    cluster = [service(), endpoints(), pod(readiness_port="healthz"), webhook_configuration()]
    only(findings(*cluster), Severity.WARNING, SUBJECT, 'uses port "healthz"', "never becomes Ready")


def test_host_network_webhook_on_10250_collides_with_the_kubelet() -> None:
    on_node = {"ips": ("198.19.0.1",), "host_ips": ("198.19.0.1",), "host_network": True}
    cluster = [
        service(),
        endpoints(ready=(("198.19.0.1", POD, "node-b"),)),
        pod(**on_node),
        webhook_configuration(),
    ]
    only(findings(*cluster), Severity.ERROR, SUBJECT, "host network", "kubelet", "10260")
    moved = [
        service(),
        endpoints(ready=(("198.19.0.1", POD, "node-b"),), ports=(("https", 10260),)),
        pod(**on_node, ports=(("https", 10260),)),
        webhook_configuration(),
    ]
    assert not [f for f in findings(*moved) if "kubelet" in str(f.text)]


def test_fargate_webhook_on_10250_reaches_the_microvm_kubelet() -> None:
    fargate = pod(
        node="fargate-ip-198-19-0-2.ec2.internal",
        labels={
            "app.kubernetes.io/instance": "pcd",
            "app.kubernetes.io/name": "webhook",
            "eks.amazonaws.com/fargate-profile": "pcd",
        },
    )
    found = findings(service(), fargate, webhook_configuration())
    only(found, Severity.ERROR, SUBJECT, "Fargate", "kubelet", "not webhook.pcd-system.svc", "10260")


def test_no_ready_endpoint_names_the_pods_that_are_not_ready() -> None:
    cluster = [
        service(),
        endpoints(ready=(), not_ready=(("198.19.0.2", POD, "node-b"),)),
        pod(ready=False),
        webhook_configuration(),
    ]
    only(
        findings(*cluster),
        Severity.ERROR,
        "service pcd-system/webhook",
        f"not ready: pcd-system/{POD}",
        "connection refused",
        'no endpoints available for service "webhook"',
    )
    empty = [service(), endpoints(ready=()), webhook_configuration()]
    only(findings(*empty), Severity.ERROR, "service pcd-system/webhook", "no endpoints at all")


def test_no_endpoint_data_and_no_pods_prove_nothing_about_endpoints() -> None:
    assert findings(service(), webhook_configuration()) == ()


def test_a_webhook_pointing_at_a_missing_service() -> None:
    cluster = [service("pcd-system", "webhook-svc"), webhook_configuration()]
    f = only(
        findings(*cluster),
        Severity.ERROR,
        "webhook validate.pcd.example.com (validatingwebhookconfiguration pcd-webhook)",
        "calls service pcd-system/webhook",
        'service "webhook" not found',
    )
    assert f.severity is Severity.ERROR
    assert findings(webhook_configuration()) == (), "without any service given, a missing one proves nothing"


def test_a_webhook_calling_a_port_the_service_does_not_expose() -> None:
    cluster = [
        service(),
        endpoints(),
        pod(),
        webhook_configuration("pcd-webhook", service_webhook(port=8443)),
    ]
    only(
        findings(*cluster),
        Severity.ERROR,
        "service pcd-system/webhook",
        "calls port 8443",
        "only port(s) 443",
    )


def _gke_cluster(target: int) -> list[dict[str, object]]:
    gke_node = node(
        "gke-pcd-default-pool-1a2b3c4d-x7k2",
        addresses=("198.19.0.1",),
        provider_id="gce://pcd-project/europe-west1-b/gke-pcd-default-pool-1a2b3c4d-x7k2",
    )
    return [
        gke_node,
        service(ports=(("https", 443, target),)),
        endpoints(ports=(("https", target),)),
        pod(ports=(("https", target),)),
        webhook_configuration(),
    ]


def test_gke_private_clusters_reach_pods_only_on_443_and_10250() -> None:
    f = only(
        findings(*_gke_cluster(8443)),
        Severity.WARNING,
        "service pcd-system/webhook",
        "port 8443",
        "firewall rule allowing TCP 8443",
        "control plane",
        "service port 443 does not matter",
    )
    assert "if this is" not in str(f.text)
    assert findings(*_gke_cluster(10250)) == ()
    assert findings(*_gke_cluster(443)) == ()
    unknown = [
        service(ports=(("https", 443, 8443),)),
        endpoints(ports=(("https", 8443),)),
        pod(ports=(("https", 8443),)),
        webhook_configuration(),
    ]
    only(findings(*unknown), Severity.INFO, "service pcd-system/webhook", "if this is a GKE private cluster")


def test_eks_notes_the_security_group_for_the_target_port() -> None:
    eks_node = node(
        "ip-198-19-0-1.ec2.internal",
        addresses=("198.19.0.1",),
        provider_id="aws:///eu-west-1a/i-0abc",
        labels={"eks.amazonaws.com/nodegroup": "pcd"},
    )
    cluster = [eks_node, *healthy_cluster()]
    only(
        findings(*cluster), Severity.INFO, "service pcd-system/webhook", "security group must allow TCP 10250"
    )


def _timeout_findings(
    timeout: int, api_version: str = "admissionregistration.k8s.io/v1"
) -> tuple[Finding, ...]:
    hooks = webhook_configuration("pcd-webhook", service_webhook(timeout=timeout), api_version=api_version)
    return tuple(f for f in findings(*healthy_cluster()[:-1], hooks) if str(f.subject).startswith("webhook "))


def test_timeouts_against_the_api_servers_own_timers() -> None:
    subject = "webhook validate.pcd.example.com (validatingwebhookconfiguration pcd-webhook)"
    assert _timeout_findings(10) == ()
    only(_timeout_findings(45), Severity.WARNING, subject, "outside 1-30", "rejects")
    only(_timeout_findings(0), Severity.WARNING, subject, "outside 1-30")
    f = only(_timeout_findings(15), Severity.INFO, subject, "10 s TLS handshake timeout", "not after 15 s")
    assert "Client.Timeout" not in str(f.text)
    only(_timeout_findings(30), Severity.INFO, subject, "TLS handshake timeout", "Client.Timeout exceeded")


def test_v1beta1_defaults_are_spelled_out() -> None:
    bare = service_webhook(timeout=None, policy=None)
    hooks = webhook_configuration("pcd-webhook", bare, api_version="admissionregistration.k8s.io/v1beta1")
    found = [f for f in findings(*healthy_cluster()[:-1], hooks) if str(f.subject).startswith("webhook ")]
    texts = " | ".join(str(f.text) for f in found)
    assert (
        "sets no timeoutSeconds nor failurePolicy" in texts
        and "effective values are 30 s and Ignore" in texts
    )


def test_a_url_naming_a_cluster_service() -> None:
    hooks = webhook_configuration(
        "ext", url_webhook("u.pcd.example.com", "https://webhook.pcd-system.svc:443/x")
    )
    only(
        findings(hooks),
        Severity.WARNING,
        "webhook u.pcd.example.com (validatingwebhookconfiguration ext)",
        "use clientConfig.service",
    )
    assert (
        findings(webhook_configuration("ext", url_webhook("u.pcd.example.com", "https://hooks.example.com/")))
        == ()
    )


def test_replicas_with_the_same_fault_share_one_finding() -> None:
    names = [f"webhook-7d9f8b6c4-{s}" for s in ("aaaaa", "bbbbb", "ccccc", "ddddd")]
    pods = [pod(name=n, ips=(f"198.19.0.{i + 2}",), ports=(("webhook", 10250),)) for i, n in enumerate(names)]
    (f,) = [f for f in findings(service(), *pods, webhook_configuration()) if "targetPort" in str(f.text)]
    assert (
        str(f.subject) == "pods pcd-system/webhook-7d9f8b6c4-aaaaa, pcd-system/webhook-7d9f8b6c4-bbbbb, "
        "pcd-system/webhook-7d9f8b6c4-ccccc and 1 more"
    )


def test_checks_of_one_match_and_the_order_of_severities() -> None:
    other = webhook_configuration(
        "other", service_webhook("o.pcd.example.com", service_name="gone", timeout=15)
    )
    cluster = [service(), endpoints(ready=()), webhook_configuration(), other]
    inv = Inventory.from_documents([kube_list(*cluster)])
    everything = inv.checks()
    assert [f.severity for f in everything] == sorted(
        (f.severity for f in everything), key=list(Severity).index
    )
    assert {f.severity for f in everything} == {Severity.ERROR, Severity.INFO}
    m = inv.webhook_for(sni="webhook.pcd-system.svc", ip="198.18.100.1", port=443)
    assert m is not None
    mine = inv.checks(m)
    assert mine and set(mine) < set(everything)
    assert all("gone" not in str(f.text) and "o.pcd" not in str(f.subject) for f in mine)
