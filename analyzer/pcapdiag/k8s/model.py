"""The values the Kubernetes inventory answers with: names of addresses, webhook matches and findings."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pcapdiag.prose import Name, NameKind, Text, join, text


class WebhookKind(enum.Enum):
    """Which object makes the API server call a service: an admission webhook configuration, an
    APIService (the aggregation layer), or a CRD's conversion webhook."""

    VALIDATING = "validating"
    MUTATING = "mutating"
    APISERVICE = "apiservice"
    CONVERSION = "conversion"

    @property
    def resource(self) -> str:
        """The kubectl resource name, e.g. 'validatingwebhookconfiguration', 'apiservice'."""
        if self is WebhookKind.APISERVICE:
            return "apiservice"
        if self is WebhookKind.CONVERSION:
            return "customresourcedefinition"
        return f"{self.value}webhookconfiguration"

    @property
    def admission(self) -> bool:
        """An admission webhook (timeoutSeconds and failurePolicy are its own settings)."""
        return self in (WebhookKind.VALIDATING, WebhookKind.MUTATING)


@dataclass(frozen=True, slots=True)
class Condition:
    """A status condition as the object reports it (an APIService's Available)."""

    status: str
    reason: str | None
    message: str | None


class FailurePolicy(enum.Enum):
    """What the API server does with the request when the webhook call fails."""

    FAIL = "Fail"
    """The API request is rejected with the webhook error."""
    IGNORE = "Ignore"
    """The API request goes on as if the webhook had allowed it."""


class IpKind(enum.Enum):
    """What owns an address in the cluster."""

    SERVICE = "service"
    """A Service's ClusterIP (one of its clusterIPs)."""
    POD = "pod"
    """A pod's own address (its network namespace)."""
    NODE = "node"
    """A node's address; hostNetwork pods share it."""


class Platform(enum.Enum):
    """Where the cluster runs, as far as node and pod names, labels and providerIDs tell."""

    GKE = "gke"
    EKS = "eks"
    UNKNOWN = "unknown"


class Severity(enum.Enum):
    """How sure and how bad a finding is."""

    ERROR = "error"
    """The data proves that calls to the webhook fail."""
    WARNING = "warning"
    """The data shows a setup that fails on some platforms or unless something outside the data holds."""
    INFO = "info"
    """A fact that helps read a capture, not a fault by itself."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IpName:
    """What an address is in the cluster."""

    ip: str
    """The address, in canonical (compressed) form."""
    kind: IpKind
    namespace: str | None
    """The service's or pod's namespace; None for a node."""
    name: str
    """The service, pod or node name."""
    node: str | None = None
    """The pod's node (a node's own name for NODE)."""
    host_network: bool = False
    """True when the pod uses its node's address (hostNetwork, or pod IP equal to the node IP)."""
    host_network_pods: tuple[str, ...] = ()
    """'namespace/name' of the hostNetwork pods that share this node address."""

    def __str__(self) -> str:
        return str(self.describe())

    def describe(self) -> Text:
        """'pod NS/NAME on node N' and the like, names typed."""
        ns = Name(NameKind.NAMESPACE, self.namespace or "")
        if self.kind is IpKind.SERVICE:
            return text("service ", ns, "/", Name(NameKind.SERVICE, self.name))
        if self.kind is IpKind.POD:
            where = text(" on node ", Name(NameKind.NODE, self.node)) if self.node else text()
            host = " (hostNetwork)" if self.host_network else ""
            return text("pod ", ns, "/", Name(NameKind.POD, self.name), where, host)
        pods = (
            text(" (hostNetwork: ", join((pod_ref(p) for p in self.host_network_pods), ", "), ")")
            if self.host_network_pods
            else text()
        )
        return text("node ", Name(NameKind.NODE, self.name), pods)


def pod_ref(ref: str) -> Text:
    """'namespace/name' of a pod, typed."""
    ns, _, name = ref.partition("/")
    return (
        text(Name(NameKind.NAMESPACE, ns), "/", Name(NameKind.POD, name))
        if name
        else text(Name(NameKind.POD, ns))
    )


