"""Reading kubectl documents: Lists, single objects, API lists, unknown kinds, and what is not Kubernetes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8s.kubectl import fixture_documents, healthy_cluster, kube_list, pod, service
from pcapdiag.k8s import Inventory, K8sDataError


def test_the_fixture_documents_read_as_the_capture_topology() -> None:
    inv = Inventory.from_documents(fixture_documents())
    assert sorted(f"{s.namespace}/{s.name}" for s in inv.services) == [
        "default/kubernetes",
        "pcd-system/webhook",
    ]
    assert [p.ref for p in inv.pods] == [
        "kube-system/kube-apiserver-node-a",
        "pcd-system/webhook-7d9f8b6c4-x2x9q",
    ]
    assert [w.name for w in inv.webhooks] == ["validate.pcd.example.com"]


def test_a_single_object_is_a_document() -> None:
    inv = Inventory.from_documents([service(), pod()])
    assert str(inv.describe_ip("198.18.100.1")) == "service pcd-system/webhook"
    assert str(inv.describe_ip("198.19.0.2")) == "pod pcd-system/webhook-7d9f8b6c4-x2x9q on node node-b"


def test_an_api_list_whose_items_carry_no_kind_is_read_by_the_list_kind() -> None:
    item = pod()
    del item["kind"], item["apiVersion"]
    pod_list = {"apiVersion": "v1", "items": [item], "kind": "PodList", "metadata": {"resourceVersion": "9"}}
    inv = Inventory.from_documents([pod_list])
    assert [p.name for p in inv.pods] == ["webhook-7d9f8b6c4-x2x9q"]


def test_unknown_kinds_and_empty_lists_are_ignored() -> None:
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "namespace": "y"},
        "data": {},
    }
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "webhook"}, "spec": {}}
    inv = Inventory.from_documents(
        [kube_list(config_map, deployment), kube_list(), {"apiVersion": "v1", "kind": "List"}]
    )
    assert inv.services == () and inv.pods == () and inv.webhooks == ()
    assert inv.describe_ip("198.19.0.2") is None
    assert inv.webhook_for(sni="webhook.pcd-system.svc", ip="198.18.100.1", port=443) is None
    assert inv.checks() == ()


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ([], "JSON array"),
        ("apiVersion: v1", "JSON string"),
        ({"services": []}, 'no "kind"'),
        ({"kind": "Pod"}, 'no "kind" and "apiVersion"'),
        ({"apiVersion": "v1", "kind": "List", "items": {"a": 1}}, '"items" of a List'),
        ({"apiVersion": "v1", "kind": "List", "items": [service(), 5]}, "item 2 is a JSON number"),
    ],
)
def test_what_is_not_kubernetes_json_raises_one_clear_error(doc: object, words: str) -> None:
    with pytest.raises(K8sDataError, match=words):
        Inventory.from_documents([kube_list(), doc])
    with pytest.raises(K8sDataError, match="document 2"):
        Inventory.from_documents([kube_list(), doc])


def test_the_same_objects_given_twice_count_once() -> None:
    once = Inventory.from_documents([kube_list(*healthy_cluster())])
    twice = Inventory.from_documents([kube_list(*healthy_cluster()), kube_list(*healthy_cluster())])
    sni = "webhook.pcd-system.svc"
    assert twice.webhook_for(sni=sni, ip="198.18.100.1", port=443) == once.webhook_for(
        sni=sni, ip="198.18.100.1", port=443
    )
    assert len(twice.pods) == 2 and len(twice.webhooks) == 1
    assert twice.checks() == once.checks()


def _paths(value: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists, the root excluded."""
    out = []
    if isinstance(value, dict):
        children: list[tuple[Any, object]] = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    else:
        return []
    for key, child in children:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


_FIXTURE = fixture_documents()
_ITEM_PATHS = [p for p in _paths(_FIXTURE) if len(p) >= 4]  # inside an item: (doc, "items", n, field, ...)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**33), 2**33)
    | st.text(max_size=12)
    | st.sampled_from(["198.19.0.2", "2001:db8::1", "https", "Ready", "True", "None", "", "fargate-x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_ITEM_PATHS), _JSON), min_size=1, max_size=4))
def test_odd_values_inside_valid_objects_never_crash(edits: list[tuple[tuple[Any, ...], object]]) -> None:
    docs = copy.deepcopy(_FIXTURE)
    for path, value in edits:
        parent: Any = docs
        try:
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed this path
    inv = Inventory.from_documents(docs)  # odd values inside objects are data, never an error
    for ip in ("198.18.100.1", "198.19.0.2", "198.19.0.1", "198.18.0.2", "2001:db8:2::2"):
        inv.describe_ip(ip)
        for sni in (None, "webhook.pcd-system.svc"):
            for port in (443, 10250):
                match = inv.webhook_for(sni=sni, ip=ip, port=port)
                if match is not None:
                    inv.checks(match)
    inv.checks()
