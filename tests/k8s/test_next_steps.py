"""Next-step commands filled with the real names from kubectl data, and still safe to paste."""

from __future__ import annotations

import pytest

from k8s.kubectl import (
    endpoints,
    fixture_documents,
    kube_list,
    pod,
    service,
    service_webhook,
    url_webhook,
    webhook_configuration,
)
from pcapdiag.classify import Label
from pcapdiag.classify.next_steps import Target, next_steps
from pcapdiag.k8s import Inventory, WebhookMatch

POD = "webhook-7d9f8b6c4-x2x9q"
SNI = "webhook.pcd-system.svc"
INV = Inventory.from_documents(fixture_documents())


def _match(inv: Inventory, ip: str = "198.18.100.1", port: int = 443, sni: str | None = SNI) -> WebhookMatch:
    m = inv.webhook_for(sni=sni, ip=ip, port=port)
    assert m is not None
    return m


def steps(label: Label, match: WebhookMatch | None, ip: str = "198.18.100.1", port: int = 443) -> str:
    return "\n".join(str(s) for s in next_steps(label, Target(ip, port, SNI), match))


def test_without_kubernetes_data_the_commands_are_guessed_from_the_sni() -> None:
    text = steps(Label.TLS_HANDSHAKE_TIMEOUT, None)
    assert "kubectl logs -n pcd-system deploy/webhook --tail=100" in text
    assert "port-forward deploy/webhook 443" in text
    assert next_steps(Label.REFUSED, Target("198.18.100.1", 443, SNI)) == next_steps(
        Label.REFUSED, Target("198.18.100.1", 443, SNI), None
    )


def test_with_the_webhook_match_the_commands_name_the_pod_node_port_and_configuration() -> None:
    m = _match(INV)
    tls = steps(Label.TLS_HANDSHAKE_TIMEOUT, m)
    assert f"kubectl -n pcd-system logs pod/{POD} --tail=100" in tls
    assert (
        f"kubectl -n pcd-system port-forward pod/{POD} 10250" in tls
    )  # the targetPort, not the service port
    assert "https://webhook.pcd-system.svc:10250/validate" in tls
    assert "deploy/" not in tls
    syn = steps(Label.SYN_TIMEOUT, m)
    assert "kubectl debug node/node-b " in syn and "'tcp port 10250'" in syn and "<webhook-node>" not in syn
    assert f"kubectl get pod -n pcd-system {POD} -o yaml | grep -A3 ports:" in syn
    refused = steps(Label.REFUSED, m)
    assert f"kubectl get pod -n pcd-system {POD} -o yaml | grep -A5 readiness" in refused
    assert "it checks port 8080, the webhook serves 10250" in refused
    cert = steps(Label.CERT_REJECTED, m)
    assert (
        "kubectl get validatingwebhookconfiguration pcd-webhook -o "
        "jsonpath='{.webhooks[?(@.name==\"validate.pcd.example.com\")].clientConfig.caBundle}' | base64 -d"
        in cert
    )
    waiting = steps(Label.AWAITING_HEADERS, m)
    cfg = "kubectl get validatingwebhookconfiguration pcd-webhook -o yaml"
    assert f"{cfg}    # timeoutSeconds 10, failurePolicy Fail" in waiting
    assert f"kubectl describe pod -n pcd-system {POD} | grep" in steps(Label.SERVER_CLOSED, m)
    assert "port-forward pod/" + POD + " 8080" in steps(Label.HTTP_ERROR, m)  # the readiness (healthz) port
    for label in Label:
        assert "<webhook-" not in steps(label, m), label


def test_the_pod_the_connection_reached_is_the_one_named() -> None:
    second = "webhook-7d9f8b6c4-b7z4r"
    inv = Inventory.from_documents(
        [
            kube_list(
                service(),
                endpoints(ready=(("198.19.0.2", POD, "node-b"), ("198.19.0.3", second, "node-c"))),
                pod(),
                pod(name=second, ips=("198.19.0.3",), node="node-c", host_ips=("198.19.0.4",)),
                webhook_configuration(),
            )
        ]
    )
    m = _match(inv, "198.19.0.3", 10250, None)
    text = steps(Label.SYN_TIMEOUT, m, "198.19.0.3", 10250)
    assert "node/node-c" in text and f"pod -n pcd-system {second}" in text


EVIL = ["x;rm -rf ~", "$(id)", "a`id`", "b|sh", "c&&d", "E'", 'f"']


@pytest.mark.parametrize("evil", EVIL)
def test_names_from_the_data_that_are_not_kubernetes_names_never_reach_a_command(evil: str) -> None:
    inv = Inventory.from_documents(
        [
            kube_list(
                service(evil, evil),
                endpoints(evil, evil, ready=(("198.19.0.2", evil, evil),)),
                pod(evil, evil, node=evil),
                webhook_configuration(
                    evil, service_webhook(evil, namespace=evil, service_name=evil, path=f"/{evil}")
                ),
            )
        ]
    )
    m = _match(inv, sni=None)
    for label in Label:
        for step in next_steps(label, Target("198.18.100.1", 443, f"{evil}.{evil}.svc"), m):
            assert evil not in str(step), (label, step)


def test_a_url_webhook_names_its_configuration_and_keeps_the_service_placeholders() -> None:
    hooks = webhook_configuration(
        "external", url_webhook("ext.pcd.example.com", "https://hooks.example.com/x")
    )
    inv = Inventory.from_documents([kube_list(hooks)])
    m = _match(inv, "198.18.7.7", 443, "hooks.example.com")
    target = Target("198.18.7.7", 443, "hooks.example.com")
    text = "\n".join(str(s) for s in next_steps(Label.CERT_REJECTED, target, m))
    assert "kubectl get validatingwebhookconfiguration external -o jsonpath=" in text
    assert "ext.pcd.example.com" in text
    assert "<webhook-namespace>" in text
