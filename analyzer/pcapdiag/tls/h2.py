"""HTTP/2 from the record sizes and order TLS leaves visible (h2c: its frames): control frames versus answers.

Inside TLS only a record's length shows. RFC 9113 fixes the size of every control frame: a 9-byte
frame header, then a SETTINGS parameter is 6 bytes (a SETTINGS ACK has none), WINDOW_UPDATE and
RST_STREAM carry 4, PING 8, GOAWAY 8 plus optional debug data. The record's plaintext is its length
minus the AEAD overhead of the negotiated version and suite (``record_overhead``). A peer's control
frames come in reaction to one event (a SETTINGS to acknowledge, a DATA frame to credit at the stream
and at the connection, a PING to answer, a stream to reset, a shutdown to announce), so at most
three share one record: a record whose plaintext is such a sum is taken as control frames, anything
else as HEADERS/DATA. Order adds what sizes cannot: a client's first record is the 24-byte
connection preface plus its SETTINGS, a server's first is its SETTINGS (RFC 9113 3.4), and what the
server sent before it had the request cannot answer it.

``H2Tracker`` keeps that reading beside the observer's HTTP/1.1 one; classify uses it when the
connection speaks HTTP/2 (``confirmed``). For h2c (prior knowledge, in clear) ``FrameReader`` reads
the frame headers themselves, through what a short snaplen hides as long as 4 bytes of each header
(its length and type) were seen.
"""

from __future__ import annotations

import collections
import enum
import itertools
from dataclasses import dataclass

from pcapdiag.flow import Direction

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""The client connection preface (RFC 9113 3.4), 24 bytes, before its SETTINGS."""
FRAME_HEADER = 9
"""Every frame's header: 24-bit length, type, flags, 31-bit stream identifier."""
SETTING = 6
"""One SETTINGS parameter: 16-bit identifier, 32-bit value."""
MAX_SETTINGS = 8
"""Parameters a SETTINGS frame may carry: the six of RFC 9113 6.5.2, RFC 8441's and RFC 9218's."""

# Frame types (RFC 9113 6).
DATA = 0x0
HEADERS = 0x1
PRIORITY = 0x2
RST_STREAM = 0x3
SETTINGS = 0x4
PUSH_PROMISE = 0x5
PING = 0x6
GOAWAY = 0x7
WINDOW_UPDATE = 0x8
CONTINUATION = 0x9
FRAME_NAMES = {
    DATA: "DATA",
    HEADERS: "HEADERS",
    PRIORITY: "PRIORITY",
    RST_STREAM: "RST_STREAM",
    SETTINGS: "SETTINGS",
    PUSH_PROMISE: "PUSH_PROMISE",
    PING: "PING",
    GOAWAY: "GOAWAY",
    WINDOW_UPDATE: "WINDOW_UPDATE",
    CONTINUATION: "CONTINUATION",
}

ALERT_SIZE = 2
"""An alert's plaintext (level, description): a record of exactly that size is an alert, not a frame."""
ACK_FLAG = 0x1
"""The ACK flag of SETTINGS and PING."""

SETTINGS_ACK_SIZE = FRAME_HEADER
WINDOW_UPDATE_SIZE = FRAME_HEADER + 4  # the same size as RST_STREAM
PING_SIZE = FRAME_HEADER + 8  # PING and its ACK; a GOAWAY without debug data too
GOAWAY_SIZE = FRAME_HEADER + 8
_ONE = {
    SETTINGS_ACK_SIZE: "SETTINGS ACK",
    WINDOW_UPDATE_SIZE: "WINDOW_UPDATE/RST_STREAM",
    PING_SIZE: "PING/GOAWAY",
}


def _sums() -> dict[int, str]:
    """Plaintext sizes of records holding one to three control frames (at most one SETTINGS ACK)."""
    out: dict[int, list[str]] = {}
    for n in (1, 2, 3):
        for combo in itertools.combinations_with_replacement(sorted(_ONE), n):
            if combo.count(SETTINGS_ACK_SIZE) <= 1:
                out.setdefault(sum(combo), []).append(" + ".join(_ONE[size] for size in combo))
    return {size: " or ".join(ways) for size, ways in out.items()}


