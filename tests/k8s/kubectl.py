"""Kubernetes objects in the exact JSON shape `kubectl get ... -o json` prints, for building test clusters."""

from __future__ import annotations

import ipaddress
import json
import zlib
from typing import Any

from conftest import ROOT

Obj = dict[str, Any]
FIXTURES = ROOT / "captures" / "k8s"
WEBHOOK_LABELS = {"app.kubernetes.io/instance": "pcd", "app.kubernetes.io/name": "webhook"}


def fixture_documents() -> list[object]:
    """captures/k8s/cluster.json and webhooks.json, parsed."""
    return [json.loads((FIXTURES / name).read_text()) for name in ("cluster.json", "webhooks.json")]


def kube_list(*items: Obj) -> Obj:
    """What kubectl prints for several resources: a v1 List."""
    return {"apiVersion": "v1", "items": list(items), "kind": "List", "metadata": {"resourceVersion": ""}}


def _meta(namespace: str | None, name: str, **extra: Any) -> Obj:
    meta: Obj = {"creationTimestamp": "2026-11-27T21:02:31Z", "name": name, "resourceVersion": "1187"}
    meta["uid"] = f"00000000-0000-4000-8000-{zlib.crc32(f'{namespace}/{name}'.encode()):012d}"
    if namespace is not None:
        meta["namespace"] = namespace
    meta.update(extra)
    return meta


def _family(ip: str) -> str:
    return f"IPv{ipaddress.ip_address(ip).version}"


