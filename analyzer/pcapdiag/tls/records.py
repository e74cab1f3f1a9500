"""Incremental TLS record layer: cut one direction's byte stream into records without buffering bulk data.

A capture taken with a short snaplen shows only the first bytes of each segment. The reader follows
record boundaries through the bytes it is told it cannot see (RecordReader.skip): a record whose
header was seen is still a record, with a body that is partly unseen (Record.unseen). When a record
header itself falls into unseen bytes, the reader has lost its place; it takes it back only at the
start of a later feed (the flow layer starts each at a segment boundary), and only when the first
5 bytes there are a strictly valid header (is_resync_header). It never makes up a record.
"""

from __future__ import annotations

from dataclasses import dataclass

from pcapdiag.capture.fastinit import slot_setters
from pcapdiag.tls.constants import (
    ALERT,
    APPLICATION_DATA,
    CHANGE_CIPHER_SPEC,
    CLIENT_HELLO,
    HANDSHAKE,
    HEARTBEAT,
    MAX_RECORD_BODY,
)

KEPT_BODIES = frozenset({CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE})
"""Content types whose bodies are kept for parsing; application data is only counted."""


class NotTls(ValueError):
    """The stream holds bytes that cannot be a TLS record header."""


@dataclass(frozen=True, slots=True)
class Record:
    """One complete TLS record of one direction."""

    content_type: int
    version: int
    length: int
    offset: int
    """Stream offset of the record's first header byte."""
    frame: int
    """Frame in which the record's last byte arrived."""
    ts_ns: int
    ack_offset: int
    """How much of the other direction the sender had acknowledged in that frame (-1 unknown)."""
    body: bytes | None
    """The body for ChangeCipherSpec, Alert and Handshake records; None for the others. When the
    snaplen cut the record, the part of the body that was seen (``length - unseen`` bytes)."""
    unseen: int = 0
    """Body bytes from the first one the snaplen hid to the record's end (0: the whole record was
    captured). ``body`` holds the seen part before them; bytes seen again later in the record (the
    start of its next segment) count as unseen, so that ``body`` is always the record's prefix."""

    @property
    def partial(self) -> bool:
        """True when the snaplen hid part of the body (the header, and so the length, was seen)."""
        return self.unseen > 0


_new = object.__new__
_ctype, _version, _length, _offset, _frame, _ts, _ack, _body, _unseen = slot_setters(Record)

MAX_CIPHERTEXT = (1 << 14) + 256
"""Largest record body TLS 1.2 and 1.3 send (RFC 8446 5.2: 2^14 + 256)."""


def is_resync_header(data: bytes) -> bool:
    """Whether ``data`` starts with a header a reader that lost its place may take up again.

    Stricter than check_header: content type 20-23, version exactly 0x0303 (0x0301 only for a
    handshake record whose next byte says ClientHello), length 1 to 2^14 + 256. Taken only at a
    segment's first byte (see RecordReader), where TLS stacks start a new record whenever they
    start a new write. Five random bytes (encrypted data, which is what a segment that starts
    mid-record holds) pass with probability 4/256 * 1/65536 * 16640/65536 = 6e-8.
    """
    if len(data) < 5:
        return False
    ctype = data[0]
    if ctype < CHANGE_CIPHER_SPEC or ctype > APPLICATION_DATA or data[1] != 3:
        return False
    if data[2] != 3 and not (
        data[2] == 1 and ctype == HANDSHAKE and len(data) > 5 and data[5] == CLIENT_HELLO
    ):
        return False
    length = (data[3] << 8) | data[4]
    return 0 < length <= MAX_CIPHERTEXT


def check_header_prefix(head: bytes) -> None:
    """NotTls if the first bytes of a header (fewer than 5: the snaplen cut the rest) cannot start one."""
    if head and (head[0] < CHANGE_CIPHER_SPEC or head[0] > HEARTBEAT):
        raise NotTls(f"content type {head[0]}")
    if len(head) > 1 and head[1] != 3:
        raise NotTls(f"version {head[1]}")
    if len(head) > 2 and head[2] > 4:
        raise NotTls(f"version {head[1]}.{head[2]}")
    if len(head) > 3 and head[3] << 8 > MAX_RECORD_BODY:
        raise NotTls(f"record length {head[3] << 8}+")


def check_header(header: bytes) -> tuple[int, int, int]:
    """(content type, version, length) of a 5-byte record header; NotTls if it cannot be one."""
    ctype = header[0]
    if ctype < CHANGE_CIPHER_SPEC or ctype > HEARTBEAT:
        raise NotTls(f"content type {ctype}")
    if header[1] != 3 or header[2] > 4:
        raise NotTls(f"version {header[1]}.{header[2]}")
    length = (header[3] << 8) | header[4]
    if length > MAX_RECORD_BODY or (length == 0 and ctype != APPLICATION_DATA):
        raise NotTls(f"record length {length}")
    return ctype, (header[1] << 8) | header[2], length