CONTROL_SIZES = _sums()
"""Record plaintext size -> the control frames that make it (9, 13, 17, 22, 26, 30, 34, 35, ...),
each way to make it, '/' between frames of one size."""


def _preface_sizes() -> dict[int, str]:
    """A server's first record: its SETTINGS, with a WINDOW_UPDATE for the connection and the ACK of
    the client's SETTINGS when those were ready at once."""
    out: dict[int, str] = {}
    for k in range(MAX_SETTINGS + 1):
        size = FRAME_HEADER + SETTING * k
        what = f"SETTINGS ({k} parameter{'s' * (k != 1)})"
        for extra, more in (
            (0, ""),
            (WINDOW_UPDATE_SIZE, " + WINDOW_UPDATE"),
            (SETTINGS_ACK_SIZE, " + SETTINGS ACK"),
            (SETTINGS_ACK_SIZE + WINDOW_UPDATE_SIZE, " + SETTINGS ACK + WINDOW_UPDATE"),
        ):
            out.setdefault(size + extra, what + more)
    return out


SERVER_PREFACE_SIZES = _preface_sizes()
"""A server's first record's plaintext size -> what makes it."""
CLIENT_PREFACE_MIN = len(PREFACE) + FRAME_HEADER
CLIENT_PREFACE_MAX = len(PREFACE) + FRAME_HEADER + SETTING * MAX_SETTINGS + WINDOW_UPDATE_SIZE
"""A client's first record holds the preface and its SETTINGS (and a WINDOW_UPDATE); longer, it
carries its first request too."""

# AEAD overhead of a TLS 1.2 record per cipher suite (RFC 5288 / 6655 / 7905): explicit nonce + tag.
_GCM_CCM_12 = frozenset(
    {0x009C, 0x009D, 0x009E, 0x009F, 0x00A2, 0x00A3, 0x00A8, 0x00A9, 0x00AA, 0x00AB, 0x00AC, 0x00AD}
    | set(range(0xC02B, 0xC033))
    | {0xC09C, 0xC09D, 0xC09E, 0xC09F, 0xC0A0, 0xC0A1, 0xC0A2, 0xC0A3, 0xC0A4, 0xC0A5, 0xC0AC, 0xC0AD}
)
_CCM8_12 = frozenset({0xC0A0, 0xC0A1, 0xC0A2, 0xC0A3, 0xC0A8, 0xC0A9, 0xC0AA, 0xC0AB, 0xC0AE, 0xC0AF})
_CHACHA_12 = frozenset(range(0xCCA8, 0xCCAF))
_TLS13_CCM8 = 0x1305


def record_overhead(version: int | None, suite: int) -> int | None:
    """Bytes a record adds to its plaintext: TLS 1.3 the inner content type and a 16-byte tag (8 for
    TLS_AES_128_CCM_8); TLS 1.2 AES-GCM/CCM an 8-byte explicit nonce and a 16-byte tag (CCM_8: 8),
    ChaCha20-Poly1305 the tag alone. None when the sizes cannot be read (CBC: padding and MAC)."""
    if version == 0x0304:
        return 1 + (8 if suite == _TLS13_CCM8 else 16)
    if version == 0x0303:
        if suite in _CCM8_12:
            return 8 + 8
        if suite in _GCM_CCM_12:
            return 8 + 16
        if suite in _CHACHA_12:
            return 16
    return None


class Source(enum.Enum):
    """How the connection was found to speak HTTP/2."""

    ALPN = "alpn"  # TLS 1.2: the ServerHello's ALPN says h2 in clear
    OFFER = "offer"  # the client offered h2 alone: a server that answers speaks it
    INFERRED = "inferred"  # TLS 1.3: the choice is encrypted; sizes and order say h2
    PREFACE = "preface"  # h2c: the client's preface in clear


