"""Walk parsed kubectl JSON documents (Lists or single objects) into objects; reject non-Kubernetes JSON."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


class K8sDataError(ValueError):
    """A document is not Kubernetes JSON at all: no kind/apiVersion, or a List whose items are not objects."""


@dataclass(frozen=True, slots=True)
class Item:
    """One Kubernetes object from a document, with its kind and apiVersion settled."""

    kind: str
    api_version: str
    obj: dict[str, object]


def _type_name(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def walk_documents(docs: Iterable[object]) -> Iterator[Item]:
    """Every object of every document, in order.

    A document is what ``json.load`` returns for the output of ``kubectl get ... -o json``: a ``List``
    (or a typed list such as ``PodList`` straight from the API, whose items carry no kind), or one object.
    Objects of any kind are yielded; the caller ignores kinds it does not know.
    Raises K8sDataError for a document that is not Kubernetes JSON.
    """
    for number, doc in enumerate(docs, 1):
        yield from _walk(doc, f"document {number}", depth=0)


def _walk(doc: object, where: str, *, depth: int) -> Iterator[Item]:
    if not isinstance(doc, dict):
        raise K8sDataError(f"{where} is a JSON {_type_name(doc)}, not a Kubernetes object or List")
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    if not isinstance(kind, str) or not kind or not isinstance(api_version, str):
        raise K8sDataError(
            f'{where} has no "kind" and "apiVersion": not Kubernetes JSON '
            "(expected the output of kubectl get ... -o json)"
        )
    if kind == "List" or (kind.endswith("List") and "items" in doc):
        yield from _walk_list(doc, kind, api_version, where, depth=depth)
    else:
        yield Item(kind, api_version, doc)


def _walk_list(
    doc: dict[str, object], kind: str, api_version: str, where: str, *, depth: int
) -> Iterator[Item]:
    items = doc.get("items")
    if items is None:
        return
    if not isinstance(items, list):
        raise K8sDataError(f'{where}: "items" of a {kind} is a JSON {_type_name(items)}, not an array')
    item_kind = None if kind == "List" else kind.removesuffix("List")
    for number, item in enumerate(items, 1):
        here = f"{where}, item {number}"
        if not isinstance(item, dict):
            raise K8sDataError(f"{here} is a JSON {_type_name(item)}, not a Kubernetes object")
        own_kind, own_version = item.get("kind"), item.get("apiVersion")
        if isinstance(own_kind, str) and own_kind.endswith("List") and "items" in item and depth < 4:
            yield from _walk(item, here, depth=depth + 1)
            continue
        kind_here = own_kind if isinstance(own_kind, str) and own_kind else item_kind
        version_here = own_version if isinstance(own_version, str) and own_version else api_version
        if kind_here is not None:
            yield Item(kind_here, version_here, item)