def service_ref(namespace: str | None, name: str | None) -> Text:
    """'namespace/name' of a service, typed."""
    return text(Name(NameKind.NAMESPACE, namespace or ""), "/", Name(NameKind.SERVICE, name or ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class Webhook:
    """One webhook of a validating or mutating webhook configuration, defaults applied."""

    name: str
    kind: WebhookKind
    configuration: str
    """The name of the ValidatingWebhookConfiguration or MutatingWebhookConfiguration."""
    api_version: str
    """e.g. 'admissionregistration.k8s.io/v1'; v1beta1 has other defaults."""
    service_namespace: str | None
    """clientConfig.service.namespace; None for a url webhook."""
    service_name: str | None
    port: int
    """clientConfig.service.port (default 443), or the url's port (default 443)."""
    path: str
    """The request path ('/' when none is given)."""
    url: str | None
    """clientConfig.url as given; None for a service webhook."""
    url_host: str | None
    """The url's host, lower case, without brackets; an IP literal in canonical form."""
    timeout_s: int
    """timeoutSeconds, or its default: 10 s in v1, 30 s in v1beta1."""
    timeout_defaulted: bool
    failure_policy: FailurePolicy
    """failurePolicy, or its default: Fail in v1, Ignore in v1beta1."""
    failure_policy_defaulted: bool
    ca_bundle: bool = True
    """The object gives a caBundle to verify the server's certificate with."""
    insecure: bool = False
    """APIService insecureSkipTLSVerify: the aggregator does not verify the backend's certificate."""
    available: Condition | None = None
    """APIService: its Available condition, as the aggregator last set it."""
    group_version: str | None = None
    """APIService: 'group/version' it serves; conversion: the CRD's group."""

    @property
    def service(self) -> str | None:
        """'namespace/name' of the service it calls, or None for a url webhook."""
        if self.service_namespace is None or self.service_name is None:
            return None
        return f"{self.service_namespace}/{self.service_name}"

    @property
    def title(self) -> Text:
        """'webhook NAME (validatingwebhookconfiguration CONFIG)' for findings; 'apiservice NAME', and
        'conversion webhook of customresourcedefinition NAME' for the others."""
        if self.kind is WebhookKind.APISERVICE:
            return text("apiservice ", Name(NameKind.CONFIGURATION, self.name))
        if self.kind is WebhookKind.CONVERSION:
            return text(
                "conversion webhook of customresourcedefinition ", Name(NameKind.CONFIGURATION, self.name)
            )
        return text(
            "webhook ",
            Name(NameKind.WEBHOOK, self.name),
            f" ({self.kind.resource} ",
            Name(NameKind.CONFIGURATION, self.configuration),
            ")",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerPort:
    """A port a container declares (spec.containers[].ports[])."""

    pod: str
    """'namespace/name' of the pod."""
    container: str
    name: str | None
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbePort:
    """The port a container's readiness probe checks."""

    pod: str
    """'namespace/name' of the pod."""
    container: str
    handler: str
    """'httpGet', 'tcpSocket' or 'grpc'."""
    port: int | None
    """The port number; None when a named port is declared by no container port."""
    port_name: str | None = None
    """The name when the probe gives the port by name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Backend:
    """One address behind a webhook's service (an endpoint), ready or not."""

    ip: str
    port: int | None
    """The port the API server's packets reach: the resolved targetPort; None when it cannot be resolved."""
    ready: bool
    pod_namespace: str | None = None
    pod_name: str | None = None
    node: str | None = None
    host_network: bool = False
    """The pod uses its node's network (hostNetwork, or its IP is the node's)."""
    fargate: bool = False
    """The pod runs on EKS Fargate (its own microVM whose kubelet owns port 10250)."""

    @property
    def pod(self) -> str | None:
        """'namespace/name' of the pod, when the endpoint names one."""
        if self.pod_namespace is None or self.pod_name is None:
            return None
        return f"{self.pod_namespace}/{self.pod_name}"


class MatchBy(enum.Enum):
    """How a connection was tied to its webhook."""

    SNI = "sni"
    """The TLS server name <svc>.<ns>.svc[...] or a url webhook's host name."""
    SERVICE_ADDRESS = "service-address"
    """The service's ClusterIP and port (the API server's side of kube-proxy's DNAT)."""
    ENDPOINT_ADDRESS = "endpoint-address"
    """A backing pod's address and targetPort (the webhook's side of the DNAT)."""
    URL_ADDRESS = "url-address"
    """A url webhook whose host is this IP literal."""
    CONFIGURATION = "configuration"
    """Not matched to a connection: built from the webhook configuration alone."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookMatch:
    """The webhook(s) a connection went to, with the service, port mapping and pods behind it."""

    webhooks: tuple[Webhook, ...]
    """Every webhook that calls this service port (or url host and port); never empty."""
    matched_by: MatchBy
    service_namespace: str | None
    service_name: str | None
    service_exists: bool
    """False when the webhook's service is not in the data (or it is a url webhook)."""
    service_port: int
    """The port the webhook calls: the service port (or the url's port)."""
    service_ports: tuple[int, ...] = ()
    """Every port the service exposes."""
    target_port: int | None
    """The port the pods receive on: targetPort as a number (a url webhook: its port); None if unknown."""
    target_port_name: str | None = None
    """The service's targetPort when it names a container port."""
    backends: tuple[Backend, ...] = ()
    """The service's endpoints for this port (Endpoints/EndpointSlices, else the pods its selector picks)."""
    endpoints_given: bool = False
    """Endpoints or EndpointSlices of the service were given: no backend then proves there is none."""
    container_ports: tuple[ContainerPort, ...] = ()
    """The ports the backing pods' containers declare."""
    readiness_ports: tuple[ProbePort, ...] = ()
    """The ports the backing pods' readiness probes check."""

    @property
    def webhook(self) -> Webhook:
        """The first webhook (by configuration kind, configuration name and webhook name)."""
        return self.webhooks[0]

    @property
    def names(self) -> tuple[str, ...]:
        """Every matched webhook's name."""
        return tuple(w.name for w in self.webhooks)

    @property
    def timeouts_s(self) -> tuple[int, ...]:
        """The distinct effective timeoutSeconds of the matched webhooks, smallest first."""
        return tuple(sorted({w.timeout_s for w in self.webhooks}))

    @property
    def service(self) -> str | None:
        """'namespace/name' of the service, or None for a url webhook."""
        if self.service_namespace is None or self.service_name is None:
            return None
        return f"{self.service_namespace}/{self.service_name}"

    @property
    def ready_backends(self) -> tuple[Backend, ...]:
        """The backends the API server's traffic can reach."""
        return tuple(b for b in self.backends if b.ready)


@dataclass(frozen=True, slots=True)
class Finding:
    """One cross-check the data proves, in plain words."""

    severity: Severity
    subject: Text
    """What it is about, e.g. 'service pcd-system/webhook' or 'pod pcd-system/webhook-...'."""
    text: Text

    def __str__(self) -> str:
        return f"{self.severity.value}: {self.subject}: {self.text}"
