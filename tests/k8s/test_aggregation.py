"""--k8s reads APIServices and CRD conversion webhooks: connections to them are named, steps use the names.

captures/k8s/aggregation.json describes the recorded aggregated-api case as a cluster would: APIService
v1beta1.metrics.k8s.io served by kube-system/metrics-server (443 -> https, 4443 on 198.19.0.3), whose
Available condition is False (FailedDiscoveryCheck), and CRD widgets.pcd.example.com converted by the
webhook service pcd-system/webhook at /convert.
"""

from __future__ import annotations

import json
import re

import pcapdiag
from conftest import CAPTURES, analyse
from k8s.kubectl import FIXTURES, fixture_documents
from pcapdiag.classify import Label
from pcapdiag.classify.next_steps import Target, next_steps
from pcapdiag.k8s import Inventory, MatchBy, Severity, WebhookKind

AGGREGATION = FIXTURES / "aggregation.json"
INV = Inventory.from_documents([*fixture_documents(), json.loads(AGGREGATION.read_text())])
APISERVICE = "v1beta1.metrics.k8s.io"
CRD = "widgets.pcd.example.com"
CASE = CAPTURES / "aggregated-api"


def test_apiservice_is_read_with_its_service_certificate_settings_and_condition() -> None:
    (w,) = [w for w in INV.webhooks if w.kind is WebhookKind.APISERVICE]
    assert (w.name, w.service, w.port, w.path) == (
        APISERVICE,
        "kube-system/metrics-server",
        443,
        "/apis/metrics.k8s.io/v1beta1",
    )
    assert w.insecure and not w.ca_bundle
    assert w.available is not None and (w.available.status, w.available.reason) == (
        "False",
        "FailedDiscoveryCheck",
    )
    assert w.timeout_s == 5  # the availability check's http.Client.Timeout


def test_crd_conversion_webhook_is_read() -> None:
    (w,) = [w for w in INV.webhooks if w.kind is WebhookKind.CONVERSION]
    assert (w.name, w.service, w.port, w.path, w.ca_bundle) == (
        CRD,
        "pcd-system/webhook",
        443,
        "/convert",
        True,
    )


def test_backend_connection_is_tied_to_the_apiservice_from_either_side() -> None:
    by_sni = INV.webhook_for(sni="metrics-server.kube-system.svc", ip="198.19.0.3", port=4443)
    by_pod = INV.webhook_for(sni=None, ip="198.19.0.3", port=4443)
    by_service = INV.webhook_for(sni=None, ip="198.18.100.2", port=443)
    for match, how in (
        (by_sni, MatchBy.SNI),
        (by_pod, MatchBy.ENDPOINT_ADDRESS),
        (by_service, MatchBy.SERVICE_ADDRESS),
    ):
        assert match is not None and match.matched_by is how
        assert match.webhook.kind is WebhookKind.APISERVICE and match.target_port == 4443


def test_an_admission_webhook_still_names_a_service_that_also_converts() -> None:
    match = INV.webhook_for(sni="webhook.pcd-system.svc", ip="198.18.100.1", port=443)
    assert match is not None
    assert match.webhook.kind is WebhookKind.VALIDATING
    assert CRD in match.names


def test_apiservice_findings() -> None:
    match = INV.webhook_for(sni=None, ip="198.19.0.3", port=4443)
    found = [str(f) for f in INV.checks(match)]
    assert any(
        f.startswith(f"{Severity.ERROR.value}: apiservice {APISERVICE}: Available is False") for f in found
    )
    assert any("insecureSkipTLSVerify" in f for f in found)


def test_next_steps_name_the_apiservice_and_its_pod() -> None:
    match = INV.webhook_for(sni=None, ip="198.19.0.3", port=4443)
    steps = [str(s) for s in next_steps(Label.AWAITING_HEADERS, Target("198.19.0.3", 4443, None), match)]
    assert steps[0].startswith(f"kubectl get apiservice {APISERVICE} -o yaml")
    assert "Available condition (False, FailedDiscoveryCheck)" in steps[0]
    assert any("logs pod/metrics-server-6f8d9c7b5-k2m4n" in s for s in steps)
    assert not any("<webhook" in s for s in steps)


def test_next_steps_name_the_conversion_webhook() -> None:
    inv = Inventory.from_documents(
        [json.loads((FIXTURES / "cluster.json").read_text()), json.loads(AGGREGATION.read_text())]
    )
    match = inv.webhook_for(sni="webhook.pcd-system.svc", ip="198.18.100.1", port=443)
    assert match is not None and match.webhook.kind is WebhookKind.CONVERSION
    steps = [
        str(s)
        for s in next_steps(Label.SERVER_CLOSED, Target("198.18.100.1", 443, "webhook.pcd-system.svc"), match)
    ]
    assert steps[0].startswith(f"kubectl get customresourcedefinition {CRD} -o yaml")
    assert "spec.conversion.webhook.clientConfig" in steps[0]


def _said() -> str:
    truth = json.loads((CASE / "truth.json").read_text())
    (conn,) = truth["connections"]
    return re.sub(r'^Get "[^"]*": ', "", conn["client_result"][0]["error"])


def test_recorded_discovery_check_gets_the_clients_error_with_k8s() -> None:
    """Without --k8s the wire cannot say the caller's 5 s timer is an http.Client.Timeout (it is an
    alternative); with the APIService it is the headline, and the finding quotes the Available condition
    the aggregator writes."""
    said = _said()
    assert said == "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    _, (bare,) = analyse(CASE / "client-eth.pcap")
    assert bare.kubernetes_error != said and said in [str(a.error) for a in bare.alternatives]
    (flow,) = pcapdiag.analyze(CASE / "client-eth.pcap", k8s=INV).flows
    assert flow.label.value == "awaiting-headers"
    assert flow.kubernetes_error == said
    findings = [str(f) for f in flow.diagnosis.findings]
    url = "https://198.19.0.3:4443/apis/metrics.k8s.io/v1beta1"
    assert any(f'failing or missing response from {url}: Get "{url}": {said}' in f for f in findings), (
        findings
    )
    assert str(flow.diagnosis.steps[0].command) == f"kubectl get apiservice {APISERVICE} -o yaml"
