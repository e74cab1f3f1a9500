"""The next checks for each label, as exact commands from the webhook debugging guide."""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

from pcapdiag.classify.labels import Label
from pcapdiag.k8s import Backend, WebhookMatch

_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
"""An RFC 1123 DNS label, as Kubernetes requires for namespace and service names."""
_SUBDOMAIN = re.compile(
    r"(?=.{1,253}\Z)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
)
"""An RFC 1123 DNS subdomain, as Kubernetes requires for pod, node and webhook (configuration) names."""
_PATH = re.compile(r"/[A-Za-z0-9._~/-]{0,200}")
"""A URL path with nothing a shell or curl would read specially."""
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


@dataclass(frozen=True, slots=True)
class _Names:
    """The names and port the commands use, each checked to be safe inside a shell command."""

    ns: str
    svc: str
    port: int
    """The port the webhook pod serves on when known (targetPort), else the connection's server port."""
    pod: str | None = None
    node: str | None = None
    config: str | None = None
    """'validatingwebhookconfiguration NAME' or 'mutatingwebhookconfiguration NAME'."""
    webhook: str | None = None
    settings: str | None = None
    """'timeoutSeconds 10, failurePolicy Fail'."""
    probe_port: int | None = None
    """The port the pod's readiness probe checks."""
    path: str = "/validate"
    """The webhook's request path."""


def _safe(name: str | None, pattern: re.Pattern[str] = _SUBDOMAIN) -> str | None:
    return name if name is not None and pattern.fullmatch(name) else None


def _names(target: Target, k8s: WebhookMatch | None) -> _Names:
    """What the commands name: from the Kubernetes data when given (validated), else from the SNI."""
    ns, svc = target.service
    if k8s is None:
        return _Names(ns, svc, target.server_port)
    if _safe(k8s.service_namespace, _LABEL) and _safe(k8s.service_name, _LABEL):
        ns, svc = str(k8s.service_namespace), str(k8s.service_name)
    port = (
        k8s.target_port if k8s.target_port is not None and 0 < k8s.target_port < 65536 else target.server_port
    )
    backend = _backend_for(k8s.backends, target.server_ip)
    pod = _safe(backend.pod_name) if backend is not None and backend.pod_namespace == ns else None
    w = k8s.webhook
    config = _safe(w.configuration)
    probe = next((p.port for p in k8s.readiness_ports if pod and p.pod == f"{ns}/{pod}"), None)
    return _Names(
        ns,
        svc,
        int(port),
        pod=pod,
        node=_safe(backend.node) if backend is not None else None,
        config=f"{w.kind.resource} {config}" if config else None,
        webhook=_safe(w.name),
        settings=f"timeoutSeconds {int(w.timeout_s)}, failurePolicy {w.failure_policy.value}",
        probe_port=int(probe) if probe is not None else None,
        path=w.path if _PATH.fullmatch(w.path) else "/validate",
    )


def _backend_for(backends: tuple[Backend, ...], server_ip: str) -> Backend | None:
    """The backend the connection reached (its address is the server's), else the first ready one."""
    with_pod = [b for b in backends if b.pod_name is not None]
    same = [b for b in with_pod if b.ip == server_ip]
    return next(iter(same + [b for b in with_pod if b.ready] + with_pod), None)


