"""The connection table: finds each segment's connection, splits reused 5-tuples, evicts by capture time."""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable

from pcapdiag.decode.fast import SegmentFields
from pcapdiag.decode.packet import ACK, FIN, RST, SYN, IcmpError, TcpSegment
from pcapdiag.decode.tcp import new_segment
from pcapdiag.flow.connection import DUPLICATE, REJECTED, Connection, StreamObserver
from pcapdiag.flow.key import TO_CLIENT, TO_SERVER, Endpoint, FlowKey, canonical, server_by_ports

DEFAULT_MAX_FLOWS = 100_000
"""Connections tracked at once; more are counted as untracked instead of growing memory. A SYN
flood fills the table with lone SYNs, held as HalfOpen entries of well under 1 KB; an
established connection costs more (its packet log and TLS state)."""
MAX_TOMBSTONES = 65_536
"""Finished connections remembered so that their stragglers (last ACKs, retransmitted FINs and
RSTs, SYN retransmissions, the second copy of a packet) do not open a new, mid-stream connection.
After a RST, or FINs from both sides, nothing but a new SYN starts a connection on that 5-tuple; a
connection finished while still open (decided by a timeout) may be picked up again by a later
request (keep-alive reuse)."""
LINGER_NS = 2_000_000_000
"""How long after an open connection was finished its stragglers may still carry payload."""
TRANSLATED_WINDOW_NS = 50_000_000
"""A capture taken with -i any on a host that translates addresses (a router, a node whose
kube-proxy forwards a service to a pod on another node) holds each forwarded packet twice: as it
came in and as it went out with new addresses. NAT rewrites addresses and ports, never the
initial sequence number or window of a SYN (an MSS clamp may rewrite its options), and forwarding
takes microseconds: two SYNs with another 4-tuple but the same ISN and window, within 50 ms, that kept one end
(or the client's port) are the same connection seen on both sides of the translation."""

Translation = tuple[int, Endpoint, Endpoint, bool]
"""The other view of a connection seen twice: (its connection id, client, server, and whether this
connection is the original view: its SYN was captured first, as it arrived before translation)."""


_HALF_OPEN = struct.Struct("<QQQIIIHHHHBBB")
"""A lone SYN's numbers, packed (HalfOpen): capture time, frame, connection id, seq, ack, payload
length, window, ports, IP ID, flags, TTL and family."""


class HalfOpen:
    """A connection that has sent one SYN and nothing else, held as that SYN: the Connection is
    built from it (the same one receive() would have built) when something needs it, and it
    answers what the table and the sweep ask of an open connection without being built.

    A SYN flood fills the table with these, so they are small: the SYN's numbers packed into one
    bytes object beside its addresses (shared with the table's key) and its options.
    """

    __slots__ = ("_numbers", "checked_packets", "dst", "extra", "id", "recheck_at", "src")
    closed = False
    packets = 1

    def __init__(self, conn_id: int, frame: int, ts_ns: int, seg: TcpSegment) -> None:
        self.id = conn_id
        numbers = (
            ts_ns,
            frame,
            conn_id,
            seg.seq,
            seg.ack,
            seg.payload_len,
            seg.window,
            seg.sport,
            seg.dport,
            seg.ip_id,
            seg.flags,
            seg.ttl,
            seg.family,
        )
        try:
            self._numbers: bytes | tuple[int, ...] = _HALF_OPEN.pack(*numbers)
        except struct.error:  # a time or frame number past 64 bits (a damaged capture): kept as they are
            self._numbers = numbers
        self.src = seg.src
        self.dst = seg.dst
        self.extra = (seg.options, seg.payload) if seg.payload else seg.options
        """The SYN's options, or (options, payload) when it carried data (TCP Fast Open)."""
        self.checked_packets = -1
        """See Connection.checked_packets."""
        self.recheck_at: int | None = None

    @property
    def seg(self) -> TcpSegment:
        """The SYN, as decode() gave it."""
        _, _, _, seq, ack, plen, window, sport, dport, ip_id, flags, ttl, family = self._fields()
        extra = self.extra
        options, payload = extra if isinstance(extra, tuple) else (extra, b"")
        return new_segment(
            family,
            self.src,
            self.dst,
            sport,
            dport,
            seq,
            ack,
            flags,
            window,
            payload,
            plen,
            ip_id,
            ttl,
            options,
        )

    def _fields(self) -> tuple[int, ...]:
        numbers = self._numbers
        return numbers if isinstance(numbers, tuple) else _HALF_OPEN.unpack(numbers)

    @property
    def ts_ns(self) -> int:
        """When its one packet was captured."""
        return self._fields()[0]

    @property
    def frame(self) -> int:
        """The frame of its SYN."""
        return self._fields()[1]

    @property
    def isn(self) -> int:
        """The SYN's sequence number."""
        return self._fields()[3]

    @property
    def last_ts(self) -> int:
        """When its one packet was captured (what Connection.last_ts would say)."""
        return self.ts_ns

    @property
    def first_frame(self) -> int:
        return self.frame

    @property
    def client(self) -> Endpoint:
        return self.src, self._fields()[7]

    @property
    def server(self) -> Endpoint:
        return self.dst, self._fields()[8]


