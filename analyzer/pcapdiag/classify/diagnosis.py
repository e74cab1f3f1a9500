"""What classify() decides about one connection: a Diagnosis, or Undecided with when to look again.

A Diagnosis is the whole story of a connection, decided once: its label, the error the client most
likely printed and the others the same wire could give (each with the condition that selects it),
which timer fired, where it failed (with several captures), what limits the capture puts on the
claims, findings that explain without changing the label, and the next steps. Reports render it;
nothing after classify() adds to or rewrites it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pcapdiag.classify.labels import Label
from pcapdiag.classify.timers import Timing
from pcapdiag.prose import Text
from pcapdiag.tls import CertificateFacts


@dataclass(frozen=True, slots=True)
class Candidate:
    """An error string the client may have printed (the inner error of `failed calling webhook`)."""

    error: Text
    """The exact text, as Go and Kubernetes print it."""
    when: Text
    """The condition that makes it this one (for the headline: why it is the likeliest)."""


@dataclass(frozen=True, slots=True)
class Step:
    """A next check: a command to run and what its output would show."""

    command: Text
    shows: Text

    def __str__(self) -> str:
        return f"{self.command}    # {self.shows}" if self.shows else str(self.command)


class Where(enum.Enum):
    """Where along the path a connection failed (the JSON contract's ``where`` values)."""

    IN_BETWEEN = "in-between"
    RETURN_PATH = "return-path"
    SERVER = "server"
    CLIENT = "client"
    NONE = "none"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Location:
    """Where a connection failed, from several captures of it, and why we say so."""

    where: Where
    explanation: Text


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One connection's story: every format renders exactly this."""

    label: Label
    error: Candidate | None
    """The headline error (None for labels that produce none: ok, incomplete, partial)."""
    alternatives: tuple[Candidate, ...]
    """Other errors the same wire could have produced, each with its condition."""
    explanation: Text
    key_frames: tuple[int, ...]
    """The frames that prove the label."""
    timing: Timing | None = None
    """The SYN schedule, when the client gave up and which timer most likely fired."""
    limits: tuple[Text, ...] = ()
    """What the capture cannot show about this connection."""
    findings: tuple[Text, ...] = ()
    """Facts that explain the connection without changing its label (the certificate's problems,
    loss on the path, an answer that came after the client gave up)."""
    steps: tuple[Step, ...] = ()
    certificate: CertificateFacts | None = None
    location: Location | None = None
    """Where it failed, when several captures of it were analysed."""
    cut: bool = False
    """Not decided because the snaplen cut the bytes that would decide it."""


@dataclass(frozen=True, slots=True)
class Undecided:
    """Not decided yet (the capture goes on): look again at capture time ``recheck_at``, or only when
    a packet of the connection arrives (None)."""

    recheck_at: int | None
