"""Sentences with typed slots for addresses and names: a pseudonym map replaces them without parsing text.

Every sentence pcapdiag shows a person (an error, an explanation, a next step, a finding) that names
an address, a host name or a Kubernetes object is a ``Text``: literal strings with ``Ip``,
``HostPort`` and ``Name`` values between them. ``--redact`` maps those values to pseudonyms
(``Text.mapped``); it never looks inside the literal strings, so nothing can hide in them but what
the code itself wrote there. This module imports nothing of pcapdiag: every layer may use it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Ip:
    """An IP address, in text form ('198.18.0.2', '2001:db8::2')."""

    value: str

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class HostPort:
    """An address and a port, printed as Go prints them ('198.18.0.2:443', '[2001:db8::2]:443')."""

    ip: str
    port: int

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


class NameKind(enum.Enum):
    """What a name names: pseudonyms are per kind, so 'webhook' the service and 'webhook' the pod differ."""

    DNS = "dns"  # a DNS name: SNI, certificate name, url host ('<svc>.<ns>.svc' keeps its shape)
    NAMESPACE = "namespace"
    SERVICE = "service"  # also the Deployment and Secret names derived from a service's name
    POD = "pod"
    NODE = "node"
    CONFIGURATION = "configuration"  # a validating/mutating webhook configuration
    WEBHOOK = "webhook"  # a webhook's own name (often a DNS-like name)
    CONTAINER = "container"
    SUBJECT = "subject"  # a certificate subject or issuer that is not a DNS name


@dataclass(frozen=True, slots=True)
class Name:
    """A host name or a Kubernetes object name."""

    kind: NameKind
    value: str

    def __str__(self) -> str:
        return self.value


Slot = Ip | HostPort | Name
"""A value a pseudonym map replaces."""
Part = str | Slot


@dataclass(frozen=True, slots=True)
class Text:
    """A sentence: literal strings and typed values, in order."""

    parts: tuple[Part, ...]
    _str: str | None = field(default=None, init=False, repr=False, compare=False)
    """The sentence as a string, once it was first asked for (a Text never changes)."""

    def __str__(self) -> str:
        said = self._str
        if said is None:
            said = "".join(p if type(p) is str else str(p) for p in self.parts)
            object.__setattr__(self, "_str", said)
        return said

    def __add__(self, other: Text | str) -> Text:
        return text(self, other)

    def __radd__(self, other: str) -> Text:
        return text(other, self)

    def __bool__(self) -> bool:
        return any(p for p in self.parts if not isinstance(p, str) or p)

    @property
    def slots(self) -> tuple[Slot, ...]:
        """The typed values, in order."""
        return tuple(p for p in self.parts if not isinstance(p, str))

    def mapped(self, slot: Callable[[Slot], Slot]) -> Text:
        """The same sentence with every typed value replaced by ``slot(value)``."""
        return Text(tuple(p if isinstance(p, str) else slot(p) for p in self.parts))


def text(*parts: Part | Text) -> Text:
    """A Text from strings, typed values and other Texts, concatenated (in a canonical form: adjacent
    strings merged, empty ones dropped, so equal sentences built differently compare equal)."""
    out: list[Part] = []
    for p in parts:
        for q in p.parts if isinstance(p, Text) else (p,):
            if isinstance(q, str):
                if not q:
                    continue
                if out and isinstance(out[-1], str):
                    out[-1] += q
                    continue
            out.append(q)
    return Text(tuple(out))


def join(items: Iterable[Text | Part], sep: str) -> Text:
    """Texts (or parts) joined by ``sep``."""
    out: list[Part | Text] = []
    for i, item in enumerate(items):
        if i:
            out.append(sep)
        out.append(item)
    return text(*out)


EMPTY = Text(())