class RecordReader:
    """Feed in-order bytes, get complete records; an incomplete tail waits for the next feed.

    skip() stands for bytes the snaplen hid: a record being read goes on through them (and comes
    out with ``unseen`` set); a record header among them makes the reader lose its place (``lost``)
    until a later feed() starts with a header that passes is_resync_header.
    """

    __slots__ = (
        "_body",
        "_ctype",
        "_head",
        "_left",
        "_length",
        "_next",
        "_start",
        "_unseen",
        "_version",
        "lost",
        "lost_offset",
        "resyncs",
    )

    def __init__(self) -> None:
        self._head = bytearray()
        self._body = bytearray()
        self._left = 0
        """Body bytes still to come for the current record (0: expecting a header)."""
        self._ctype = 0
        self._version = 0
        self._length = 0
        self._start = 0
        self._next = 0
        """Stream offset just past the last byte fed."""
        self._unseen = 0
        """Body bytes of the current record the snaplen hid."""
        self.lost = False
        """A record header fell into bytes the snaplen hid: record boundaries are unknown."""
        self.lost_offset = -1
        """Stream offset of the latest record header the snaplen hid (-1: none)."""
        self.resyncs = 0
        """Times the reader took its place back at a valid header."""

    def feed(self, data: bytes, offset: int, frame: int, ts_ns: int, ack_offset: int) -> list[Record]:
        """Consume ``data`` (starting at stream ``offset``); raise NotTls on an impossible header.

        While lost, bytes are passed over (no record comes out) unless they start with a valid header
        (is_resync_header): reading resumes there. Callers feed in segments, each starting at a
        segment boundary (pcapdiag.flow's StreamObserver), so that is where a header is looked for,
        once per segment: never in the middle of what a feed holds.
        """
        out: list[Record] = []
        if self.lost:
            if not is_resync_header(data):
                self._next = offset + len(data)
                return out
            self.lost = False
            self.resyncs += 1
        if self._left and offset > self._next:
            # The connection left out bytes inside this record's body (see opaque_until).
            self._left -= offset - self._next
            if self._unseen:
                self._unseen += offset - self._next
        self._next = offset + len(data)
        pos = 0
        n = len(data)
        while pos < n:
            if self._left:
                take = min(self._left, n - pos)
                if self._unseen:
                    self._unseen += take  # past a hidden stretch: not part of the seen prefix
                elif self._ctype in KEPT_BODIES:
                    self._body += data[pos : pos + take]
                self._left -= take
                pos += take
                if not self._left:
                    out.append(self._finish(frame, ts_ns, ack_offset))
                continue
            need = 5 - len(self._head)
            chunk = data[pos : pos + need]
            if not self._head:
                self._start = offset + pos
            self._head += chunk
            pos += len(chunk)
            if len(self._head) < 5:
                break
            self._ctype, self._version, self._length = check_header(bytes(self._head))
            self._head.clear()
            self._left = self._length
            if not self._left:
                out.append(self._finish(frame, ts_ns, ack_offset))
        return out

    def skip(self, offset: int, length: int, frame: int, ts_ns: int, ack_offset: int) -> list[Record]:
        """``length`` bytes at stream ``offset`` were sent but the snaplen hid them.

        A record whose body they end finishes with ``unseen`` set; if a record header lies among
        them the reader is lost from there (``lost``, ``lost_offset``). NotTls if the visible start
        of a header they cut could not start a record.
        """
        out: list[Record] = []
        if self._left and offset > self._next:
            self._left -= offset - self._next
            if self._unseen:
                self._unseen += offset - self._next
        self._next = offset + length
        if self.lost:
            return out
        if self._head:
            check_header_prefix(bytes(self._head))
        left = length
        if self._left:
            take = min(self._left, left)
            self._left -= take
            self._unseen += take
            left -= take
            if not self._left:
                out.append(self._finish(frame, ts_ns, ack_offset))
        if left:
            self.lost_offset = self._start if self._head else self._next - left
            self._head.clear()
            self.lost = True
        return out

    def plain_body(self) -> bool:
        """Whether the reader is where a fed segment may be read by record lengths alone: between
        records, or inside an application-data body, with nothing held, hidden or lost."""
        return (
            not self._head
            and not self.lost
            and not self._unseen
            and (not self._left or self._ctype == APPLICATION_DATA)
        )

    def body_left(self, offset: int) -> int:
        """Body bytes of the current record still to come, for bytes fed from ``offset`` on (bytes the
        connection passed over, up to ``offset``, belong to it: see opaque_until)."""
        left = self._left
        if left and offset > self._next:
            left -= offset - self._next
        return left

    @property
    def length(self) -> int:
        """Body length of the record being read (or of the last one read)."""
        return self._length

    def enter(self, start: int, ctype: int, version: int, length: int) -> None:
        """A record whose header is at ``start`` began, and its body is not all there yet."""
        self._start = start
        self._ctype = ctype
        self._version = version
        self._length = length

    def consumed(self, end: int, left: int) -> None:
        """Bytes up to stream offset ``end`` were read by lengths; ``left`` body bytes are still to come."""
        self._next = end
        self._left = left

    @property
    def end(self) -> int:
        """Stream offset just past the last byte fed or skipped."""
        return self._next

    @property
    def header_start(self) -> int:
        """Stream offset of the header being read (or of the last one read)."""
        return self._start

    @property
    def header_prefix(self) -> bytes:
        """The bytes of a header seen so far, when the reader waits for the rest of it."""
        return bytes(self._head)

    @property
    def opaque_until(self) -> int:
        """The stream offset where the body now being read ends, when it is a body that is only
        counted (application data): bytes before it change nothing but the count; else 0."""
        if self._left and self._ctype not in KEPT_BODIES:
            return self._next + self._left
        return 0

    def _finish(self, frame: int, ts_ns: int, ack_offset: int) -> Record:
        if self._ctype in KEPT_BODIES:
            body: bytes | None = bytes(self._body)
            self._body.clear()
        else:
            body = None
        # Record(...) without the frozen __init__'s setattr calls (see capture.fastinit): one per record.
        record: Record = _new(Record)
        _ctype(record, self._ctype)
        _version(record, self._version)
        _length(record, self._length)
        _offset(record, self._start)
        _frame(record, frame)
        _ts(record, ts_ns)
        _ack(record, ack_offset)
        _body(record, body)
        _unseen(record, self._unseen)
        self._unseen = 0
        return record


