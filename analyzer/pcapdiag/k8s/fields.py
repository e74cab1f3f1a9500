"""Typed, tolerant reads of parsed JSON: a missing or mistyped field reads as absent, never raises."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator


def get(obj: object, *path: str) -> object:
    """The value at this path of nested objects, or None."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def text(obj: object, *path: str) -> str | None:
    """A non-empty string, or None."""
    value = get(obj, *path)
    return value if isinstance(value, str) and value else None


def integer(obj: object, *path: str) -> int | None:
    """An integer (not a boolean), or None."""
    value = get(obj, *path)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def array(obj: object, *path: str) -> list[object]:
    """A list, or an empty one."""
    value = get(obj, *path)
    return value if isinstance(value, list) else []


def dicts(obj: object, *path: str) -> Iterator[dict[str, object]]:
    """The objects in a list; other elements are skipped."""
    yield from (v for v in array(obj, *path) if isinstance(v, dict))


def labels(obj: object, *path: str) -> tuple[tuple[str, str], ...]:
    """A string-to-string map (labels, a selector) as sorted pairs."""
    value = get(obj, *path)
    if not isinstance(value, dict):
        return ()
    return tuple(sorted((k, v) for k, v in value.items() if isinstance(k, str) and isinstance(v, str)))


def canonical_ip(value: object) -> str | None:
    """The address in canonical (compressed, lower-case) form; None if it is not an IP address."""
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value.strip().strip("[]")).compressed
    except ValueError:
        return None


def port_ref(value: object) -> int | str | None:
    """An IntOrString port: a number, a name, or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value:
        return int(value) if value.isdigit() else value
    return None