def service(
    namespace: str = "pcd-system",
    name: str = "webhook",
    *,
    cluster_ips: tuple[str, ...] = ("198.18.100.1",),
    ports: tuple[tuple[str | None, int, int | str | None], ...] = (("https", 443, "https"),),
    selector: dict[str, str] | None = None,
) -> Obj:
    """A ClusterIP Service; ports are (name, port, targetPort), a None name or targetPort is left out."""
    spec_ports = []
    for port_name, port, target in ports:
        entry: Obj = {"port": port, "protocol": "TCP"}
        if port_name is not None:
            entry["name"] = port_name
        if target is not None:
            entry["targetPort"] = target
        spec_ports.append(entry)
    spec: Obj = {
        "clusterIP": cluster_ips[0] if cluster_ips else "None",
        "clusterIPs": list(cluster_ips) or ["None"],
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": [_family(ip) for ip in cluster_ips],
        "ipFamilyPolicy": "PreferDualStack" if len(cluster_ips) > 1 else "SingleStack",
        "ports": spec_ports,
        "selector": WEBHOOK_LABELS if selector is None else selector,
        "sessionAffinity": "None",
        "type": "ClusterIP",
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(namespace, name),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def pod(
    namespace: str = "pcd-system",
    name: str = "webhook-7d9f8b6c4-x2x9q",
    *,
    ips: tuple[str, ...] = ("198.19.0.2",),
    node: str = "node-b",
    host_ips: tuple[str, ...] = ("198.19.0.1",),
    labels: dict[str, str] | None = None,
    ports: tuple[tuple[str | None, int], ...] = (("https", 10250),),
    readiness_port: int | str | None = None,
    host_network: bool = False,
    ready: bool = True,
    phase: str = "Running",
) -> Obj:
    """A pod with one container 'webhook'; ports are (name, containerPort)."""
    container: Obj = {
        "image": "registry.example.com/pcd/webhook:v0.1.0",
        "imagePullPolicy": "IfNotPresent",
        "name": "webhook",
        "ports": [
            {"containerPort": number, "protocol": "TCP", **({"name": port_name} if port_name else {})}
            for port_name, number in ports
        ],
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    if readiness_port is not None:
        container["readinessProbe"] = {
            "failureThreshold": 3,
            "httpGet": {"path": "/healthz", "port": readiness_port, "scheme": "HTTP"},
            "periodSeconds": 5,
            "successThreshold": 1,
            "timeoutSeconds": 1,
        }
    spec: Obj = {
        "containers": [container],
        "dnsPolicy": "ClusterFirst",
        "nodeName": node,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
    }
    if host_network:
        spec["hostNetwork"] = True
    flag = "True" if ready else "False"
    status: Obj = {
        "conditions": [
            {"lastProbeTime": None, "lastTransitionTime": "2026-11-27T21:02:44Z", "status": flag, "type": t}
            for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ],
        "hostIP": host_ips[0],
        "hostIPs": [{"ip": ip} for ip in host_ips],
        "phase": phase,
        "podIP": ips[0],
        "podIPs": [{"ip": ip} for ip in ips],
        "qosClass": "BestEffort",
        "startTime": "2026-11-27T21:02:31Z",
    }
    meta = _meta(namespace, name, labels=dict(WEBHOOK_LABELS if labels is None else labels))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


Address = tuple[str, str | None, str | None]
"""(ip, pod name or None for no targetRef, node name or None)."""


def endpoints(
    namespace: str = "pcd-system",
    name: str = "webhook",
    *,
    ready: tuple[Address, ...] = (("198.19.0.2", "webhook-7d9f8b6c4-x2x9q", "node-b"),),
    not_ready: tuple[Address, ...] = (),
    ports: tuple[tuple[str | None, int], ...] = (("https", 10250),),
) -> Obj:
    """A core/v1 Endpoints object; no addresses at all gives no subsets, as the API server stores it."""

    def address(a: Address) -> Obj:
        out: Obj = {"ip": a[0]}
        if a[2] is not None:
            out["nodeName"] = a[2]
        if a[1] is not None:
            out["targetRef"] = {"kind": "Pod", "name": a[1], "namespace": namespace, "uid": "u"}
        return out

    obj: Obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": _meta(namespace, name)}
    if ready or not_ready:
        subset: Obj = {
            "ports": [{"port": n, "protocol": "TCP", **({"name": p} if p else {})} for p, n in ports]
        }
        if ready:
            subset["addresses"] = [address(a) for a in ready]
        if not_ready:
            subset["notReadyAddresses"] = [address(a) for a in not_ready]
        obj["subsets"] = [subset]
    return obj


def endpoint_slice(
    namespace: str = "pcd-system",
    service_name: str = "webhook",
    *,
    suffix: str = "4xk2p",
    family: str = "IPv4",
    endpoints: tuple[tuple[str, str | None, str | None, bool | None], ...] = (
        ("198.19.0.2", "webhook-7d9f8b6c4-x2x9q", "node-b", True),
    ),
    ports: tuple[tuple[str | None, int], ...] = (("https", 10250),),
) -> Obj:
    """A discovery.k8s.io/v1 EndpointSlice; endpoints are (ip, pod, node, ready), ready None leaves it out."""
    items = []
    for ip, pod_name, node, ready in endpoints:
        e: Obj = {
            "addresses": [ip],
            "conditions": {} if ready is None else {"ready": ready, "serving": ready},
        }
        if node is not None:
            e["nodeName"] = node
        if pod_name is not None:
            e["targetRef"] = {"kind": "Pod", "name": pod_name, "namespace": namespace, "uid": "u"}
        items.append(e)
    labels = {
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        "kubernetes.io/service-name": service_name,
    }
    return {
        "addressType": family,
        "apiVersion": "discovery.k8s.io/v1",
        "endpoints": items,
        "kind": "EndpointSlice",
        "metadata": _meta(
            namespace, f"{service_name}-{suffix}", generateName=f"{service_name}-", labels=labels
        ),
        "ports": [{"name": p or "", "port": n, "protocol": "TCP"} for p, n in ports],
    }


def node(
    name: str,
    *,
    addresses: tuple[str, ...],
    provider_id: str | None = None,
    labels: dict[str, str] | None = None,
) -> Obj:
    """A Node with InternalIP addresses and a Hostname."""
    spec: Obj = {"podCIDR": "198.19.0.0/24"}
    if provider_id is not None:
        spec["providerID"] = provider_id
    status_addresses = [{"address": a, "type": "InternalIP"} for a in addresses]
    status_addresses.append({"address": name, "type": "Hostname"})
    meta = _meta(None, name, labels={"kubernetes.io/hostname": name, **(labels or {})})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta,
        "spec": spec,
        "status": {"addresses": status_addresses},
    }


def service_webhook(
    name: str = "validate.pcd.example.com",
    *,
    namespace: str = "pcd-system",
    service_name: str = "webhook",
    port: int | None = 443,
    path: str | None = "/validate",
    timeout: int | None = 10,
    policy: str | None = "Fail",
) -> Obj:
    """One entry of .webhooks calling a service; None leaves a field out (so its default applies)."""
    svc: Obj = {"name": service_name, "namespace": namespace}
    if port is not None:
        svc["port"] = port
    if path is not None:
        svc["path"] = path
    return _webhook(name, {"caBundle": "LS0tLS1CRUdJTi0tLS0tCg==", "service": svc}, timeout, policy)


def url_webhook(name: str, url: str, *, timeout: int | None = 10, policy: str | None = "Fail") -> Obj:
    """One entry of .webhooks calling a url."""
    return _webhook(name, {"url": url}, timeout, policy)


def _webhook(name: str, client_config: Obj, timeout: int | None, policy: str | None) -> Obj:
    out: Obj = {
        "admissionReviewVersions": ["v1"],
        "clientConfig": client_config,
        "matchPolicy": "Equivalent",
        "name": name,
        "namespaceSelector": {},
        "objectSelector": {},
        "rules": [
            {
                "apiGroups": ["pcd.example.com"],
                "apiVersions": ["v1"],
                "operations": ["CREATE"],
                "resources": ["widgets"],
                "scope": "*",
            }
        ],
        "sideEffects": "None",
    }
    if timeout is not None:
        out["timeoutSeconds"] = timeout
    if policy is not None:
        out["failurePolicy"] = policy
    return out


def webhook_configuration(
    name: str = "pcd-webhook",
    *webhooks: Obj,
    kind: str = "ValidatingWebhookConfiguration",
    api_version: str = "admissionregistration.k8s.io/v1",
) -> Obj:
    """A validating (or mutating) webhook configuration; without webhooks, the fixture's one."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": _meta(None, name, generation=1),
        "webhooks": list(webhooks) or [service_webhook()],
    }


def healthy_cluster() -> list[Obj]:
    """The captures' topology, small: service 198.18.100.1:443 -> pod 198.19.0.2:10250 on node-b."""
    return [
        service(),
        endpoints(),
        endpoint_slice(),
        pod(readiness_port="https"),
        pod(
            "kube-system",
            "kube-apiserver-node-a",
            ips=("198.18.0.2",),
            node="node-a",
            host_ips=("198.18.0.2",),
            labels={"component": "kube-apiserver"},
            ports=(),
            host_network=True,
        ),
        webhook_configuration(),
    ]
