"""The webhook debugging guide's cross-checks over a webhook match: findings the data proves, in words."""

from __future__ import annotations

from collections.abc import Iterable

from pcapdiag.k8s.model import (
    Backend,
    Finding,
    Platform,
    Severity,
    Webhook,
    WebhookKind,
    WebhookMatch,
    pod_ref,
    service_ref,
)
from pcapdiag.prose import Ip, Name, NameKind, Text, join, text

KUBELET_PORT = 10250
"""The kubelet's API port, bound on every node's (and every Fargate microVM's) host network."""
GKE_PRIVATE_OPEN_PORTS = (443, 10250)
"""The only pod ports a GKE private cluster's control plane may reach without an extra firewall rule."""
TLS_HANDSHAKE_TIMEOUT_S = 10
"""kube-apiserver's Transport.TLSHandshakeTimeout (wire-facts §4.1)."""
CLIENT_TIMEOUT_S = 30
"""kube-apiserver's webhook http.Client.Timeout (wire-facts §4.1)."""
_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def sorted_findings(found: Iterable[Finding]) -> tuple[Finding, ...]:
    """Findings without duplicates, most severe first, then by subject."""
    unique = dict.fromkeys(found)
    return tuple(sorted(unique, key=lambda f: (_SEVERITY_ORDER[f.severity], str(f.subject), str(f.text))))


def _ports_text(ports: Iterable[int]) -> str:
    return ", ".join(str(p) for p in sorted(set(ports))) or "none"


def _pods_subject(pods: list[str]) -> Text:
    shown = join((pod_ref(p) for p in pods[:3]), ", ")
    more = f" and {len(pods) - 3} more" if len(pods) > 3 else ""
    return text("pod " if len(pods) == 1 else "pods ", shown, more)


def match_findings(match: WebhookMatch, platform: Platform, *, services_given: bool) -> list[Finding]:
    """What the service, its endpoints and its pods show about one webhook target."""
    if match.service is None:
        return []
    svc = service_ref(match.service_namespace, match.service_name)
    svc_name = Name(NameKind.SERVICE, match.service_name or "")
    names = join((w.title for w in match.webhooks), ", ")
    if not match.service_exists:
        if not services_given:
            return []
        said = text(
            "calls service ",
            svc,
            ', which is not among the services given: the API server fails with service "',
            svc_name,
            '" not found (check clientConfig.service.namespace and name)',
        )
        return [Finding(Severity.ERROR, names, said)]
    subject = text("service ", svc)
    if match.service_port not in match.service_ports:
        said = text(
            names,
            f" calls port {match.service_port}, but the service exposes only port(s) "
            f"{_ports_text(match.service_ports)}: the API server cannot reach the webhook through it",
        )
        return [Finding(Severity.ERROR, subject, said)]
    out = _endpoint_findings(match, subject)
    out.extend(_platform_findings(match, platform, subject))
    by_text: dict[tuple[Severity, Text], list[str]] = {}
    for pod, backends in _backends_by_pod(match.backends).items():
        for severity, said in _pod_findings(match, pod, backends):
            by_text.setdefault((severity, said), []).append(pod)
    out.extend(Finding(severity, _pods_subject(pods), said) for (severity, said), pods in by_text.items())
    return out


def _endpoint_findings(match: WebhookMatch, subject: Text) -> list[Finding]:
    if match.ready_backends or not (match.endpoints_given or match.backends):
        return []
    refs = sorted({(b.pod or b.ip, b.pod is not None) for b in match.backends})
    pods = join((pod_ref(ref) if is_pod else Ip(ref) for ref, is_pod in refs), ", ")
    which = text("not ready: ", pods) if refs else text("no endpoints at all")
    said = text(
        f"has no ready endpoint for port {match.service_port} (",
        which,
        "): kube-proxy rejects the connection (connect: connection refused), or the API server reports "
        'no endpoints available for service "',
        Name(NameKind.SERVICE, match.service_name or ""),
        "\"; check the pods' readiness",
    )
    return [Finding(Severity.ERROR, subject, said)]


