"""What --port and --server leave out of a capture: TCP packets, and the connections they open, by server.

The engine calls ``FilterTally.segment`` for each TCP segment the filters reject and
``FilterTally.connection`` for a connection they reject once its roles are known; the report says
how much was left out and to which servers, so that a filter that matched nothing does not look
like a quiet capture.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pcapdiag.decode.packet import ACK, SYN
from pcapdiag.flow import format_ip
from pcapdiag.prose import HostPort
from pcapdiag.report.model import FilteredOut

MAX_FILTERED_SERVERS = 100
"""Servers a capture's FilteredOut names (most connections first); the rest are counted."""
MAX_SEEN_SYNS = 200_000
"""Opening SYNs remembered to count a retransmitted SYN once; past it the memory starts over."""


@dataclass(slots=True)
class FilterTally:
    """Counts what the filters rejected in one capture."""

    packets: int = 0
    servers: Counter[tuple[bytes, int]] = field(default_factory=Counter)
    _syns: set[int] = field(default_factory=set)

    def segment(self, src: bytes, sport: int, dst: bytes, dport: int, flags: int, seq: int) -> None:
        """A TCP segment the filters left out; a SYN without ACK opens a connection to dst:dport."""
        self.packets += 1
        if flags & (SYN | ACK) != SYN:
            return
        seen = self._syns
        key = hash((src, sport, dst, dport, seq))
        if key in seen:
            return  # the same SYN again: a retransmission
        if len(seen) >= MAX_SEEN_SYNS:
            seen.clear()
        seen.add(key)
        self.servers[(dst, dport)] += 1

    def connection(self, server: tuple[bytes, int]) -> None:
        """A connection the exact filter left out once its roles were known (its segments passed the
        cheap filter on either endpoint, so they are not among ``packets``)."""
        self.servers[server] += 1

    def result(self) -> FilteredOut:
        """What was left out, for the capture's report."""
        top = self.servers.most_common(MAX_FILTERED_SERVERS)
        return FilteredOut(
            packets=self.packets,
            connections=sum(self.servers.values()),
            servers=tuple((HostPort(format_ip(ip), port), n) for (ip, port), n in top),
            server_count=len(self.servers),
        )


def merge(parts: list[FilteredOut]) -> FilteredOut | None:
    """Several captures' FilteredOut as one (None for none)."""
    if not parts:
        return None
    counts: Counter[HostPort] = Counter()
    for p in parts:
        for server, n in p.servers:
            counts[server] += n
    top = sorted(counts.items(), key=lambda x: (-x[1], str(x[0])))[:MAX_FILTERED_SERVERS]
    return FilteredOut(
        packets=sum(p.packets for p in parts),
        connections=sum(p.connections for p in parts),
        servers=tuple(top),
        server_count=max(len(counts), max(p.server_count for p in parts)),
    )