class HandshakeReader:
    """Reassemble handshake messages that span or share records (type, body) pairs.

    cut() stands for record bytes the snaplen hid: the message they belong to comes out with the
    part of its body that was seen, and later records skip the rest of it; when a message header
    is among the hidden bytes, message boundaries are lost for good (``lost``).
    """

    __slots__ = ("_buf", "_skip", "lost")

    MAX_BUFFER = 256 * 1024
    """A handshake message larger than this is not a plausible hello or certificate chain."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = 0
        """Bytes of a message the snaplen cut that are still to come (passed over, not parsed)."""
        self.lost = False

    @property
    def at_boundary(self) -> bool:
        """The next record body byte starts a message (its type), as far as this reader knows."""
        return not (self.lost or self._skip or self._buf)

    def feed(self, body: bytes) -> list[tuple[int, bytes]]:
        """Add a handshake record body; return the complete messages; ValueError if absurd."""
        if self.lost:
            return []
        if self._skip:
            take = min(self._skip, len(body))
            self._skip -= take
            body = body[take:]
        self._buf += body
        out: list[tuple[int, bytes]] = []
        buf = self._buf
        while len(buf) >= 4:
            length = (buf[1] << 16) | (buf[2] << 8) | buf[3]
            if length > self.MAX_BUFFER:
                raise ValueError(f"handshake message length {length}")
            if len(buf) < 4 + length:
                break
            out.append((buf[0], bytes(buf[4 : 4 + length])))
            del buf[: 4 + length]
        if len(buf) > self.MAX_BUFFER:
            raise ValueError("handshake buffer overflow")
        return out

    def cut(self, unseen: int) -> tuple[int, bytes] | None:
        """``unseen`` hidden bytes follow what feed() got, to the end of the record.

        Returns the message they cut, as (type, the part of its body that was seen), when its type
        byte was seen; None otherwise. Boundaries stay known when the hidden bytes end inside that
        message (later records pass over the rest of it); they are lost when another message
        starts among the hidden bytes.
        """
        if self.lost:
            return None
        if self._skip:
            take = min(self._skip, unseen)
            self._skip -= take
            unseen -= take
            if unseen:
                self.lost = True  # the next message's header is hidden
            return None
        buf = self._buf
        if not buf:
            self.lost = True
            return None
        message = (buf[0], bytes(buf[4:]))
        if len(buf) >= 4:
            rest = 4 + ((buf[1] << 16) | (buf[2] << 8) | buf[3]) - len(buf)
            if unseen <= rest:
                self._skip = rest - unseen
            else:
                self.lost = True
        else:
            self.lost = True  # its length was cut: where the next message starts is unknown
        buf.clear()
        return message