def _platform_findings(match: WebhookMatch, platform: Platform, subject: Text) -> list[Finding]:
    port = match.target_port
    if port is None:
        return []
    if platform is Platform.EKS:
        said = text(
            f"the webhook pods receive on port {port}: on EKS the nodes' security group must allow "
            f"TCP {port} from the control plane (and with a custom CNI the control plane cannot reach pod "
            "IPs at all: run the webhook with hostNetwork and a port other than 10250)"
        )
        return [Finding(Severity.INFO, subject, said)]
    if port in GKE_PRIVATE_OPEN_PORTS or platform not in (Platform.GKE, Platform.UNKNOWN):
        return []
    rule = (
        f"the webhook pods receive on port {port} (the targetPort; the service port {match.service_port} "
        "does not matter): a GKE private cluster's control plane reaches pods only on ports 443 and 10250, "
        f"so add a firewall rule allowing TCP {port} from the control plane's address range to the nodes, "
        "or make the webhook listen on 10250"
    )
    if platform is Platform.GKE:
        return [Finding(Severity.WARNING, subject, text(rule))]
    return [Finding(Severity.INFO, subject, text("if this is a GKE private cluster: " + rule))]


def _backends_by_pod(backends: tuple[Backend, ...]) -> dict[str, list[Backend]]:
    out: dict[str, list[Backend]] = {}
    for b in backends:
        if b.pod is not None:
            out.setdefault(b.pod, []).append(b)
    return out


def _pod_findings(match: WebhookMatch, pod: str, backends: list[Backend]) -> list[tuple[Severity, Text]]:
    """(severity, text) about one backing pod; the text does not name the pod, so equal pods merge."""
    out: list[tuple[Severity, Text]] = []
    declared = [cp for cp in match.container_ports if cp.pod == pod]
    port = next((b.port for b in backends if b.port is not None), None)
    svc = service_ref(match.service_namespace, match.service_name)
    listed = ", ".join(f"{cp.port} ({cp.name})" if cp.name else str(cp.port) for cp in declared)
    if port is None and match.target_port_name is not None:
        out.append(
            (
                Severity.ERROR,
                text(
                    "service ",
                    svc,
                    f" sends port {match.service_port} to targetPort "
                    f'"{match.target_port_name}", but no container declares a port of that name '
                    f"(declared: {listed or 'none'}): the pod gets no endpoint for it",
                ),
            )
        )
    elif port is not None and declared and port not in {cp.port for cp in declared}:
        out.append(
            (
                Severity.WARNING,
                text(
                    "service ",
                    svc,
                    f" sends port {match.service_port} to targetPort {port}, but the containers "
                    f"declare only {listed}: unless the webhook also listens on {port}, the connection is "
                    "refused",
                ),
            )
        )
    for probe in (p for p in match.readiness_ports if p.pod == pod):
        container = Name(NameKind.CONTAINER, probe.container)
        if probe.port is None:
            out.append(
                (
                    Severity.WARNING,
                    text(
                        "the readiness probe of container ",
                        container,
                        f' uses port "{probe.port_name}", which no container port declares: the kubelet '
                        "cannot probe it and the pod never becomes Ready",
                    ),
                )
            )
        elif port is not None and probe.port != port:
            out.append(
                (
                    Severity.INFO,
                    text(
                        "the readiness probe of container ",
                        container,
                        f" ({probe.handler}) checks port {probe.port}, not the webhook's port {port}: Ready "
                        f"does not prove that anything answers on {port}",
                    ),
                )
            )
    if port == KUBELET_PORT and any(b.host_network for b in backends):
        out.append((Severity.ERROR, text(_HOST_NETWORK_10250)))
    elif port == KUBELET_PORT and any(b.fargate for b in backends):
        host = Name(NameKind.DNS, f"{match.service_name}.{match.service_namespace}.svc")
        out.append((Severity.ERROR, text(_FARGATE_10250[0], host, _FARGATE_10250[1])))
    return out


