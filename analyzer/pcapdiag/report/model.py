"""The one report model every renderer reads: captures analysed, connections labelled, a summary."""

from __future__ import annotations

from dataclasses import dataclass, field

from pcapdiag.classify import Label, Timing
from pcapdiag.tls import CertificateFacts

SCHEMA_VERSION = 1
"""Bumped only when a JSON field changes meaning; new fields do not bump it."""


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """One packet of a connection as evidence."""

    frame: int
    """Frame number as Wireshark counts it in that capture file."""
    time: float
    """Seconds since the connection's first packet."""
    direction: str
    """'client->server' or 'server->client'."""
    summary: str
    """Flags, lengths and TLS records, as a person reads them."""
    key: bool = False
    """True for the packets that prove the label."""


@dataclass(frozen=True, slots=True)
class Address:
    """An IP address and port."""

    ip: str
    port: int


@dataclass(frozen=True, slots=True)
class FlowReport:
    """One labelled connection."""

    id: int
    capture: str
    client: Address
    server: Address
    client_inferred: bool
    label: Label
    kubernetes_error: str | None
    explanation: str
    next_steps: tuple[str, ...]
    sni: str | None
    alpn: tuple[str, ...]
    tls_version: str | None
    start_ns: int
    duration_s: float
    packets: int
    bytes_to_server: int
    bytes_to_client: int
    retransmissions: int
    history: str
    evidence: tuple[EvidenceRow, ...]
    certificate: CertificateFacts | None = None
    first_frame: int = 0
    """Frame number of the connection's first packet in its capture."""
    last_frame: int = 0
    """Frame number of its last packet (the connection's packets lie between the two)."""
    timing: Timing | None = None
    """SYN schedule, when the client gave up and the timer that most likely fired (timeouts, SYN retries)."""
    capture_limits: tuple[str, ...] = ()
    """Capture-quality limits that change what can be said about this connection, in plain words."""


@dataclass(frozen=True, slots=True)
class CaptureReport:
    """One capture file (or stream) that was read."""

    path: str
    format: str
    link_types: tuple[int, ...]
    packets: int
    tcp_packets: int
    malformed: int
    first_ns: int | None
    last_ns: int | None
    truncated_at: int | None = None
    """Byte offset of a last record cut off mid-way."""
    error: str | None = None
    """Why reading stopped early (the capture container was broken), if it did."""
    drops: int | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    """Frames that were not TCP or ICMP-about-TCP, by reason (see pcapdiag.decode.skip)."""
    undecoded_link_types: dict[int, int] = field(default_factory=dict)
    """Frames per link type pcapdiag does not decode."""
    stopped: str | None = None
    """Why reading stopped early (--count, --duration, an interrupt), if it did."""
    capture_point: str | None = None
    """'client' (taken on the client's host, e.g. the API server's node), 'server' (the webhook's),
    or None when TTLs and handshake timing do not tell."""


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one run found."""

    captures: tuple[CaptureReport, ...]
    flows: tuple[FlowReport, ...]
    by_label: dict[str, int] = field(default_factory=dict)
    untracked_connections: int = 0
    duplicates: int = 0
    timeout_s: float = 10.0
    redacted: bool = False
    """Addresses and names were replaced by pseudonyms (--redact)."""

    @property
    def failing(self) -> tuple[FlowReport, ...]:
        """Connections (kept in ``flows``) whose label is a failure."""
        return tuple(f for f in self.flows if f.label.failing)

    @property
    def failing_count(self) -> int:
        """Connections whose label is a failure, counted from ``by_label``."""
        return sum(n for label, n in self.by_label.items() if Label(label).failing)
