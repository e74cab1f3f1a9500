"""A connection's facts as classify() reads them: frozen values, built once from the flow and TLS observers.

``classify`` is a pure function of these values (and a ``Context``), so its rules can be tested by
writing facts down directly, without a capture. ``facts_of`` reads them off a finished
``Connection`` and its ``AppObserver``; nothing else in classify looks at those mutable objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pcapdiag.decode.packet import ACK, SYN
from pcapdiag.flow import Connection, Direction, PacketRecord, Side, format_ip
from pcapdiag.prose import HostPort, Ip, text
from pcapdiag.tls import AppObserver, Mode
from pcapdiag.tls.h2 import H2Message, H2Tracker, Kind, Reading, Source
from pcapdiag.tls.observer import AlertSeen, Message, Note


@dataclass(frozen=True, slots=True, kw_only=True)
class SideFacts:
    """What one endpoint was seen sending (all times capture ns, all frames Wireshark numbers; 0 = none)."""

    packets: int = 0
    syn_count: int = 0
    """SYNs without ACK (client) sent, retransmissions included."""
    syn_frame: int = 0
    syn_ts: int = 0
    synack_frame: int = 0
    synack_ts: int = 0
    fin_frame: int = 0
    fin_ts: int = 0
    rst_frame: int = 0
    rst_ts: int = 0
    first_data_frame: int = 0
    first_data_ts: int = 0
    last_data_ts: int = 0
    last_ts: int = 0
    bytes: int = 0
    """Payload bytes sent, each byte once."""
    retransmissions: int = 0
    acked: int = -1
    """Highest offset of the peer's byte stream this side acknowledged (-1: none)."""
    captured_end: int = 0
    """Offset up to which this side's byte stream was captured in order (its FIN counts one)."""
    held: int = 0
    """Bytes of this side captured beyond a hole, never joined to the stream."""
    gaps: int = 0
    """Holes in this side's stream that were given up on."""
    ttl: int = 0
    """IPv4 TTL / IPv6 hop limit of its first packet (0: none seen)."""
    isn: int | None = None

    @property
    def close_ts(self) -> int:
        """When it first closed (FIN or RST), 0 if it never did."""
        fin, rst = self.fin_ts, self.rst_ts
        return min(fin, rst) if fin and rst else fin or rst

    @property
    def close_frame(self) -> int:
        """The frame of its first FIN or RST, 0 if none."""
        close = self.close_ts
        if not close:
            return 0
        return self.rst_frame if self.rst_ts == close else self.fin_frame

    @property
    def reset(self) -> bool:
        """Its first close was a RST."""
        return bool(self.rst_ts) and self.rst_ts == self.close_ts