_HOST_NETWORK_10250 = (
    "runs on the host network and the webhook's port is 10250, the port the kubelet listens on on every "
    "node: the webhook cannot bind it, or the API server reaches the kubelet instead (x509: certificate is "
    "valid for the node's name); make the webhook listen on another port, e.g. 10260 "
    "(cert-manager: --set webhook.securePort=10260)"
)
_FARGATE_10250 = (
    "runs on EKS Fargate and the webhook's port is 10250: the Fargate microVM's own kubelet holds 10250 and "
    "does not forward it to the pod, so the API server reaches the kubelet (x509: certificate is valid for "
    "ip-...compute.internal, not ",
    "); make the webhook listen on another port, e.g. 10260 (cert-manager: --set webhook.securePort=10260)",
)


def apiservice_findings(w: Webhook) -> list[Finding]:
    """What an APIService's own status and settings show: its Available condition, no certificate check."""
    out = []
    cond = w.available
    if cond is not None and cond.status != "True":
        said = text(
            f"Available is {cond.status}"
            + (f" ({cond.reason})" if cond.reason else "")
            + (f": {cond.message}" if cond.message else "")
            + "; requests for its group get 'the server is currently unable to handle the request' (503)"
        )
        out.append(Finding(Severity.ERROR if cond.status == "False" else Severity.WARNING, w.title, said))
    if w.insecure:
        said = text(
            "insecureSkipTLSVerify is set: the aggregator does not check the backend's certificate, so no "
            "certificate problem explains a failure (its availability check never checks it either)"
        )
        out.append(Finding(Severity.INFO, w.title, said))
    return out


def webhook_findings(w: Webhook) -> list[Finding]:
    """What one webhook's own settings show: its timeout against the API server's timers, its url."""
    if w.kind is WebhookKind.APISERVICE:
        return apiservice_findings(w)
    if not w.kind.admission:
        return []
    out = []
    t = w.timeout_s
    if not 1 <= t <= CLIENT_TIMEOUT_S:
        said = text(
            f"timeoutSeconds {t} is outside 1-30, which the API server rejects: this configuration did not "
            "come from a live cluster (or was edited after it was read)"
        )
        out.append(Finding(Severity.WARNING, w.title, said))
    elif t > TLS_HANDSHAKE_TIMEOUT_S:
        said = text(
            f"timeoutSeconds {t} is longer than the API server's 10 s TLS handshake timeout: a webhook that "
            f"accepts TCP but never answers the ClientHello fails after 10 s with net/http: TLS handshake "
            f"timeout, not after {t} s"
        )
        if t == CLIENT_TIMEOUT_S:
            said += (
                "; and 30 s is also the API server's http.Client timeout: a webhook that never answers "
                "fails with context deadline exceeded or (Client.Timeout exceeded while awaiting headers), "
                "whichever fires first"
            )
        out.append(Finding(Severity.INFO, w.title, said))
    if w.api_version.endswith("/v1beta1") and (w.timeout_defaulted or w.failure_policy_defaulted):
        said = text(
            f"sets no {'timeoutSeconds' if w.timeout_defaulted else 'failurePolicy'}"
            f"{' nor failurePolicy' if w.timeout_defaulted and w.failure_policy_defaulted else ''}: "
            f"{w.api_version} defaults to timeoutSeconds 30 and failurePolicy Ignore "
            f"(v1: 10 and Fail), so the effective values are {w.timeout_s} s and {w.failure_policy.value}"
        )
        out.append(Finding(Severity.INFO, w.title, said))
    host = w.url_host or ""
    if host.endswith(".svc") or ".svc." in host:
        said = text(
            "clientConfig.url names ",
            Name(NameKind.DNS, host),
            ", a cluster service name: the API server resolves url hosts with its own DNS, which usually "
            "cannot resolve cluster names; use clientConfig.service instead",
        )
        out.append(Finding(Severity.WARNING, w.title, said))
    return out
