"""One connection's packets of a decoded block, taken in a row: receive()'s work, without a segment each.

The engine decodes a whole block into columns (decode.columns) and groups the packets by
connection. For a connection the table already holds, established in both directions, the packets
that cannot change anything but the connection itself (no SYN, FIN or RST) are walked here, in
order, straight from the columns: the common segment (an in-order ACK, with or without payload)
inline, exactly as Connection.receive_common would take it, and any other through
Connection.receive. The walk stops at the first packet that may reach beyond the connection (a
SYN, FIN or RST): that one, and those after it, go through the connection table one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from pcapdiag.decode.packet import ACK, FIN, RST, SYN, TcpSegment
from pcapdiag.decode.tcp import new_segment
from pcapdiag.flow.connection import (
    DIRECTION_WEIGHT,
    DUPLICATE_WINDOW_NS,
    MAX_LOGGED_PACKETS,
    RECENT_SIGNATURES,
    Connection,
    new_record,
)
from pcapdiag.flow.key import TO_CLIENT, TO_SERVER
from pcapdiag.flow.stream import HALF32, MASK32

_M64 = (1 << 64) - 1
_CLOSING = SYN | FIN | RST


@dataclass(frozen=True, slots=True)
class BlockLists:
    """A decoded block's columns as Python lists (one conversion per block, not per packet)."""

    buf: bytes
    frame: list[int]
    ts: list[int]
    flags: list[int]
    seq: list[int]
    ack: list[int]
    window: list[int]
    pay_at: list[int]
    pay_len: list[int]
    seen_len: list[int]
    signature: list[int]
    src_first: list[bool]
    family: list[int]
    sport: list[int]
    dport: list[int]
    ip_id: list[int]
    ttl: list[int]
    opt_at: list[int]
    opt_len: list[int]


def walk(conn: Connection, packets: list[int], lists: BlockLists, client_first: bool) -> tuple[int, int]:
    """Take ``packets`` (indices into the block, in capture order) of ``conn`` until one may reach
    beyond it; (how many were taken, how many of them were duplicates).

    ``client_first`` says whether the connection's client is the first end of its key (a packet
    whose source comes first in the key, ``src_first``, is then sent by the client).
    """
    flags_ = lists.flags
    src_first = lists.src_first
    sides = conn.sides
    recent = conn._recent
    log = conn.log
    duplicates = 0
    taken = 0
    for i in packets:
        flags = flags_[i]
        if flags & _CLOSING:
            break
        taken += 1
        direction = TO_SERVER if src_first[i] == client_first else TO_CLIENT
        me = sides[direction]
        peer = sides[1 - direction]
        stream = me.stream
        base = stream.base
        peer_base = peer.stream.base
        seq = lists.seq[i]
        payload_len = lists.pay_len[i]
        nxt = stream.next_off
        ts_ns = lists.ts[i]
        frame = lists.frame[i]
        sig = (lists.signature[i] + direction * DIRECTION_WEIGHT) & _M64
        if (
            not flags & ACK
            or not lists.window[i]
            or base is None
            or peer_base is None
            or not me.packets
            or (
                payload_len
                and (
                    (seq - base) & MASK32 != nxt & MASK32
                    or lists.seen_len[i] != payload_len
                    or stream.pending
                )
            )
        ):
            # Not the common segment: the general path, with a segment built from the columns.
            if not conn.receive(frame, ts_ns, _segment(lists, i, conn, direction), direction, sig):
                duplicates += 1
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
        if len(recent) > 2 * RECENT_SIGNATURES:
            del recent[:2]
        conn.packets += 1
        conn.last_ts = ts_ns
        conn.last_frame = frame
        me.packets += 1
        me.last_ts = ts_ns
        ack = lists.ack[i]
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
                at = lists.pay_at[i]
                me.opaque_until = conn._observer().feed(
                    direction, lists.buf[at : at + payload_len], nxt, frame, ts_ns, me.acked_off
                )
            if not me.first_data_frame:
                me.first_data_frame, me.first_data_ts = frame, ts_ns
                conn._letter("d", direction is TO_SERVER)
            me.last_data_ts = ts_ns
        elif ("A" if direction is TO_SERVER else "a") not in conn._letters:
            conn._letter("a", direction is TO_SERVER)
        if len(log) < MAX_LOGGED_PACKETS:
            isn = me.isn
            pisn = peer.isn
            log.append(
                new_record(
                    frame,
                    ts_ns,
                    direction,
                    flags,
                    (seq - isn) & MASK32 if isn is not None else nxt,
                    (ack - (pisn if pisn is not None else peer_base)) & MASK32,
                    payload_len,
                    "",
                )
            )
    return taken, duplicates


def _segment(lists: BlockLists, i: int, conn: Connection, direction: int) -> TcpSegment:
    """The TcpSegment of packet ``i`` (its addresses are the connection's own)."""
    src, dst = (conn.client, conn.server) if direction == TO_SERVER else (conn.server, conn.client)
    buf = lists.buf
    at = lists.pay_at[i]
    opt = lists.opt_at[i]
    return new_segment(
        lists.family[i],
        src[0],
        dst[0],
        lists.sport[i],
        lists.dport[i],
        lists.seq[i],
        lists.ack[i],
        lists.flags[i],
        lists.window[i],
        buf[at : at + lists.seen_len[i]],
        lists.pay_len[i],
        lists.ip_id[i],
        lists.ttl[i],
        buf[opt : opt + lists.opt_len[i]],
    )
