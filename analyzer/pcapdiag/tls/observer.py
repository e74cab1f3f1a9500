"""The application-layer observer: follows TLS (or plain HTTP/TCP) in both directions of a connection.

It is the connection's StreamObserver: the flow layer hands it in-order bytes; it keeps TLS
handshake facts, alerts, and request/response exchanges, and never raises on odd bytes.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from pcapdiag.flow import OPAQUE, Direction
from pcapdiag.prose import Name, NameKind, Text, join, text
from pcapdiag.tls.constants import (
    ALERT,
    APPLICATION_DATA,
    CERTIFICATE,
    CHANGE_CIPHER_SPEC,
    CLIENT_HELLO,
    CONTENT_NAMES,
    EMPTY_CERTIFICATE_BODY_SIZES,
    ENCRYPTED_ALERT_BODY_SIZES,
    ENCRYPTED_ALERT_MAX_BODY,
    FINISHED_BODY_SIZES,
    HANDSHAKE,
    HANDSHAKE_NAMES,
    SERVER_HELLO,
    alert_name,
    is_tls13,
    version_name,
)
from pcapdiag.tls.hello import (
    ClientHello,
    ServerHello,
    parse_certificate_list,
    parse_client_hello,
    parse_server_hello,
)
from pcapdiag.tls.records import HandshakeReader, NotTls, Record, RecordReader, check_header
from pcapdiag.tls.request import RequestLine, parse_request_line

MAX_TICKET_RECORD = 1024
"""Largest record taken for a NewSessionTicket: a ticket (lifetime, nonce, an opaque ticket of a
few hundred bytes) fits well under 1 KiB; runs of equal, larger records are a response split into
records (full 16 KiB records, or a Go response written in equal halves)."""
MAX_NOTES = 48
"""TLS/HTTP notes kept per connection for evidence."""

_REQUEST_LINE = re.compile(
    rb"(GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|CONNECT|TRACE) (\S{1,200}) HTTP/1\.[01]\r?\n"
)
_STATUS_LINE = re.compile(rb"HTTP/\d\.\d (\d{3})(?: ([^\r\n]{0,80}))?")


class Mode(enum.Enum):
    """What the connection carries."""

    UNKNOWN = "unknown"  # no payload yet
    TLS = "tls"  # the client's first bytes were a TLS record
    PLAIN = "plain"  # anything else: judged as request/response chunks


@dataclass(frozen=True, slots=True)
class Note:
    """A TLS record or HTTP line worth showing as evidence."""

    frame: int
    ts_ns: int
    direction: Direction
    summary: Text


@dataclass(frozen=True, slots=True)
class AlertSeen:
    """A TLS alert; the description is None when it was encrypted."""

    direction: Direction
    frame: int
    ts_ns: int
    level: int | None
    description: int | None

    @property
    def name(self) -> str:
        """Go's name for the alert, or 'encrypted alert'."""
        return alert_name(self.description) if self.description is not None else "encrypted alert"


@dataclass(frozen=True, slots=True)
class Message:
    """The first frame of a request or response (a TLS application-data record or a TCP chunk)."""

    frame: int
    ts_ns: int
    start: int
    """Stream offset of its first byte."""
    line: str | None
    """HTTP request or status line when in clear."""
    status: int | None = None
    """HTTP status code of a clear-text response."""


def _first_line(data: bytes) -> str:
    """A printable description of bytes that are not TLS: the HTTP line, or the first byte."""
    m = _STATUS_LINE.match(data) or _REQUEST_LINE.match(data)
    if m:
        return data.split(b"\r", 1)[0].split(b"\n", 1)[0][:100].decode("ascii", "replace")
    return f"{len(data)}+ bytes starting 0x{data[0]:02x}" if data else "no bytes"


