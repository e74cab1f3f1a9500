"""One pseudonym map per run, applied to typed addresses and names: reports and extracts safe to share.

Every address and name pcapdiag writes travels as a typed value (``prose.Ip``, ``HostPort``,
``Name``, and the reports' ``Address``) inside ``Text`` sentences and report fields, all the way to
the renderers. ``Pseudonyms.apply`` walks a report value and replaces each typed value by its
pseudonym; it never reads the literal text around them, so nothing is found by pattern matching
and nothing can be missed by it. The same map serves every format and ``extract``.

Addresses are numbered in the order they first appear in the capture (source before destination,
``see``), not in the order connections are decided, so a redacted report and a redacted extract of
the same capture give an address the same pseudonym. IPv4 addresses become documentation addresses
(RFC 5737: 192.0.2.0/24, then 198.51.100.0/24, then 240.0.0.0/4 when those run out), IPv6 ones
2001:db8:ffff::/48 addresses (RFC 3849); an address that is not in the capture (a pod address from
--k8s, a certificate's IP SAN) takes one from 203.0.113.0/24 or 2001:db8:fffe::/48 instead, so it
shifts no capture address's number. A name `<svc>.<ns>.svc` becomes `service-N.namespace-M.svc`
with the same `service-N` and `namespace-M` as the Kubernetes objects of those names, so the next
steps still line up.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import ipaddress
from typing import Any, TypeVar

from pcapdiag.prose import HostPort, Ip, Name, NameKind, Slot, Text

T = TypeVar("T")

_CAPTURE_V4 = (("192.0.2.", 254), ("198.51.100.", 254))
"""Documentation ranges for capture addresses, in order; past them, 240.0.0.0/4."""
_OTHER_V4 = "203.0.113."
_CAPTURE_V6 = "2001:db8:ffff::"
_OTHER_V6 = "2001:db8:fffe::"
_PATH_FIELDS = frozenset({"capture", "path", "side", "reference", "name"})
"""Fields that hold a capture's path or name: only the file name is kept (directories may name hosts)."""


class Pseudonyms:
    """Maps real addresses and names to stable pseudonyms, and applies the map to report values."""

    def __init__(self) -> None:
        self._ips: dict[str, str] = {}
        self._counts = {"capture4": 0, "capture6": 0, "other4": 0, "other6": 0}
        self._names: dict[tuple[NameKind, str], str] = {}
        self._labels: dict[tuple[str, str], str] = {}

    # -- addresses --------------------------------------------------------------------------

    def see(self, packed: bytes) -> None:
        """Register an address of the capture, in the order addresses appear in it."""
        self._assign(str(ipaddress.ip_address(packed)), capture=True)

    def ip(self, value: str) -> str:
        """The pseudonym of an IP address (text form); one not seen in the capture gets one of its own."""
        got = self._ips.get(value)
        return got if got is not None else self._assign(value, capture=False)

    def ip_packed(self, packed: bytes) -> bytes:
        """The pseudonym of a packed address, packed."""
        return ipaddress.ip_address(self.ip(str(ipaddress.ip_address(packed)))).packed

    def _assign(self, value: str, capture: bool) -> str:
        if value in self._ips:
            return self._ips[value]
        try:
            addr = ipaddress.ip_address(value)
        except ValueError:
            fake = self._label("address", value)  # not an address after all: hide it as a label
            self._ips[value] = fake
            return fake
        key = ("capture" if capture else "other") + ("6" if addr.version == 6 else "4")
        n = self._counts[key]
        self._counts[key] = n + 1
        if addr.version == 6:
            base = _CAPTURE_V6 if capture else _OTHER_V6
            fake = str(ipaddress.ip_address(f"{base}{n + 1:x}"))
        elif not capture:
            fake = f"{_OTHER_V4}{n % 254 + 1}" if n < 254 else str(ipaddress.ip_address(0xF8000000 + n))
        else:
            fake = ""
            for prefix, size in _CAPTURE_V4:
                if n < size:
                    fake = f"{prefix}{n + 1}"
                    break
                n -= size
            if not fake:
                fake = str(ipaddress.ip_address(0xF0000000 + n + 1))  # 240.0.0.0/4: reserved, never routed
        self._ips[value] = fake
        return fake

    # -- names -----------------------------------------------------------------------------

    def _label(self, kind: str, value: str) -> str:
        key = (kind, value.lower())
        if key not in self._labels:
            self._labels[key] = f"{kind}-{sum(1 for k in self._labels if k[0] == kind) + 1}"
        return self._labels[key]

    def name(self, kind: NameKind, value: str) -> str:
        """The pseudonym of a name of ``kind``: DNS names keep the shape of `<svc>.<ns>.svc[...]`."""
        key = (kind, value)
        if key in self._names:
            return self._names[key]
        if not value or value.startswith("<"):
            fake = value  # empty, or a placeholder such as <webhook-namespace>
        elif kind is NameKind.DNS or (kind is NameKind.WEBHOOK and "." in value):
            fake = self._dns(value)
        else:
            fake = self._label(kind.value, value)
        self._names[key] = fake
        return fake

    def _dns(self, value: str) -> str:
        parts = value.rstrip(".").split(".")
        if len(parts) >= 3 and parts[2] == "svc":
            return ".".join(
                [
                    self._label(NameKind.SERVICE.value, parts[0]),
                    self._label(NameKind.NAMESPACE.value, parts[1]),
                    *parts[2:],
                ]
            )
        if parts and parts[0] == "*" and len(parts) > 1:
            return "*." + self._dns(".".join(parts[1:]))
        try:
            return self.ip(str(ipaddress.ip_address(value)))
        except ValueError:
            return f"{self._label('host', value)}.example"

    # -- applying the map -----------------------------------------------------------------

    def slot(self, value: Slot) -> Slot:
        """A typed value with its pseudonym."""
        if isinstance(value, Ip):
            return Ip(self.ip(value.value))
        if isinstance(value, HostPort):
            return HostPort(self.ip(value.ip), value.port)
        return Name(value.kind, self.name(value.kind, value.value))

    def apply(self, value: T) -> T:
        """``value`` (a report, a flow, any report value) with every typed address and name replaced."""
        return self._walk(value, "")  # type: ignore[no-any-return]

    def _walk(self, value: Any, field: str) -> Any:
        if value is None or isinstance(value, bool | int | float | bytes | enum.Enum | dt.datetime):
            return value
        if isinstance(value, str):
            return capture_path(value) if field in _PATH_FIELDS else value
        if isinstance(value, Text):
            return value.mapped(self.slot)
        if isinstance(value, Ip | HostPort | Name):
            return self.slot(value)
        if isinstance(value, tuple):
            return tuple(self._walk(v, field) for v in value)
        if isinstance(value, list):
            return [self._walk(v, field) for v in value]
        if isinstance(value, dict):
            return {k: self._walk(v, field) for k, v in value.items()}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            if type(value).__name__ == "Basis":
                return None  # what a diagnosis was decided from: never rendered, never kept redacted
            changes = {}
            for f in dataclasses.fields(value):
                old = getattr(value, f.name)
                new = self._walk(old, f.name)
                if new is not old:
                    changes[f.name] = new
            return dataclasses.replace(value, **changes) if changes else value
        raise TypeError(f"cannot redact a {type(value).__name__}")


def capture_path(path: str) -> str:
    """A capture's path without its directories (they may name hosts or people)."""
    return path if path == "-" else path.rsplit("/", 1)[-1]


__all__ = ["Pseudonyms", "capture_path"]
