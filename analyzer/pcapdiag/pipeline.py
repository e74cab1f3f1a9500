"""The composition root: frames -> decode -> connection table -> TLS observer -> classify -> report.

It is the only module that wires the packages together. Its Engine streams: each connection is
classified and handed back as soon as it is decided, so a live pipe gets verdicts while the capture
runs; it never reads, opens files, prints or exits (the driver and the CLI do).
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import ipaddress
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pcapdiag.capture import RawRecord, RecordBlock, TruncatedRecord
from pcapdiag.classify import Basis, ConnectionFacts, Context, Diagnosis, View, classify, facts_of
from pcapdiag.classify.facts import TranslationFacts
from pcapdiag.classify.timers import GIVE_UP_SLACK_NS
from pcapdiag.classify.vantage import capture_vantage, connection_vantage
from pcapdiag.correlate import CaptureInfo, match_captures, view_of
from pcapdiag.decode import Decoded, decode
from pcapdiag.decode.fast import tcp_fields
from pcapdiag.decode.packet import FIN, RST, IcmpError, Skipped, TcpSegment
from pcapdiag.decode.tcp import new_segment
from pcapdiag.filtering import FilterTally
from pcapdiag.flow import DEFAULT_MAX_FLOWS, Connection, FlowTable, Tracked, format_ip
from pcapdiag.flow.key import Endpoint, FlowKey, canonical
from pcapdiag.k8s import Finding, Inventory, IpKind, WebhookMatch
from pcapdiag.prose import HostPort
from pcapdiag.report import CaptureReport, ClockOffset, FlowReport, Report
from pcapdiag.report.build import build_flow, kube_context
from pcapdiag.report.model import FilteredOut, ServerSummary
from pcapdiag.report.paired import clock_offsets, paired_flows
from pcapdiag.report.servers import servers_of
from pcapdiag.tls import AppObserver

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from pcapdiag.decode.columns import Columns
    from pcapdiag.flow.groups import KeyColumns
    from pcapdiag.flow.walk import BlockLists

NS = 1_000_000_000
SWEEP_NS = NS
"""How often, in capture time, silent connections are looked at."""
LINGER_NS = NS
INACTIVITY_NS = 300 * NS
"""An open connection silent this long is decided whatever its state (zeek's tcp_inactivity_timeout):
idle keep-alive connections must not hold memory forever."""
"""A closed connection (both FINs, or a RST) is decided this long after its last packet at the latest."""
BLOCK_SAMPLE = 16
"""While blocks are too sparse for the block path (Options.block_density), every this many-th takes it
anyway, to see whether the traffic changed."""
LINKTYPE_DECODED = -1
"""The link type read_decoded() records for packets another engine decoded (never 'unknown')."""


@dataclass(frozen=True, slots=True)
class ServerFilter:
    """--server IP[:PORT]: keep connections whose server is this address (and port)."""

    ip: bytes
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> ServerFilter:
        """'198.18.0.2', '198.18.0.2:443', '2001:db8::1', '[2001:db8::1]:443'; ValueError if not."""
        host, port = text, None
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"bad server address {text!r}")
                port = int(rest[1:])
        elif text.count(":") == 1:
            host, port_text = text.split(":")
            port = int(port_text)
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"bad port in {text!r}")
        return cls(ipaddress.ip_address(host).packed, port)


@dataclass(frozen=True, slots=True)
class Options:
    """What to analyse and how long silence must last to count as a timeout."""

    timeout_s: float = 10.0
    ports: frozenset[int] = frozenset()
    servers: tuple[ServerFilter, ...] = ()
    max_flows: int = DEFAULT_MAX_FLOWS
    budget_s: float | None = None
    """The webhook's timeoutSeconds when known: timer inference judges give-ups against it."""
    fast_path: bool = True
    """Take the shortcuts for common frames and segments (same results); False: the general path
    for every packet (PCAPDIAG_NO_FAST_PATH=1), to check that the results are the same."""
    block_min: int = 64
    """Records a block needs for the block path (decoded into columns at once); a smaller one (a
    live pipe's trickle, a small capture) is taken record by record, with the same results. Tests
    set 1 to hold the block path itself to the per-packet path on small captures."""
    block_density: float = 24.0
    """TCP packets per connection a block must hold for the block path to pay (bulk transfers hold
    hundreds, a node's short webhook calls a dozen, a SYN flood one): measured on the blocks that take
    it, and sampled again every BLOCK_SAMPLE blocks. The results are the same either way; tests set 0."""

    def wants_segment(self, src: bytes, sport: int, dst: bytes, dport: int) -> bool:
        """Cheap pre-filter on either endpoint (roles are not known yet)."""
        if self.ports and sport not in self.ports and dport not in self.ports:
            return False
        if self.servers:
            return any(
                (f.ip == src and f.port in (None, sport)) or (f.ip == dst and f.port in (None, dport))
                for f in self.servers
            )
        return True

    def wants_connection(self, conn: Connection) -> bool:
        """Exact filter once roles are known: --port on either end, --server on the server."""
        if self.ports and conn.server[1] not in self.ports and conn.client[1] not in self.ports:
            return False
        if self.servers:
            return any(f.ip == conn.server[0] and f.port in (None, conn.server[1]) for f in self.servers)
        return True


class Container(Protocol):
    """What end() reads of a capture container: pcapdiag.capture's Capture, or tshark's FileInfo."""

    @property
    def format(self) -> str: ...
    @property
    def link_types(self) -> Collection[int]: ...
    @property
    def truncated(self) -> TruncatedRecord | None: ...
    @property
    def drops(self) -> int | None: ...
    @property
    def end_ns(self) -> int | None: ...
    @property
    def snaplen(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Decided:
    """A connection decided: its report, and (when the engine keeps them) its view for matching it
    against other captures of the same traffic."""

    flow: FlowReport
    view: View | None = None


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """What the engine counted over one capture."""

    packets: int
    tcp_packets: int
    malformed: int
    first_ns: int | None
    last_ns: int | None
    skipped: dict[str, int]
    """Frames decode() skipped, by reason."""
    undecoded: dict[int, int]
    """Frames per link type that decode() does not know."""
    capture_point: str | None
    """Where the capture was taken, as the decided connections' TTLs and handshake timing say."""
    cut: int
    """Connections left undecided because the snaplen cut what would decide them."""
    untracked: int
    """Connections not tracked because the table was full (--max-flows)."""
    duplicates: int
    """Packets captured twice (dropped)."""
    filtered: FilteredOut | None = None
    """What --port/--server left out (None when no filter was given)."""


@dataclass(slots=True)
class Engine:
    """The analysis of one capture, sans-IO: blocks of records (or decoded packets) in, decided
    connections out, as soon as each is decided.

    ``feed`` takes the records one read of the capture gave, ``advance`` moves capture time on
    without packets (a quiet live stream), and ``close`` decides what is left once no packet will
    come. Each returns the connections decided meanwhile, in the order they were decided; the
    engine keeps none of them.
    """

    path: str
    options: Options
    index: int = 0
    """This capture's place among several analysed together."""
    k8s: Inventory | None = None
    """--k8s: names for addresses and the webhooks connections call."""
    engine: str = "native"
    """What decoded the packets: 'native' (feed) or 'tshark' (feed_decoded); said in the report."""
    keep_views: bool = False
    """Give every decided connection's view too (several captures: to match them)."""
    on_address: Callable[[bytes], None] | None = None
    """When set (--redact): called with every address of the capture's TCP segments and ICMP errors,
    once each, in the order each first appears (source before destination), so pseudonyms follow the
    capture and a report and an extract of the same capture give an address the same one."""
    snaplen: int | None = None
    """The capture's snapshot length when it cuts packets (known when the capture is opened)."""
    sink: Callable[[Decided], None] | None = None
    """When set, every decided connection is handed to it the moment it is decided, and feed(),
    advance() and close() return none: a sweep that decides a second's worth of a SYN flood (50,000
    connections) then holds one report at a time, not all of them."""
    packets: int = 0
    tcp_packets: int = 0
    malformed: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    undecoded: Counter[int] = field(default_factory=Counter)
    vantage: Counter[str] = field(default_factory=Counter)
    """Connections whose TTLs and handshake timing say the capture was taken at the client / server."""
    cut: int = 0
    filtered: FilterTally = field(default_factory=FilterTally)
    """What --port/--server left out, counted where they reject a segment or a connection."""
    table: FlowTable = field(init=False)
    _out: list[Decided] = field(default_factory=list)
    _next_sweep: int = 0
    _blocks: int = 0
    """Blocks fed (the block path is sampled again every BLOCK_SAMPLE of them)."""
    _density: float = float("inf")
    """TCP packets per connection in the last block the block path took (unknown: infinite)."""
    _seen: set[bytes] = field(default_factory=set)
    _kernel_drops: int | None = None
    """The capture's drop count, once its statistics are read (at its end)."""
    _stopped_ns: int = 0
    """When the capture stopped, if its file says so (pcapng statistics): it may run past its last
    packet, which shows a dial's missing next SYN."""

    def __post_init__(self) -> None:
        self.table = FlowTable(self.options.max_flows, self._new_observer)

    @staticmethod
    def _new_observer(conn: Connection) -> AppObserver:
        return AppObserver(midstream=conn.midstream)

    # -- the engine's interface ------------------------------------------------------------------

    def feed(self, block: RecordBlock) -> list[Decided]:
        """Analyse a block of records, in capture order; the connections decided meanwhile."""
        if (
            self.options.fast_path
            and self.on_address is None
            and not self.options.servers
            and len(block) >= self.options.block_min
        ):
            self._blocks += 1
            dense = self._density >= self.options.block_density
            if not dense and self._blocks % BLOCK_SAMPLE:
                self._feed_records(block.records())
                return self._take()
            try:
                block.ts_array()
            except OverflowError:  # a time past 2262 (a damaged pcapng timestamp): no int64 column
                self._feed_records(block.records())
            else:
                self._feed_block(block)
        else:
            self._feed_records(block.records())
        return self._take()

    def feed_decoded(self, packets: Iterable[tuple[int, int, Decoded]]) -> list[Decided]:
        """feed() for packets another engine decoded (tshark): (frame number, time in ns, decoded)."""
        for number, ts, d in packets:
            if self.first_ns is None:
                self.first_ns = ts
            self.packets += 1
            if self.last_ns is None or ts > self.last_ns:
                self.last_ns = ts
            self.tcp_packets += self._decoded(number, ts, LINKTYPE_DECODED, d)
        return self._take()

    def advance(self, now_ns: int) -> list[Decided]:
        """Capture time is ``now_ns`` although no packet came (a quiet live stream: the driver moves
        the clock on by the wall-clock time since the last packet arrived, so silences still become
        verdicts); the connections that silence decides."""
        self.sweep(now_ns)
        return self._take()

    def close(self, capture: Container) -> tuple[list[Decided], CaptureStats]:
        """No more packets will come: decide every open connection; they, and what was counted."""
        self._kernel_drops = capture.drops
        self._stopped_ns = capture.end_ns or 0
        self.snaplen = capture.snaplen
        self.table.flush()
        self._finish(self.table.take_finished())
        return self._take(), self.stats()

    def stats(self) -> CaptureStats:
        """What has been counted so far."""
        return CaptureStats(
            packets=self.packets,
            tcp_packets=self.tcp_packets,
            malformed=self.malformed,
            first_ns=self.first_ns,
            last_ns=self.last_ns,
            skipped=dict(sorted(self.skipped.items())),
            undecoded=dict(sorted(self.undecoded.items())),
            capture_point=capture_vantage(self.vantage),
            cut=self.cut,
            untracked=self.table.untracked_flows,
            duplicates=self.table.duplicates,
            filtered=self.filtered.result() if self.options.ports or self.options.servers else None,
        )

    def _take(self) -> list[Decided]:
        out = self._out
        if out:
            self._out = []
        return out

    # -- the per-packet path ----------------------------------------------------------------------

    def _feed_records(self, records: Iterable[RawRecord]) -> None:
        """The per-packet loop over records as plain tuples.

        The common frame (decode.fast) skips decode() and the TcpSegment, and the common segment
        (Connection.receive_common) skips the general receive(); both give the same results as
        the general path, which ``Options.fast_path=False`` takes for every packet.
        """
        table = self.table
        opts = self.options
        wants = opts.wants_segment
        filtering = bool(opts.ports or opts.servers)
        fast = opts.fast_path
        feed_common = table.feed_common
        see = self._see if self.on_address is not None else None
        packets, tcp_packets, last_ns = self.packets, self.tcp_packets, self.last_ns
        try:
            for number, ts, linktype, data, _orig_len, _interface in records:
                if self.first_ns is None:
                    self.first_ns = ts
                packets += 1
                if last_ns is None or ts > last_ns:
                    last_ns = ts
                f = tcp_fields(linktype, data) if fast else None
                if see is not None and f is not None:
                    see(f[1], f[2])
                if (
                    f is not None
                    and (not filtering or wants(f[1], f[3], f[2], f[4]))
                    and feed_common(number, ts, f)
                ):
                    tcp_packets += 1
                    if ts >= self._next_sweep:
                        self.sweep(ts)  # feed_common never finishes a connection: only a sweep can
                else:
                    d = new_segment(*f) if f is not None else decode(linktype, data)
                    tcp_packets += self._decoded(number, ts, linktype, d)
        finally:
            self.packets, self.tcp_packets, self.last_ns = packets, tcp_packets, last_ns

    def _feed_block(self, block: RecordBlock) -> None:
        """The block path: the whole block decoded into columns at once (decode.columns), its TCP
        packets grouped by connection, and each established connection's packets walked in a row
        (flow.walk); only what may reach beyond one connection (SYN, FIN, RST, ICMP errors, new
        connections, anything decode.columns leaves to decode()) goes through the table one packet
        at a time, in capture order. Sweeps happen where the per-packet path has them: after the
        first TCP packet at or past the next sweep time. The result is the per-packet path's.
        """
        import numpy as np  # here, as the modules that need it: a small capture never does

        from pcapdiag.decode.columns import Columns
        from pcapdiag.flow.groups import KeyColumns
        from pcapdiag.flow.walk import BlockLists

        n = len(block)
        buf, starts, caplens = block.buffer()
        single = block.single_linktype
        cols = Columns(buf, starts, caplens, single if single is not None else block.linktypes)
        ts_arr = block.ts_array()
        ts = block.ts_ns
        if self.first_ns is None:
            self.first_ns = ts[0]
        self.packets += n
        latest = int(ts_arr.max())
        if self.last_ns is None or latest > self.last_ns:
            self.last_ns = latest
        first = block.first
        opts = self.options
        common = cols.common
        if opts.ports:
            ports = np.fromiter(opts.ports, np.int64)
            wanted = common & (np.isin(cols.sport, ports) | np.isin(cols.dport, ports))
        else:
            wanted = common
        # The rest, one at a time: decode() (an ICMP error, a tunnel, IP options, another link...).
        others: dict[int, Decoded] = {}
        linktypes = block.linktypes if single is None else None
        starts_l = starts if isinstance(starts, list) else None
        for i in np.flatnonzero(~common).tolist():
            at = starts_l[i] if starts_l is not None else int(starts[i])
            others[i] = decode(single if single is not None else linktypes[i], buf[at : at + int(caplens[i])])  # type: ignore[index]
        # Where the sweeps fall: after each TCP packet (that the filters keep) at or past the next sweep.
        tcp = wanted.copy()
        for i, d in others.items():
            if type(d) is TcpSegment and (
                not opts.ports or opts.wants_segment(d.src, d.sport, d.dst, d.dport)
            ):
                tcp[i] = True
        candidates = np.flatnonzero(tcp)
        cand_ts = ts_arr[candidates]
        points: list[int] = []
        nxt = self._next_sweep
        pos = 0
        while pos < len(candidates):
            hits = np.flatnonzero(cand_ts[pos:] >= nxt)
            if not len(hits):
                break
            j = pos + int(hits[0])
            points.append(int(candidates[j]))
            nxt = int(cand_ts[j]) + SWEEP_NS
            pos = j + 1
        keys = KeyColumns(cols)
        lists = BlockLists(cols, first, ts, _as_list(starts), _as_list(caplens))
        begin = 0
        ends = points if points and points[-1] == n - 1 else [*points, n - 1]
        for end in ends:
            # The last record of a stretch is the sweep's (the sweep is due after it), or the block's.
            sweep_due = end in points
            done = self._feed_stretch(
                begin, end, cols, keys, lists, wanted, others, single, linktypes, sweep_due
            )
            if not done:
                # Two connections' keys collided in the grouping hash: this stretch, one at a time.
                for i in range(begin, end + 1):
                    self._feed_one(i, cols, lists, wanted, others, single, linktypes, sweep_due and i == end)
            begin = end + 1

    def _feed_stretch(
        self,
        begin: int,
        end: int,
        cols: Columns,
        keys: KeyColumns,
        lists: BlockLists,
        wanted: npt.NDArray[np.bool_],
        others: dict[int, Decoded],
        single: int | None,
        linktypes: list[int] | None,
        sweep_due: bool,
    ) -> bool:
        """Records ``begin`` to ``end`` (a sweep falls only after the last, when ``sweep_due``): the
        established connections' packets walked, the rest one at a time in capture order; False
        (nothing done) when the grouping cannot tell two keys apart."""
        here = wanted[begin : end + 1].nonzero()[0] + begin
        groups = keys.groups(here)
        if groups is None:
            return False
        self._density = len(here) / len(groups) if groups else float("inf")
        # What a walk must stop before: a packet of the connection that decode() took, an ICMP
        # error about it, and for every connection an ICMP error whose quote the snaplen cut.
        stops: dict[FlowKey, list[int]] = {}
        barriers: list[int] = []
        for i, d in others.items():
            if i < begin or i > end:
                continue
            if type(d) is TcpSegment:
                key = canonical(d.src, d.sport, d.dst, d.dport)
            elif type(d) is IcmpError:
                if d.quote_cut:
                    barriers.append(i)
                    continue
                key = canonical(d.quoted_src, d.quoted_sport, d.quoted_dst, d.quoted_dport)
            else:
                continue
            stops.setdefault(key, []).append(i)
        barriers.sort()
        from pcapdiag.flow.walk import walk

        table = self.table
        open_ = table.open
        span = end - begin + 1
        done = bytearray(span)
        """Records of the stretch already taken by a walk."""
        member: list[int] = [-1] * span
        """Each record's group (-1: not a common TCP packet the filters keep)."""
        by_key: dict[FlowKey, int] = {}
        for g, group in enumerate(groups):
            by_key[group.key] = g
            for i in group.packets:
                member[i - begin] = g
        following = [0] * len(groups)
        """Each group's first packet neither walked nor taken one at a time yet."""
        touches: list[tuple[int, int]] = []
        """(last record walked, group): where a walked connection's last activity was."""
        walked: dict[int, Connection] = {}

        def walk_from(g: int, now: int) -> None:
            """Walk group ``g``'s next packets (the records up to ``now`` are done), if its
            connection is established and no packet that must go one at a time comes first."""
            group = groups[g]
            packets = group.packets
            at = following[g]
            if at >= len(packets):
                return
            entry = open_.get(group.key)
            if (
                type(entry) is not Connection
                or entry.client_side.stream.base is None
                or entry.server_side.stream.base is None
            ):
                return
            limit = end + 1
            for seq in (stops.get(group.key), barriers):
                if seq:
                    k = bisect.bisect_right(seq, now)
                    if k < len(seq) and seq[k] < limit:
                        limit = seq[k]
            stop = len(packets) if packets[-1] < limit else bisect.bisect_left(packets, limit, at)
            if stop <= at:
                return
            key = group.key
            taken, duplicates = walk(entry, packets[at:stop], lists, entry.client == (key[0], key[1]))
            if not taken:
                return
            table.duplicates += duplicates
            self.tcp_packets += taken
            for i in packets[at : at + taken]:
                done[i - begin] = 1
            following[g] = at + taken
            walked[g] = entry
            heapq.heappush(touches, (packets[at + taken - 1], g))

        for g in range(len(groups)):
            walk_from(g, begin - 1)
        last = -1
        for i in range(begin, end + 1):
            if done[i - begin]:
                continue
            while touches and touches[0][0] < i:
                g = heapq.heappop(touches)[1]
                self._touch(groups[g].key, walked[g])
            self._feed_one(i, cols, lists, wanted, others, single, linktypes, sweep_due and i == end)
            last = i
            g = member[i - begin]
            if g >= 0:
                following[g] += 1  # it was the group's next packet: the others before it are done
                walk_from(g, i)
            elif i in others:
                d = others[i]
                if type(d) is TcpSegment:
                    g = by_key.get(canonical(d.src, d.sport, d.dst, d.dport), -1)
                elif type(d) is IcmpError and not d.quote_cut:
                    g = by_key.get(canonical(d.quoted_src, d.quoted_sport, d.quoted_dst, d.quoted_dport), -1)
                if g >= 0:
                    walk_from(g, i)
                elif type(d) is IcmpError and d.quote_cut:
                    for g in range(len(groups)):
                        walk_from(g, i)
        while touches:
            g = heapq.heappop(touches)[1]
            self._touch(groups[g].key, walked[g])
        if sweep_due and last != end:
            self.sweep(lists.ts[end])  # the sweep's packet was walked: it is due now
        return True

    def _touch(self, key: FlowKey, entry: Connection) -> None:
        """A walked connection's last activity: to the end of the table's activity order, as the
        per-packet path would have moved it (unless it left the table meanwhile)."""
        if self.table.open.get(key) is entry:
            self.table.touch(entry)

    def _feed_one(
        self,
        i: int,
        cols: Columns,
        lists: BlockLists,
        wanted: npt.NDArray[np.bool_],
        others: dict[int, Decoded],
        single: int | None,
        linktypes: list[int] | None,
        sweep: bool,
    ) -> None:
        """Record ``i`` of a block through the table, as the per-packet path takes it; the sweep due
        after it too when ``sweep`` (the per-packet path has it in the same place)."""
        frame = lists.first + i
        ts = lists.ts[i]
        linktype = single if single is not None else linktypes[i]  # type: ignore[index]
        d = others.get(i)
        if d is not None:
            self.tcp_packets += self._decoded(frame, ts, linktype, d, sweep=sweep)
            return
        if not wanted[i]:
            if cols.common[i]:  # a common segment the filters leave out: counted as the per-packet path does
                src, dst = cols.src(i), cols.dst(i)
                sport, dport = int(cols.sport[i]), int(cols.dport[i])
                self.filtered.segment(src, sport, dst, dport, int(cols.flags[i]), int(cols.seq[i]))
            return
        at, length = lists.starts[i], lists.caplens[i]
        f = tcp_fields(linktype, lists.buf[at : at + length])  # the columns' fields, unpacked at once
        assert f is not None
        if self.table.feed_common(frame, ts, f):
            self.tcp_packets += 1
            if sweep:
                self.sweep(ts)
        else:
            self.tcp_packets += self._decoded(frame, ts, linktype, new_segment(*f), sweep=sweep)

    def _see(self, src: bytes, dst: bytes) -> None:
        """Register a packet's addresses in the order they first appear (--redact)."""
        seen = self._seen
        if src in seen and dst in seen:
            return
        assert self.on_address is not None
        for a in (src, dst):
            if a not in seen:
                seen.add(a)
                self.on_address(a)

    def _decoded(self, number: int, ts: int, linktype: int, d: Decoded, sweep: bool = True) -> int:
        """The general path for one decoded frame; 1 if it was a TCP segment counted, else 0.
        ``sweep`` False: the caller sweeps (the block path, at the same places)."""
        opts = self.options
        if self.on_address is not None:
            if type(d) is TcpSegment:
                self._see(d.src, d.dst)
            elif type(d) is IcmpError:
                self._see(d.reporter, d.quoted_src)
        filtering = bool(opts.ports or opts.servers)
        table = self.table
        if type(d) is TcpSegment:
            if filtering and not opts.wants_segment(d.src, d.sport, d.dst, d.dport):
                self.filtered.segment(d.src, d.sport, d.dst, d.dport, d.flags, d.seq)
                return 0
            conn = table.feed(number, ts, d)
            if conn is not None and d.flags & (FIN | RST) and conn.closed:
                table.evict(conn)  # decided now: a live stream reports it at once
            if sweep and ts >= self._next_sweep:
                self.sweep(ts)
            if table.finished:
                self._finish(table.take_finished(), ts)
            return 1
        if type(d) is IcmpError:
            if not filtering or opts.wants_segment(
                d.quoted_src, d.quoted_sport, d.quoted_dst, d.quoted_dport
            ):
                table.feed_icmp(number, ts, d)
        elif type(d) is Skipped:
            self.skipped[d.reason] += 1
            if d.malformed:
                self.malformed += 1
            elif d.reason == "unknown-linktype":
                self.undecoded[linktype] += 1
        return 0

    def _context(self, now_ns: int, final: bool) -> Context:
        return Context(
            now_ns=now_ns,
            timeout_ns=int(self.options.timeout_s * NS),
            final=final,
            budget_s=self.options.budget_s,
            snaplen=self.snaplen,
            kernel_drops=self._kernel_drops,
        )

    def sweep(self, now_ns: int) -> None:
        """Decide connections silent long enough, as of capture time ``now_ns``.

        Files call this as their packets' time advances; a live stream also calls it when the
        pipe goes quiet (the CLI moves capture time on by the wall-clock time since the last
        packet arrived).
        """
        self._next_sweep = now_ns + SWEEP_NS
        live = self._context(now_ns, final=False)
        done = self._context(now_ns, final=True)
        table = self.table
        # A client whose own timer equals --timeout closes right at it: half a second more keeps its
        # FIN in the connection (it is the evidence of which timer fired).
        idle = table.idle(now_ns, LINGER_NS, live.timeout_ns + GIVE_UP_SLACK_NS)
        for entry in sorted(idle, key=lambda c: c.first_frame):
            if entry.closed or now_ns - entry.last_ts >= INACTIVITY_NS:
                # Closed, or silent past any timer: no packet of it can change the story now.
                self._decide(entry, done, now_ns)
                continue
            if entry.checked_packets == entry.packets:
                if entry.recheck_at is None:
                    table.touch(entry)
                    continue
                if now_ns < entry.recheck_at:
                    continue
            conn = table.connection(entry)  # a HalfOpen's, built now: one at a time
            facts = self._facts(conn)
            webhook, is_service = self._webhook(
                facts.client.ip, facts.server.ip, facts.server.port, facts.app.sni
            )
            ctx = live if not is_service else dataclasses.replace(live, server_is_service=True)
            got = classify(facts, ctx, webhook=webhook)
            if isinstance(got, Diagnosis):
                table.evict(entry, finished=False)
                self._emit(conn, facts, got, ctx, webhook)
            else:
                entry.checked_packets, entry.recheck_at = entry.packets, got.recheck_at
                if got.recheck_at is None:
                    table.touch(entry)
        if table.finished:
            self._finish(table.take_finished(), now_ns)

    def _facts(self, conn: Connection) -> ConnectionFacts:
        translated = self.table.translated.get(conn.id)
        translation = None
        if translated is not None:
            other, client, server, original = translated
            translation = TranslationFacts(
                other_id=other, client=_hostport(client), server=_hostport(server), original=original
            )
        return facts_of(conn, translation)

    def _webhook(
        self, client_ip: str, server_ip: str, port: int, sni: str | None
    ) -> tuple[WebhookMatch | None, bool]:
        """The webhook --k8s ties a connection to, and whether its server address is a Service's."""
        if self.k8s is None:
            return None, False
        match = self.k8s.webhook_for(sni=sni, ip=server_ip, port=port)
        named = self.k8s.describe_ip(server_ip)
        return match, named is not None and named.kind is IpKind.SERVICE

    def _decide(self, entry: Tracked, ctx: Context, now_ns: int) -> None:
        """Decide a connection that will see no more packets, and hand it on."""
        self.table.evict(entry, finished=False)
        conn = self.table.connection(entry)
        facts = self._facts(conn)
        webhook, is_service = self._webhook(
            facts.client.ip, facts.server.ip, facts.server.port, facts.app.sni
        )
        if is_service:
            ctx = dataclasses.replace(ctx, server_is_service=True)
        got = classify(facts, ctx, webhook=webhook)
        assert isinstance(got, Diagnosis), "a final context always decides"
        self._emit(conn, facts, got, ctx, webhook)

    def _emit(
        self,
        conn: Connection,
        facts: ConnectionFacts,
        diagnosis: Diagnosis,
        ctx: Context,
        webhook: WebhookMatch | None,
    ) -> None:
        """Report a decided connection (unless the filters leave it out)."""
        self.table.translated.pop(conn.id, None)
        if not self.options.wants_connection(conn):
            self.filtered.connection(conn.server)
            return
        side = connection_vantage(conn)
        if side is not None:
            self.vantage[side] += 1
        kube = None
        if self.k8s is not None:
            kube, _ = kube_context(
                self.k8s, facts.client.ip, facts.server.ip, facts.server.port, facts.app.sni
            )
        keep = self.keep_views
        flow = build_flow(
            self.path,
            facts,
            diagnosis,
            kube=kube,
            basis=Basis(facts, ctx, webhook) if keep else None,
        )
        self.cut += diagnosis.cut
        view = view_of(self.index, facts, diagnosis.label) if keep else None
        decided = Decided(flow, view)
        if self.sink is not None:
            self.sink(decided)
        else:
            self._out.append(decided)

    def _finish(self, conns: list[Tracked], now_ns: int | None = None) -> None:
        # At the end (no ``now_ns``) the capture ran to its recorded stop time when later than its
        # last packet: the silence until then is as much evidence as the packets.
        at = now_ns if now_ns is not None else max(self.last_ns or 0, self._stopped_ns)
        ctx = self._context(at, final=True)
        for entry in sorted(conns, key=lambda c: c.first_frame):
            conn = self.table.connection(entry)  # a HalfOpen's, built now: one at a time
            facts = self._facts(conn)
            webhook, is_service = self._webhook(
                facts.client.ip, facts.server.ip, facts.server.port, facts.app.sni
            )
            here = dataclasses.replace(ctx, server_is_service=True) if is_service else ctx
            got = classify(facts, here, webhook=webhook)
            assert isinstance(got, Diagnosis), "a final context always decides"
            self._emit(conn, facts, got, here, webhook)


def _as_list(column: Sequence[int] | npt.NDArray[np.int64]) -> list[int]:
    return column if isinstance(column, list) else column.tolist()  # type: ignore[union-attr]


def _hostport(endpoint: Endpoint) -> HostPort:
    return HostPort(format_ip(endpoint[0]), endpoint[1])


CLIENT_WORDS = ("apiserver", "api-server", "kube-api", "client", "control-plane", "master")
SERVER_WORDS = ("webhook", "server", "pod", "backend")


def declared_role(name: str) -> str | None:
    """'client' or 'server' when a --side name says which end it is ('apiserver', 'webhook-pod')."""
    low = name.lower()
    if any(w in low for w in CLIENT_WORDS):
        return "client"
    if any(w in low for w in SERVER_WORDS):
        return "server"
    return None


@dataclass(frozen=True, slots=True)
class Paired:
    """Several captures analysed as views of the same traffic."""

    flows: list[FlowReport]
    captures: list[CaptureReport]
    offsets: tuple[ClockOffset, ...]


class Analysed(Protocol):
    """One capture's kept connections and their views (a FileResult, from this process or a worker)."""

    @property
    def flows(self) -> Sequence[FlowReport]: ...
    @property
    def facts(self) -> Sequence[View] | None: ...


def pair(
    analyses: Sequence[Analysed],
    reports: list[CaptureReport],
    names: list[str],
    named: list[bool] | None = None,
) -> Paired:
    """Match the connections of several analysed captures (kept flows and facts) into one view each;
    ``named`` says which names the user gave (--side), so they may declare the capture's role."""
    infos = [
        CaptureInfo(
            index=i,
            name=names[i],
            first_ns=r.first_ns,
            last_ns=r.last_ns,
            point=r.capture_point,
            declared=declared_role(names[i]) if named and named[i] else None,
            file_role=declared_role(r.path.rsplit("/", 1)[-1]),
        )
        for i, r in enumerate(reports)
    ]
    corr = match_captures(infos, [a.facts or [] for a in analyses])
    flows = {(i, f.id): f for i, a in enumerate(analyses) for f in a.flows}
    paths = [r.path for r in reports]
    captures = [
        dataclasses.replace(r, side=names[i], role=corr.roles[i], role_basis=corr.role_basis[i])
        for i, r in enumerate(reports)
    ]
    return Paired(paired_flows(corr, flows, paths), captures, clock_offsets(corr))


def assemble(
    captures: list[CaptureReport],
    flows: list[FlowReport],
    options: Options,
    untracked: int = 0,
    duplicates: int = 0,
    by_label: Counter[str] | None = None,
    redacted: bool = False,
    offsets: tuple[ClockOffset, ...] = (),
    by_where: Counter[str] | None = None,
    kubernetes_findings: tuple[Finding, ...] | None = None,
    cut_undecided: int = 0,
    servers: tuple[ServerSummary, ...] | None = None,
    filtered: FilteredOut | None = None,
) -> Report:
    """One report from the analyses of one or more captures (counts from ``by_label``, and the
    roll-up from ``servers``, when the flows themselves were streamed out and not kept)."""
    counts = by_label if by_label is not None else Counter(f.label.value for f in flows)
    return Report(
        captures=tuple(captures),
        flows=tuple(flows),
        by_label=dict(sorted(counts.items())),
        untracked_connections=untracked,
        duplicates=duplicates,
        timeout_s=options.timeout_s,
        redacted=redacted,
        clock_offsets=offsets,
        by_where=dict(sorted((by_where or Counter()).items())),
        kubernetes_findings=kubernetes_findings,
        cut_undecided=cut_undecided,
        servers=servers if servers is not None else servers_of(flows),
        filtered=filtered,
    )
