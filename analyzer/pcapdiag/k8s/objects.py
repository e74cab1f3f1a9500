"""Services, pods, nodes and endpoints reduced to the typed fields pcapdiag needs, read from kubectl JSON.

A missing or mistyped field reads as absent: odd but valid data never raises here.
"""

from __future__ import annotations

from dataclasses import dataclass

from pcapdiag.k8s.fields import array, canonical_ip, dicts, get, integer, labels, port_ref, text
from pcapdiag.k8s.model import ContainerPort, ProbePort

FARGATE_POD_LABEL = "eks.amazonaws.com/fargate-profile"
"""Set by EKS on every pod it schedules onto Fargate."""
_PROBE_HANDLERS = ("httpGet", "tcpSocket", "grpc")


def _meta(obj: object) -> tuple[str, str] | None:
    name = text(obj, "metadata", "name")
    return None if name is None else (text(obj, "metadata", "namespace") or "default", name)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServicePort:
    """One entry of a Service's spec.ports."""

    name: str | None
    port: int
    target: int | str | None
    """targetPort: a number, a container port name, or None (then it equals port)."""
    protocol: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """A Service: where its ClusterIPs send which port."""

    namespace: str
    name: str
    type: str
    cluster_ips: tuple[str, ...]
    ports: tuple[ServicePort, ...]
    selector: tuple[tuple[str, str], ...]

    def port(self, number: int) -> ServicePort | None:
        """The spec.ports entry for this service port."""
        return next((p for p in self.ports if p.port == number), None)


