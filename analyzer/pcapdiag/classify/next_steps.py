"""The next checks for each label, as exact commands from the webhook debugging guide."""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

from pcapdiag.classify.labels import Label

_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
"""An RFC 1123 DNS label, as Kubernetes requires for namespace and service names."""
UNKNOWN_NS = "<webhook-namespace>"
UNKNOWN_SVC = "<webhook-service>"


@dataclass(frozen=True, slots=True)
class Target:
    """What we know of the webhook a connection went to."""

    server_ip: str
    server_port: int
    sni: str | None = None

    @property
    def service(self) -> tuple[str, str]:
        """(namespace, service) from an SNI of the form <svc>.<ns>.svc[.cluster.local].

        Both must be RFC 1123 labels (what Kubernetes allows for names): an SNI comes from the
        capture, and anything else would put shell syntax into a command someone may paste.
        """
        if self.sni:
            parts = self.sni.rstrip(".").split(".")
            if len(parts) >= 3 and parts[2] == "svc" and all(_LABEL.fullmatch(p) for p in parts):
                return parts[1], parts[0]
        return UNKNOWN_NS, UNKNOWN_SVC


@functools.lru_cache(maxsize=1024)
def next_steps(label: Label, target: Target) -> tuple[str, ...]:
    """Commands to run next, most telling first; empty for labels that need none."""
    ns, svc = target.service
    ip, port = target.server_ip, target.server_port
    ipaddress.ip_address(ip)  # a parsed address: safe inside a command
    host = target.sni if ns != UNKNOWN_NS and target.sni else f"{svc}.{ns}.svc"
    who_ip = f"kubectl get pods,svc -A -o wide | grep -F '{ip}'"
    endpoints = f"kubectl get endpoints -n {ns} {svc}"
    logs = f"kubectl logs -n {ns} deploy/{svc} --tail=100"
    webhook_cfg = (
        "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o "
        "custom-columns='NAME:.metadata.name,SVC:.webhooks[*].clientConfig.service.name,"
        "PORT:.webhooks[*].clientConfig.service.port,TIMEOUT:.webhooks[*].timeoutSeconds,"
        "POLICY:.webhooks[*].failurePolicy'"
    )
    ports = (
        f"kubectl get svc -n {ns} {svc} -o jsonpath='{{.spec.ports}}'; "
        f"kubectl get deploy -n {ns} {svc} -o yaml | grep -A3 ports:"
    )
    steps: dict[Label, tuple[str, ...]] = {
        Label.REFUSED: (
            f"{endpoints}    # <none> means no Ready webhook pod behind the service",
            f"kubectl get pods -n {ns} -o wide    # READY 0/1: the readiness probe fails",
            f"kubectl get deploy -n {ns} {svc} -o yaml | grep -A5 readiness",
            f"{who_ip}    # which pod or service owns the address that refused",
            f"{logs} | grep -i listening    # the webhook must listen on port {port}",
        ),
        Label.SYN_TIMEOUT: (
            f"{endpoints}",
            f"{ports}    # GKE private clusters allow only containerPort 443/10250 from the control plane",
            f"kubectl get networkpolicy -A    # a policy must allow the API server to reach port {port}",
            "# EKS: security groups must allow TCP "
            f"{port} from the control plane to the nodes; EKS with a custom CNI: run the "
            "webhook with hostNetwork: true and a securePort other than 10250",
            f"kubectl debug node/<webhook-node> -it --image=nicolaka/netshoot -- tcpdump -i any "
            f"-U -w - 'tcp port {port}' | pcapdiag analyze -    # does the SYN reach the node?",
        ),
        Label.UNREACHABLE: (
            f"ip route get {ip}    # on the API server's node",
            f"{who_ip}",
            "kubectl get networkpolicy -A",
            f"{endpoints}",
        ),
        Label.TLS_HANDSHAKE_TIMEOUT: (
            f"{logs}",
            f"kubectl -n {ns} port-forward deploy/{svc} {port}",
            f"curl -vsS --resolve {host}:{port}:127.0.0.1 "
            f"https://{host}:{port}/validate    # does the webhook "
            "answer TLS at all? A proxy in between may wait for plain HTTP",
            f"{ports}",
        ),
        Label.NOT_TLS: (
            f"{ports}    # the targetPort must be the webhook's TLS port, not a healthz/metrics port",
            f"{logs} | grep -i listening",
            f"{webhook_cfg}",
        ),
        Label.CERT_REJECTED: (
            "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o json | "
            "jq -r '.items[].webhooks[].clientConfig.caBundle' | head -1 | base64 -d | openssl "
            "x509 -noout -subject -issuer -dates",
            f"kubectl -n {ns} get secret {svc}-ca -o jsonpath='{{.data.ca\\.crt}}' | base64 -d | "
            "openssl x509 -noout -subject -issuer -dates    # must match the caBundle",
            "kubectl -n cert-manager logs deploy/cert-manager-cainjector --tail=100    # is the "
            "caBundle being injected?",
            f"{logs} | grep -i 'TLS handshake error'",
        ),
        Label.TLS_FAILED: (
            f"{logs} | grep -i 'TLS handshake error'",
            f"kubectl get deploy -n {ns} {svc} -o yaml | grep -iE 'tls|cipher|min-version|client-ca'",
            f"{ports}",
        ),
        Label.AWAITING_HEADERS: (
            f"{logs}",
            f"kubectl top pod -n {ns}    # a saturated or throttled webhook answers late",
            f"{webhook_cfg}    # timeoutSeconds bounds how long the API server waits",
            f"kubectl get pods -n {ns} -o wide",
        ),
        Label.SERVER_CLOSED: (
            f"kubectl get pods -n {ns} -o wide    # RESTARTS: did the webhook crash?",
            f"kubectl describe pod -n {ns} -l app.kubernetes.io/name={svc} | grep -iA3 'last state'",
            f"{logs}",
        ),
        Label.HTTP_ERROR: (
            f"kubectl get deploy -n {ns} {svc} -o yaml | grep -A5 readiness",
            f"kubectl -n {ns} port-forward deploy/{svc} {port}",
            f"curl -sS --dump-header - 127.0.0.1:{port}/healthz",
            f"{logs}",
        ),
    }
    return steps.get(label, ())
