"""The one report model every renderer reads: captures analysed, connections labelled, a summary."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from pcapdiag.capture.fastinit import slot_setters
from pcapdiag.classify import Basis, Candidate, Diagnosis, Label, Step, Timing
from pcapdiag.k8s import Finding
from pcapdiag.prose import HostPort, Name, Text
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
    summary: Text
    """Flags, lengths and TLS records, as a person reads them."""
    key: bool = False
    """True for the packets that prove the label."""


_new = object.__new__
_frame, _time, _direction, _summary, _key = slot_setters(EvidenceRow)


def new_evidence_row(frame: int, time: float, direction: str, summary: Text, key: bool) -> EvidenceRow:
    """The same as EvidenceRow(...) with every field given, faster (see capture.fastinit): a report
    holds one per packet shown."""
    row: EvidenceRow = _new(EvidenceRow)
    _frame(row, frame)
    _time(row, time)
    _direction(row, direction)
    _summary(row, summary)
    _key(row, key)
    return row


Address = HostPort
"""An IP address and port (typed, so --redact replaces it)."""


@dataclass(frozen=True, slots=True)
class SideReport:
    """One capture's view of a connection seen (or looked for) at several capture points."""

    capture: str
    """Path of the capture."""
    name: str
    """The capture's --side name (its file name when not named)."""
    role: str
    """'client' (the capture point nearer the client) or 'server'."""
    seen: bool
    """False when this capture holds no packet of the connection."""
    client: Address | None = None
    """The client's address as seen at this point (NAT may change it)."""
    server: Address | None = None
    packets: int = 0
    label: Label | None = None
    """The label this capture alone gives the connection."""
    flow_id: int | None = None
    first_frame: int = 0
    last_frame: int = 0


@dataclass(frozen=True, slots=True)
class KubeContext:
    """What the --k8s data says about a connection's two ends and the webhook it called."""

    client: Text | None
    """What the client address is ('pod kube-system/kube-apiserver-node-a on node node-a'), if known."""
    server: Text | None
    webhooks: tuple[Name, ...] = ()
    """Names of the webhooks that call this service port."""
    configuration: Text | None = None
    """'validatingwebhookconfiguration NAME' of the first webhook."""
    service: Text | None = None
    """'namespace/name' of the webhook's service."""
    service_port: int | None = None
    target_port: int | None = None
    timeout_s: int | None = None
    """The webhook's effective timeoutSeconds (the smallest, when several webhooks share the port)."""
    failure_policy: str | None = None
    path: str | None = None
    pods: tuple[Text, ...] = ()
    """The service's endpoints: 'ns/name ip:port on node N (ready|not ready)'."""
    matched_by: str | None = None
    """'sni', 'service-address', 'endpoint-address' or 'url-address'."""
    findings: tuple[Finding, ...] = ()
    """The cross-checks that concern this webhook."""


@dataclass(frozen=True, slots=True)
class Translated:
    """The other view of a connection this capture holds twice, before and after address translation."""

    flow_id: int
    client: Address
    server: Address
    view: str = "original"
    """This flow's side of the translation: 'original' (its SYN was captured first: the addresses the
    client used) or 'translated' (the copy sent on with rewritten addresses)."""


@dataclass(frozen=True, slots=True)
class FlowReport:
    """One labelled connection: its identity and counts, its evidence, and its Diagnosis."""

    id: int
    capture: str
    client: Address
    server: Address
    client_inferred: bool
    diagnosis: Diagnosis
    """The one decision about this connection; every field below that says what happened comes from it."""
    sni: Name | None
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
    first_frame: int = 0
    """Frame number of the connection's first packet in its capture."""
    last_frame: int = 0
    """Frame number of its last packet (the connection's packets lie between the two)."""
    sides: tuple[SideReport, ...] = ()
    """Every paired capture's view, when several captures of the same traffic were analysed."""
    match: str | None = None
    """How the views were matched: 'isn', 'isn+synack', 'ports+time' or 'single'."""
    kubernetes: KubeContext | None = None
    """From --k8s: the names of both ends and the webhook called."""
    translated: Translated | None = None
    """The same connection seen again in this capture with other addresses (NAT between two of its
    interfaces): that flow's id and addresses."""
    basis: Basis | None = field(default=None, compare=False, repr=False)
    """What the diagnosis was decided from (kept to decide again once other captures are paired;
    never rendered)."""

    @property
    def label(self) -> Label:
        return self.diagnosis.label

    @property
    def error(self) -> Candidate | None:
        """The headline error with its condition."""
        return self.diagnosis.error

    @property
    def kubernetes_error(self) -> str | None:
        """The headline error's text."""
        error = self.diagnosis.error
        return str(error.error) if error is not None else None

    @property
    def alternatives(self) -> tuple[Candidate, ...]:
        return self.diagnosis.alternatives

    @property
    def explanation(self) -> str:
        return str(self.diagnosis.explanation)

    @property
    def findings(self) -> tuple[str, ...]:
        return tuple(str(f) for f in self.diagnosis.findings)

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.diagnosis.steps

    @property
    def next_steps(self) -> tuple[str, ...]:
        """Each step as 'command    # what it shows'."""
        return tuple(str(s) for s in self.diagnosis.steps)

    @property
    def timing(self) -> Timing | None:
        return self.diagnosis.timing

    @property
    def capture_limits(self) -> tuple[str, ...]:
        return tuple(str(t) for t in self.diagnosis.limits)

    @property
    def certificate(self) -> CertificateFacts | None:
        return self.diagnosis.certificate

    @property
    def where(self) -> str | None:
        """'in-between', 'return-path', 'server', 'client', 'none' or 'unknown' (several captures only)."""
        location = self.diagnosis.location
        return location.where.value if location is not None else None

    @property
    def where_explanation(self) -> str | None:
        location = self.diagnosis.location
        return str(location.explanation) if location is not None else None


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
    side: str | None = None
    """The --side name of this capture (several captures only)."""
    role: str | None = None
    """'client' or 'server': which end of the path this capture sits at (several captures only)."""
    role_basis: str | None = None
    """How the role was decided, in words."""
    engine: str = "native"
    """What decoded the packets: 'native' (pcapdiag's own readers) or 'tshark' (--engine tshark)."""
    snaplen: int | None = None
    """The snapshot length the capture was taken with, when it is short enough to cut packets
    (tcpdump -s 96); None for whole packets."""
    filtered: FilteredOut | None = None
    """What --port/--server left out of this capture (None when no filter was given)."""