class Kind(enum.Enum):
    """What a record (or a clear frame) is taken for."""

    PREFACE = "preface"  # the client's preface + SETTINGS, or the server's first SETTINGS
    CONTROL = "control"  # control frames only: no request, no answer
    REQUEST = "request"  # the client's HEADERS/DATA
    ANSWER = "answer"  # the server's HEADERS/DATA after a request
    UNPROMPTED = "unprompted"  # server HEADERS/DATA-sized with no request before it (a ticket, a push)


@dataclass(frozen=True, slots=True)
class H2Message:
    """The first record of an HTTP/2 request or answer (as the observer's Message)."""

    frame: int
    ts_ns: int
    start: int


@dataclass(frozen=True, slots=True)
class Reading:
    """One record (or frame) and what it was taken for, with why."""

    frame: int
    ts_ns: int
    direction: Direction
    size: int
    """Plaintext bytes (a clear frame's whole length)."""
    length: int
    """The record's length (a clear frame's whole length)."""
    kind: Kind
    what: str


MAX_READINGS = 32
"""Readings kept per connection for the explanation and the evidence: the first ones (the opening)
and as many of the latest (the last request and what followed it)."""


class H2Tracker:
    """HTTP/2 exchanges of one connection, from record sizes (TLS) or frame headers (h2c)."""

    __slots__ = (
        "_awaiting_more",
        "_client_first",
        "_client_start",
        "_first",
        "_latest",
        "_server_first",
        "_server_reacted",
        "_server_unprompted",
        "alert_frames",
        "answered",
        "choice_hidden",
        "closing",
        "confirmed",
        "goaway",
        "how",
        "last_answer",
        "last_request",
        "offer_seen",
        "offered_only",
        "overlaps",
        "pending",
        "pending_end",
        "readers",
        "requests",
        "source",
        "unreadable",
    )

    def __init__(
        self, offered_only: bool = False, source: Source | None = None, offer_seen: bool = True
    ) -> None:
        self.offered_only = offered_only
        self.offer_seen = offer_seen
        """The client's ALPN offer was seen (False: the snaplen hid it)."""
        self.choice_hidden = "TLS 1.3 encrypts the server's ALPN choice"
        """Why the server's ALPN choice is not in the capture (set by the observer)."""
        self.closing = [(0, 0), (0, 0)]
        """Per direction: (time, frame) of its first record of an encrypted alert's exact size."""
        self.source: Source | None = source
        """How HTTP/2 is known (None: offered, not shown yet)."""
        self.confirmed = source is not None or offered_only
        if offered_only and source is None:
            self.source = Source.OFFER
        self.how = ""
        """Why the connection is taken to speak HTTP/2 (a clause)."""
        self.pending: H2Message | None = None
        self.pending_end = 0
        self.requests = 0
        self.answered = 0
        self.last_request: H2Message | None = None
        self.last_answer: H2Message | None = None
        self._first: list[Reading] = []
        self._latest: collections.deque[Reading] = collections.deque(maxlen=MAX_READINGS)
        self.alert_frames: list[tuple[Direction, int]] = []
        """(direction, frame) of the records of an encrypted alert's exact size (the first few)."""
        self.goaway: Reading | None = None
        """The last GOAWAY-sized server record after the pending request."""
        self.overlaps: list[int] = []
        """Frames of requests sent while an earlier one the server had reacted to was unanswered."""
        self.unreadable = False
        """Record sizes cannot be read (a suite without a known AEAD overhead)."""
        self._client_first: Reading | None = None
        self._server_first: Reading | None = None
        self._server_reacted = False
        self.readers: tuple[FrameReader, FrameReader] | None = None
        """h2c: the frame readers of each direction (None over TLS)."""
        self._client_start = -1
        """Stream offset of the client's first record (-1: not yet)."""
        self._server_unprompted = False
        """The server's first record was sent before it had the client's first record."""
        self._awaiting_more = False
        """Inference waits for one more server control record to confirm HTTP/2."""

    # -- what the observer calls --------------------------------------------------------------

    def alpn(self, chosen: str | None) -> bool:
        """The server's ALPN choice seen in clear: True if it is h2 (keep tracking), else False."""
        if chosen == "h2":
            self.source, self.confirmed = Source.ALPN, True
            self.how = "the ServerHello's ALPN extension chose h2 (in clear, TLS 1.2)"
            return True
        return False

    def record(
        self, d: Direction, length: int, overhead: int | None, offset: int, frame: int, ts_ns: int, ack: int
    ) -> Kind | None:
        """A TLS application-data record after the handshake; None when sizes cannot be read."""
        if overhead is None:
            self.unreadable = True
            return None
        size = length - overhead
        if size == ALERT_SIZE:
            if not self.closing[d][0]:
                self.closing[d] = (ts_ns, frame)
            if len(self.alert_frames) < MAX_READINGS:
                self.alert_frames.append((d, frame))
            return None
        kind, what = self._by_size(d, size, offset, ack)
        self._apply(d, kind, what, size, length, offset, offset + 5 + length, frame, ts_ns, ack)
        return kind

    def frame(
        self, d: Direction, ftype: int, flags: int, size: int, offset: int, frame: int, ts_ns: int, ack: int
    ) -> Kind:
        """An h2c frame read in clear (``size`` counts its header)."""
        name = FRAME_NAMES.get(ftype, f"type {ftype}")
        if ftype in (SETTINGS, PING) and flags & ACK_FLAG:
            name += " ACK"
        if d is Direction.TO_SERVER:
            kind = Kind.REQUEST if ftype in (HEADERS, DATA, CONTINUATION) else Kind.CONTROL
        elif ftype in (HEADERS, DATA, CONTINUATION):
            kind = self._answer_or_not(ack)
        else:
            kind = Kind.CONTROL
        self._apply(
            d, kind, name, size, size, offset, offset + size, frame, ts_ns, ack, goaway=ftype == GOAWAY
        )
        return kind

    def preface(self, frame: int, ts_ns: int) -> None:
        """h2c: the client's first bytes are the connection preface."""
        self.source, self.confirmed = Source.PREFACE, True
        self.how = "the client's first bytes are the HTTP/2 connection preface (h2c, prior knowledge)"
        n = len(PREFACE)
        self._note(Reading(frame, ts_ns, Direction.TO_SERVER, n, n, Kind.PREFACE, "connection preface"))

    # -- reading sizes ------------------------------------------------------------------------

    def _by_size(self, d: Direction, size: int, offset: int, ack: int) -> tuple[Kind, str]:
        if d is Direction.TO_SERVER:
            if self._client_first is None:
                if size > CLIENT_PREFACE_MAX:
                    return Kind.REQUEST, "connection preface + SETTINGS + the first request"
                return Kind.PREFACE, "connection preface + SETTINGS"
            what = CONTROL_SIZES.get(size)
            return (Kind.CONTROL, what) if what else (Kind.REQUEST, "HEADERS/DATA")
        if self._server_first is None:
            what = SERVER_PREFACE_SIZES.get(size)
            if what is not None:
                return Kind.PREFACE, what
        what = CONTROL_SIZES.get(size)
        if what is not None:
            return Kind.CONTROL, what
        return self._answer_or_not(ack), "HEADERS/DATA"

    def _answer_or_not(self, ack: int) -> Kind:
        pending = self.pending
        if pending is not None and (ack < 0 or ack > pending.start):
            return Kind.ANSWER
        return Kind.UNPROMPTED

    def _apply(
        self,
        d: Direction,
        kind: Kind,
        what: str,
        size: int,
        length: int,
        offset: int,
        end: int,
        frame: int,
        ts_ns: int,
        ack: int,
        goaway: bool | None = None,
    ) -> None:
        reading = Reading(frame, ts_ns, d, size, length, kind, what)
        first = self._client_first is None if d is Direction.TO_SERVER else self._server_first is None
        if first:
            if d is Direction.TO_SERVER:
                self._client_first, self._client_start = reading, offset
            else:
                self._server_first = reading
                self._server_unprompted = self._client_start < 0 or 0 <= ack <= self._client_start
            self._infer()
        self._note(reading)
        pending = self.pending
        if d is Direction.TO_SERVER:
            if kind is Kind.REQUEST:
                if pending is None or self._server_reacted:
                    if pending is not None:
                        self.overlaps.append(frame)
                    self.pending = H2Message(frame, ts_ns, offset)
                    self.last_request = self.pending
                    self.requests += 1
                    self._server_reacted = False
                    self.goaway = None
                self.pending_end = end
            return
        after = pending is not None and (ack < 0 or ack > pending.start)
        if kind is Kind.ANSWER:
            self.answered += 1
            self.last_answer = H2Message(frame, ts_ns, offset)
            self.pending = None
            self._server_reacted = False
            return
        if kind is Kind.CONTROL and not self.confirmed and self._awaiting_more:
            self._confirm(f"followed by more control frames (frame {frame}, {size} bytes: {what})")
        if pending is not None and ack >= self.pending_end and kind in (Kind.CONTROL, Kind.PREFACE):
            self._server_reacted = True  # the server had the whole request and did not answer
        if after and (goaway if goaway is not None else size == GOAWAY_SIZE):
            self.goaway = reading

    def _infer(self) -> None:
        """TLS 1.3 with h2 offered among others: HTTP/2 when both sides open as RFC 9113 3.4 says,
        the client with a preface-sized record, the server with a SETTINGS-sized one that it sent
        before it had the client's first record (unprompted) or that more control frames follow."""
        c, s = self._client_first, self._server_first
        if self.confirmed or c is None or s is None:
            return
        if c.size < CLIENT_PREFACE_MIN or s.kind is not Kind.PREFACE:
            return
        if self._server_unprompted:
            self._confirm("sent before the server had the client's first record")
        else:
            self._awaiting_more = True

    def _confirm(self, why: str) -> None:
        c, s = self._client_first, self._server_first
        assert c is not None and s is not None
        self.source, self.confirmed, self._awaiting_more = Source.INFERRED, True, False
        offer = "the client offered h2" if self.offer_seen else "the snaplen hid the client's ALPN offer"
        self.how = (
            f"{self.choice_hidden}; {offer}, its first record "
            f"(frame {c.frame}, {c.size} bytes of plaintext) fits the 24-byte connection preface and a "
            f"SETTINGS frame, and the server's first (frame {s.frame}, {s.size} bytes) fits its "
            f"SETTINGS, {why}: both open as HTTP/2 does"
        )

    def _note(self, reading: Reading) -> None:
        if len(self._first) < MAX_READINGS:
            self._first.append(reading)
        else:
            self._latest.append(reading)

    @property
    def readings(self) -> list[Reading]:
        """The readings kept: the connection's first MAX_READINGS and its latest MAX_READINGS."""
        return [*self._first, *self._latest]

    # -- reading --------------------------------------------------------------------------------

    def controls_after(self, ts_ns: int, d: Direction = Direction.TO_CLIENT) -> list[Reading]:
        """The records of ``d`` taken as control frames (or the preface) at or after ``ts_ns``."""
        return [
            r
            for r in self.readings
            if r.direction is d and r.ts_ns >= ts_ns and r.kind in (Kind.CONTROL, Kind.PREFACE)
        ]


