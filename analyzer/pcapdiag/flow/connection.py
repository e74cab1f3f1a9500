"""One TCP connection, sans-IO: fed decoded segments with capture timestamps, it keeps the evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pcapdiag.capture.fastinit import slot_setters
from pcapdiag.decode.fast import SegmentFields
from pcapdiag.decode.packet import ACK, FIN, RST, SYN, IcmpError, TcpSegment
from pcapdiag.flow.key import TO_CLIENT, TO_SERVER, Direction, Endpoint
from pcapdiag.flow.stream import HALF32, MASK32, ByteStream, Piece

MAX_LOGGED_PACKETS = 64
"""Packets of a connection kept one by one for evidence; later ones are kept only if notable."""
MAX_NOTABLE_PACKETS = 64
"""Notable packets (SYN/FIN/RST, retransmissions, first data) kept after the first MAX_LOGGED_PACKETS."""
MAX_HISTORY = 48
"""Letters of zeek-style history kept."""
DUPLICATE_WINDOW_NS = 10_000_000
"""An identical segment seen again within 10 ms is the same packet captured twice (-i any sees a
packet on the veth and on the bridge). No TCP sender retransmits that fast: Linux's minimum RTO is
200 ms and its tail-loss probe waits at least 10 ms; a retransmission also carries a new IPv4 ID
and, with timestamps, a new TSval."""
RECENT_SIGNATURES = 8
"""Recent segment signatures remembered for duplicate detection."""
OPAQUE = 1 << 62
"""An observer's answer when it will never look at the direction's bytes again."""
REJECTED, ACCEPTED, DUPLICATE = 0, 1, 2
"""What Connection.receive_common did with a segment: left it to receive(), took it, or dropped
it as the same packet captured twice."""


def signature(
    direction: int, seq: int, ack: int, flags: int, payload_len: int, ip_id: int, window: int, options: bytes
) -> int:
    """The identity of a segment sent in ``direction``: a 64-bit hash of its header fields (equal
    segments hash equal; two different segments colliding within 10 ms of each other is out of
    reach in practice)."""
    return hash((direction, seq, ack, flags, payload_len, ip_id, window, options))


class StreamObserver(Protocol):
    """What a connection hands its in-order payload to (the TLS/HTTP observer, wired by the pipeline)."""

    def feed(
        self,
        direction: Direction,
        data: bytes,
        offset: int,
        frame: int,
        ts_ns: int,
        ack_offset: int,
    ) -> int:
        """New in-order bytes of ``direction`` starting at stream ``offset``.

        ``data`` starts at a segment boundary: the first byte of a segment, or where an earlier
        segment ended (a retransmission that overlaps bytes already seen). It may run on over
        several segments (out-of-order ones drained at once).

        ``ack_offset`` is how much of the other direction's stream the sender had acknowledged
        in the segment that completed these bytes (-1 when unknown).

        Returns the stream offset up to which the observer does not look at the bytes (the end
        of an application-data record it is inside, say): a later in-order segment that ends
        before it need not be fed at all. 0 when it wants every byte.
        """

    def cut(
        self,
        direction: Direction,
        offset: int,
        length: int,
        frame: int,
        ts_ns: int,
        ack_offset: int,
    ) -> int:
        """``length`` in-order bytes of ``direction`` at stream ``offset`` were sent, and their packet
        was captured, but the snaplen cut them off: they are not visible.

        A cut segment is handed over as feed() of its visible prefix (when it has one) and then
        cut() of the rest; bytes that follow in order continue at ``offset + length``. This is not
        a gap: nothing is missing from the stream's length. Like every feed(), the feed() that
        follows starts at a segment boundary (a segment's first byte, or where the previous
        segment ended), which is where a reader that lost its place may look for a header.

        Returns what feed() returns.
        """

    def gap(self, direction: Direction) -> None:
        """Bytes of ``direction`` were never captured: the stream is no longer contiguous."""


class _NullObserver:
    """Discards payload: used when nobody asked to observe it."""

    def feed(
        self, direction: Direction, data: bytes, offset: int, frame: int, ts_ns: int, ack_offset: int
    ) -> int:
        """Ignore the bytes, and every later one."""
        return OPAQUE

    def cut(
        self, direction: Direction, offset: int, length: int, frame: int, ts_ns: int, ack_offset: int
    ) -> int:
        """Ignore the hidden bytes, and every later one."""
        return OPAQUE

    def gap(self, direction: Direction) -> None:
        """Ignore the gap."""


@dataclass(frozen=True, slots=True)
class PacketRecord:
    """One packet of a connection, as evidence: what it carried and where it sits in the capture."""

    frame: int
    ts_ns: int
    direction: Direction
    flags: int
    seq: int
    """Relative sequence number (0 = the sender's ISN, as Wireshark shows it)."""
    ack: int
    """Relative acknowledgment number (0 when the ACK flag is off or the peer's ISN is unknown)."""
    payload_len: int
    note: str = ""
    """'retransmission', 'syn-retransmission', 'out-of-order', or ''."""


_new = object.__new__
_frame, _ts_ns, _direction, _flags, _seq, _ack, _payload_len, _note = slot_setters(PacketRecord)


def new_record(
    frame: int, ts_ns: int, direction: Direction, flags: int, seq: int, ack: int, payload_len: int, note: str
) -> PacketRecord:
    """The same as PacketRecord(...) with every field given, faster (see capture.fastinit)."""
    record: PacketRecord = _new(PacketRecord)
    _frame(record, frame)
    _ts_ns(record, ts_ns)
    _direction(record, direction)
    _flags(record, flags)
    _seq(record, seq)
    _ack(record, ack)
    _payload_len(record, payload_len)
    _note(record, note)
    return record


@dataclass(frozen=True, slots=True)
class IcmpRecord:
    """An ICMP/ICMPv6 error that quotes one of this connection's packets."""

    frame: int
    ts_ns: int
    family: int
    icmp_type: int
    icmp_code: int
    reporter: bytes


class Side:
    """What one endpoint has sent: flags, counts, timings and its byte stream."""

    __slots__ = (
        "acked_off",
        "bytes",
        "fin_frame",
        "fin_ts",
        "first_data_frame",
        "first_data_ts",
        "isn",
        "last_data_ts",
        "last_ts",
        "opaque_until",
        "packets",
        "retransmissions",
        "rst_frame",
        "rst_ts",
        "stream",
        "syn_count",
        "syn_frame",
        "syn_ts",
        "synack_frame",
        "synack_ts",
        "ttl",
    )

    def __init__(self) -> None:
        self.stream = ByteStream()
        self.isn: int | None = None
        self.syn_count = 0
        self.syn_frame = 0
        self.syn_ts = 0
        self.synack_frame = 0
        self.synack_ts = 0
        self.ttl = 0
        """IPv4 TTL / IPv6 hop limit of this side's first packet (0: none seen)."""
        self.fin_frame = 0
        self.fin_ts = 0
        self.rst_frame = 0
        self.rst_ts = 0
        self.first_data_frame = 0
        self.first_data_ts = 0
        self.last_data_ts = 0
        self.last_ts = 0
        self.packets = 0
        self.bytes = 0
        """Payload bytes on the wire, retransmissions excluded."""
        self.retransmissions = 0
        self.acked_off = -1
        """Highest offset of the other direction's stream this side acknowledged (-1: none)."""
        self.opaque_until = 0
        """The observer does not look at this side's bytes before this stream offset (see
        StreamObserver.feed): in-order segments ending before it are counted, not fed."""


class Connection:
    """A client-to-server TCP connection and all the evidence an observer can keep about it."""

    __slots__ = (
        "_letters",
        "_recent",
        "checked_packets",
        "client",
        "client_inferred",
        "duplicates",
        "first_frame",
        "first_ts",
        "history",
        "icmp",
        "id",
        "last_frame",
        "last_ts",
        "log",
        "midstream",
        "observer",
        "observer_factory",
        "packets",
        "recheck_at",
        "server",
        "sides",
        "snapped",
    )

    def __init__(
        self,
        conn_id: int,
        client: Endpoint,
        server: Endpoint,
        inferred: bool,
        midstream: bool = False,
        observer_factory: Callable[[Connection], StreamObserver] | None = None,
    ) -> None:
        self.id = conn_id
        self.client = client
        self.server = server
        self.client_inferred = inferred
        """True when no SYN or SYN-ACK said who the client is (roles guessed from the ports)."""
        self.sides = (Side(), Side())
        """Indexed by Direction: sides[TO_SERVER] is the client, sides[TO_CLIENT] the server."""
        self.first_frame = 0
        self.last_frame = 0
        self.first_ts = 0
        self.last_ts = 0
        self.packets = 0
        self.duplicates = 0
        self.snapped = 0
        """Packets whose payload the snaplen cut (fewer bytes captured than the IP length says were sent)."""
        self.history = ""
        self.log: list[PacketRecord] = []
        self.icmp: list[IcmpRecord] = []
        self.midstream = midstream
        """The first packet was neither a SYN nor a SYN-ACK: the capture began mid-connection."""
        self.observer: StreamObserver | None = None
        """Made by ``observer_factory`` when the first payload (or gap) arrives."""
        self.observer_factory = observer_factory
        self._recent: list[int] = []
        """Recent segments, both directions: hash, capture time, hash, capture time, ..."""
        self._letters = ""
        self.checked_packets = -1
        """The packet count when a sweep last found the connection undecided (-1: never): until a
        packet comes, it is looked at again only at ``recheck_at`` (None: only when a packet comes)."""
        self.recheck_at: int | None = None

    # -- feeding -------------------------------------------------------------------------

    def receive(
        self, frame: int, ts_ns: int, seg: TcpSegment, direction: Direction, sig: int | None = None
    ) -> bool:
        """Account one segment sent in ``direction``; False if it was a duplicate capture.

        ``sig`` is the segment's signature (see signature()) when the caller has it already.
        """
        if sig is None:
            sig = signature(
                direction, seg.seq, seg.ack, seg.flags, seg.payload_len, seg.ip_id, seg.window, seg.options
            )
        recent = self._recent
        if sig in recent:
            for i in range(0, len(recent), 2):
                if recent[i] == sig and ts_ns - recent[i + 1] <= DUPLICATE_WINDOW_NS:
                    self.duplicates += 1
                    return False
        recent += (sig, ts_ns)
        if len(recent) > 2 * RECENT_SIGNATURES:
            del recent[:2]

        if not self.packets:
            self.first_frame = frame
            self.first_ts = ts_ns
        self.packets += 1
        self.last_ts = ts_ns
        self.last_frame = frame
        me = self.sides[direction]
        peer = self.sides[1 - direction]
        if not me.packets:
            me.ttl = seg.ttl
        me.packets += 1
        me.last_ts = ts_ns
        flags = seg.flags
        # A SYN without ACK (RST wins over SYN, as for Linux); a bare ACK or data segment.
        syn_only = flags & (RST | SYN | ACK) == SYN
        plain = not flags & (RST | SYN | FIN)
        upper = direction is TO_SERVER
        note = ""

        if flags & SYN:
            if me.isn is None or me.isn != seg.seq:
                if me.isn is not None:
                    note = "new-isn"
                me.isn = seg.seq
                me.stream.base = (seg.seq + 1) & MASK32
                me.stream.next_off = 0
                me.opaque_until = 0
                self._letter("s" if syn_only else "h", upper, repeat=True)
            else:
                note = "syn-retransmission"
            if syn_only:
                me.syn_count += 1
                if not me.syn_frame:
                    me.syn_frame, me.syn_ts = frame, ts_ns
            elif not me.synack_frame:
                me.synack_frame, me.synack_ts = frame, ts_ns
        stream = me.stream
        if stream.base is None:
            stream.base = seg.seq & MASK32
        off = stream.offset(seg.seq) if not flags & SYN else 0
        if flags & ACK and peer.stream.base is not None:
            ack_off = peer.stream.offset(seg.ack)
            if ack_off > me.acked_off:
                me.acked_off = ack_off
        elif flags & ACK:
            # Peer's stream not anchored yet (mid-stream start): anchor it at this ACK.
            peer.stream.base = seg.ack & MASK32
            me.acked_off = 0
        if seg.window == 0 and not flags & (SYN | RST):
            self._letter("w", upper)

        data = seg.payload
        if seg.payload_len and not flags & RST:
            gaps_before = stream.gaps
            pieces: list[Piece] | None = None
            if len(data) < seg.payload_len or stream.holds_cut:
                # The snaplen cut the payload (or cut an earlier one still in play): not a loss. The
                # stream moves by wire lengths and the observer is told what it cannot see.
                if len(data) < seg.payload_len:
                    self.snapped += 1
                pieces, old = stream.accept_cut(off, data, seg.payload_len)
                fresh = b""
            else:
                fresh, old = stream.accept(off, data)
            if stream.gaps != gaps_before:
                self._letter("g", upper)
                self._observer().gap(direction)
            if old:
                me.retransmissions += 1
                note = note or "retransmission"
                self._letter("t", upper)
            elif pieces:
                self._deliver_pieces(direction, pieces, frame, ts_ns, me)
            elif fresh:
                self._deliver(direction, fresh, stream.next_off - len(fresh), frame, ts_ns, me)
            else:
                note = note or "out-of-order"
            if not me.first_data_frame:
                me.first_data_frame, me.first_data_ts = frame, ts_ns
                self._letter("d", upper)
            me.last_data_ts = ts_ns
        elif plain:
            self._letter("a", upper)

        if flags & FIN:
            fin_off = off + seg.payload_len
            if stream.fin_off is None or stream.fin_off != fin_off:
                stream.fin_off = fin_off
                self._letter("f", upper, repeat=True)
            if not me.fin_frame:
                me.fin_frame, me.fin_ts = frame, ts_ns
        if flags & RST and not me.rst_frame:
            me.rst_frame, me.rst_ts = frame, ts_ns
            self._letter("r", upper, repeat=True)

        if len(self.log) < MAX_LOGGED_PACKETS + MAX_NOTABLE_PACKETS and (
            len(self.log) < MAX_LOGGED_PACKETS or note or flags & (SYN | FIN | RST)
        ):
            self.log.append(
                new_record(
                    frame,
                    ts_ns,
                    direction,
                    flags,
                    (seg.seq - me.isn) & MASK32 if me.isn is not None else off,
                    self._relative_ack(seg.ack, peer) if flags & ACK else 0,
                    seg.payload_len,
                    note,
                )
            )
        return True

    def receive_common(
        self, frame: int, ts_ns: int, f: SegmentFields, direction: Direction, sig: int | None = None
    ) -> int:
        """receive() for the common segment, in a fraction of its time: an ACK, with or without
        in-order payload, without SYN, FIN or RST, and with a window, of a connection both of
        whose streams are anchored, from a side already seen.

        Returns REJECTED, before changing anything, for any other segment (receive() takes it);
        else ACCEPTED or DUPLICATE, with exactly the effects receive() would have had.
        """
        flags = f[7]
        if flags & (SYN | FIN | RST) or not flags & ACK or not f[8]:
            return REJECTED  # SYN/FIN/RST, no ACK, or a zero window
        me = self.sides[direction]
        peer = self.sides[1 - direction]
        stream = me.stream
        base = stream.base
        peer_base = peer.stream.base
        if base is None or peer_base is None or not me.packets:
            return REJECTED
        seq = f[5]
        payload_len = f[10]
        nxt = stream.next_off
        if payload_len and (
            (seq - base) & MASK32 != nxt & MASK32  # not the next byte: retransmission, reordering
            or len(f[9]) != payload_len  # the snaplen cut it
            or stream.pending
        ):
            return REJECTED
        ack = f[6]
        if sig is None:
            sig = signature(direction, seq, ack, flags, payload_len, f[11], f[8], f[13])
        recent = self._recent
        if sig in recent:
            for i in range(0, len(recent), 2):
                if recent[i] == sig and ts_ns - recent[i + 1] <= DUPLICATE_WINDOW_NS:
                    self.duplicates += 1
                    return DUPLICATE
        recent.append(sig)
        recent.append(ts_ns)
        if len(recent) > 2 * RECENT_SIGNATURES:
            del recent[:2]
        self.packets += 1
        self.last_ts = ts_ns
        self.last_frame = frame
        me.packets += 1
        me.last_ts = ts_ns
        pnext = peer.stream.next_off
        rel = (ack - peer_base - pnext) & MASK32
        ack_off = pnext + rel - (1 << 32) if rel >= HALF32 else pnext + rel
        if ack_off > me.acked_off:
            me.acked_off = ack_off
        if payload_len:
            end = nxt + payload_len
            stream.next_off = end
            me.bytes += payload_len
            if end >= me.opaque_until:
                me.opaque_until = self._observer().feed(direction, f[9], nxt, frame, ts_ns, me.acked_off)
            if not me.first_data_frame:
                me.first_data_frame, me.first_data_ts = frame, ts_ns
                self._letter("d", direction is TO_SERVER)
            me.last_data_ts = ts_ns
        elif ("A" if direction is TO_SERVER else "a") not in self._letters:
            self._letter("a", direction is TO_SERVER)  # the first ACK of this side
        log = self.log
        if len(log) < MAX_LOGGED_PACKETS:
            isn = me.isn
            pisn = peer.isn
            log.append(
                new_record(
                    frame,
                    ts_ns,
                    direction,
                    flags,
                    (seq - isn) & MASK32 if isn is not None else stream.offset(seq),
                    (ack - (pisn if pisn is not None else peer_base)) & MASK32,
                    payload_len,
                    "",
                )
            )
        return ACCEPTED

    def receive_icmp(self, frame: int, ts_ns: int, err: IcmpError) -> None:
        """Attach an ICMP error that quotes this connection's packet."""
        self.icmp.append(
            IcmpRecord(
                frame=frame,
                ts_ns=ts_ns,
                family=err.family,
                icmp_type=err.icmp_type,
                icmp_code=err.icmp_code,
                reporter=err.reporter,
            )
        )
        if not self.packets and not self.first_frame:
            self.first_frame, self.first_ts = frame, ts_ns
        self.last_ts = max(self.last_ts, ts_ns)
        self.last_frame = max(self.last_frame, frame)

    @staticmethod
    def _relative_ack(ack: int, peer: Side) -> int:
        """An ACK number relative to the peer's ISN (or its first sequence seen mid-stream)."""
        if peer.isn is not None:
            return (ack - peer.isn) & MASK32
        if peer.stream.base is not None:
            return (ack - peer.stream.base) & MASK32
        return 0

    def _deliver(
        self, direction: Direction, data: bytes, offset: int, frame: int, ts_ns: int, me: Side
    ) -> None:
        me.bytes += len(data)
        if data:
            me.opaque_until = self._observer().feed(direction, data, offset, frame, ts_ns, me.acked_off)

    def _deliver_pieces(
        self, direction: Direction, pieces: list[Piece], frame: int, ts_ns: int, me: Side
    ) -> None:
        """_deliver() for pieces of a stream the snaplen cut: visible bytes are fed, hidden ones
        announced with cut(); both count as bytes on the wire."""
        observer = self._observer()
        for offset, data, unseen in pieces:
            me.bytes += len(data) + unseen
            if data:
                me.opaque_until = observer.feed(direction, data, offset, frame, ts_ns, me.acked_off)
            if unseen:
                me.opaque_until = observer.cut(
                    direction, offset + len(data), unseen, frame, ts_ns, me.acked_off
                )

    def _observer(self) -> StreamObserver:
        """The payload observer, made on first use (a connection without payload needs none)."""
        if self.observer is None:
            self.observer = self.observer_factory(self) if self.observer_factory else _NullObserver()
        return self.observer

    def _letter(self, letter: str, upper: bool, repeat: bool = False) -> None:
        """Append a zeek history letter; most letters appear once per direction."""
        ch = letter.upper() if upper else letter
        if not repeat and ch in self._letters:
            return
        if ch not in self._letters:
            self._letters += ch
        if len(self.history) < MAX_HISTORY:
            self.history += ch

    # -- reading -------------------------------------------------------------------------

    @property
    def client_side(self) -> Side:
        """What the client sent."""
        return self.sides[TO_SERVER]

    @property
    def server_side(self) -> Side:
        """What the server sent."""
        return self.sides[TO_CLIENT]

    @property
    def history_string(self) -> str:
        """Zeek-style history: upper case from the client, lower case from the server."""
        return self.history

    @property
    def closed(self) -> bool:
        """Either side reset, or both sides sent FIN."""
        c, s = self.client_side, self.server_side
        return bool(c.rst_frame or s.rst_frame or (c.fin_frame and s.fin_frame))