@functools.lru_cache(maxsize=1024)
def next_steps(label: Label, target: Target, k8s: WebhookMatch | None = None) -> tuple[str, ...]:
    """Commands to run next, most telling first; empty for labels that need none.

    With ``k8s`` (the webhook the connection went to, from kubectl data) the commands name the real
    namespace, service, pod, node, target port and webhook configuration instead of placeholders.
    """
    n = _names(target, k8s)
    ns, svc, port = n.ns, n.svc, n.port
    ip = target.server_ip
    ipaddress.ip_address(ip)  # a parsed address: safe inside a command
    sni_ok = target.sni is not None and target.service[0] != UNKNOWN_NS
    host = target.sni if sni_ok and target.sni else f"{svc}.{ns}.svc"
    who_ip = f"kubectl get pods,svc -A -o wide | grep -F '{ip}'"
    endpoints = f"kubectl get endpoints -n {ns} {svc}"
    workload = f"pod/{n.pod}" if n.pod else f"deploy/{svc}"
    logs = (
        f"kubectl -n {ns} logs pod/{n.pod} --tail=100"
        if n.pod
        else f"kubectl logs -n {ns} deploy/{svc} --tail=100"
    )
    spec = (
        f"kubectl get pod -n {ns} {n.pod} -o yaml" if n.pod else f"kubectl get deploy -n {ns} {svc} -o yaml"
    )
    webhook_cfg = (
        f"kubectl get {n.config} -o yaml"
        if n.config
        else (
            "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o "
            "custom-columns='NAME:.metadata.name,SVC:.webhooks[*].clientConfig.service.name,"
            "PORT:.webhooks[*].clientConfig.service.port,TIMEOUT:.webhooks[*].timeoutSeconds,"
            "POLICY:.webhooks[*].failurePolicy'"
        )
    )
    ports = f"kubectl get svc -n {ns} {svc} -o jsonpath='{{.spec.ports}}'; {spec} | grep -A3 ports:"
    readiness = f"{spec} | grep -A5 readiness"
    health = n.probe_port or port  # where the readiness probe (a kubelet-style GET /healthz) goes
    if n.probe_port is not None and n.probe_port != port:
        readiness += f"    # the probe checks port {n.probe_port}, the webhook serves {port}"
    ca_bundle = (
        f"kubectl get {n.config} -o "
        f"jsonpath='{{.webhooks[?(@.name==\"{n.webhook}\")].clientConfig.caBundle}}'"
        if n.config and n.webhook
        else "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o json | "
        "jq -r '.items[].webhooks[].clientConfig.caBundle' | head -1"
    )
    last_state = (
        f"kubectl describe pod -n {ns} {n.pod} | grep -iA3 'last state'"
        if n.pod
        else f"kubectl describe pod -n {ns} -l app.kubernetes.io/name={svc} | grep -iA3 'last state'"
    )
    steps: dict[Label, tuple[str, ...]] = {
        Label.REFUSED: (
            f"{endpoints}    # <none> means no Ready webhook pod behind the service",
            f"kubectl get pods -n {ns} -o wide    # READY 0/1: the readiness probe fails",
            readiness,
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
            f"kubectl debug node/{n.node or '<webhook-node>'} -it --image=nicolaka/netshoot -- tcpdump "
            f"-i any -U -w - 'tcp port {port}' | pcapdiag analyze -    # does the SYN reach the node?",
        ),
        Label.UNREACHABLE: (
            f"ip route get {ip}    # on the API server's node",
            f"{who_ip}",
            "kubectl get networkpolicy -A",
            f"{endpoints}",
        ),
        Label.TLS_HANDSHAKE_TIMEOUT: (
            f"{logs}",
            f"kubectl -n {ns} port-forward {workload} {port}",
            f"curl -vsS --resolve {host}:{port}:127.0.0.1 "
            f"https://{host}:{port}{n.path}    # does the webhook "
            "answer TLS at all? A proxy in between may wait for plain HTTP",
            f"{ports}",
        ),
        Label.NOT_TLS: (
            f"{ports}    # the targetPort must be the webhook's TLS port, not a healthz/metrics port",
            f"{logs} | grep -i listening",
            f"{webhook_cfg}",
        ),
        Label.CERT_REJECTED: (
            f"kubectl -n {ns} port-forward {workload} {port} & openssl s_client -connect "
            f"127.0.0.1:{port} -servername {host} </dev/null 2>/dev/null | openssl x509 -noout "
            "-subject -issuer -dates -ext subjectAltName    # the certificate served: its names must "
            f"include {host}, its dates now, its issuer the caBundle's",
            f"{ca_bundle} | base64 -d | openssl x509 -noout -subject -issuer -dates",
            f"kubectl -n {ns} get secret {svc}-ca -o jsonpath='{{.data.ca\\.crt}}' | base64 -d | "
            "openssl x509 -noout -subject -issuer -dates    # must match the caBundle",
            "kubectl -n cert-manager logs deploy/cert-manager-cainjector --tail=100    # is the "
            "caBundle being injected?",
            f"{logs} | grep -i 'TLS handshake error'",
        ),
        Label.TLS_FAILED: (
            f"{logs} | grep -i 'TLS handshake error'",
            f"{spec} | grep -iE 'tls|cipher|min-version|client-ca'",
            f"{ports}",
        ),
        Label.AWAITING_HEADERS: (
            f"{logs}",
            f"kubectl top pod -n {ns}    # a saturated or throttled webhook answers late",
            f"{webhook_cfg}    # " + (n.settings or "timeoutSeconds bounds how long the API server waits"),
            f"kubectl get pods -n {ns} -o wide",
        ),
        Label.SERVER_CLOSED: (
            f"kubectl get pods -n {ns} -o wide    # RESTARTS: did the webhook crash?",
            last_state,
            f"{logs}",
        ),
        Label.HTTP_ERROR: (
            readiness,
            f"kubectl -n {ns} port-forward {workload} {health}",
            f"curl -sS --dump-header - 127.0.0.1:{health}/healthz",
            f"{logs}",
        ),
    }
    return steps.get(label, ())