class AppObserver:
    """Follows TLS or plain request/response traffic on one connection."""

    __slots__ = (
        "_app_notes",
        "_ccs",
        "_encrypted",
        "_handshake",
        "_readers",
        "_run_len",
        "_run_open",
        "_run_requests",
        "_run_tickets",
        "_undo",
        "alerts",
        "answered",
        "certificate_frame",
        "certificates",
        "client_abort",
        "client_auth_records",
        "client_data_records",
        "client_finished_frame",
        "client_finished_ts",
        "client_hello",
        "client_hello_frame",
        "client_hello_ts",
        "client_sent_empty_certificate",
        "closing_frame",
        "closing_ts",
        "handshake_done_frame",
        "handshake_done_ts",
        "last_answer",
        "last_request",
        "midstream",
        "mode",
        "not_tls",
        "not_tls_frame",
        "notes",
        "pending",
        "pending_end",
        "request_line",
        "requests",
        "server_flight_last_frame",
        "server_flight_last_ts",
        "server_flight_records",
        "server_hello",
        "server_hello_frame",
        "server_hello_ts",
        "tickets",
        "unsolicited",
        "unsynced",
        "worst_status",
    )

    def __init__(self, midstream: bool) -> None:
        self.midstream = midstream
        """The capture began after the connection did: stream starts are unknown."""
        self.mode = Mode.UNKNOWN
        self.client_hello: ClientHello | None = None
        self.client_hello_frame = 0
        self.client_hello_ts = 0
        self.server_hello: ServerHello | None = None
        self.server_hello_frame = 0
        self.server_hello_ts = 0
        self.certificates: tuple[bytes, ...] = ()
        self.certificate_frame = 0
        self.server_flight_records = 0
        """TLS 1.3 encrypted records from the server before the client's Finished."""
        self.server_flight_last_frame = 0
        self.server_flight_last_ts = 0
        self.client_finished_frame = 0
        self.client_finished_ts = 0
        self.handshake_done_frame = 0
        self.handshake_done_ts = 0
        self.client_abort: AlertSeen | None = None
        """An alert (clear, or alert-sized TLS 1.3 record) the client sent instead of finishing."""
        self.alerts: list[AlertSeen] = []
        self.not_tls: list[str | None] = [None, None]
        """Per direction: what was there instead of a TLS record."""
        self.not_tls_frame = [0, 0]
        self.unsynced = [False, False]
        """Per direction: parsing stopped (a gap, or a mid-stream start that did not line up)."""
        self.notes: list[Note] = []
        self.pending: Message | None = None
        """The latest client request the server has not answered."""
        self.pending_end = 0
        """Stream offset just past the pending request's bytes seen so far."""
        self.requests = 0
        self.answered = 0
        self.last_request: Message | None = None
        self.last_answer: Message | None = None
        self.unsolicited = 0
        """Server messages sent while no request was pending (greetings, session tickets)."""
        self.worst_status: int | None = None
        self.request_line: RequestLine | None = None
        """Plain mode: the request line of the latest request (method, target, ?timeout=); None when
        that request did not open with one."""
        self._readers = (RecordReader(), RecordReader())
        self._handshake = (HandshakeReader(), HandshakeReader())
        self._encrypted = [False, False]
        self._ccs = [0, 0]
        self._app_notes = [0, 0]
        self.tickets = 0
        self.client_auth_records = 0
        self.client_data_records = 0
        """Application-data records the client sent after its handshake (requests): proof that it
        accepted the server's certificate."""
        """TLS 1.3 client records before its Finished: a client Certificate (the server asked for one)."""
        self.client_sent_empty_certificate = False
        """TLS 1.3 server records judged to be NewSessionTickets."""
        self._run_len: int | None = None
        """TLS 1.3: length of the records that open the server's post-handshake stream."""
        self._run_open = True
        self._run_tickets = False
        self._run_requests = 0
        self._undo: tuple[Message | None, int, Message | None, int | None] | None = None
        """What the server's first post-handshake record changed, in case it proves a ticket."""
        self.closing_ts = [0, 0]
        """Per direction: when it sent its first alert after the handshake (close_notify: it
        began closing the connection)."""
        self.closing_frame = [0, 0]

    # -- StreamObserver --------------------------------------------------------------------

    def feed(
        self,
        direction: Direction,
        data: bytes,
        offset: int,
        frame: int,
        ts_ns: int,
        ack_offset: int,
    ) -> int:
        """New in-order bytes of one direction; how far on its bytes do not matter (StreamObserver)."""
        if self.mode is Mode.UNKNOWN:
            self.mode = self._sniff(direction, data)
        if self.mode is Mode.PLAIN:
            self._plain(direction, data, offset, frame, ts_ns, ack_offset)
            return 0
        if self.unsynced[direction] or self.not_tls[direction] is not None:
            return OPAQUE
        reader = self._readers[direction]
        try:
            records = reader.feed(data, offset, frame, ts_ns, ack_offset)
        except NotTls:
            if offset == 0 and not self.midstream:
                self.not_tls[direction] = _first_line(data)
                self.not_tls_frame[direction] = frame
                self._note(frame, ts_ns, direction, f"not TLS: {self.not_tls[direction]}")
            else:
                self.unsynced[direction] = True
            return OPAQUE
        for record in records:
            self._record(direction, record)
        if self.unsynced[direction]:
            return OPAQUE
        return reader.opaque_until

    def gap(self, direction: Direction) -> None:
        """Bytes are missing: record boundaries are lost for this direction."""
        if self.mode is not Mode.PLAIN:
            self.unsynced[direction] = True

    # -- reading ------------------------------------------------------------------------------

    @property
    def version(self) -> int | None:
        """The TLS version the server chose (None before a ServerHello)."""
        return self.server_hello.selected_version if self.server_hello else None

    @property
    def version_text(self) -> str | None:
        """'TLS 1.3', 'TLS 1.2', ... or None."""
        return version_name(self.version)

    @property
    def sni(self) -> str | None:
        """The server name the client asked for."""
        return self.client_hello.sni if self.client_hello else None

    def server_alert(self) -> AlertSeen | None:
        """The first alert the server sent, if any."""
        return next((a for a in self.alerts if a.direction is Direction.TO_CLIENT), None)

    # -- internals ------------------------------------------------------------------------------

    def _sniff(self, direction: Direction, data: bytes) -> Mode:
        """TLS when the client opens with a handshake record (or, mid-stream, any valid record)."""
        looks_tls = bool(data) and data[0] == HANDSHAKE
        if len(data) >= 5:
            try:
                looks_tls = check_header(data[:5])[0] == HANDSHAKE or self.midstream
            except NotTls:
                looks_tls = False
        if direction is Direction.TO_CLIENT and not self.midstream:
            return Mode.PLAIN  # the server spoke first: not a TLS client
        return Mode.TLS if looks_tls else Mode.PLAIN

    def _note(self, frame: int, ts_ns: int, direction: Direction, summary: str | Text) -> None:
        if len(self.notes) < MAX_NOTES:
            said = summary if isinstance(summary, Text) else Text((summary,))
            self.notes.append(Note(frame=frame, ts_ns=ts_ns, direction=direction, summary=said))

    def _record(self, d: Direction, r: Record) -> None:
        ctype = r.content_type
        if ctype == HANDSHAKE and not self._encrypted[d]:
            names = self._handshake_messages(d, r)
            self._note(
                r.frame, r.ts_ns, d, text("TLS Handshake: ", join(names, ", ") if names else "fragment")
            )
        elif ctype == HANDSHAKE:
            self._note(r.frame, r.ts_ns, d, f"TLS encrypted Handshake ({r.length} bytes)")
        elif ctype == CHANGE_CIPHER_SPEC:
            self._ccs[d] = r.frame
            self._note(r.frame, r.ts_ns, d, "TLS ChangeCipherSpec")
            if not is_tls13(self.version):
                self._encrypted[d] = True
                if self._ccs[0] and self._ccs[1] and not self.handshake_done_frame:
                    self.handshake_done_frame, self.handshake_done_ts = r.frame, r.ts_ns
        elif ctype == ALERT:
            body = r.body or b""
            if not self._encrypted[d] and len(body) == 2:
                alert = AlertSeen(d, r.frame, r.ts_ns, body[0], body[1])
                level = "fatal" if body[0] == 2 else "warning"
                self._note(r.frame, r.ts_ns, d, f"TLS Alert ({level}): {alert.name}")
            else:
                alert = AlertSeen(d, r.frame, r.ts_ns, None, None)
                self._note(r.frame, r.ts_ns, d, f"TLS encrypted Alert ({r.length} bytes)")
            self.alerts.append(alert)
            if d is Direction.TO_SERVER and not self.handshake_done_frame and not self.client_abort:
                self.client_abort = alert
            elif self.handshake_done_frame and not self.closing_ts[d]:
                self.closing_ts[d], self.closing_frame[d] = r.ts_ns, r.frame
        elif ctype == APPLICATION_DATA:
            self._application_data(d, r)
        else:
            self._note(r.frame, r.ts_ns, d, f"TLS {CONTENT_NAMES.get(ctype, ctype)} ({r.length} bytes)")

    def _application_data(self, d: Direction, r: Record) -> None:
        tls13 = is_tls13(self.version)
        # No HTTP/1.x message fits in a record this short in any TLS version; in TLS 1.3 (or
        # mid-stream, version unknown) it is an encrypted alert, usually close_notify.
        alert_sized = r.length <= ENCRYPTED_ALERT_MAX_BODY
        if tls13 and d is Direction.TO_CLIENT and not self.client_finished_frame:
            self.server_flight_records += 1
            self.server_flight_last_frame, self.server_flight_last_ts = r.frame, r.ts_ns
            self._note(r.frame, r.ts_ns, d, f"TLS 1.3 encrypted handshake record ({r.length} bytes)")
            return
        if tls13 and d is Direction.TO_SERVER and not self.client_finished_frame:
            self._client_flight(r)
            return
        if alert_sized:
            self.alerts.append(AlertSeen(d, r.frame, r.ts_ns, None, None))
            if not self.closing_ts[d]:
                self.closing_ts[d], self.closing_frame[d] = r.ts_ns, r.frame
            self._note(r.frame, r.ts_ns, d, f"TLS 1.3 alert-sized encrypted record ({r.length} bytes)")
            return
        if tls13 and d is Direction.TO_CLIENT and self._session_ticket(r):
            return
        if self._app_notes[d] < 3:
            self._app_notes[d] += 1
            self._note(r.frame, r.ts_ns, d, f"TLS ApplicationData ({r.length} bytes)")
        end = r.offset + 5 + r.length
        if d is Direction.TO_SERVER:
            self.client_data_records += 1
            self._client_message(r.frame, r.ts_ns, r.offset, end, None)
        else:
            self._server_message(r.frame, r.ts_ns, r.offset, r.ack_offset, None, None)

    def _client_flight(self, r: Record) -> None:
        """A TLS 1.3 client record after the ServerHello and before its Finished.

        The Finished is recognised by its size (FINISHED_BODY_SIZES); shorter or longer records
        before it are the client's Certificate/CertificateVerify; an alert-sized one is an abort.
        """
        d = Direction.TO_SERVER
        if not self.server_hello:
            self._note(r.frame, r.ts_ns, d, f"TLS early data ({r.length} bytes)")
            return
        if r.length in ENCRYPTED_ALERT_BODY_SIZES:
            alert = AlertSeen(d, r.frame, r.ts_ns, None, None)
            self.alerts.append(alert)
            self.client_abort = self.client_abort or alert
            self._note(r.frame, r.ts_ns, d, f"TLS 1.3 encrypted alert ({r.length} bytes) instead of Finished")
            return
        if r.length in FINISHED_BODY_SIZES:
            self.client_finished_frame, self.client_finished_ts = r.frame, r.ts_ns
            self.handshake_done_frame, self.handshake_done_ts = r.frame, r.ts_ns
            self._note(r.frame, r.ts_ns, d, f"TLS 1.3 encrypted record ({r.length} bytes): client Finished")
            return
        self.client_auth_records += 1
        if r.length in EMPTY_CERTIFICATE_BODY_SIZES:
            self.client_sent_empty_certificate = True
        what = (
            "empty Certificate"
            if r.length in EMPTY_CERTIFICATE_BODY_SIZES
            else "Certificate/CertificateVerify"
        )
        self._note(
            r.frame, r.ts_ns, d, f"TLS 1.3 encrypted handshake record ({r.length} bytes): client {what}"
        )

    def _session_ticket(self, r: Record) -> bool:
        """True if this TLS 1.3 server record is a NewSessionTicket rather than a response.

        RFC 8446 4.6.1: a server may send tickets right after it receives the client Finished;
        OpenSSL-based servers send two, of equal size, then (Go servers send theirs inside the
        handshake flight). The client's request can reach the server first, so the tickets'
        ACK does not tell them from a response. Among the records that open the server's
        post-handshake stream with one equal length, they are tickets when the first was sent
        with no request pending (server-initiated), or when a second follows with no new
        request in between (a response to one request is not repeated); the first record
        counts as an answer only until that second record proves it a ticket.
        """
        if not self._run_open or r.length > MAX_TICKET_RECORD:
            self._run_open = False
            self._undo = None
            return False
        pending = self.pending
        answers = pending is not None and (r.ack_offset < 0 or r.ack_offset > pending.start)
        if self._run_len is None:
            self._run_len = r.length
            self._run_requests = self.requests
            if not answers:
                self._run_tickets = True
                self._note_ticket(r)
                return True
            self._undo = (pending, self.pending_end, self.last_answer, self.worst_status)
            return False
        if r.length != self._run_len:
            self._run_open = False
            self._undo = None
            return False
        if self._run_tickets:
            self._note_ticket(r)
            return True
        if self.requests == self._run_requests and self._undo is not None:
            self._undo_first_answer()
            self._run_tickets = True
            self._note_ticket(r)
            return True
        self._run_open = False
        self._undo = None
        return False

    def _note_ticket(self, r: Record) -> None:
        self.tickets += 1
        self._note(
            r.frame,
            r.ts_ns,
            Direction.TO_CLIENT,
            f"TLS 1.3 encrypted record ({r.length} bytes): NewSessionTicket-sized",
        )

    def _undo_first_answer(self) -> None:
        """The first post-handshake server record proved a ticket: take back its answer."""
        assert self._undo is not None
        pending, pending_end, last_answer, worst_status = self._undo
        self._undo = None
        self.answered -= 1
        self.tickets += 1
        self.last_answer, self.worst_status = last_answer, worst_status
        self.pending_end = max(self.pending_end, pending_end) if self.pending else pending_end
        self.pending = pending
        self._relabel_ticket()

    def _relabel_ticket(self) -> None:
        """Rename the note of the first post-handshake server record once it proves a ticket."""
        for i in range(len(self.notes) - 1, -1, -1):
            note = self.notes[i]
            if note.direction is Direction.TO_CLIENT and str(note.summary).startswith("TLS ApplicationData"):
                self.notes[i] = Note(
                    frame=note.frame,
                    ts_ns=note.ts_ns,
                    direction=note.direction,
                    summary=text(f"TLS 1.3 encrypted record ({self._run_len} bytes): NewSessionTicket-sized"),
                )
                self._app_notes[Direction.TO_CLIENT] -= 1
                break

    def _handshake_messages(self, d: Direction, r: Record) -> list[Text]:
        names: list[Text] = []
        try:
            messages = self._handshake[d].feed(r.body or b"")
        except ValueError:
            self.unsynced[d] = True
            return [text("malformed handshake")]
        for hs_type, body in messages:
            name = text(HANDSHAKE_NAMES.get(hs_type, f"type {hs_type}"))
            try:
                if hs_type == CLIENT_HELLO and d is Direction.TO_SERVER:
                    hello = parse_client_hello(body)
                    if self.client_hello is None:
                        self.client_hello = hello
                        self.client_hello_frame, self.client_hello_ts = r.frame, r.ts_ns
                    alpn = ",".join(hello.alpn) or "-"
                    sni = Name(NameKind.DNS, hello.sni) if hello.sni else "-"
                    name = text(name, " (SNI ", sni, f", ALPN {alpn})")
                elif hs_type == SERVER_HELLO and d is Direction.TO_CLIENT:
                    sh = parse_server_hello(body)
                    if sh.retry:
                        name = text("HelloRetryRequest")
                    else:
                        self.server_hello = sh
                        self.server_hello_frame, self.server_hello_ts = r.frame, r.ts_ns
                        name = text(name, f" ({version_name(sh.selected_version)})")
                        if is_tls13(sh.selected_version):
                            self._encrypted[Direction.TO_CLIENT] = True
                            self._encrypted[Direction.TO_SERVER] = True
                elif hs_type == CERTIFICATE and d is Direction.TO_CLIENT and not self.certificates:
                    self.certificates = parse_certificate_list(body)
                    self.certificate_frame = r.frame
            except ValueError:
                name = text(name, " (malformed)")
            names.append(name)
        return names

    # -- exchanges ------------------------------------------------------------------------------

    def _client_message(self, frame: int, ts_ns: int, start: int, end: int, line: str | None) -> None:
        if self.pending is None:
            self.pending = Message(frame=frame, ts_ns=ts_ns, start=start, line=line)
            self.last_request = self.pending
            self.requests += 1
        self.pending_end = end

    def _server_message(
        self,
        frame: int,
        ts_ns: int,
        start: int,
        ack_offset: int,
        line: str | None,
        status: int | None,
    ) -> None:
        pending = self.pending
        if pending is not None and (ack_offset < 0 or ack_offset > pending.start):
            self.answered += 1
            self.last_answer = Message(frame=frame, ts_ns=ts_ns, start=start, line=line, status=status)
            self.pending = None
            if status is not None and (self.worst_status is None or status > self.worst_status):
                self.worst_status = status
        else:
            self.unsolicited += 1

    def _plain(self, d: Direction, data: bytes, offset: int, frame: int, ts_ns: int, ack_offset: int) -> None:
        if d is Direction.TO_SERVER:
            new_turn = self.pending is None
            line = None
            if new_turn:
                request = self.request_line = parse_request_line(data)
                if request is not None:
                    line = _first_line(data)
                    self._note(frame, ts_ns, d, f"HTTP request: {line}")
            self._client_message(frame, ts_ns, offset, offset + len(data), line)
            return
        if self.pending is None:
            self.unsolicited += 1
            return
        m = _STATUS_LINE.match(data)
        status = int(m.group(1)) if m else None
        line = _first_line(data) if m else None
        if line:
            self._note(frame, ts_ns, d, f"HTTP response: {line}")
        self._server_message(frame, ts_ns, offset, ack_offset, line, status)
