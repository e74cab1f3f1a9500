"""Where a capture was taken: at the client's host, at the server's, or in between, from TTLs and timing.

Two independent signs, each from protocol behaviour: a host sends with an initial TTL of 64, 128
or 255 that routers then decrement, so the side whose packets still carry an initial value is the
local one; and a capture point sees its own host answer at once, so at the client the SYN-ACK comes
one round trip after the SYN while the ACK follows the SYN-ACK at once (and the reverse at the
server).
"""

from __future__ import annotations

from collections import Counter

from pcapdiag.flow import Connection

INITIAL_TTLS = frozenset({64, 128, 255})
"""Initial TTLs of Linux/macOS (64), Windows (128) and network gear (255)."""
RTT_RATIO = 4
"""One handshake gap must be this many times the other to call it a round trip."""


def connection_vantage(conn: Connection) -> str | None:
    """'client', 'server' or None for one connection that shows its handshake."""
    c, s = conn.client_side, conn.server_side
    votes = 0
    if c.ttl and s.ttl:
        if c.ttl in INITIAL_TTLS and s.ttl not in INITIAL_TTLS:
            votes += 1
        elif s.ttl in INITIAL_TTLS and c.ttl not in INITIAL_TTLS:
            votes -= 1
    if c.syn_frame and s.synack_frame and conn.log:
        ack_ts = next(
            (p.ts_ns for p in conn.log if p.direction == 0 and p.ts_ns >= s.synack_ts and not p.flags & 0x02),
            0,
        )
        if ack_ts:
            to_synack = s.synack_ts - c.syn_ts
            to_ack = ack_ts - s.synack_ts
            if to_synack > RTT_RATIO * max(to_ack, 1_000):
                votes += 1
            elif to_ack > RTT_RATIO * max(to_synack, 1_000):
                votes -= 1
    return "client" if votes > 0 else "server" if votes < 0 else None


def capture_vantage(votes: Counter[str]) -> str | None:
    """The capture point most connections agree on, if a clear majority does."""
    total = sum(votes.values())
    if not total:
        return None
    side, n = votes.most_common(1)[0]
    return side if n * 3 >= total * 2 else None
