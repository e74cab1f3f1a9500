"""One connection's packets of a decoded block, taken in a row: receive()'s work, without a segment each.

The engine decodes a whole block into columns (decode.columns) and groups the packets by
connection. For a connection the table already holds, established in both directions, the packets
that cannot change anything but the connection itself (no SYN, FIN or RST) are walked here, in
order, straight from the columns. The common segment (an in-order ACK, with or without payload) is
taken inline with the connection's state in local variables, exactly as Connection.receive_common
would take it: its payload goes to the observer only when the observer asked for it (which reads a
steady TLS stream by its record headers alone). Any other segment goes through Connection.receive.
The walk stops at the first packet that may reach beyond the connection (a SYN, FIN or RST): that
one, and those after it, go through the connection table one at a time.
"""

from __future__ import annotations

from pcapdiag.decode.columns import Columns
from pcapdiag.decode.packet import ACK, FIN, RST, SYN, TcpSegment
from pcapdiag.decode.tcp import new_segment
from pcapdiag.flow.connection import (
    DUPLICATE_WINDOW_NS,
    MAX_LOGGED_PACKETS,
    RECENT_SIGNATURES,
    Connection,
    new_record,
)
from pcapdiag.flow.key import TO_CLIENT, TO_SERVER
from pcapdiag.flow.stream import HALF32, MASK32

_CLOSING = SYN | FIN | RST
_RECENT = 2 * RECENT_SIGNATURES
_WRAP = 1 << 32


class BlockLists:
    """A decoded block's columns as Python lists, converted once per block, and only when a walk
    first needs them (a block whose packets are never walked converts none)."""

    def __init__(
        self, cols: Columns, first: int, ts: list[int], starts: list[int], caplens: list[int]
    ) -> None:
        self.cols = cols
        self.buf = cols.buf
        self.first = first
        """Frame number of the block's first record."""
        self.ts = ts
        self.starts = starts
        """Where each record starts in ``buf``."""
        self.caplens = caplens
        self.ready = False
        """Whether the columns below have been converted (convert())."""
        self.frame: list[int] = []
        self.flags: list[int] = []
        self.seq: list[int] = []
        self.ack: list[int] = []
        self.window: list[int] = []
        self.pay_at: list[int] = []
        self.pay_len: list[int] = []
        self.seen_len: list[int] = []
        self.ip_id: list[int] = []
        self.opt_at: list[int] = []
        self.opt_len: list[int] = []
        self.src_first: list[bool] = []

    def convert(self) -> None:
        """Convert the columns a walk reads (once)."""
        cols = self.cols
        self.frame = list(range(self.first, self.first + len(self.ts)))
        self.flags = cols.flags.tolist()
        self.seq = cols.seq.tolist()
        self.ack = cols.ack.tolist()
        self.window = cols.window.tolist()
        self.pay_at = cols.pay_at.tolist()
        self.pay_len = cols.pay_len.tolist()
        self.seen_len = cols.seen_len.tolist()
        self.ip_id = cols.ip_id.tolist()
        self.opt_at = cols.opt_at.tolist()
        self.opt_len = cols.opt_len.tolist()
        self.src_first = cols.src_first.tolist()
        self.ready = True