class FrameReader:
    """h2c: frame headers of one direction's clear byte stream, through hidden (snaplen) bytes.

    A frame whose first 4 header bytes (length and type) were seen is followed by its length; one
    whose header start is hidden loses the place until a later segment starts with a plausible
    header (``plausible``).
    """

    __slots__ = ("_head", "_head_at", "_left", "_preface", "lost")

    def __init__(self, preface: bool) -> None:
        self._preface = len(PREFACE) if preface else 0
        """Preface bytes still to pass over before the first frame (the client's direction)."""
        self._head = bytearray()
        self._head_at = 0
        self._left = 0
        """Payload bytes of the current frame still to come."""
        self.lost = False

    def feed(self, data: bytes, offset: int) -> list[tuple[int, int, int, int]]:
        """Frames whose header ends in ``data``: (type, flags, whole size, stream offset of the header)."""
        if self.lost:
            if not plausible(data):
                return []
            self.lost, self._left, self._head = False, 0, bytearray()
        out: list[tuple[int, int, int, int]] = []
        pos = 0
        if self._preface:
            take = min(self._preface, len(data))
            self._preface -= take
            pos = take
        while pos < len(data):
            if self._left:
                take = min(self._left, len(data) - pos)
                self._left -= take
                pos += take
                continue
            if not self._head:
                self._head_at = offset + pos
            need = FRAME_HEADER - len(self._head)
            self._head += data[pos : pos + need]
            pos += min(need, len(data) - pos)
            if len(self._head) == FRAME_HEADER:
                out.append(self._header_done())
        return out

    def skip(self, length: int) -> list[tuple[int, int, int, int]]:
        """``length`` bytes the snaplen hid: a frame whose length and type were seen goes on (its
        flags read 0 when they were hidden)."""
        out: list[tuple[int, int, int, int]] = []
        if self.lost or length <= 0:
            return out
        if self._preface:
            take = min(self._preface, length)
            self._preface -= take
            length -= take
        while length > 0:
            if self._head:
                missing = FRAME_HEADER - len(self._head)
                if len(self._head) < 4 or missing > length:
                    self.lost = True  # its length or type is hidden, or the stretch ends inside it
                    return out
                self._head += bytes(missing)  # flags and stream identifier: not needed
                length -= missing
                out.append(self._header_done())
                continue
            if not self._left:
                self.lost = True  # the next frame's header is hidden
                return out
            take = min(self._left, length)
            self._left -= take
            length -= take
        return out

    def _header_done(self) -> tuple[int, int, int, int]:
        head = self._head
        length = (head[0] << 16) | (head[1] << 8) | head[2]
        self._head = bytearray()
        self._left = length
        return head[3], head[4], FRAME_HEADER + length, self._head_at