@dataclass(frozen=True, slots=True, kw_only=True)
class IcmpFacts:
    """An ICMP/ICMPv6 error quoting one of the connection's packets."""

    frame: int
    ts_ns: int
    family: int
    icmp_type: int
    icmp_code: int
    reporter: Ip
    """Who sent it (the outer source address)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapFacts:
    """What a short snaplen hid on a connection, as far as the verdicts need it (None: nothing hidden).

    Each ``hidden_*`` is a clause saying why a fact the verdict rests on cannot be shown (None: it can).
    """

    blind: bool = False
    """The snaplen hid every byte of the connection's first payload: what it carries is unknown."""
    client_lost_first: bool = False
    """The header of the client's first record was hidden: the ClientHello cannot be read."""
    certificate_cut: bool = False
    """The server's Certificate message was cut: its certificates could not be read."""
    hidden_finish: str | None = None
    hidden_answer: str | None = None
    hidden_close: str | None = None
    hidden_request: str | None = None
    hidden_status: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class H2Facts:
    """HTTP/2 on the connection (tls.h2): how it is known and what its records were taken for.

    When present, AppFacts' requests and answers are HTTP/2's reading of the records."""

    source: Source
    how: str
    """Why the connection is taken to speak HTTP/2 (a clause)."""
    readings: tuple[Reading, ...] = ()
    """Each record (h2c: frame) after the handshake and what it was taken for."""
    goaway: Reading | None = None
    """A GOAWAY-sized server record after the last request."""
    overlaps: tuple[int, ...] = ()
    """Frames of requests sent while an earlier one the server had reacted to was unanswered."""
    cleartext: bool = False
    """h2c: frames read in clear (their types are known), not guessed from record sizes."""

    def controls_after(self, ts_ns: int) -> tuple[Reading, ...]:
        """The server's records taken as control frames (or its SETTINGS) at or after ``ts_ns``."""
        return tuple(
            r
            for r in self.readings
            if r.direction is Direction.TO_CLIENT
            and r.ts_ns >= ts_ns
            and r.kind in (Kind.CONTROL, Kind.PREFACE)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AppFacts:
    """What the TLS (or plain request/response) observer established."""

    mode: Mode = Mode.UNKNOWN
    midstream: bool = False
    client_hello_frame: int = 0
    client_hello_ts: int = 0
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    server_hello_frame: int = 0
    server_hello_ts: int = 0
    version: int | None = None
    """The TLS version the server chose (or, when the snaplen hid it, the one inferred)."""
    version_text: str | None = None
    """'TLS 1.3', or 'TLS 1.3 (inferred)' when the snaplen hid it."""
    certificates: tuple[bytes, ...] = ()
    """The server's certificate chain when sent in clear (TLS 1.2 and older)."""
    certificate_frame: int = 0
    server_flight_last_frame: int = 0
    server_flight_last_ts: int = 0
    """TLS 1.3: the server's last encrypted handshake record before the client's Finished."""
    handshake_done_frame: int = 0
    handshake_done_ts: int = 0
    client_abort: AlertSeen | None = None
    """An alert (clear, or an alert-sized TLS 1.3 record) the client sent instead of finishing."""
    server_alert: AlertSeen | None = None
    """The first alert the server sent."""
    not_tls: tuple[str | None, str | None] = (None, None)
    """Per direction: what was there instead of a TLS record."""
    not_tls_frame: tuple[int, int] = (0, 0)
    unsynced: tuple[bool, bool] = (False, False)
    """Per direction: TLS records could no longer be followed."""
    client_data_records: int = 0
    """TLS application-data records the client sent after the handshake (its requests' records)."""
    pending: Message | None = None
    """The latest request with no answer."""
    pending_end: int = 0
    requests: int = 0
    answered: int = 0
    last_request: Message | None = None
    last_answer: Message | None = None
    worst_status: int | None = None
    request_timeout_ns: int | None = None
    """The `?timeout=` of a clear-text request line."""
    request_text: str | None = None
    """A clear-text request line ('POST /validate?timeout=10s HTTP/1.1')."""
    closing_ts: tuple[int, int] = (0, 0)
    """Per direction: its first alert after the handshake (it began closing)."""
    closing_frame: tuple[int, int] = (0, 0)
    client_auth_records: int = 0
    client_sent_empty_certificate: bool = False
    snap: SnapFacts | None = None
    """What the snaplen hid (None: whole packets)."""
    h2: H2Facts | None = None
    """The connection speaks HTTP/2 (None: HTTP/1.1 or not known)."""
    h2_doubt: str | None = None
    """Why a connection whose client offered h2 is read as HTTP/1.1 (a clause; None: no doubt)."""


_CLIENT = HostPort("198.18.0.2", 40000)
_SERVER = HostPort("198.19.0.2", 443)
"""Defaults for facts written down in tests (benchmark addresses, RFC 2544)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TranslationFacts:
    """The other view of a connection this capture holds twice, before and after address translation."""

    other_id: int
    client: HostPort
    server: HostPort
    original: bool
    """This view is the original one (its SYN was captured first: the addresses the client used)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionFacts:
    """Everything classify() knows about one connection."""

    id: int = 1
    client: HostPort = _CLIENT
    server: HostPort = _SERVER
    client_inferred: bool = False
    """No SYN or SYN-ACK said who the client is (guessed from the ports)."""
    midstream: bool = False
    """The first packet was neither a SYN nor a SYN-ACK."""
    first_frame: int = 0
    last_frame: int = 0
    first_ts: int = 0
    last_ts: int = 0
    packets: int = 0
    snapped: int = 0
    """Packets whose payload the snaplen cut."""
    history: str = ""
    client_side: SideFacts = field(default_factory=SideFacts)
    server_side: SideFacts = field(default_factory=SideFacts)
    syn_times: tuple[int, ...] = ()
    """Capture times of the client's SYNs (without ACK), oldest first."""
    icmp: tuple[IcmpFacts, ...] = ()
    app: AppFacts = field(default_factory=AppFacts)
    log: tuple[PacketRecord, ...] = ()
    """Packets kept as evidence (see flow.connection.MAX_LOGGED_PACKETS)."""
    notes: tuple[Note, ...] = ()
    """TLS/HTTP notes for the evidence rows."""
    translation: TranslationFacts | None = None
    """The same connection seen again in this capture with other addresses (NAT)."""

    def closing(self, direction: Direction) -> tuple[int, int]:
        """When, and in which frame, the side sending in ``direction`` first began closing: its first
        FIN, RST or closing alert after the handshake, whichever came first; (0, 0) if it never did.
        For the client this is when it gave up: whatever the server sends after it answers nothing."""
        side = self.client_side if direction is Direction.TO_SERVER else self.server_side
        alert_ts, alert_frame = self.app.closing_ts[direction], self.app.closing_frame[direction]
        signals = [
            (t, f)
            for t, f in (
                (alert_ts, alert_frame),
                (side.rst_ts, side.rst_frame),
                (side.fin_ts, side.fin_frame),
            )
            if t
        ]
        return min(signals, key=lambda s: s[0]) if signals else (0, 0)

    @property
    def client_closing(self) -> tuple[int, int]:
        """(time, frame) the client first began closing (see closing)."""
        return self.closing(Direction.TO_SERVER)

    @property
    def server_closing(self) -> tuple[int, int]:
        """(time, frame) the server first began closing (see closing)."""
        return self.closing(Direction.TO_CLIENT)

    @property
    def dialled_server(self) -> HostPort:
        """The server address the client used (the other view's, when this one is after translation):
        the address its errors name."""
        t = self.translation
        return t.server if t is not None and not t.original else self.server

    @property
    def dialled_client(self) -> HostPort:
        """The client address as the client itself knows it."""
        t = self.translation
        return t.client if t is not None and not t.original else self.client


# -- reading them off the observers ------------------------------------------------------------


def _side(side: Side) -> SideFacts:
    stream = side.stream
    return SideFacts(
        packets=side.packets,
        syn_count=side.syn_count,
        syn_frame=side.syn_frame,
        syn_ts=side.syn_ts,
        synack_frame=side.synack_frame,
        synack_ts=side.synack_ts,
        fin_frame=side.fin_frame,
        fin_ts=side.fin_ts,
        rst_frame=side.rst_frame,
        rst_ts=side.rst_ts,
        first_data_frame=side.first_data_frame,
        first_data_ts=side.first_data_ts,
        last_data_ts=side.last_data_ts,
        last_ts=side.last_ts,
        bytes=side.bytes,
        retransmissions=side.retransmissions,
        acked=side.acked_off,
        captured_end=stream.next_off + (1 if stream.fin_off is not None else 0),
        held=stream.pending_bytes,
        gaps=stream.gaps,
        ttl=side.ttl,
        isn=side.isn,
    )


_EMPTY_APP = AppFacts()


def _message(m: H2Message | None) -> Message | None:
    return Message(frame=m.frame, ts_ns=m.ts_ns, start=m.start, line=None) if m is not None else None


def _h2(tracker: H2Tracker | None) -> H2Facts | None:
    if tracker is None or not tracker.confirmed or tracker.unreadable or tracker.source is None:
        return None
    return H2Facts(
        source=tracker.source,
        how=tracker.how or "the client offered h2 alone",
        readings=tuple(tracker.readings),
        goaway=tracker.goaway,
        overlaps=tuple(tracker.overlaps),
        cleartext=tracker.readers is not None,
    )


def _h2_doubt(tracker: H2Tracker | None) -> str | None:
    """Why HTTP/2's reading of an offered h2 is not used, when that could matter."""
    if tracker is None or (not tracker.readings and not tracker.unreadable):
        return None
    if tracker.unreadable and tracker.confirmed:
        return (
            "the connection speaks HTTP/2 over a cipher suite whose record overhead is not fixed (CBC "
            "padding and MAC), so record sizes cannot tell its control frames from answers: read as "
            "HTTP/1.1 (any server record after the request counts as an answer)"
        )
    if not tracker.offer_seen or tracker.unreadable:
        return None
    return (
        "the client offered HTTP/2 (ALPN h2) but the server's choice is not in the capture (TLS 1.3 "
        "encrypts it) and its records do not open as HTTP/2 does (a SETTINGS-sized first record): read "
        "as HTTP/1.1"
    )


def _app(app: AppObserver | None, midstream: bool) -> AppFacts:
    if app is None:
        return AppFacts(midstream=midstream) if midstream else _EMPTY_APP
    facts = _app11(app)
    h2 = _h2(app.h2)
    if h2 is None:
        doubt = _h2_doubt(app.h2)
        return replace(facts, h2_doubt=doubt) if doubt else facts
    tracker = app.h2
    assert tracker is not None
    pending = _message(tracker.pending)
    snap = facts.snap
    if snap is not None:
        since = pending.ts_ns if pending is not None else None
        lost = h2.cleartext and tracker.readers is not None and tracker.readers[Direction.TO_CLIENT].lost
        hidden = app.hidden_answer_since(since) or (
            "the server's frames after the request could not be followed (a frame header was hidden), "
            "so an answer may be among them"
            if lost and pending is not None
            else None
        )
        snap = replace(snap, hidden_answer=hidden, hidden_close=app.hidden_close_since(since))
    # Records the HTTP/1.1 reading took as alerts by size but HTTP/2's reading took as frames.
    exact = set(tracker.alert_frames)
    framed = {(a.direction, a.frame) for a in app.h2_alerts} - exact
    closing_ts, closing_frame = list(facts.closing_ts), list(facts.closing_frame)
    for d in Direction:
        ts, frame = tracker.closing[d]
        if (d, closing_frame[d]) in framed or (ts and (not closing_ts[d] or ts < closing_ts[d])):
            closing_ts[d], closing_frame[d] = ts, frame
    server_alert = next(
        (
            a
            for a in app.alerts
            if a.direction is Direction.TO_CLIENT and (a.direction, a.frame) not in framed
        ),
        None,
    )
    return replace(
        facts,
        h2=h2,
        closing_ts=(closing_ts[0], closing_ts[1]),
        closing_frame=(closing_frame[0], closing_frame[1]),
        server_alert=server_alert,
        pending=pending,
        pending_end=tracker.pending_end,
        requests=tracker.requests,
        answered=tracker.answered,
        last_request=_message(tracker.last_request),
        last_answer=_message(tracker.last_answer),
        worst_status=None,
        request_timeout_ns=None,
        request_text=None,
        snap=snap,
    )


def _app11(app: AppObserver) -> AppFacts:
    hello = app.client_hello
    request = app.request_line
    return AppFacts(
        mode=app.mode,
        midstream=app.midstream,
        client_hello_frame=app.client_hello_frame,
        client_hello_ts=app.client_hello_ts,
        sni=hello.sni if hello else None,
        alpn=hello.alpn if hello else (),
        server_hello_frame=app.server_hello_frame,
        server_hello_ts=app.server_hello_ts,
        version=app.version,
        version_text=app.version_text,
        certificates=app.certificates,
        certificate_frame=app.certificate_frame,
        server_flight_last_frame=app.server_flight_last_frame,
        server_flight_last_ts=app.server_flight_last_ts,
        handshake_done_frame=app.handshake_done_frame,
        handshake_done_ts=app.handshake_done_ts,
        client_abort=app.client_abort,
        server_alert=app.server_alert(),
        not_tls=(app.not_tls[0], app.not_tls[1]),
        not_tls_frame=(app.not_tls_frame[0], app.not_tls_frame[1]),
        unsynced=(app.unsynced[0], app.unsynced[1]),
        client_data_records=app.client_data_records,
        pending=app.pending,
        pending_end=app.pending_end,
        requests=app.requests,
        answered=app.answered,
        last_request=app.last_request,
        last_answer=app.last_answer,
        worst_status=app.worst_status,
        request_timeout_ns=request.timeout_ns if request is not None else None,
        request_text=app.last_request.line if app.last_request is not None else None,
        closing_ts=(app.closing_ts[0], app.closing_ts[1]),
        closing_frame=(app.closing_frame[0], app.closing_frame[1]),
        client_auth_records=app.client_auth_records,
        client_sent_empty_certificate=app.client_sent_empty_certificate,
        snap=_snap(app),
    )


def _snap(app: AppObserver) -> SnapFacts | None:
    snap = app.snap
    if snap is None:
        return None
    return SnapFacts(
        blind=snap.blind,
        client_lost_first=bool(snap.lost_frame[Direction.TO_SERVER]) and app.client_hello is None,
        certificate_cut=snap.certificate,
        hidden_finish=app.hidden_finish(),
        hidden_answer=app.hidden_answer(),
        hidden_close=app.hidden_close(),
        hidden_request=app.hidden_request(),
        hidden_status=app.hidden_status(),
    )


def _notes(app: AppObserver | None) -> tuple[Note, ...]:
    """The observer's notes; on an HTTP/2 connection HTTP/2's readings of the application-data
    records replace the HTTP/1.1 reading's notes of them."""
    if app is None:
        return ()
    tracker = app.h2
    if tracker is None or _h2(tracker) is None:
        return tuple(app.notes)
    replaced = app.h2_notes
    kept = [n for n in app.notes if n not in replaced]
    extra = [
        Note(
            frame=r.frame,
            ts_ns=r.ts_ns,
            direction=r.direction,
            summary=text(
                f"HTTP/2 {r.what}"
                if tracker.readers is not None
                else f"TLS ApplicationData ({r.length} bytes, {r.size} of plaintext): HTTP/2 {r.what}"
            ),
        )
        for r in tracker.readings
    ]
    return tuple(sorted((*kept, *extra), key=lambda n: (n.frame, n.ts_ns)))


def facts_of(conn: Connection, translation: TranslationFacts | None = None) -> ConnectionFacts:
    """The facts of a connection (its observer is ``conn.observer`` when it carried payload);
    ``translation`` is the other view when the capture holds it twice across a NAT."""
    observer = conn.observer
    app = observer if isinstance(observer, AppObserver) else None
    log = tuple(conn.log)
    client_ip, server_ip = format_ip(conn.client[0]), format_ip(conn.server[0])
    return ConnectionFacts(
        id=conn.id,
        client=HostPort(client_ip, conn.client[1]),
        server=HostPort(server_ip, conn.server[1]),
        client_inferred=conn.client_inferred,
        midstream=conn.midstream,
        first_frame=conn.first_frame,
        last_frame=conn.last_frame,
        first_ts=conn.first_ts,
        last_ts=conn.last_ts,
        packets=conn.packets,
        snapped=conn.snapped,
        history=conn.history_string,
        client_side=_side(conn.client_side),
        server_side=_side(conn.server_side),
        syn_times=tuple(
            p.ts_ns for p in log if p.flags & (SYN | ACK) == SYN and p.direction is Direction.TO_SERVER
        ),
        icmp=tuple(
            IcmpFacts(
                frame=i.frame,
                ts_ns=i.ts_ns,
                family=i.family,
                icmp_type=i.icmp_type,
                icmp_code=i.icmp_code,
                reporter=Ip(format_ip(i.reporter)),
            )
            for i in conn.icmp
        ),
        app=_app(app, conn.midstream),
        log=log,
        notes=_notes(app),
        translation=translation,
    )
