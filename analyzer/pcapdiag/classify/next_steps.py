"""The next checks for a diagnosis: exact commands from the webhook debugging guide, each with what it shows.

Steps follow from the facts: a check that a capture already answered is left out (a second
capture that shows whether the SYN reached the webhook's node answers "does the SYN reach the
node?"), where the connection failed adds the checks for that place, and no command appears twice.
Names and addresses in the commands are typed values (``prose``), so ``--redact`` replaces them
like any other.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import ipaddress
import re
from dataclasses import dataclass

from pcapdiag.classify.diagnosis import Step, Where
from pcapdiag.classify.labels import Label
from pcapdiag.k8s import Backend, Webhook, WebhookKind, WebhookMatch
from pcapdiag.prose import Ip, Name, NameKind, Part, Slot, Text, text

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


class IcmpSender(enum.Enum):
    """Who sent the ICMP error that refused a connection (wire-facts 6.3)."""

    SERVER = "server"  # the server host itself: a REJECT rule there
    CLIENT_NODE = "client-node"  # the client's own node: kube-proxy's reject of a Service without endpoints
    ROUTER = "router"  # a router or firewall on the path


@dataclass(frozen=True, slots=True)
class Target:
    """What we know of the webhook a connection went to, and of where it failed."""

    server_ip: str
    server_port: int
    sni: str | None = None
    client_ip: str | None = None
    where: Where | None = None
    """Where it failed, from a second capture (None: one capture only)."""
    server_side_seen: bool | None = None
    """A capture at the webhook's side was analysed with this one: whether it saw the connection."""
    icmp_sender: IcmpSender | None = None

    @property
    def service(self) -> tuple[str, str] | None:
        """(namespace, service) from an SNI of the form <svc>.<ns>.svc[.cluster.local].

        Both must be RFC 1123 labels (what Kubernetes allows for names): an SNI comes from the
        capture, and anything else would put shell syntax into a command someone may paste.
        """
        if self.sni:
            parts = self.sni.rstrip(".").split(".")
            if len(parts) >= 3 and parts[2] == "svc" and all(_LABEL.fullmatch(p) for p in parts):
                return parts[1], parts[0]
        return None


@dataclass(frozen=True, slots=True)
class _Names:
    """The names and port the commands use, each checked to be safe inside a shell command."""

    ns: Part
    svc: Part
    port: int
    """The port the webhook pod serves on when known (targetPort), else the connection's server port."""
    host: Part | Text
    """The name the client asked for (SNI), or <svc>.<ns>.svc."""
    pod: Name | None = None
    node: Name | None = None
    config_kind: str | None = None
    config: Name | None = None
    webhook: Name | None = None
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
    from_sni = target.service
    ns: Part = Name(NameKind.NAMESPACE, from_sni[0]) if from_sni else UNKNOWN_NS
    svc: Part = Name(NameKind.SERVICE, from_sni[1]) if from_sni else UNKNOWN_SVC
    host: Part | Text = (
        Name(NameKind.DNS, target.sni) if from_sni and target.sni else text(svc, ".", ns, ".svc")
    )
    if k8s is None:
        return _Names(ns, svc, target.server_port, host)
    if _safe(k8s.service_namespace, _LABEL) and _safe(k8s.service_name, _LABEL):
        ns = Name(NameKind.NAMESPACE, str(k8s.service_namespace))
        svc = Name(NameKind.SERVICE, str(k8s.service_name))
        if not from_sni:
            host = Name(NameKind.DNS, f"{k8s.service_name}.{k8s.service_namespace}.svc")
    port = (
        k8s.target_port if k8s.target_port is not None and 0 < k8s.target_port < 65536 else target.server_port
    )
    backend = _backend_for(k8s.backends, target.server_ip)
    ns_value = ns.value if isinstance(ns, Name) else None
    pod_name = _safe(backend.pod_name) if backend is not None and backend.pod_namespace == ns_value else None
    w = k8s.webhook
    config = _safe(w.configuration)
    probe = next(
        (p.port for p in k8s.readiness_ports if pod_name and p.pod == f"{ns_value}/{pod_name}"), None
    )
    node = _safe(backend.node) if backend is not None else None
    webhook = _safe(w.name)
    return _Names(
        ns,
        svc,
        int(port),
        host,
        pod=Name(NameKind.POD, pod_name) if pod_name else None,
        node=Name(NameKind.NODE, node) if node else None,
        config_kind=w.kind.resource if config else None,
        config=Name(NameKind.CONFIGURATION, config) if config else None,
        webhook=Name(NameKind.WEBHOOK, webhook) if webhook else None,
        settings=_settings(w),
        probe_port=int(probe) if probe is not None else None,
        path=w.path if _PATH.fullmatch(w.path) else "/validate",
    )