_FIXED_LENGTH = {PRIORITY: 5, RST_STREAM: 4, PING: 8, WINDOW_UPDATE: 4}
_ON_CONNECTION = frozenset({SETTINGS, PING, GOAWAY})
"""Frame types sent on stream 0 only (RFC 9113 6.5, 6.7, 6.8); DATA, HEADERS, PRIORITY, RST_STREAM,
PUSH_PROMISE and CONTINUATION never are; WINDOW_UPDATE is either."""


def plausible(data: bytes) -> bool:
    """Whether a segment starts with a frame header a lost reader may take up (RFC 9113 4.1, 6): a
    known type, a length within the default SETTINGS_MAX_FRAME_SIZE (16384) and fitting the type, the
    reserved bit clear, and a stream identifier the type allows (0 for connection frames), within
    2^20 (what a young connection uses)."""
    if len(data) < FRAME_HEADER:
        return False
    ftype = data[3]
    length = (data[0] << 16) | (data[1] << 8) | data[2]
    stream = int.from_bytes(data[5:9], "big")
    if ftype > CONTINUATION or length > 1 << 14 or stream >> 31 or stream >= 1 << 20:
        return False
    if _FIXED_LENGTH.get(ftype, length) != length or (ftype == SETTINGS and length % SETTING):
        return False
    if ftype == GOAWAY and length < 8:
        return False
    if ftype == WINDOW_UPDATE:
        return True
    return (stream == 0) == (ftype in _ON_CONNECTION)