def walk(conn: Connection, packets: list[int], lists: BlockLists, client_first: bool) -> tuple[int, int]:
    """Take ``packets`` (indices into the block, in capture order) of ``conn`` until one may reach
    beyond it; (how many were taken, how many of them were duplicates).

    ``client_first`` says whether the connection's client is the first end of its key (a packet
    whose source comes first in the key, ``src_first``, is then sent by the client).
    """
    if not lists.ready:
        lists.convert()
    flags_, src_first, window_, seq_, ack_ = lists.flags, lists.src_first, lists.window, lists.seq, lists.ack
    pay_len_, seen_len_, ts_, frame_ = lists.pay_len, lists.seen_len, lists.ts, lists.frame
    ip_id_, opt_at_, opt_len_, buf = lists.ip_id, lists.opt_at, lists.opt_len, lists.buf
    sides = conn.sides
    recent = conn._recent
    log = conn.log
    logged = len(log)
    observer = conn.observer
    duplicates = 0
    taken = 0
    # The state of both sides, in locals while the walk goes on (written back before anything else
    # reads it: the general path, and the end of the walk).
    c, s = sides
    cs, ss = c.stream, s.stream
    base = [cs.base, ss.base]
    nxt = [cs.next_off, ss.next_off]
    opaque = [c.opaque_until, s.opaque_until]
    acked = [c.acked_off, s.acked_off]
    count = [c.packets, s.packets]
    last = [c.last_ts, s.last_ts]
    sent = [c.bytes, s.bytes]
    last_data = [c.last_data_ts, s.last_data_ts]
    held = [bool(cs.pending), bool(ss.pending)]
    data_seen = [bool(c.first_data_frame), bool(s.first_data_frame)]
    acks_seen = ["A" in conn._letters, "a" in conn._letters]
    isn = [c.isn, s.isn]
    packets_ = conn.packets
    last_ts = conn.last_ts
    last_frame = conn.last_frame

    def save() -> None:
        for d, side in ((0, c), (1, s)):
            side.stream.next_off = nxt[d]
            side.opaque_until = opaque[d]
            side.acked_off = acked[d]
            side.packets = count[d]
            side.last_ts = last[d]
            side.bytes = sent[d]
            side.last_data_ts = last_data[d]
        conn.packets = packets_
        conn.last_ts = last_ts
        conn.last_frame = last_frame

    for i in packets:
        flags = flags_[i]
        if flags & _CLOSING:
            break
        taken += 1
        d = TO_SERVER if src_first[i] == client_first else TO_CLIENT
        p = 1 - d
        seq = seq_[i]
        payload_len = pay_len_[i]
        my_base = base[d]
        peer_base = base[p]
        ts_ns = ts_[i]
        frame = frame_[i]
        window = window_[i]
        at = opt_at_[i]
        sig = hash((d, seq, ack_[i], flags, payload_len, ip_id_[i], window, buf[at : at + opt_len_[i]]))
        my_next = nxt[d]
        if (
            not flags & ACK
            or not window
            or my_base is None
            or peer_base is None
            or not count[d]
            or (
                payload_len
                and ((seq - my_base) & MASK32 != my_next & MASK32 or seen_len_[i] != payload_len or held[d])
            )
        ):
            # Not the common segment: the general path, with a segment built from the columns.
            save()
            if not conn.receive(frame, ts_ns, _segment(lists, i, conn, d), d, sig):
                duplicates += 1
            for dd, side in ((0, c), (1, s)):
                base[dd] = side.stream.base
                nxt[dd] = side.stream.next_off
                opaque[dd] = side.opaque_until
                acked[dd] = side.acked_off
                count[dd] = side.packets
                last[dd] = side.last_ts
                sent[dd] = side.bytes
                last_data[dd] = side.last_data_ts
                held[dd] = bool(side.stream.pending)
                data_seen[dd] = bool(side.first_data_frame)
                isn[dd] = side.isn
            acks_seen[0] = "A" in conn._letters
            acks_seen[1] = "a" in conn._letters
            packets_ = conn.packets
            last_ts = conn.last_ts
            last_frame = conn.last_frame
            logged = len(log)
            observer = conn.observer
            continue
        if sig in recent:
            dup = False
            for j in range(0, len(recent), 2):
                if recent[j] == sig and ts_ns - recent[j + 1] <= DUPLICATE_WINDOW_NS:
                    dup = True
                    break
            if dup:
                conn.duplicates += 1
                duplicates += 1
                continue
        recent.append(sig)
        recent.append(ts_ns)
        if len(recent) > _RECENT:
            del recent[:2]
        packets_ += 1
        last_ts = ts_ns
        last_frame = frame
        count[d] += 1
        last[d] = ts_ns
        ack = ack_[i]
        pnext = nxt[p]
        rel = (ack - peer_base - pnext) & MASK32
        ack_off = pnext + rel - _WRAP if rel >= HALF32 else pnext + rel
        if ack_off > acked[d]:
            acked[d] = ack_off
        if payload_len:
            end = my_next + payload_len
            nxt[d] = end
            sent[d] += payload_len
            if end >= opaque[d]:
                if observer is None:
                    observer = conn._observer()
                at = lists.pay_at[i]
                opaque[d] = observer.feed(
                    d, lists.buf[at : at + payload_len], my_next, frame, ts_ns, acked[d]
                )
            if not data_seen[d]:
                side = sides[d]
                side.first_data_frame, side.first_data_ts = frame, ts_ns
                conn._letter("d", d is TO_SERVER)
                data_seen[d] = True
            last_data[d] = ts_ns
        elif not acks_seen[d]:
            conn._letter("a", d is TO_SERVER)  # the first ACK of this side
            acks_seen[d] = True
        if logged < MAX_LOGGED_PACKETS:
            my_isn = isn[d]
            peer_isn = isn[p]
            log.append(
                new_record(
                    frame,
                    ts_ns,
                    d,
                    flags,
                    (seq - my_isn) & MASK32 if my_isn is not None else _offset(seq, my_base, my_next),
                    (ack - (peer_isn if peer_isn is not None else peer_base)) & MASK32,
                    payload_len,
                    "",
                )
            )
            logged += 1
    save()
    return taken, duplicates


def _offset(seq: int, base: int, next_off: int) -> int:
    """ByteStream.offset(): a sequence number as a stream offset near ``next_off``."""
    rel = (seq - base - next_off) & MASK32
    return next_off + rel - _WRAP if rel >= HALF32 else next_off + rel


def _segment(lists: BlockLists, i: int, conn: Connection, direction: int) -> TcpSegment:
    """The TcpSegment of packet ``i`` (its addresses are the connection's own)."""
    src, dst = (conn.client, conn.server) if direction == TO_SERVER else (conn.server, conn.client)
    return new_segment(*lists.cols.segment_fields(i, src[0], dst[0]))