@dataclass(frozen=True, slots=True)
class ClockOffset:
    """How far one capture's clock runs ahead of another's, measured on shared connections."""

    capture: str
    """Name of the capture whose clock is measured."""
    reference: str
    """Name of the capture it is measured against."""
    offset_s: float
    connections: int
    one_way_delay_s: float | None = None
    spread_s: float = 0.0


class Pattern(enum.Enum):
    """How a server's failures lie among its calls."""

    NONE = "no-failure"  # no call failed
    ALL = "all-failing"  # no call succeeded: every decided call failed
    AT_START = "at-start"  # failures, then only successes: the calls failed until some time, then recovered
    AT_END = "at-end"  # successes, then only failures: the calls failed from some time on
    INTERMITTENT = "intermittent"  # failures between successes


@dataclass(frozen=True, slots=True)
class ServerSummary:
    """Every connection to one server address and port, rolled up."""

    server: Address
    name: str | None
    """The name the calls used: the --k8s webhook (or service), else the most common SNI."""
    calls: int
    """Connections to this server."""
    by_label: dict[str, int]
    """Connections per label, in the vocabulary's order."""
    failing: int
    ok: int
    first_ns: int
    """Start of the first call."""
    last_ns: int
    """Start of the last call."""
    first_failure_ns: int | None
    last_failure_ns: int | None
    first_ok_ns: int | None
    last_ok_ns: int | None
    error: str | None
    """The error the API server saw most often for this server's failures."""
    other_errors: int = 0
    """How many other distinct errors its failures gave."""

    @property
    def endpoint(self) -> str:
        """'198.19.0.10:443', '[2001:db8::2]:443'."""
        return str(self.server)

    @property
    def pattern(self) -> Pattern:
        """How the failures lie among the calls (see Pattern)."""
        if not self.failing or self.first_failure_ns is None or self.last_failure_ns is None:
            return Pattern.NONE
        if self.first_ok_ns is None or self.last_ok_ns is None:
            return Pattern.ALL
        if self.last_failure_ns < self.first_ok_ns:
            return Pattern.AT_START
        if self.first_failure_ns > self.last_ok_ns:
            return Pattern.AT_END
        return Pattern.INTERMITTENT

    @property
    def failing_labels(self) -> list[tuple[str, int]]:
        """(label, connections) of the failing labels, in the vocabulary's order."""
        return [(name, n) for name, n in self.by_label.items() if Label(name).failing]


@dataclass(frozen=True, slots=True)
class FilteredOut:
    """What --port and --server left out of a capture: TCP packets, and the connections they opened."""

    packets: int
    """TCP segments the filters skipped."""
    connections: int
    """Connections among them (counted by their opening SYN; a retransmitted SYN counts once)."""
    servers: tuple[tuple[Address, int], ...] = ()
    """The servers those connections called, with their counts, most first (at most MAX_FILTERED_SERVERS)."""
    server_count: int = 0
    """How many distinct servers they called."""
    by: str = ""
    """The filters that left them out, as given ('--port 9999 --server 198.19.0.2')."""


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
    clock_offsets: tuple[ClockOffset, ...] = ()
    """Several captures of the same traffic: their clocks compared."""
    by_where: dict[str, int] = field(default_factory=dict)
    """Failing connections per ``where`` (several captures only)."""
    kubernetes_findings: tuple[Finding, ...] | None = None
    """From --k8s: every cross-check of every webhook (None without --k8s)."""
    cut_undecided: int = 0
    """Connections left undecided because the snaplen cut the bytes that would decide them."""
    servers: tuple[ServerSummary, ...] = ()
    """Every connection rolled up per server, failing servers first."""
    filtered: FilteredOut | None = None
    """What --port/--server left out of all captures (None when no filter was given)."""

    @property
    def snaplen(self) -> int | None:
        """The smallest snapshot length of the captures that cut packets (tcpdump -s), if any."""
        cuts = [c.snaplen for c in self.captures if c.snaplen is not None]
        return min(cuts) if cuts else None

    @property
    def failing(self) -> tuple[FlowReport, ...]:
        """Connections (kept in ``flows``) whose label is a failure."""
        return tuple(f for f in self.flows if f.label.failing)

    @property
    def failing_count(self) -> int:
        """Connections whose label is a failure, counted from ``by_label``."""
        return sum(n for label, n in self.by_label.items() if Label(label).failing)
