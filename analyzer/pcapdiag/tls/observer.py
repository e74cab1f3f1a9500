"""The application-layer observer: follows TLS (or plain HTTP/TCP) in both directions of a connection.

It is the connection's StreamObserver: the flow layer hands it in-order bytes; it keeps TLS
handshake facts, alerts, and request/response exchanges, and never raises on odd bytes.

Captures with a short snaplen (tcpdump -s 96) show each segment's first bytes only; the flow layer
says which bytes it could not show (cut()). The observer then reads what record headers and the
first body bytes prove, and no more:

- a record whose header was seen counts by its length, as with whole packets (Record.unseen says
  how much of its body was hidden); a ClientHello or ServerHello cut short is still one, with the
  fields it hid empty (hello.parse_*_prefix);
- a record header among hidden bytes makes a direction lose its place until a segment starts with
  a strictly valid header (records.is_resync_header); what it passed over is kept in ``snap``, so
  that the classifier knows which facts the capture cannot show;
- a ServerHello cut before its supported_versions extension leaves the version to infer from the
  records after it: application_data from either side (encrypted handshake) is TLS 1.3, a clear
  handshake record (Certificate, ClientKeyExchange, ...) is TLS 1.2; records that do not tell
  (ChangeCipherSpec, Alert) are read as for an unknown version meanwhile and read again as
  TLS 1.3 if that is what follows (``version_inferred`` says how);
- a TLS 1.2 ChangeCipherSpec hidden from view is inferred from application data that follows it
  (TLS 1.2 sends none before it); a TLS 1.3 client Finished hidden from view is assumed when the
  client's records go on, and the handshake is then ``done_unproven`` until the server answers.
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
    MAX_RECORD_BODY,
    SERVER_HELLO,
    alert_name,
    is_tls13,
    version_name,
)
from pcapdiag.tls.h2 import PREFACE, FrameReader, H2Tracker, record_overhead
from pcapdiag.tls.hello import (
    ClientHello,
    ServerHello,
    parse_certificate_list,
    parse_client_hello,
    parse_client_hello_prefix,
    parse_server_hello,
    parse_server_hello_prefix,
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
_STATUS_TEMPLATE = b"HTTP/0.0 000"
"""What a status line's first bytes look like, '0' standing for any digit (see _could_be_status)."""


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


def _could_be_status(seen: bytes) -> bool:
    """Whether ``seen`` (what the snaplen let through of a response) may be the start of a status
    line whose code was cut off."""
    if len(seen) >= len(_STATUS_TEMPLATE):
        return False
    for have, want in zip(seen, _STATUS_TEMPLATE, strict=False):
        if want == 0x30:
            if not 0x30 <= have <= 0x39:
                return False
        elif have != want:
            return False
    return True


class SnapCut:
    """What a short snaplen hid on one connection, per direction (indexed by Direction).

    Made at the first cut (AppObserver.cut); connections captured whole have none.
    """

    __slots__ = (
        "blind",
        "certificate",
        "lost",
        "lost_frame",
        "lost_offset",
        "partial",
        "resynced",
        "status_cut",
        "unread_frame",
        "unread_ts",
        "unseen",
        "unsettled",
    )

    def __init__(self) -> None:
        self.unseen = [0, 0]
        """Payload bytes the snaplen hid."""
        self.partial = [0, 0]
        """Records whose header was seen and part of whose body was not."""
        self.lost = [0, 0]
        """Times a record header fell among hidden bytes (record boundaries lost)."""
        self.lost_frame = [0, 0]
        """Frame where record boundaries were first lost (0: never)."""
        self.lost_offset = [-1, -1]
        """Stream offset of the first record header hidden (-1: none)."""
        self.resynced = [0, 0]
        """Times record boundaries were found again (a segment that starts with a valid header)."""
        self.unread_frame = [0, 0]
        """The latest frame whose bytes were passed over while record boundaries were lost (0: none)."""
        self.unread_ts = [0, 0]
        self.status_cut = 0
        """Plain HTTP answers whose status line the snaplen cut before the status code."""
        self.blind = False
        """The snaplen hid every byte of the connection's first payload: what it carries is unknown."""
        self.certificate = False
        """The server's Certificate message was cut (its certificates could not be read)."""
        self.unsettled = 0
        """Server records that could be a NewSessionTicket or an answer: the snaplen hid what follows."""

    def hides(self, direction: Direction, since_ts: int) -> bool:
        """Whether bytes of ``direction`` went unread (boundaries lost) at or after ``since_ts``."""
        return bool(self.unread_frame[direction]) and self.unread_ts[direction] >= since_ts