def _settings(w: Webhook) -> str:
    """What the object's own yaml shows about the call: an admission webhook's timeoutSeconds and
    failurePolicy, an APIService's Available condition, a conversion webhook's service and path."""
    if w.kind is WebhookKind.APISERVICE:
        cond = w.available
        said = (
            f"its Available condition ({cond.status}{', ' + cond.reason if cond.reason else ''}): what the "
            "aggregator's last availability check got"
            if cond is not None
            else "its Available condition: what the aggregator's last availability check got"
        )
        return said + "; spec.service, caBundle, insecureSkipTLSVerify"
    if w.kind is WebhookKind.CONVERSION:
        return (
            "spec.conversion.webhook.clientConfig: the service, port and path the API server calls to convert"
        )
    return f"timeoutSeconds {int(w.timeout_s)}, failurePolicy {w.failure_policy.value}"


def _backend_for(backends: tuple[Backend, ...], server_ip: str) -> Backend | None:
    """The backend the connection reached (its address is the server's), else the first ready one."""
    with_pod = [b for b in backends if b.pod_name is not None]
    same = [b for b in with_pod if b.ip == server_ip]
    return next(iter(same + [b for b in with_pod if b.ready] + with_pod), None)


def _step(command: Text | str, shows: Text | str = "") -> Step:
    return Step(
        command if isinstance(command, Text) else text(command),
        shows if isinstance(shows, Text) else text(shows),
    )


_CLIENT = Ip("\x00client")
"""Stands for the client's address in the steps cached for a server (never shown: replaced)."""


def next_steps(label: Label, target: Target, k8s: WebhookMatch | None = None) -> tuple[Step, ...]:
    """Commands to run next, most telling first; empty for labels that need none.

    With ``k8s`` (the webhook the connection went to, from kubectl data) the commands name the real
    namespace, service, pod, node, target port and webhook configuration instead of placeholders.
    The steps are worked out once per server (and label, and what else the target says) and cached;
    the client's address, which differs from connection to connection, goes in afterwards.
    """
    if not label.failing:
        return ()
    if target.client_ip is None:
        return _next_steps(label, target, k8s)
    steps, names_client = _steps_for_any_client(
        label, dataclasses.replace(target, client_ip=_CLIENT.value), k8s
    )
    if not names_client:
        return steps
    client = Ip(target.client_ip)

    def slot(value: Slot) -> Slot:
        return client if value == _CLIENT else value

    return tuple(Step(step.command.mapped(slot), step.shows.mapped(slot)) for step in steps)


@functools.lru_cache(maxsize=1024)
def _steps_for_any_client(
    label: Label, target: Target, k8s: WebhookMatch | None
) -> tuple[tuple[Step, ...], bool]:
    """The steps for a target whose client is _CLIENT, and whether any of them names the client."""
    steps = _next_steps(label, target, k8s)
    return steps, any(_CLIENT in step.command.slots or _CLIENT in step.shows.slots for step in steps)