def parse_service(obj: dict[str, object]) -> Service | None:
    """A Service, or None without a name."""
    meta = _meta(obj)
    if meta is None:
        return None
    ips = [canonical_ip(ip) for ip in [*array(obj, "spec", "clusterIPs"), get(obj, "spec", "clusterIP")]]
    ports = []
    for p in dicts(obj, "spec", "ports"):
        number = integer(p, "port")
        if number is not None:
            ports.append(
                ServicePort(
                    name=text(p, "name"),
                    port=number,
                    target=port_ref(p.get("targetPort")) or None,  # 0 or "" means: the same as port
                    protocol=text(p, "protocol") or "TCP",
                )
            )
    return Service(
        namespace=meta[0],
        name=meta[1],
        type=text(obj, "spec", "type") or "ClusterIP",
        cluster_ips=tuple(dict.fromkeys(ip for ip in ips if ip)),
        ports=tuple(ports),
        selector=labels(obj, "spec", "selector"),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    """A container's declared ports and its readiness probe's port."""

    name: str
    ports: tuple[ContainerPort, ...]
    readiness: ProbePort | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Pod:
    """A pod: its addresses, node, network mode, readiness and containers."""

    namespace: str
    name: str
    node: str | None
    ips: tuple[str, ...]
    host_ips: tuple[str, ...]
    host_network: bool
    """spec.hostNetwork, or a pod IP equal to its host IP."""
    ready: bool | None
    """The Ready condition; None when the pod has no such condition."""
    phase: str | None
    labels: tuple[tuple[str, str], ...]
    containers: tuple[Container, ...]

    @property
    def ref(self) -> str:
        """'namespace/name'."""
        return f"{self.namespace}/{self.name}"

    @property
    def fargate(self) -> bool:
        """Scheduled by EKS onto Fargate (by its label or its node's name)."""
        return any(k == FARGATE_POD_LABEL for k, _ in self.labels) or (self.node or "").startswith("fargate-")

    @property
    def finished(self) -> bool:
        """Succeeded or Failed: its address may already belong to another pod."""
        return self.phase in ("Succeeded", "Failed")

    def port_named(self, name: str) -> int | None:
        """The number of the container port with this name."""
        return next((p.port for c in self.containers for p in c.ports if p.name == name), None)


def _container(obj: dict[str, object], pod: str) -> Container | None:
    name = text(obj, "name")
    if name is None:
        return None
    ports = tuple(
        ContainerPort(
            pod=pod, container=name, name=text(p, "name"), port=number, protocol=text(p, "protocol") or "TCP"
        )
        for p in dicts(obj, "ports")
        if (number := integer(p, "containerPort")) is not None
    )
    readiness = None
    for handler in _PROBE_HANDLERS:
        ref = port_ref(get(obj, "readinessProbe", handler, "port"))
        if ref is None:
            continue
        if isinstance(ref, int):
            readiness = ProbePort(pod=pod, container=name, handler=handler, port=ref)
        else:
            number = next((p.port for p in ports if p.name == ref), None)
            readiness = ProbePort(pod=pod, container=name, handler=handler, port=number, port_name=ref)
        break
    return Container(name=name, ports=ports, readiness=readiness)


def _ips(obj: object, plural: str, single: str) -> tuple[str, ...]:
    found = [canonical_ip(get(entry, "ip")) for entry in dicts(obj, "status", plural)]
    found.append(canonical_ip(get(obj, "status", single)))
    return tuple(dict.fromkeys(ip for ip in found if ip))


def parse_pod(obj: dict[str, object]) -> Pod | None:
    """A Pod, or None without a name."""
    meta = _meta(obj)
    if meta is None:
        return None
    ref = f"{meta[0]}/{meta[1]}"
    ips, host_ips = _ips(obj, "podIPs", "podIP"), _ips(obj, "hostIPs", "hostIP")
    conditions = dicts(obj, "status", "conditions")
    ready = next((c.get("status") == "True" for c in conditions if c.get("type") == "Ready"), None)
    containers = (_container(c, ref) for c in dicts(obj, "spec", "containers"))
    return Pod(
        namespace=meta[0],
        name=meta[1],
        node=text(obj, "spec", "nodeName"),
        ips=ips,
        host_ips=host_ips,
        host_network=get(obj, "spec", "hostNetwork") is True or bool(set(ips) & set(host_ips)),
        ready=ready,
        phase=text(obj, "status", "phase"),
        labels=labels(obj, "metadata", "labels"),
        containers=tuple(c for c in containers if c is not None),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A node: its addresses and what its labels and providerID say about the platform."""

    name: str
    addresses: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    provider: str | None
    """The providerID scheme: 'gce', 'aws', 'azure', 'kind', ..."""

    @property
    def fargate(self) -> bool:
        """An EKS Fargate microVM."""
        fargate_label = ("eks.amazonaws.com/compute-type", "fargate") in self.labels
        return fargate_label or self.name.startswith("fargate-")


def parse_node(obj: dict[str, object]) -> Node | None:
    """A Node, or None without a name."""
    name = text(obj, "metadata", "name")
    if name is None:
        return None
    found = (canonical_ip(a.get("address")) for a in dicts(obj, "status", "addresses"))
    provider = text(obj, "spec", "providerID")
    return Node(
        name=name,
        addresses=tuple(dict.fromkeys(ip for ip in found if ip)),
        labels=labels(obj, "metadata", "labels"),
        provider=provider.split(":", 1)[0] if provider and ":" in provider else None,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointAddress:
    """One address of a service's Endpoints or EndpointSlice, with the ports listed beside it."""

    ip: str
    ready: bool
    pod: tuple[str, str] | None
    """(namespace, name) of targetRef when it is a Pod."""
    node: str | None
    ports: tuple[tuple[str | None, int], ...]
    """(port name, number); the name is the service port's name."""

    def port_for(self, port: ServicePort, only_port: bool) -> int | None:
        """The endpoint port that serves this service port."""
        named = [n for name, n in self.ports if name == port.name]
        if named:
            return named[0]
        return self.ports[0][1] if only_port and len(self.ports) == 1 else None


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointSet:
    """The addresses one Endpoints object or EndpointSlice lists for a service (possibly none)."""

    namespace: str
    service: str
    from_slice: bool
    addresses: tuple[EndpointAddress, ...]


def _target(entry: dict[str, object], namespace: str) -> tuple[str, str] | None:
    if text(entry, "targetRef", "kind") not in (None, "Pod"):
        return None
    name = text(entry, "targetRef", "name")
    return None if name is None else (text(entry, "targetRef", "namespace") or namespace, name)


def _ports(obj: object, *path: str) -> tuple[tuple[str | None, int], ...]:
    return tuple((text(p, "name"), n) for p in dicts(obj, *path) if (n := integer(p, "port")) is not None)


def parse_endpoints(obj: dict[str, object]) -> EndpointSet | None:
    """The addresses of an Endpoints object (named like its service), or None without a name."""
    meta = _meta(obj)
    if meta is None:
        return None
    out = []
    for subset in dicts(obj, "subsets"):
        ports = _ports(subset, "ports")
        for key, ready in (("addresses", True), ("notReadyAddresses", False)):
            for a in dicts(subset, key):
                if (ip := canonical_ip(a.get("ip"))) is not None:
                    pod, node = _target(a, meta[0]), text(a, "nodeName")
                    out.append(EndpointAddress(ip=ip, ready=ready, pod=pod, node=node, ports=ports))
    return EndpointSet(namespace=meta[0], service=meta[1], from_slice=False, addresses=tuple(out))


def parse_endpoint_slice(obj: dict[str, object]) -> EndpointSet | None:
    """The addresses of an EndpointSlice (its service is in the kubernetes.io/service-name label)."""
    meta = _meta(obj)
    service = text(obj, "metadata", "labels", "kubernetes.io/service-name")
    if meta is None or service is None:
        return None
    ports = _ports(obj, "ports")
    out = []
    for e in dicts(obj, "endpoints"):
        ready = get(e, "conditions", "ready") is not False  # nil means unknown, to be read as ready
        pod, node = _target(e, meta[0]), text(e, "nodeName") or text(e, "topology", "kubernetes.io/hostname")
        for raw in array(e, "addresses"):
            if (ip := canonical_ip(raw)) is not None:
                out.append(EndpointAddress(ip=ip, ready=ready, pod=pod, node=node, ports=ports))
    return EndpointSet(namespace=meta[0], service=service, from_slice=True, addresses=tuple(out))
