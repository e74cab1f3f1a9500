"""The cluster as kubectl documents describe it, indexed to name addresses and tie connections to webhooks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from ipaddress import ip_address

from pcapdiag.k8s.aggregation import parse_apiservice, parse_conversion
from pcapdiag.k8s.checks import match_findings, sorted_findings, webhook_findings
from pcapdiag.k8s.documents import walk_documents
from pcapdiag.k8s.fields import canonical_ip
from pcapdiag.k8s.model import (
    Backend,
    Finding,
    IpKind,
    IpName,
    MatchBy,
    Platform,
    Webhook,
    WebhookKind,
    WebhookMatch,
)
from pcapdiag.k8s.objects import (
    EndpointAddress,
    EndpointSet,
    Node,
    Pod,
    Service,
    ServicePort,
    parse_endpoint_slice,
    parse_endpoints,
    parse_node,
    parse_pod,
    parse_service,
)
from pcapdiag.k8s.webhooks import parse_webhooks

_WEBHOOK_KINDS = {
    "ValidatingWebhookConfiguration": WebhookKind.VALIDATING,
    "MutatingWebhookConfiguration": WebhookKind.MUTATING,
}
_ENDPOINT_KINDS = {"Endpoints": parse_endpoints, "EndpointSlice": parse_endpoint_slice}
_Target = tuple[str, str, int]
"""What a group of webhooks calls: ('svc', 'namespace/name', port) or ('url', host, port)."""


class Inventory:
    """Services, pods, nodes, endpoints and webhooks from kubectl JSON, indexed by name and address.

    Build it with ``Inventory.from_documents``; it is not changed afterwards.
    """

    __slots__ = (
        "_endpoints",
        "_matches",
        "_node_by_ip",
        "_nodes",
        "_pods",
        "_pods_by_ip",
        "_service_by_ip",
        "_services",
        "_webhooks",
    )

    def __init__(
        self,
        *,
        services: Iterable[Service] = (),
        pods: Iterable[Pod] = (),
        nodes: Iterable[Node] = (),
        endpoints: Iterable[EndpointSet] = (),
        webhooks: Iterable[Webhook] = (),
    ) -> None:
        """Index the objects; a later object with the same identity replaces an earlier one."""
        self._services = {(s.namespace, s.name): s for s in services}
        self._pods = {(p.namespace, p.name): p for p in sorted(pods, key=lambda p: (p.namespace, p.name))}
        self._nodes = {n.name: n for n in nodes}
        sets = list(endpoints)
        sliced = {(e.namespace, e.service) for e in sets if e.from_slice}
        merged: dict[tuple[str, str], dict[EndpointAddress, None]] = {}
        for e in sets:
            if e.from_slice or (e.namespace, e.service) not in sliced:  # EndpointSlices win over Endpoints
                merged.setdefault((e.namespace, e.service), {}).update(dict.fromkeys(e.addresses))
        self._endpoints = {key: tuple(addresses) for key, addresses in merged.items()}
        # admission webhooks first: a service that also converts a CRD or serves an APIService is named
        # by its admission webhook, the commonest caller
        unique = {(not w.kind.admission, w.kind.value, w.configuration, w.name): w for w in webhooks}
        self._webhooks = tuple(unique[key] for key in sorted(unique))
        self._pods_by_ip: dict[str, list[Pod]] = {}
        self._node_by_ip: dict[str, str] = {}
        for pod in self._pods.values():
            for ip in pod.ips:
                self._pods_by_ip.setdefault(ip, []).append(pod)
            for ip in pod.host_ips:
                if pod.node is not None:
                    self._node_by_ip.setdefault(ip, pod.node)
        for node in self._nodes.values():
            for ip in node.addresses:
                self._node_by_ip[ip] = node.name
        self._service_by_ip = {ip: s for s in self._services.values() for ip in s.cluster_ips}
        # one match per webhook target, built once: the inventory does not change afterwards
        self._matches = {key: self._match(hooks) for key, hooks in _groups(self._webhooks).items()}

    @classmethod
    def from_documents(cls, docs: Iterable[object]) -> Inventory:
        """Read parsed JSON documents: kubectl ``get ... -o json`` output (Lists or single objects).

        Kinds read: Service, Endpoints, EndpointSlice, Pod, Node, ValidatingWebhookConfiguration,
        MutatingWebhookConfiguration (v1 and v1beta1), APIService and CustomResourceDefinition (its
        conversion webhook); other kinds are ignored.
        Raises K8sDataError when a document is not Kubernetes JSON at all.
        """
        services: list[Service] = []
        pods: list[Pod] = []
        nodes: list[Node] = []
        endpoints: list[EndpointSet] = []
        webhooks: list[Webhook] = []
        for item in walk_documents(docs):
            if item.kind == "Service" and (svc := parse_service(item.obj)) is not None:
                services.append(svc)
            elif item.kind == "Pod" and (pod := parse_pod(item.obj)) is not None:
                pods.append(pod)
            elif item.kind == "Node" and (node := parse_node(item.obj)) is not None:
                nodes.append(node)
            elif item.kind in _ENDPOINT_KINDS and (eps := _ENDPOINT_KINDS[item.kind](item.obj)) is not None:
                endpoints.append(eps)
            elif item.kind in _WEBHOOK_KINDS:
                webhooks.extend(parse_webhooks(_WEBHOOK_KINDS[item.kind], item.api_version, item.obj))
            elif item.kind == "APIService":
                webhooks.extend(parse_apiservice(item.api_version, item.obj))
            elif item.kind == "CustomResourceDefinition":
                webhooks.extend(parse_conversion(item.api_version, item.obj))
        return cls(services=services, pods=pods, nodes=nodes, endpoints=endpoints, webhooks=webhooks)

    @property
    def webhooks(self) -> tuple[Webhook, ...]:
        """Every webhook, sorted by configuration kind, configuration name and webhook name."""
        return self._webhooks

    @property
    def services(self) -> tuple[Service, ...]:
        """Every service given."""
        return tuple(self._services.values())

    @property
    def pods(self) -> tuple[Pod, ...]:
        """Every pod given, sorted by namespace and name."""
        return tuple(self._pods.values())

    def service(self, namespace: str, name: str) -> Service | None:
        """The service with this namespace and name."""
        return self._services.get((namespace, name))

    def pod(self, namespace: str, name: str) -> Pod | None:
        """The pod with this namespace and name."""
        return self._pods.get((namespace, name))

    @property
    def platform(self) -> Platform:
        """GKE or EKS when node providerIDs, node labels, node names or pod labels say so."""
        node_names = set(self._nodes) | {p.node for p in self._pods.values() if p.node}
        nodes = self._nodes.values()
        if any(
            n.provider == "gce" or any(k.startswith("cloud.google.com/gke-") for k, _ in n.labels)
            for n in nodes
        ):
            return Platform.GKE
        if any(name.startswith("gke-") for name in node_names):
            return Platform.GKE
        eks_label = any(k.startswith("eks.amazonaws.com/") for n in nodes for k, _ in n.labels)
        if eks_label or any(p.fargate for p in self._pods.values()):
            return Platform.EKS
        return Platform.UNKNOWN

    def describe_ip(self, ip: str) -> IpName | None:
        """What the address is: a ClusterIP, a pod's own address, or a node with its hostNetwork pods."""
        addr = canonical_ip(ip)
        if addr is None:
            return None
        if (svc := self._service_by_ip.get(addr)) is not None:
            return IpName(ip=addr, kind=IpKind.SERVICE, namespace=svc.namespace, name=svc.name)
        pods = self._pods_by_ip.get(addr, [])
        pods = [p for p in pods if not p.finished] or pods
        own = sorted((p for p in pods if not p.host_network), key=lambda p: p.ready is not True)
        if own:
            p = own[0]
            return IpName(ip=addr, kind=IpKind.POD, namespace=p.namespace, name=p.name, node=p.node)
        shared = tuple(sorted(p.ref for p in pods))
        node = self._node_by_ip.get(addr) or next((p.node for p in pods if p.node), None)
        if node is not None:
            return IpName(
                ip=addr, kind=IpKind.NODE, namespace=None, name=node, node=node, host_network_pods=shared
            )
        if pods:
            p = pods[0]
            return IpName(ip=addr, kind=IpKind.POD, namespace=p.namespace, name=p.name, host_network=True)
        return None

    def webhook_for(self, *, sni: str | None, ip: str, port: int) -> WebhookMatch | None:
        """The webhook(s) a connection to ip:port with this TLS server name went to, or None.

        Works from either side of kube-proxy's DNAT: the SNI ``<svc>.<ns>.svc[.cluster.local]`` (or a url
        webhook's host), the service's ClusterIP and port, or a backing pod's address and targetPort.
        """
        found = self._by_sni(sni.rstrip(".").lower(), port) if sni else None
        if found is not None:
            return replace(found, matched_by=MatchBy.SNI)
        addr = canonical_ip(ip)
        if addr is None:
            return None
        svc = self._service_by_ip.get(addr)
        for (kind, where, group_port), match in self._matches.items():
            if (
                svc is not None
                and kind == "svc"
                and where == f"{svc.namespace}/{svc.name}"
                and group_port == port
            ):
                return replace(match, matched_by=MatchBy.SERVICE_ADDRESS)
        for (kind, _, _), match in self._matches.items():
            if kind == "svc" and any(b.ip == addr and b.port == port for b in match.backends):
                return replace(match, matched_by=MatchBy.ENDPOINT_ADDRESS)
        url = self._matches.get(("url", addr, port))
        return replace(url, matched_by=MatchBy.URL_ADDRESS) if url is not None else None

    def webhook_matches(self) -> tuple[WebhookMatch, ...]:
        """One match per service port (or url host and port) that webhooks call, not tied to a connection."""
        return tuple(self._matches.values())

    def checks(self, match: WebhookMatch | None = None) -> tuple[Finding, ...]:
        """The guide's cross-checks, for one match or for every webhook; most severe first."""
        matches = (match,) if match is not None else self.webhook_matches()
        found = [
            f for m in matches for f in match_findings(m, self.platform, services_given=bool(self._services))
        ]
        found.extend(f for m in matches for w in m.webhooks for f in webhook_findings(w))
        return sorted_findings(found)

    def _by_sni(self, sni: str, port: int) -> WebhookMatch | None:
        parts = sni.split(".")
        service = f"{parts[1]}/{parts[0]}" if len(parts) >= 3 and parts[2] == "svc" else None
        candidates = [
            match
            for (kind, where, _), match in self._matches.items()
            if (kind == "svc" and where == service) or (kind == "url" and where == sni)
        ]
        on_port = [m for m in candidates if port in (m.service_port, m.target_port)]
        return next(iter(on_port or candidates), None)

    def _match(self, hooks: list[Webhook]) -> WebhookMatch:
        """The webhooks of one target with the service, port mapping and pods behind it."""
        w = hooks[0]
        if w.service_namespace is None or w.service_name is None:
            return WebhookMatch(
                webhooks=tuple(hooks),
                matched_by=MatchBy.CONFIGURATION,
                service_namespace=None,
                service_name=None,
                service_exists=False,
                service_port=w.port,
                target_port=w.port,
            )
        svc = self.service(w.service_namespace, w.service_name)
        sp = svc.port(w.port) if svc else None
        backends = self._backends(svc, sp) if svc and sp else ()
        target: int | None = None
        if sp is not None:
            target = sp.target if isinstance(sp.target, int) else sp.port if sp.target is None else None
        if sp is not None and target is None:
            counts = Counter(
                b.port for b in sorted(backends, key=lambda b: not b.ready) if b.port is not None
            )
            target = counts.most_common(1)[0][0] if counts else None
        pods = [p for ref in dict.fromkeys(b.pod for b in backends if b.pod) if (p := self._pod_ref(ref))]
        return WebhookMatch(
            webhooks=tuple(hooks),
            matched_by=MatchBy.CONFIGURATION,
            service_namespace=w.service_namespace,
            service_name=w.service_name,
            service_exists=svc is not None,
            service_port=w.port,
            service_ports=tuple(p.port for p in svc.ports) if svc else (),
            target_port=target,
            target_port_name=sp.target if sp is not None and isinstance(sp.target, str) else None,
            backends=backends,
            endpoints_given=svc is not None and (svc.namespace, svc.name) in self._endpoints,
            container_ports=tuple(cp for p in pods for c in p.containers for cp in c.ports),
            readiness_ports=tuple(c.readiness for p in pods for c in p.containers if c.readiness),
        )

    def _pod_ref(self, ref: str) -> Pod | None:
        namespace, _, name = ref.partition("/")
        return self._pods.get((namespace, name))

    def _backends(self, svc: Service, sp: ServicePort) -> tuple[Backend, ...]:
        """The endpoints of one service port: from Endpoints/EndpointSlices, else from the selector's pods."""
        addresses = self._endpoints.get((svc.namespace, svc.name))
        if addresses is not None:
            return tuple(self._backend(a.ip, a, sp, len(svc.ports) == 1) for a in addresses)
        if not svc.selector:
            return ()
        families = {ip_address(ip).version for ip in svc.cluster_ips}
        out = []
        for pod in self._pods.values():
            if pod.namespace == svc.namespace and set(svc.selector) <= set(pod.labels) and not pod.finished:
                for ip in pod.ips:
                    if not families or ip_address(ip).version in families:
                        out.append(self._backend(ip, None, sp, False, pod))
        return tuple(out)

    def _backend(
        self, ip: str, a: EndpointAddress | None, sp: ServicePort, only_port: bool, pod: Pod | None = None
    ) -> Backend:
        if a is not None and a.pod is not None:
            pod = self._pods.get(a.pod)
        if pod is None:
            candidates = [p for p in self._pods_by_ip.get(ip, []) if not p.finished]
            pod = candidates[0] if len(candidates) == 1 else None
        port = a.port_for(sp, only_port) if a is not None else None
        if port is None:
            port = _resolve_target(sp, pod)
        node = (a.node if a else None) or (pod.node if pod else None) or self._node_by_ip.get(ip)
        node_obj = self._nodes.get(node) if node else None
        ref = (pod.namespace, pod.name) if pod is not None else a.pod if a is not None else None
        return Backend(
            ip=ip,
            port=port,
            ready=a.ready if a is not None else pod is not None and pod.ready is True,
            pod_namespace=ref[0] if ref else None,
            pod_name=ref[1] if ref else None,
            node=node,
            host_network=(pod is not None and pod.host_network) or ip in self._node_by_ip,
            fargate=(pod is not None and pod.fargate) or (node_obj is not None and node_obj.fargate),
        )


def _groups(webhooks: Iterable[Webhook]) -> dict[_Target, list[Webhook]]:
    """Webhooks by what they call: a service port, or a url host and port."""
    groups: dict[_Target, list[Webhook]] = {}
    for w in webhooks:
        if w.service is not None:
            groups.setdefault(("svc", w.service, w.port), []).append(w)
        elif w.url_host is not None:
            groups.setdefault(("url", w.url_host, w.port), []).append(w)
    return groups


def _resolve_target(sp: ServicePort, pod: Pod | None) -> int | None:
    """The number a service port's targetPort stands for on this pod (a name needs the pod)."""
    if sp.target is None:
        return sp.port
    if isinstance(sp.target, int):
        return sp.target
    return pod.port_named(sp.target) if pod is not None else None