def _next_steps(label: Label, target: Target, k8s: WebhookMatch | None) -> tuple[Step, ...]:
    """next_steps() itself, uncached."""
    n = _names(target, k8s)
    ns, svc, port, host = n.ns, n.svc, n.port, n.host
    ip = Ip(str(ipaddress.ip_address(target.server_ip)))  # a parsed address: safe inside a command
    node: Part = n.node or "<webhook-node>"
    who_ip = text("kubectl get pods,svc -A -o wide | grep -F '", ip, "'")
    endpoints = text("kubectl get endpoints -n ", ns, " ", svc)
    slices = text("kubectl get endpointslices -n ", ns, " -l kubernetes.io/service-name=", svc, " -o wide")
    workload = text("pod/", n.pod) if n.pod else text("deploy/", svc)
    logs = (
        text("kubectl -n ", ns, " logs pod/", n.pod, " --tail=100")
        if n.pod
        else text("kubectl logs -n ", ns, " deploy/", svc, " --tail=100")
    )
    spec = (
        text("kubectl get pod -n ", ns, " ", n.pod, " -o yaml")
        if n.pod
        else text("kubectl get deploy -n ", ns, " ", svc, " -o yaml")
    )
    webhook_cfg = (
        text(f"kubectl get {n.config_kind} ", n.config, " -o yaml")
        if n.config
        else text(
            "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o "
            "custom-columns='NAME:.metadata.name,SVC:.webhooks[*].clientConfig.service.name,"
            "PORT:.webhooks[*].clientConfig.service.port,TIMEOUT:.webhooks[*].timeoutSeconds,"
            "POLICY:.webhooks[*].failurePolicy'"
        )
    )
    ports = text(
        "kubectl get svc -n ", ns, " ", svc, " -o jsonpath='{.spec.ports}'; ", spec, " | grep -A3 ports:"
    )
    readiness = text(spec, " | grep -A5 readiness")
    health = n.probe_port or port  # where the readiness probe (a kubelet-style GET /healthz) goes
    readiness_shows = "the readiness probe's port and path"
    if n.probe_port is not None and n.probe_port != port:
        readiness_shows += f": it checks port {n.probe_port}, the webhook serves {port}"
    ca_bundle = (
        text(
            f"kubectl get {n.config_kind} ",
            n.config,
            " -o jsonpath='{.webhooks[?(@.name==\"",
            n.webhook,
            "\")].clientConfig.caBundle}'",
        )
        if n.config and n.webhook
        else text(
            "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o json | "
            "jq -r '.items[].webhooks[].clientConfig.caBundle' | head -1"
        )
    )
    last_state = (
        text("kubectl describe pod -n ", ns, " ", n.pod, " | grep -iA3 'last state'")
        if n.pod
        else text(
            "kubectl describe pod -n ", ns, " -l app.kubernetes.io/name=", svc, " | grep -iA3 'last state'"
        )
    )
    netshoot = text("kubectl debug node/", node, " -it --image=nicolaka/netshoot -- ")
    policy = _step(
        "kubectl get networkpolicy -A",
        f"a policy around the webhook must admit the API server on port {port}",
    )
    client = Ip(target.client_ip) if target.client_ip else "the control plane"
    steps: list[Step] = []
    if label is Label.REFUSED:
        steps = [
            _step(endpoints, "<none>: no Ready webhook pod behind the service"),
            _step(text("kubectl get pods -n ", ns, " -o wide"), "READY 0/1: the readiness probe fails"),
            _step(readiness, readiness_shows),
            _step(text(who_ip), "which pod or service owns the address that refused"),
            _step(text(logs, " | grep -i listening"), f"the port the webhook listens on: it must be {port}"),
        ]
    elif label is Label.SYN_TIMEOUT:
        steps = [
            _step(endpoints, "the pod addresses behind the service"),
            _step(
                ports,
                "the port the pods receive on: GKE private clusters allow only 443 and 10250 "
                "from the control plane",
            ),
            policy,
            _step(
                f"# EKS: security groups must allow TCP {port} from the control plane to the nodes; with a "
                "custom CNI, run the webhook with hostNetwork: true and a securePort other than 10250",
            ),
        ]
        if target.server_side_seen is None:
            steps.append(
                _step(
                    text(netshoot, f"tcpdump -i any -U -w - 'tcp port {port}' | pcapdiag analyze -"),
                    "whether the SYN reaches the webhook's node (a capture there says where it is dropped)",
                )
            )
    elif label is Label.UNREACHABLE:
        if target.icmp_sender is IcmpSender.CLIENT_NODE:
            steps = [
                _step(slices, "no ready endpoint: kube-proxy rejects connections to the Service"),
                _step(text("kubectl get pods -n ", ns, " -o wide"), "READY 0/1: the readiness probe fails"),
                _step(readiness, readiness_shows),
            ]
        elif target.icmp_sender is IcmpSender.SERVER:
            steps = [
                _step(
                    text(
                        netshoot, f"sh -c 'nft list ruleset | grep -n {port}; iptables-save | grep -n {port}'"
                    ),
                    f"the REJECT rule for port {port} on the webhook's host",
                ),
                _step(text(who_ip), "which pod or node owns the address that rejected it"),
                _step(endpoints, "the pod addresses behind the service"),
            ]
        else:
            steps = [
                _step(text("ip route get ", ip), "the route the API server's node takes to it (run there)"),
                _step(text(who_ip), "which pod or service owns the address"),
                policy,
                _step(endpoints, "the pod addresses behind the service"),
            ]
    elif label is Label.TLS_HANDSHAKE_TIMEOUT:
        steps = [
            _step(logs, "whether the webhook saw the connection (http: TLS handshake error ...)"),
            _step(
                text("kubectl -n ", ns, " port-forward ", workload, f" {port}"), "a direct way to the webhook"
            ),
            _step(
                text("curl -vsS --resolve ", host, f":{port}:127.0.0.1 https://", host, f":{port}{n.path}"),
                "whether the webhook answers TLS at all (a proxy in between may wait for plain HTTP)",
            ),
            _step(ports, "the port the pods receive on: it must be the webhook's TLS port"),
        ]
    elif label is Label.NOT_TLS:
        steps = [
            _step(ports, "the targetPort: it must be the webhook's TLS port, not a healthz/metrics port"),
            _step(text(logs, " | grep -i listening"), "which port speaks TLS"),
            _step(webhook_cfg, "the service and port the API server calls"),
        ]
    elif label is Label.CERT_REJECTED:
        steps = [
            _step(
                text(
                    "kubectl -n ",
                    ns,
                    " port-forward ",
                    workload,
                    f" {port} & openssl s_client -connect 127.0.0.1:{port} -servername ",
                    host,
                    " </dev/null 2>/dev/null | openssl x509 -noout -subject -issuer -dates "
                    "-ext subjectAltName",
                ),
                text(
                    "the certificate served: its names must include ",
                    host,
                    ", its dates now, its issuer the caBundle's",
                ),
            ),
            _step(
                text(ca_bundle, " | base64 -d | openssl x509 -noout -subject -issuer -dates"),
                "the CA the API server trusts",
            ),
            _step(
                text(
                    "kubectl -n ",
                    ns,
                    " get secret ",
                    svc,
                    "-ca -o jsonpath='{.data.ca\\.crt}' | base64 -d | "
                    "openssl x509 -noout -subject -issuer -dates",
                ),
                "the webhook's CA (cert-manager's convention): it must match the caBundle",
            ),
            _step(
                "kubectl -n cert-manager logs deploy/cert-manager-cainjector --tail=100",
                "whether the caBundle is being injected",
            ),
            _step(
                text(logs, " | grep -i 'TLS handshake error'"),
                "the webhook's side: remote error: tls: bad certificate",
            ),
        ]
    elif label is Label.TLS_FAILED:
        steps = [
            _step(text(logs, " | grep -i 'TLS handshake error'"), "why the webhook ended the handshake"),
            _step(
                text(spec, " | grep -iE 'tls|cipher|min-version|client-ca'"),
                "its TLS settings (versions, ciphers, client CA)",
            ),
            _step(ports, "the port the pods receive on"),
        ]
    elif label is Label.AWAITING_HEADERS:
        steps = [
            _step(logs, "whether the webhook received the request and what it was doing"),
            _step(text("kubectl top pod -n ", ns), "a saturated or throttled webhook answers late"),
            _step(webhook_cfg, n.settings or "timeoutSeconds bounds how long the API server waits"),
            _step(
                text("kubectl get pods -n ", ns, " -o wide"), "restarts and readiness of the webhook's pods"
            ),
        ]
    elif label is Label.SERVER_CLOSED:
        steps = [
            _step(text("kubectl get pods -n ", ns, " -o wide"), "RESTARTS: did the webhook crash?"),
            _step(last_state, "why its last container ended"),
            _step(logs, "what the webhook logged before closing"),
        ]
    elif label is Label.HTTP_ERROR:
        steps = [
            _step(readiness, readiness_shows),
            _step(
                text("kubectl -n ", ns, " port-forward ", workload, f" {health}"),
                "a direct way to the probe's port",
            ),
            _step(f"curl -sS --dump-header - 127.0.0.1:{health}/healthz", "what the probe gets"),
            _step(logs, "why it answers with an error"),
        ]
    if k8s is not None and not k8s.webhook.kind.admission and n.config:
        # an APIService or a CRD: its own object says what the API server calls and, for an APIService,
        # what the aggregator saw last
        steps = [_step(webhook_cfg, n.settings or ""), *steps]
    return _unique(_where_steps(target, port, policy, netshoot, client) + steps)


def _where_steps(target: Target, port: int, policy: Step, netshoot: Text, client: Part) -> list[Step]:
    """The checks for the place a second capture showed it failed (first: they are the most telling)."""
    if target.where is Where.IN_BETWEEN:
        return [
            policy,
            _step(
                text(
                    "# firewall / security group / GKE firewall rule: "
                    f"allow TCP {port} from the control plane (",
                    client,
                    ") to the webhook's nodes",
                ),
            ),
        ]
    if target.where is Where.RETURN_PATH:
        return [
            _step(
                text("ip route get ", client),
                "on the webhook's node: the answer must route back the way the request came "
                "(asymmetric routing, rp_filter, missing SNAT)",
            )
        ]
    if target.where is Where.SERVER and target.server_side_seen:
        return [
            _step(
                text(netshoot, f"ss -ltn 'sport = :{port}'"),
                "a listener on the port, and its queue (Recv-Q at Send-Q: the listen queue is full)",
            )
        ]
    return []


def _unique(steps: list[Step]) -> tuple[Step, ...]:
    """No command twice."""
    seen: set[str] = set()
    out = []
    for step in steps:
        key = str(step.command)
        if key not in seen:
            seen.add(key)
            out.append(step)
    return tuple(out)