Tracked = Connection | HalfOpen


CUT_ICMP_SCAN = 1024
"""Most recently active connections searched for the dial an ICMP error with a cut quote refers to."""


def _dialling(entry: Tracked) -> bool:
    """The connection has sent only SYNs and heard nothing back (an ICMP error may answer it)."""
    if isinstance(entry, HalfOpen):
        return True
    c, s = entry.client_side, entry.server_side
    return c.packets == c.syn_count > 0 and not s.packets


def _rejects(err: IcmpError) -> bool:
    """A destination-unreachable error that refuses a connection (not 'fragmentation needed')."""
    if err.family == 4:
        return err.icmp_type == 3 and err.icmp_code != 4
    return err.icmp_type == 1


"""An open connection as the table holds it."""


class FlowTable:
    """Demultiplexes segments into connections; finished connections queue up in ``finished``."""

    def __init__(
        self,
        max_flows: int = DEFAULT_MAX_FLOWS,
        observer_factory: Callable[[Connection], StreamObserver] | None = None,
    ) -> None:
        self.max_flows = max_flows
        self.observer_factory = observer_factory
        """Makes the observer a connection hands its payload to, when its first payload arrives."""
        self.open: dict[FlowKey, Tracked] = {}
        """Open connections, oldest activity first; a lone SYN is held as a HalfOpen."""
        self.finished: list[Tracked] = []
        """Connections that will see no more packets (split by a new SYN, evicted, or flushed);
        connection() builds the Connection of a HalfOpen among them."""
        self.untracked_flows = 0
        self.untracked_packets = 0
        self.orphan_icmp = 0
        self.duplicates = 0
        self.late_packets = 0
        """Packets of connections already finished (absorbed, not a new connection)."""
        self.translated: dict[int, Translation] = {}
        """Connections seen twice, before and after address translation: id -> the other view."""
        self._recent_syns: dict[tuple[int, int], tuple[int, int, Endpoint, Endpoint]] = {}
        """First SYNs of the last TRANSLATED_WINDOW_NS: (ISN, window) -> (time, id,
        client, server), oldest first."""
        self._tombstones: dict[FlowKey, tuple[int, int | None, bool]] = {}
        """Finished connections: key -> (last packet time, client ISN, closed)."""
        self._tombstone_order: deque[FlowKey] = deque()
        """The tombstones' keys, oldest first: the oldest is dropped by its key, in constant time
        (finding a dict's first live entry scans past the slots of those dropped before it: tens of
        microseconds per eviction once the tombstones are full)."""
        self._next_id = 1

    def feed(self, frame: int, ts_ns: int, seg: TcpSegment) -> Connection | None:
        """Account one segment; the connection it belongs to (None if untracked, a duplicate, or
        the lone SYN of a new connection, held as a HalfOpen)."""
        key = canonical(seg.src, seg.sport, seg.dst, seg.dport)
        entry = self.open.get(key)
        conn = self._connection(key, entry) if isinstance(entry, HalfOpen) else entry
        flags = seg.flags
        is_syn = flags & (SYN | ACK) == SYN
        if conn is not None and is_syn:
            cs = conn.client_side
            from_client = conn.client == (seg.src, seg.sport)
            answered_syn = cs.isn is None and cs.stream.base == (seg.seq + 1) & 0xFFFFFFFF
            if not from_client or (cs.isn != seg.seq and not answered_syn):
                # A new SYN with another ISN (or from the other end) reuses the 5-tuple; a SYN that
                # the SYN-ACK already seen acknowledges was merely captured after it (reordering).
                del self.open[key]
                self.finished.append(conn)
                conn = None
        if conn is None:
            tomb = self._tombstones.get(key)
            if tomb is not None and (
                seg.seq == tomb[1]
                if is_syn
                else tomb[2] or not seg.payload_len or ts_ns - tomb[0] < LINGER_NS
            ):
                self.late_packets += 1
                return None
            if len(self.open) >= self.max_flows:
                self.untracked_packets += 1
                if is_syn:
                    self.untracked_flows += 1
                return None
            if flags & (SYN | ACK | FIN | RST) == SYN:
                self._link_translated(self._next_id, ts_ns, seg)
                self.open[key] = HalfOpen(self._next_id, frame, ts_ns, seg)
                self._next_id += 1
                return None
            src, dst = (seg.src, seg.sport), (seg.dst, seg.dport)
            if flags & SYN:
                client, server, inferred = (src, dst, False) if not flags & ACK else (dst, src, False)
            else:
                server = server_by_ports(src, dst)
                client = dst if server == src else src
                inferred = True
            conn = Connection(
                self._next_id,
                client,
                server,
                inferred,
                midstream=not flags & SYN,
                observer_factory=self.observer_factory,
            )
            self._next_id += 1
        else:
            del self.open[key]  # keep self.open ordered by last activity
        self.open[key] = conn
        direction = TO_SERVER if (seg.src, seg.sport) == conn.client else TO_CLIENT
        if not conn.receive(frame, ts_ns, seg, direction):
            self.duplicates += 1
            return None
        return conn

    def _link_translated(self, conn_id: int, ts_ns: int, seg: TcpSegment) -> None:
        """Remember a connection's first SYN; link it to an earlier one it is a translated copy of."""
        recent = self._recent_syns
        while recent:
            oldest = next(iter(recent))
            if ts_ns - recent[oldest][0] <= TRANSLATED_WINDOW_NS:
                break
            del recent[oldest]
        client, server = (seg.src, seg.sport), (seg.dst, seg.dport)
        sig = (seg.seq, seg.window)
        prev = recent.pop(sig, None)
        if prev is not None and abs(ts_ns - prev[0]) <= TRANSLATED_WINDOW_NS:
            _, other, other_client, other_server = prev
            if (
                (other_client, other_server) != (client, server)
                and (other_client == client or other_server == server or other_client[1] == client[1])
                and other not in self.translated
            ):
                # The server rewritten (DNAT), the client (SNAT), or both with the client's port
                # kept (masquerade keeps it when it is free).
                self.translated[conn_id] = (other, other_client, other_server, False)
                self.translated[other] = (conn_id, client, server, True)
                return
        recent[sig] = (ts_ns, conn_id, client, server)

    def feed_common(self, frame: int, ts_ns: int, f: SegmentFields) -> bool:
        """feed() for a segment given as its fields, when it is the common kind that
        Connection.receive_common takes or one the full table does not track; False, with
        nothing changed, when feed() must take it."""
        src, dst, sport = f[1], f[2], f[3]
        key = (
            (src, sport, dst, f[4])
            if src < dst or (src == dst and sport <= f[4])
            else (dst, f[4], src, sport)
        )
        conn = self.open.get(key)
        if type(conn) is not Connection:
            if conn is not None or key in self._tombstones or len(self.open) < self.max_flows:
                return False  # a HalfOpen, or a new connection: feed() takes it
            self.untracked_packets += 1  # a full table: what feed() does, without a TcpSegment
            if f[7] & (SYN | ACK) == SYN:
                self.untracked_flows += 1
            return True
        client = conn.client
        to_server = src == client[0] and sport == client[1]
        result = conn.receive_common(frame, ts_ns, f, TO_SERVER if to_server else TO_CLIENT)
        if result == REJECTED:
            return False
        del self.open[key]  # keep self.open ordered by last activity
        self.open[key] = conn
        if result == DUPLICATE:
            self.duplicates += 1
        return True

    def feed_icmp(self, frame: int, ts_ns: int, err: IcmpError) -> Connection | None:
        """Attach an ICMP error to the connection whose packet it quotes.

        A destination-unreachable error quoting a connection the capture holds no packet of starts
        one: the packet it quotes never passed the capture point. That is what a reject on the
        client's own host looks like (kube-proxy's REJECT of a Service without endpoints answers the
        SYN in the host's output path, so only the ICMP error, on the loopback, is captured); the
        quoted packet's sender is taken for the client, as a refused SYN's is.
        """
        if err.quote_cut:
            return self._feed_cut_icmp(frame, ts_ns, err)
        key = canonical(err.quoted_src, err.quoted_sport, err.quoted_dst, err.quoted_dport)
        entry = self.open.get(key)
        conn = self._connection(key, entry) if isinstance(entry, HalfOpen) else entry
        if conn is None:
            if not _rejects(err) or key in self._tombstones or len(self.open) >= self.max_flows:
                self.orphan_icmp += 1
                return None
            conn = Connection(
                self._next_id,
                (err.quoted_src, err.quoted_sport),
                (err.quoted_dst, err.quoted_dport),
                False,
                observer_factory=self.observer_factory,
            )
            self._next_id += 1
            self.open[key] = conn
        conn.receive_icmp(frame, ts_ns, err)
        return conn

    def _feed_cut_icmp(self, frame: int, ts_ns: int, err: IcmpError) -> Connection | None:
        """An error whose quote the snaplen cut before the ports: it belongs to the one recent dial from
        the quoted source to a server whose address starts with the quoted destination bytes that were
        captured, when exactly one fits (an error comes back within a round trip of the SYN it quotes,
        so the most recently active connections are the ones to look at); else it is counted only."""
        fits: list[tuple[FlowKey, Tracked]] = []
        for n, (key, entry) in enumerate(reversed(self.open.items())):
            if n >= CUT_ICMP_SCAN:
                break
            if (
                entry.client[0] == err.quoted_src
                and entry.server[0].startswith(err.quoted_dst)
                and _dialling(entry)
            ):
                fits.append((key, entry))
        if len(fits) != 1:
            self.orphan_icmp += 1
            return None
        key, entry = fits[0]
        conn = self._connection(key, entry) if isinstance(entry, HalfOpen) else entry
        conn.receive_icmp(frame, ts_ns, err)
        return conn

    def evict(self, conn: Tracked, finished: bool = True) -> None:
        """Take an open connection out of the table (decided, or idle long enough): into ``finished``,
        or (``finished`` False) straight out, when the caller decides it at once."""
        key = canonical(conn.client[0], conn.client[1], conn.server[0], conn.server[1])
        if self.open.get(key) is conn:
            del self.open[key]
            if finished:
                self.finished.append(conn)
            isn = conn.isn if isinstance(conn, HalfOpen) else conn.client_side.isn
            if key not in self._tombstones:
                self._tombstone_order.append(key)
            self._tombstones[key] = (conn.last_ts, isn, conn.closed)
            if len(self._tombstones) > MAX_TOMBSTONES:
                del self._tombstones[self._tombstone_order.popleft()]

    def touch(self, conn: Tracked) -> None:
        """Move a connection to the back of the activity order (looked at, not yet decided)."""
        key = canonical(conn.client[0], conn.client[1], conn.server[0], conn.server[1])
        if self.open.get(key) is conn:
            del self.open[key]
            self.open[key] = conn

    def idle(self, now_ns: int, closed_after_ns: int, open_after_ns: int) -> list[Tracked]:
        """Open connections silent long enough to decide: closed ones after ``closed_after_ns``,
        the others after ``open_after_ns`` (oldest activity first; stops at the first recent one)."""
        out: list[Tracked] = []
        shortest = min(closed_after_ns, open_after_ns)
        for conn in self.open.values():
            quiet = now_ns - conn.last_ts
            if quiet < shortest:
                break
            if quiet >= open_after_ns or (conn.closed and quiet >= closed_after_ns):
                out.append(conn)
        return out

    def flush(self) -> None:
        """End of capture: every open connection is finished."""
        self.finished.extend(self.open.values())
        self.open.clear()

    def connection(self, conn: Tracked) -> Connection:
        """The Connection itself: a HalfOpen's is built afresh each time (and not kept), so a
        table full of them never holds their Connections all at once."""
        if not isinstance(conn, HalfOpen):
            return conn
        seg = conn.seg
        frame, ts_ns = conn.frame, conn.ts_ns
        built = Connection(
            conn.id,
            (seg.src, seg.sport),
            (seg.dst, seg.dport),
            False,
            midstream=False,
            observer_factory=self.observer_factory,
        )
        built.receive(frame, ts_ns, seg, TO_SERVER)
        return built

    def _connection(self, key: FlowKey, entry: HalfOpen) -> Connection:
        """The Connection a HalfOpen stands for, put in its place (same position in ``open``)."""
        conn = self.connection(entry)
        self.open[key] = conn
        return conn

    def take_finished(self) -> list[Tracked]:
        """Finished connections since the last call, oldest first."""
        out, self.finished = self.finished, []
        return out