def _is_preface(data: bytes) -> bool:
    """Whether a client's first bytes are (the visible start of, at least 4 bytes) the h2c preface."""
    return len(data) >= 4 and data[: len(PREFACE)] == PREFACE[: len(data)]


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
        "_ccs_ts",
        "_encrypted",
        "_handshake",
        "_held_alerts",
        "_inferred_version",
        "_plain_last",
        "_readers",
        "_run_len",
        "_run_open",
        "_run_requests",
        "_run_tickets",
        "_undo",
        "_version_pending",
        "alerts",
        "answered",
        "certificate_frame",
        "certificates",
        "client_abort",
        "client_auth_records",
        "client_data_records",
        "client_finished_frame",
        "client_hello",
        "client_hello_frame",
        "client_hello_ts",
        "client_sent_empty_certificate",
        "closing_frame",
        "closing_ts",
        "done_unproven",
        "h2",
        "h2_alerts",
        "h2_notes",
        "handshake_done_frame",
        "handshake_done_inferred",
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
        "server_hello",
        "server_hello_frame",
        "server_hello_ts",
        "snap",
        "unsynced",
        "version_inferred",
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
        self.server_flight_last_frame = 0
        self.server_flight_last_ts = 0
        self.client_finished_frame = 0
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
        self.worst_status: int | None = None
        self.request_line: RequestLine | None = None
        """Plain mode: the request line of the latest request (method, target, ?timeout=); None when
        that request did not open with one."""
        self._readers = (RecordReader(), RecordReader())
        self._handshake = (HandshakeReader(), HandshakeReader())
        self._encrypted = [False, False]
        self._ccs = [0, 0]
        self._ccs_ts = [0, 0]
        self._app_notes = [0, 0]
        self.client_auth_records = 0
        """TLS 1.3 client records before its Finished: a client Certificate (the server asked for one)."""
        self.client_data_records = 0
        """Application-data records the client sent after its handshake (requests): proof that it
        accepted the server's certificate."""
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
        self.snap: SnapCut | None = None
        """What the snaplen hid (None: nothing, the connection was captured whole)."""
        self.version_inferred: str | None = None
        """How the TLS version was inferred, when the snaplen cut the ServerHello before it said."""
        self._inferred_version: int | None = None
        self._version_pending = False
        """A ServerHello was seen whose version the snaplen hid, and nothing since has told it."""
        self._held_alerts: list[tuple[Record, AlertSeen, Note | None]] = []
        """Alerts read while the version was pending (see _settle_version)."""
        self.handshake_done_inferred: str | None = None
        """How the end of the handshake was inferred, when the records that show it were hidden."""
        self.done_unproven = False
        """TLS 1.3: the client's Finished was hidden and assumed from the records that follow it;
        only a server answer proves it (until then they may be a client certificate)."""
        self._plain_last: tuple[Direction, int, int, bool, bytes] | None = None
        """Plain mode: the last chunk fed (direction, frame, end offset, whether it was an answer
        without a status, its first bytes), to continue it in cut()."""
        self.h2_alerts: list[AlertSeen] = []
        """Application-data records the HTTP/1.1 reading took as alerts by size (32 bytes or less):
        HTTP/2's reading keeps only those of an alert's exact size."""
        self.h2_notes: list[Note] = []
        """Notes of the HTTP/1.1 reading of application data, which HTTP/2's reading replaces."""
        self.h2: H2Tracker | None = None
        """HTTP/2's reading of the exchanges (tls.h2), beside the HTTP/1.1 one: made when the client
        offers h2 or opens with the h2c preface, dropped when a visible ALPN choice says otherwise."""

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
        if self._steady(direction):
            got = self._feed_steady(direction, data, offset, frame, ts_ns, ack_offset)
            if got >= 0:
                return got
        if self.mode is Mode.UNKNOWN:
            if self.snap is not None and self.snap.blind:
                return 0  # the first payload bytes were hidden: neither TLS nor plain can be told
            self.mode = self._sniff(direction, data)
        if self.mode is Mode.PLAIN:
            self._plain(direction, data, offset, frame, ts_ns, ack_offset)
            return 0
        if self.unsynced[direction] or self.not_tls[direction] is not None:
            return OPAQUE
        reader = self._readers[direction]
        lost = reader.lost
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
        if lost:
            snap = self._snap()
            if reader.lost:
                self._unread(direction, frame, ts_ns)
            else:
                snap.resynced[direction] += 1
        for record in records:
            self._record(direction, record)
        if self.unsynced[direction]:
            return OPAQUE
        return reader.opaque_until

    def cut(
        self,
        direction: Direction,
        offset: int,
        length: int,
        frame: int,
        ts_ns: int,
        ack_offset: int,
    ) -> int:
        """Bytes of one direction the snaplen hid (StreamObserver): records go on through them by
        their lengths; a record header among them loses the direction's place (see RecordReader)."""
        snap = self.snap
        if snap is None:
            snap = self.snap = SnapCut()
        snap.unseen[direction] += length
        if self.mode is Mode.UNKNOWN:
            snap.blind = True
            return 0
        if self.mode is Mode.PLAIN:
            self._plain_cut(direction, offset, length, frame, ts_ns, ack_offset)
            return 0
        if self.unsynced[direction] or self.not_tls[direction] is not None:
            return OPAQUE
        reader = self._readers[direction]
        lost = reader.lost
        try:
            records = reader.skip(offset, length, frame, ts_ns, ack_offset)
        except NotTls:
            # The visible start of a header (fewer than 5 bytes) already cannot be one.
            if reader.header_start == 0 and not self.midstream:
                self.not_tls[direction] = _first_line(reader.header_prefix)
                self.not_tls_frame[direction] = frame
                self._note(frame, ts_ns, direction, f"not TLS: {self.not_tls[direction]}")
            else:
                self.unsynced[direction] = True
            return OPAQUE
        for record in records:
            self._record(direction, record)
        if lost:
            self._unread(direction, frame, ts_ns)
        elif reader.lost:
            snap.lost[direction] += 1
            if not snap.lost_frame[direction]:
                snap.lost_frame[direction] = frame
                snap.lost_offset[direction] = reader.lost_offset
                self._note(
                    frame,
                    ts_ns,
                    direction,
                    f"TLS record boundaries lost: the snaplen hid the record header at stream byte "
                    f"{reader.lost_offset}",
                )
            self._handshake[direction].lost = True
            self._unread(direction, frame, ts_ns)
        if self.unsynced[direction]:
            return OPAQUE
        return reader.opaque_until

    def _steady(self, d: Direction) -> bool:
        """Whether the connection is past everything but request/answer bookkeeping in this direction:
        TLS established with a known version, whole packets, no ticket run open, not read as HTTP/2
        (so its application-data records can be taken by _feed_steady)."""
        if (
            self.mode is not Mode.TLS
            or self.h2 is not None  # HTTP/2 reads every record (tls.h2)
            or self.snap is not None
            or self._version_pending
            or self.unsynced[d]
            or self.not_tls[d] is not None
            or self.version is None
        ):
            return False
        if is_tls13(self.version):
            return bool(self.client_finished_frame) and (d is Direction.TO_SERVER or not self._run_open)
        return True

    def _feed_steady(
        self, d: Direction, data: bytes, offset: int, frame: int, ts_ns: int, ack_offset: int
    ) -> int:
        """feed() of a steady direction (_steady) whose bytes hold only whole or partial application-
        data records too long to be alerts: their bookkeeping, with feed()'s result; -1, having
        changed nothing, when the bytes hold anything else (feed() takes them then)."""
        reader = self._readers[d]
        if not reader.plain_body():
            return -1
        left = reader.body_left(offset)
        if left and reader.length <= ENCRYPTED_ALERT_MAX_BODY:
            return -1
        n = len(data)
        pos = min(left, n)
        left -= pos
        done: list[tuple[int, int]] = [] if left or not pos else [(reader.header_start, reader.length)]
        start = length = version = 0
        while pos < n:
            if n - pos < 5:
                return -1  # a header cut between segments: feed() assembles it
            ctype, major, minor = data[pos], data[pos + 1], data[pos + 2]
            length = (data[pos + 3] << 8) | data[pos + 4]
            if (
                ctype != APPLICATION_DATA
                or major != 3
                or minor > 4
                or length > MAX_RECORD_BODY
                or length <= ENCRYPTED_ALERT_MAX_BODY
            ):
                return -1
            start = offset + pos
            version = (major << 8) | minor
            pos += 5 + length
            if pos <= n:
                done.append((start, length))
            else:
                left = pos - n
        if left and pos > n:
            reader.enter(start, APPLICATION_DATA, version, length)
        reader.consumed(offset + n, left)
        for start, length in done:
            if self._app_notes[d] < 3:
                self._app_notes[d] += 1
                self._note(frame, ts_ns, d, f"TLS ApplicationData ({length} bytes)")
            end = start + 5 + length
            if d is Direction.TO_SERVER:
                self.client_data_records += 1
                self._client_message(frame, ts_ns, start, end, None)
            else:
                self._server_message(frame, ts_ns, start, ack_offset, None, None)
        return reader.opaque_until

    def gap(self, direction: Direction) -> None:
        """Bytes are missing: record boundaries are lost for this direction."""
        if self.mode is not Mode.PLAIN:
            self.unsynced[direction] = True

    # -- reading ------------------------------------------------------------------------------

    @property
    def version(self) -> int | None:
        """The TLS version the server chose (None before a ServerHello, and while the snaplen hid
        it and nothing has told it since; then, the inferred one: see version_inferred)."""
        hello = self.server_hello
        if hello is None:
            return None
        if hello.partial and not hello.selected_version:
            return self._inferred_version
        return hello.selected_version

    @property
    def version_text(self) -> str | None:
        """'TLS 1.3', 'TLS 1.2', ... or None; 'TLS 1.3 (inferred)' when the snaplen hid it."""
        text = version_name(self.version)
        if text is not None and self.version_inferred is not None:
            return f"{text} (inferred)"
        return text

    @property
    def sni(self) -> str | None:
        """The server name the client asked for."""
        return self.client_hello.sni if self.client_hello else None

    def server_alert(self) -> AlertSeen | None:
        """The first alert the server sent, if any."""
        return next((a for a in self.alerts if a.direction is Direction.TO_CLIENT), None)

    # -- what a short snaplen leaves unproven (None: nothing; else why, as a clause) ------------

    def hidden_finish(self) -> str | None:
        """Why the end of the handshake (or its absence) cannot be shown, if the snaplen hid it."""
        snap = self.snap
        if snap is None or (self.handshake_done_frame and not self.done_unproven):
            return None
        c, s = Direction.TO_SERVER, Direction.TO_CLIENT
        if self.done_unproven:
            return (
                f"the client's Finished was hidden (frame {self.handshake_done_frame}), so the records it "
                "sent next may be a client certificate rather than a request"
            )
        since = self.server_hello_ts or self.client_hello_ts
        if snap.hides(c, since):
            return (
                f"a record header of the client was hidden (frame {snap.lost_frame[c]}), so its records "
                "after the ServerHello, Finished included, could not be followed"
            )
        if not is_tls13(self.version) and self._ccs[c] and snap.hides(s, self._ccs_ts[c]):
            return (
                f"a record header of the server was hidden (frame {snap.lost_frame[s]}), so its "
                "ChangeCipherSpec may be among the bytes that could not be read"
            )
        return None

    def hidden_answer(self) -> str | None:
        """Why the absence of an answer to the pending request cannot be shown, if the snaplen hid it."""
        return self.hidden_answer_since(self.pending.ts_ns if self.pending is not None else None)

    def hidden_answer_since(self, pending_ts: int | None) -> str | None:
        """hidden_answer for a request pending since ``pending_ts`` (None: none pending), as HTTP/2's
        reading has it."""
        snap = self.snap
        if snap is None or pending_ts is None:
            return None
        if self.done_unproven and not self.answered:
            return self.hidden_finish()
        s = Direction.TO_CLIENT
        if snap.hides(s, pending_ts):
            return (
                f"the server's bytes after the request (to frame {snap.unread_frame[s]}) could not be "
                "read as records, so an answer may be among them"
            )
        return None

    def hidden_close(self) -> str | None:
        """Why when the client began to close cannot be shown: a closing alert may be among the
        client's bytes after its pending request that could not be read as records."""
        return self.hidden_close_since(self.pending.ts_ns if self.pending is not None else None)

    def hidden_close_since(self, pending_ts: int | None) -> str | None:
        """hidden_close for a request pending since ``pending_ts`` (None: none pending)."""
        snap = self.snap
        c = Direction.TO_SERVER
        if snap is None or pending_ts is None or not snap.hides(c, pending_ts):
            return None
        return (
            f"the client's bytes after the request (to frame {snap.unread_frame[c]}) could not be read "
            "as records, so it may have begun closing (an alert) among them"
        )

    def hidden_request(self) -> str | None:
        """Why the absence of a request after the handshake cannot be shown, if the snaplen hid it."""
        snap = self.snap
        c = Direction.TO_SERVER
        if snap is None or not snap.hides(c, self.handshake_done_ts):
            return None
        return (
            f"the client's bytes after the handshake (to frame {snap.unread_frame[c]}) could not be read "
            "as records, so a request may be among them"
        )

    def hidden_status(self) -> str | None:
        """Why the HTTP status of the answers cannot be judged, if the snaplen cut a status line."""
        snap = self.snap
        if snap is None or not snap.status_cut or (self.worst_status or 0) >= 500:
            return None
        n = snap.status_cut
        return f"the snaplen cut the status line of {n} response{'s' * (n != 1)} before its code"

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

    def _snap(self) -> SnapCut:
        """The record of what the snaplen hid, made on first use."""
        if self.snap is None:
            self.snap = SnapCut()
        return self.snap

    def _unread(self, d: Direction, frame: int, ts_ns: int) -> None:
        """Bytes of ``d`` in ``frame`` were passed over: record boundaries are lost there."""
        snap = self._snap()
        snap.unread_frame[d], snap.unread_ts[d] = frame, ts_ns
        if (
            d is Direction.TO_CLIENT
            and self._run_open
            and (self.client_finished_frame or self.done_unproven)
            and is_tls13(self.version)
        ):
            # The server's post-handshake records can no longer be told apart by their run of
            # lengths (see _session_ticket): the records between two seen ones are unknown.
            self._run_open = False
            if self._undo is not None:
                self._unsettle_first_answer(frame, ts_ns)

    def _unsettle_first_answer(self, frame: int, ts_ns: int) -> None:
        """The first post-handshake server record was taken as the answer until a second record
        would tell whether it was a ticket; the snaplen hid that record: take the answer back."""
        assert self._undo is not None and self.snap is not None
        pending, pending_end, last_answer, worst_status = self._undo
        self._undo = None
        self.answered -= 1
        self.last_answer, self.worst_status = last_answer, worst_status
        self.pending_end = max(self.pending_end, pending_end) if self.pending else pending_end
        self.pending = pending
        self.snap.unsettled += 1
        self._note_app(
            frame,
            ts_ns,
            Direction.TO_CLIENT,
            f"TLS 1.3: the server record of {self._run_len} bytes may be a NewSessionTicket or the "
            "answer; the snaplen hid the record after it, which would tell",
        )

    def _record(self, d: Direction, r: Record) -> None:
        ctype = r.content_type
        if r.unseen:
            self._snap().partial[d] += 1
        if self._version_pending and ctype in (HANDSHAKE, APPLICATION_DATA):
            self._infer_version(d, r)
        if ctype == HANDSHAKE and not self._encrypted[d]:
            names = self._handshake_messages(d, r)
            self._note(
                r.frame, r.ts_ns, d, text("TLS Handshake: ", join(names, ", ") if names else "fragment")
            )
        elif ctype == HANDSHAKE:
            self._note(r.frame, r.ts_ns, d, f"TLS encrypted Handshake ({r.length} bytes)")
        elif ctype == CHANGE_CIPHER_SPEC:
            self._ccs[d] = r.frame
            self._ccs_ts[d] = r.ts_ns
            self._note(r.frame, r.ts_ns, d, "TLS ChangeCipherSpec")
            if not is_tls13(self.version):
                self._encrypted[d] = True
                # While the version is pending, the handshake's end waits for it (_settle_version).
                both = self._ccs[0] and self._ccs[1]
                if both and not self.handshake_done_frame and not self._version_pending:
                    self.handshake_done_frame, self.handshake_done_ts = r.frame, r.ts_ns
        elif ctype == ALERT:
            body = r.body or b""
            notes = len(self.notes)
            if not self._encrypted[d] and len(body) == 2:
                alert = AlertSeen(d, r.frame, r.ts_ns, body[0], body[1])
                level = "fatal" if body[0] == 2 else "warning"
                self._note(r.frame, r.ts_ns, d, f"TLS Alert ({level}): {alert.name}")
            elif r.unseen and not self._encrypted[d] and r.length == 2:
                alert = AlertSeen(d, r.frame, r.ts_ns, body[0] if body else None, None)
                self._note(r.frame, r.ts_ns, d, "TLS Alert (the snaplen hid its description)")
            else:
                alert = AlertSeen(d, r.frame, r.ts_ns, None, None)
                self._note(r.frame, r.ts_ns, d, f"TLS encrypted Alert ({r.length} bytes)")
            self.alerts.append(alert)
            if self._version_pending:
                self._held_alerts.append((r, alert, self.notes[-1] if len(self.notes) > notes else None))
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
        # In TLS 1.3 (or mid-stream, version unknown) a record this short is an encrypted alert, usually
        # close_notify: no HTTP/1.x message fits in it. Up to TLS 1.2 an alert has its own content type,
        # so application data is application data, however short (a TLS 1.0 client's 1/n-1 split sends
        # each message's first byte in a record of its own, 32 bytes with a SHA-1 MAC and CBC padding).
        alert_sized = r.length <= ENCRYPTED_ALERT_MAX_BODY and (tls13 or self.version is None)
        if tls13 and not self.client_finished_frame and not self.done_unproven:
            if d is Direction.TO_CLIENT:
                if not self._finished_hidden() or not self._answers_hidden(r):
                    self.server_flight_last_frame, self.server_flight_last_ts = r.frame, r.ts_ns
                    self._note(r.frame, r.ts_ns, d, f"TLS 1.3 encrypted handshake record ({r.length} bytes)")
                    return
                self._assume_finished(r, d)
            elif not self._finished_hidden():
                self._client_flight(r)
                return
            else:
                self._assume_finished(r, d)
        elif self.snap is not None and not tls13 and not self._ccs[d] and self.version is not None:
            self._infer_ccs(d)
        if self.h2 is not None:  # -- HTTP/2 (tls.h2): its own reading of every record after the handshake
            suite = self.server_hello.cipher_suite if self.server_hello else 0
            self.h2.record(
                d, r.length, record_overhead(self.version, suite), r.offset, r.frame, r.ts_ns, r.ack_offset
            )
        if alert_sized:
            self.alerts.append(AlertSeen(d, r.frame, r.ts_ns, None, None))
            if self.h2 is not None:
                self.h2_alerts.append(self.alerts[-1])
            if not self.closing_ts[d]:
                self.closing_ts[d], self.closing_frame[d] = r.ts_ns, r.frame
            self._note_app(r.frame, r.ts_ns, d, f"TLS 1.3 alert-sized encrypted record ({r.length} bytes)")
            return
        if tls13 and d is Direction.TO_CLIENT and self._session_ticket(r):
            return
        if self._app_notes[d] < 3:
            self._app_notes[d] += 1
            self._note_app(r.frame, r.ts_ns, d, f"TLS ApplicationData ({r.length} bytes)")
        end = r.offset + 5 + r.length
        if d is Direction.TO_SERVER:
            self.client_data_records += 1
            self._client_message(r.frame, r.ts_ns, r.offset, end, None)
        else:
            self._server_message(r.frame, r.ts_ns, r.offset, r.ack_offset, None, None)

    def _finished_hidden(self) -> bool:
        """TLS 1.3: the client's records after the ServerHello were passed over (a record header
        hidden by the snaplen), so its Finished may have been among them."""
        snap = self.snap
        return (
            snap is not None
            and self.server_hello is not None
            and snap.hides(Direction.TO_SERVER, self.server_hello_ts)
        )

    def _answers_hidden(self, r: Record) -> bool:
        """TLS 1.3: this server record was sent after the server received every client byte the
        snaplen hid (its ACK covers them): it reacts to the client's second flight, so it is not
        part of the server's own flight, which answers the ClientHello alone."""
        return r.ack_offset >= self._readers[Direction.TO_SERVER].end

    def _assume_finished(self, r: Record, d: Direction) -> None:
        """TLS 1.3, the client's Finished not seen but bytes where it would be hidden: the client's
        records go on after them, or the server reacts to them. Take the handshake as done there,
        unproven until the server answers a request (see done_unproven)."""
        assert self.snap is not None
        c = Direction.TO_SERVER
        self.done_unproven = True
        self.handshake_done_frame = self.snap.unread_frame[c]
        self.handshake_done_ts = self.snap.unread_ts[c]
        by = "the client's records go on" if d is c else "the server answers them"
        self.handshake_done_inferred = (
            f"the client's Finished would be among the bytes the snaplen hid up to frame "
            f"{self.handshake_done_frame}, and {by} after them"
        )
        self._note(
            r.frame,
            r.ts_ns,
            d,
            f"TLS 1.3 client Finished not seen (hidden by the snaplen); record of {r.length} bytes "
            "taken as after the handshake",
        )

    def _infer_ccs(self, d: Direction) -> None:
        """TLS 1.2 application data from ``d`` without its ChangeCipherSpec: when bytes of ``d``
        after the ServerHello were passed over, the ChangeCipherSpec was among them (TLS 1.2 sends
        no application data before it)."""
        snap = self.snap
        assert snap is not None
        if not (self.server_hello is not None and snap.hides(d, self.server_hello_ts)):
            return
        frame, ts_ns = snap.unread_frame[d], snap.unread_ts[d]
        self._ccs[d], self._ccs_ts[d] = frame, ts_ns
        self._encrypted[d] = True
        side = "client" if d is Direction.TO_SERVER else "server"
        self._note(
            frame,
            ts_ns,
            d,
            f"TLS ChangeCipherSpec of the {side} inferred: hidden by the snaplen, application data follows",
        )
        other = 1 - d
        if self._ccs[other] and not self.handshake_done_frame:
            later = d if (ts_ns, frame) >= (self._ccs_ts[other], self._ccs[other]) else other
            self.handshake_done_frame, self.handshake_done_ts = self._ccs[later], self._ccs_ts[later]
            self.handshake_done_inferred = f"the {side}'s ChangeCipherSpec was inferred"

    def _infer_version(self, d: Direction, r: Record) -> None:
        """The first records after a ServerHello whose version the snaplen hid tell the version."""
        side = "server" if d is Direction.TO_CLIENT else "client"
        if r.content_type == APPLICATION_DATA:
            self._settle_version(
                0x0304,
                d,
                r,
                f"the {side}'s record of frame {r.frame} after the ServerHello is application data "
                "(an encrypted handshake: TLS 1.2 sends none before the handshake ends)",
            )
            return
        body = r.body or b""
        encrypted = self._encrypted[d]
        if not body or not (encrypted or self._handshake[d].at_boundary):
            return  # which message the record starts with is not known
        first = body[0]
        if (d is Direction.TO_CLIENT and first == SERVER_HELLO) or (
            d is Direction.TO_SERVER and first == CLIENT_HELLO
        ):
            if not encrypted:
                self._retract_server_hello(r)
            return
        self._settle_version(
            0x0303,
            d,
            r,
            f"the {side}'s record of frame {r.frame} after the ServerHello is a handshake record "
            f"({'encrypted' if encrypted else HANDSHAKE_NAMES.get(first, f'type {first}')}), which "
            "TLS 1.3 never sends in clear there",
        )

    def _settle_version(self, version: int, d: Direction, r: Record, how: str) -> None:
        """The pending version is now known: records read meanwhile are read again if it matters."""
        self._version_pending = False
        self._inferred_version = version
        self.version_inferred = how
        self._note(r.frame, r.ts_ns, d, f"{version_name(version)} inferred: {how}")
        held, self._held_alerts = self._held_alerts, []
        if is_tls13(version):
            # What parsing a TLS 1.3 ServerHello does; alerts read meanwhile were encrypted.
            self._encrypted[Direction.TO_CLIENT] = True
            self._encrypted[Direction.TO_SERVER] = True
            for record, alert, note in held:
                if alert.description is None:
                    continue
                again = AlertSeen(alert.direction, alert.frame, alert.ts_ns, None, None)
                self.alerts[self.alerts.index(alert)] = again
                if self.client_abort is alert:
                    self.client_abort = again
                if note is not None and note in self.notes:
                    self.notes[self.notes.index(note)] = Note(
                        note.frame,
                        note.ts_ns,
                        note.direction,
                        text(f"TLS encrypted Alert ({record.length} bytes)"),
                    )
        else:
            self._ccs_done()

    def _ccs_done(self) -> None:
        """Both ChangeCipherSpecs seen while the version was pending: the handshake ended at the later."""
        if self._ccs[0] and self._ccs[1] and not self.handshake_done_frame:
            later = 0 if (self._ccs_ts[0], self._ccs[0]) >= (self._ccs_ts[1], self._ccs[1]) else 1
            self.handshake_done_frame, self.handshake_done_ts = self._ccs[later], self._ccs_ts[later]

    def _retract_server_hello(self, r: Record) -> None:
        """A second ServerHello, or a second ClientHello: the cut ServerHello was a HelloRetryRequest."""
        self._note(
            self.server_hello_frame,
            self.server_hello_ts,
            Direction.TO_CLIENT,
            f"the ServerHello of frame {self.server_hello_frame} was a HelloRetryRequest (frame {r.frame} "
            "starts the handshake again)",
        )
        self.server_hello = None
        self.server_hello_frame = self.server_hello_ts = 0
        self._version_pending = False
        self._held_alerts = []
        self._ccs_done()

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
            self.client_finished_frame = r.frame
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
        self._note_app(
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
                self.h2_notes.append(self.notes[i])
                self._app_notes[Direction.TO_CLIENT] -= 1
                break

    def _handshake_messages(self, d: Direction, r: Record) -> list[Text]:
        names: list[Text] = []
        reader = self._handshake[d]
        try:
            messages = reader.feed(r.body or b"")
        except ValueError:
            self.unsynced[d] = True
            return [text("malformed handshake")]
        cut = reader.cut(r.unseen) if r.unseen else None
        for hs_type, body in messages:
            name = text(HANDSHAKE_NAMES.get(hs_type, f"type {hs_type}"))
            try:
                if hs_type == CLIENT_HELLO and d is Direction.TO_SERVER:
                    hello = parse_client_hello(body)
                    if self.client_hello is None:
                        self.client_hello = hello
                        self.client_hello_frame, self.client_hello_ts = r.frame, r.ts_ns
                        self._h2_offer(hello)
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
                        self._h2_choice(sh)
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
        if cut is not None:
            names.append(self._cut_message(d, r, *cut))
        return names

    def _cut_message(self, d: Direction, r: Record, hs_type: int, body: bytes) -> Text:
        """A handshake message the snaplen cut (its type and the first bytes of its body were seen):
        what those bytes prove; returns its name for the note."""
        name = HANDSHAKE_NAMES.get(hs_type, f"type {hs_type}")
        if hs_type == CLIENT_HELLO and d is Direction.TO_SERVER:
            hello = parse_client_hello_prefix(body)
            if self.client_hello is None:
                self.client_hello = hello
                self.client_hello_frame, self.client_hello_ts = r.frame, r.ts_ns
                self._h2_offer(hello)
            sni = Name(NameKind.DNS, hello.sni) if hello.sni else "-"
            return text(name, " (SNI ", sni, ") (cut by the snaplen)")
        elif hs_type == SERVER_HELLO and d is Direction.TO_CLIENT:
            sh = parse_server_hello_prefix(body)
            if sh.retry:
                name = "HelloRetryRequest"
            else:
                self.server_hello = sh
                self.server_hello_frame, self.server_hello_ts = r.frame, r.ts_ns
                self._h2_choice(sh)
                self._held_alerts = []
                if sh.selected_version:
                    self._version_pending = False
                    name += f" ({version_name(sh.selected_version)})"
                    if is_tls13(sh.selected_version):
                        self._encrypted[Direction.TO_CLIENT] = True
                        self._encrypted[Direction.TO_SERVER] = True
                else:
                    self._version_pending = True
                    name += " (version hidden: inferred from the records that follow)"
        elif hs_type == CERTIFICATE and d is Direction.TO_CLIENT and not self.certificates:
            self._snap().certificate = True
            self.certificate_frame = self.certificate_frame or r.frame
        return text(f"{name} (cut by the snaplen)")

    # -- HTTP/2 (tls.h2): where the h2 reading starts, stops, and reads alerts ---------------------

    def _h2_offer(self, hello: ClientHello) -> None:
        """The client offered h2 (or the snaplen hid what it offered, or it was zeroed: a legacy
        version of 0 is no real ClientHello's): read the exchanges as HTTP/2 too."""
        unknown = (hello.partial or not hello.legacy_version) and not hello.alpn
        if self.h2 is None and ("h2" in hello.alpn or unknown):
            self.h2 = H2Tracker(offered_only=hello.alpn == ("h2",), offer_seen=bool(hello.alpn))

    def _h2_choice(self, sh: ServerHello) -> None:
        """A ServerHello: its ALPN, when in clear (TLS 1.2), says whether h2 was chosen."""
        if self.h2 is None or is_tls13(sh.selected_version):
            return
        if sh.partial and sh.alpn is None:
            self.h2.choice_hidden = "the snaplen hid the ServerHello's ALPN extension"
        elif not self.h2.alpn(sh.alpn):
            self.h2 = None

    def _note_app(self, frame: int, ts_ns: int, direction: Direction, summary: str) -> None:
        """A note of the HTTP/1.1 reading of application data: HTTP/2's reading replaces it."""
        notes = len(self.notes)
        self._note(frame, ts_ns, direction, summary)
        if self.h2 is not None and len(self.notes) > notes:
            self.h2_notes.append(self.notes[-1])

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

    def _plain(self, d: Direction, data: bytes, offset: int, frame: int, ts_ns: int, ack_offset: int) -> None:
        if offset == 0 and d is Direction.TO_SERVER and not self.midstream and _is_preface(data):
            self.h2 = H2Tracker()
            self.h2.preface(frame, ts_ns)
            self.h2.readers = (FrameReader(preface=True), FrameReader(preface=False))
        if self.h2 is not None and self.h2.readers is not None:  # -- h2c: the frames themselves
            for ftype, flags, size, start in self.h2.readers[d].feed(data, offset):
                self.h2.frame(d, ftype, flags, size, start, frame, ts_ns, ack_offset)
        self._plain_last = (d, frame, offset + len(data), False, b"")
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
            return  # nothing asked: a greeting, not an answer
        m = _STATUS_LINE.match(data)
        status = int(m.group(1)) if m else None
        line = _first_line(data) if m else None
        if line:
            self._note(frame, ts_ns, d, f"HTTP response: {line}")
        answered = self.answered
        self._server_message(frame, ts_ns, offset, ack_offset, line, status)
        if status is None and self.answered != answered:
            self._plain_last = (d, frame, offset + len(data), True, data[: len(_STATUS_TEMPLATE)])

    def _plain_cut(
        self, d: Direction, offset: int, length: int, frame: int, ts_ns: int, ack_offset: int
    ) -> None:
        """Plain mode: hidden bytes continue the chunk fed just before (same segment), or are a chunk
        of which nothing was seen. A request grows by them; an answer whose status line they cut
        has an unknown status (SnapCut.status_cut)."""
        if self.h2 is not None and self.h2.readers is not None:  # -- h2c: frames go on through the cut
            for ftype, flags, size, start in self.h2.readers[d].skip(length):
                self.h2.frame(d, ftype, flags, size, start, frame, ts_ns, ack_offset)
        last = self._plain_last
        if last is None or last[0] is not d or last[1] != frame or last[2] != offset:
            self._plain(d, b"", offset, frame, ts_ns, ack_offset)
            last = self._plain_last
        assert last is not None and self.snap is not None
        if d is Direction.TO_SERVER:
            if self.pending is not None:
                self.pending_end = offset + length
        elif last[3] and _could_be_status(last[4]):
            self.snap.status_cut += 1
        self._plain_last = (d, frame, offset + length, False, b"")
