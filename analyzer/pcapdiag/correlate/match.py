"""Match connections across captures by initial sequence numbers, ports and time, and estimate clock offsets.

NAT rewrites addresses and ports but not sequence numbers, so the client's ISN names a connection
at every capture point: kube-proxy's DNAT (ClusterIP:443 on the API server's side, podIP:10250 at
the pod) and a CNI's SNAT leave it alone. An ISN is 32 random bits, so among tens of thousands of
connections two can share one by chance; a match therefore also needs the same client port (no
SNAT between) or the same server ISN (the SYN-ACK seen at both points). Clock offsets come from
those matches the way NTP computes them: the SYN travels one way and the SYN-ACK the other, so the
mean of the two time differences cancels the transit delay.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pcapdiag.classify import View
from pcapdiag.classify.vantage import INITIAL_TTLS

NS = 1_000_000_000
SKEW_LIMIT_NS = 24 * 3600 * NS
"""Two captures' clocks further apart than a day are taken as unrelated captures."""
SLACK_NS = 2 * NS
"""How far apart, after the offset, a connection's first packets may be at two points and still
be taken for the same connection when only ports and time match. The client's first SYNs may be
lost before the second point, so its first packet there can be one initial RTO (1 s) later; two
RTOs of slack cover that and clock jitter, and ephemeral client ports do not repeat that fast."""


@dataclass(frozen=True, slots=True)
class CaptureInfo:
    """One capture of a correlated set."""

    index: int
    name: str
    """The --side name, or the capture's file name."""
    first_ns: int | None
    last_ns: int | None
    point: str | None = None
    """'client' or 'server' when the capture's own TTLs and timing said so."""
    declared: str | None = None
    """'client' or 'server' when the name the user gave it (--side NAME=FILE) says so."""
    file_role: str | None = None
    """'client' or 'server' when its file name says so ('apiserver.pcap', 'webhook-side.pcap')."""


@dataclass(frozen=True, slots=True)
class Offset:
    """How far capture ``b``'s clock is ahead of capture ``a``'s."""

    a: int
    b: int
    offset_ns: int
    matches: int
    """Connections the estimate rests on."""
    delay_ns: int | None
    """One-way transit time between the two points, when SYN-ACKs let it be separated out."""
    spread_ns: int
    """Largest difference between one connection's estimate and the median."""


@dataclass(frozen=True, slots=True)
class Group:
    """One connection and its views, one per capture that saw it."""

    members: tuple[View, ...]
    method: str
    """'isn' (client ISN and client port), 'isn+synack' (client and server ISNs; SNAT changed the
    port), 'isn+time' (client ISN and time; SNAT, no SYN-ACK at one point), 'ports+time' (no SYN at
    one point), or 'single' (seen in one capture only)."""

    def at(self, capture: int) -> View | None:
        """The view from one capture, if it saw the connection."""
        return next((m for m in self.members if m.capture == capture), None)


@dataclass(frozen=True, slots=True)
class Correlation:
    """Every connection of several captures, matched."""

    captures: tuple[CaptureInfo, ...]
    groups: tuple[Group, ...]
    offsets: tuple[Offset, ...]
    roles: tuple[str | None, ...]
    """Per capture: 'client' (nearer the client), 'server', or None when no clue told."""
    role_basis: tuple[str, ...]
    """Per capture: which clue decided its role, in words."""
    paired: frozenset[tuple[int, int]]
    """Capture pairs that watched the same traffic (shared connections or overlapping time)."""

    def offset(self, a: int, b: int) -> int:
        """Clock of ``b`` minus clock of ``a`` (0 when no connection let it be measured)."""
        for o in self.offsets:
            if (o.a, o.b) == (a, b):
                return o.offset_ns
            if (o.a, o.b) == (b, a):
                return -o.offset_ns
        return 0

    def covers(self, capture: int, other: View) -> bool:
        """Whether ``capture`` was running when ``other`` (seen in another capture) began.

        A capture's first packet bounds when it started; its last packet does not bound when it
        stopped (a capture point that nothing reached any more records nothing), so a capture is
        taken to run on to the end once started.
        """
        info = self.captures[capture]
        if (capture, other.capture) not in self.paired:
            return False
        if info.first_ns is None:
            return True  # an empty capture given with the others: nothing at all reached it
        return other.first_ns + self.offset(other.capture, capture) >= info.first_ns - SLACK_NS

    def after_last_packet(self, capture: int, other: View) -> bool:
        """``other`` began after ``capture``'s last packet (was it still running?)."""
        info = self.captures[capture]
        t = other.first_ns + self.offset(other.capture, capture)
        return info.last_ns is not None and t > info.last_ns


def _isn_pairs(a: Sequence[View], b: Sequence[View]) -> list[tuple[View, View, str]]:
    by_isn: dict[int, list[View]] = defaultdict(list)
    for f in b:
        if f.client_isn is not None:
            by_isn[f.client_isn].append(f)
    pairs = []
    for f in a:
        if f.client_isn is None:
            continue
        for g in by_isn.get(f.client_isn, ()):
            if f.client_port == g.client_port:
                pairs.append((f, g, "isn"))
            elif f.server_isn is not None and f.server_isn == g.server_isn:
                pairs.append((f, g, "isn+synack"))
            else:  # SNAT changed the port and no SYN-ACK crossed: the ISN and the time must do
                pairs.append((f, g, "isn+time"))
            break
    return pairs


def _estimate(a: int, b: int, pairs: list[tuple[View, View, str]]) -> Offset | None:
    """NTP-style offset from matched connections' SYN and SYN-ACK times."""
    both: list[tuple[int, int]] = []
    one: list[int] = []
    for f, g, _ in pairs:
        if f.syn_ns is None or g.syn_ns is None:
            continue
        forward = g.syn_ns - f.syn_ns
        if f.synack_ns is not None and g.synack_ns is not None:
            backward = g.synack_ns - f.synack_ns
            both.append(((forward + backward) // 2, (forward - backward) // 2))
        else:
            one.append(forward)
    if both:
        offsets = [o for o, _ in both]
        offset = int(statistics.median(offsets))
        delay: int | None = int(statistics.median(abs(d) for _, d in both))
    elif one:
        offsets = one
        offset = int(statistics.median(one))
        delay = None
    else:
        return None
    if abs(offset) > SKEW_LIMIT_NS:
        return None
    spread = max(abs(o - offset) for o in offsets)
    return Offset(a, b, offset, len(offsets), delay, spread)


def _port_time_pairs(
    a: Sequence[View],
    b: Sequence[View],
    offset_ns: int,
    servers: dict[tuple[str, int], set[tuple[str, int]]],
) -> list[tuple[View, View, str]]:
    """Connections without a usable ISN: same client port, a server address known to map (or the
    same), and first packets within SLACK_NS once the clock offset is applied."""
    by_port: dict[int, list[View]] = defaultdict(list)
    for g in b:
        by_port[g.client_port].append(g)
    pairs = []
    taken: set[int] = set()
    for f in a:
        mapped = servers.get((f.server_ip, f.server_port), set()) | {(f.server_ip, f.server_port)}
        best: tuple[int, View] | None = None
        for g in by_port.get(f.client_port, ()):
            if id(g) in taken or (g.server_ip, g.server_port) not in mapped:
                continue
            gap = abs(g.first_ns - offset_ns - f.first_ns)
            if gap <= SLACK_NS and (best is None or gap < best[0]):
                best = (gap, g)
        if best is not None:
            taken.add(id(best[1]))
            pairs.append((f, best[1], "ports+time"))
    return pairs


def _local_end(facts: Sequence[View]) -> str | None:
    """'client' or 'server' when a capture's connections show one end's packets still at their
    initial TTL (sent from this host) and the other's lowered: that end is local. Only connections
    whose two ends both sent something count (an end that sent nothing says nothing), so captures
    taken on one link, where nothing lowers a TTL, give no answer."""
    votes = 0
    for f in facts:
        if not (f.client.ttl and f.server.ttl):
            continue
        c_local = f.client.ttl in INITIAL_TTLS
        s_local = f.server.ttl in INITIAL_TTLS
        if c_local and not s_local:
            votes += 1
        elif s_local and not c_local:
            votes -= 1
    return "client" if votes > 0 else "server" if votes < 0 else None


def _host_ttls(
    captures: Sequence[CaptureInfo], facts: Sequence[Sequence[View]]
) -> list[tuple[int, int, bool]]:
    """(i, j, capture i is nearer the client) for each host seen at two captures with two TTLs: a host
    sends every packet with the same initial TTL and each router lowers it, so the capture that sees a
    client's packets with the higher TTL, or a server's with the lower, is nearer the client. This
    compares captures that share no connection (a SYN lost in between is in one capture only)."""
    highest: list[tuple[dict[str, int], dict[str, int]]] = []
    for info in captures:
        clients: dict[str, int] = {}
        servers: dict[str, int] = {}
        for v in facts[info.index]:
            if v.client.ttl:
                clients[v.client_ip] = max(clients.get(v.client_ip, 0), v.client.ttl)
            if v.server.ttl:
                servers[v.server_ip] = max(servers.get(v.server_ip, 0), v.server.ttl)
        highest.append((clients, servers))
    out = []
    for i in range(len(captures)):
        for j in range(i + 1, len(captures)):
            for which, nearer_if_higher in ((0, True), (1, False)):
                a, b = highest[i][which], highest[j][which]
                for host in a.keys() & b.keys():
                    if a[host] != b[host]:
                        out.append((i, j, (a[host] > b[host]) == nearer_if_higher))
    return out


def _handshake_votes(matched: list[tuple[View, View, str]]) -> dict[int, int]:
    """+1 for the capture nearer the client in each shared connection whose handshake both saw: there
    the SYN-ACK comes a round trip after the SYN and the ACK at once after the SYN-ACK; at the server's
    end the SYN-ACK leaves at once and the ACK comes a round trip later. The gaps are compared within
    each capture, so clock offsets do not matter."""
    votes: dict[int, int] = defaultdict(int)
    for f, g, _ in matched:
        gaps = []
        for v in (f, g):
            if v.syn_ns is None or v.synack_ns is None or v.ack_ns is None:
                break
            gaps.append((v.synack_ns - v.syn_ns, v.ack_ns - v.synack_ns))
        if len(gaps) != 2:
            continue
        (f_syn, f_ack), (g_syn, g_ack) = gaps
        if f_syn > g_syn and f_ack < g_ack:
            near, far = f, g
        elif g_syn > f_syn and g_ack < f_ack:
            near, far = g, f
        else:
            continue
        votes[near.capture] += 1
        votes[far.capture] -= 1
    return votes


ROLE_CLUES = (
    "the name it was given (--side)",
    "TTLs of the hosts and connections it shares with the other captures",
    "answers generated on its host (packets still carrying their initial TTL)",
    "handshake timing (which end answers at once)",
    "its file name",
)
"""The clues to a capture's role, in the order they are tried (the order of the files is never one)."""


def _roles(
    captures: Sequence[CaptureInfo],
    facts: Sequence[Sequence[View]],
    matched: list[tuple[View, View, str]],
) -> tuple[tuple[str | None, ...], tuple[str, ...]]:
    """Which capture is nearer the client, from the first clue that tells (ROLE_CLUES): the user's
    --side name; routers lowering the TTL of what they forward (the point nearer the client sees the
    client's packets with the higher TTL); one end's packets still at their initial TTL (sent from
    this host); which end answers at once in the handshake; a file name saying 'apiserver' or
    'webhook'. A capture no clue places takes the role the others leave, when one is left."""
    ttl_votes: dict[int, int] = defaultdict(int)
    for f, g, _ in matched:
        if f.client.ttl and g.client.ttl and f.client.ttl != g.client.ttl:
            near, far = (f, g) if f.client.ttl > g.client.ttl else (g, f)
        elif f.server.ttl and g.server.ttl and f.server.ttl != g.server.ttl:
            near, far = (f, g) if f.server.ttl < g.server.ttl else (g, f)
        else:
            continue
        ttl_votes[near.capture] += 1
        ttl_votes[far.capture] -= 1
    for i, j, nearer_i in _host_ttls(captures, facts):
        ttl_votes[i] += 1 if nearer_i else -1
        ttl_votes[j] += -1 if nearer_i else 1
    timing_votes = _handshake_votes(matched)
    roles: list[str | None] = []
    basis: list[str] = []
    for info in captures:
        v = ttl_votes.get(info.index, 0)
        t = timing_votes.get(info.index, 0)
        local = _local_end(facts[info.index])
        clues: tuple[str | None, ...] = (
            info.declared,
            ("client" if v > 0 else "server") if v else None,
            local,
            ("client" if t > 0 else "server") if t else info.point,
            info.file_role,
        )
        found = next(((role, why) for role, why in zip(clues, ROLE_CLUES, strict=True) if role), None)
        roles.append(found[0] if found else None)
        basis.append(found[1] if found else "")
    taken = {r for r in roles if r is not None}
    missing = {"client", "server"} - taken
    out: list[str | None] = []
    for info, role in zip(captures, roles, strict=True):
        if role is None and len(missing) == 1:
            role = next(iter(missing))
            basis[info.index] = "the other captures' roles"
        elif role is None:
            basis[info.index] = "no clue: name it with --side"
        out.append(role)
    return tuple(out), tuple(basis)


def match_captures(captures: Sequence[CaptureInfo], facts: Sequence[Sequence[View]]) -> Correlation:
    """Match every connection across captures; unmatched connections become single-view groups."""
    n = len(captures)
    offsets: list[Offset] = []
    matched: list[tuple[View, View, str]] = []
    for i in range(n):
        for j in range(i + 1, n):
            pairs = _isn_pairs(facts[i], facts[j])
            estimate = _estimate(i, j, [p for p in pairs if p[2] != "isn+time"])
            if estimate is not None:
                offsets.append(estimate)
            # Matches without the client port must agree with the clock the others gave (or, with no
            # clock measured, with the captures' own clocks).
            clock, spread = (estimate.offset_ns, estimate.spread_ns) if estimate else (0, 0)
            pairs = [
                p
                for p in pairs
                if p[2] == "isn"
                or (
                    p[0].syn_ns is not None
                    and p[1].syn_ns is not None
                    and abs(p[1].syn_ns - p[0].syn_ns - clock) <= SLACK_NS + spread
                )
            ]
            servers: dict[tuple[str, int], set[tuple[str, int]]] = defaultdict(set)
            for f, g, _ in pairs:
                servers[(f.server_ip, f.server_port)].add((g.server_ip, g.server_port))
            done = {id(f) for f, _, _ in pairs} | {id(g) for _, g, _ in pairs}
            rest_a = [f for f in facts[i] if id(f) not in done]
            rest_b = [g for g in facts[j] if id(g) not in done]
            offset_ns = estimate.offset_ns if estimate is not None else 0
            matched.extend(pairs)
            matched.extend(_port_time_pairs(rest_a, rest_b, offset_ns, servers))
    paired = set()
    for f, g, _ in matched:
        paired.add((f.capture, g.capture))
        paired.add((g.capture, f.capture))
    for a in captures:
        for b in captures:
            if a.index != b.index and (a.first_ns is None or b.first_ns is None):
                paired.add((a.index, b.index))  # an empty capture is evidence for every other
            elif a.index != b.index and None not in (a.first_ns, a.last_ns, b.first_ns, b.last_ns):
                assert a.first_ns is not None and a.last_ns is not None
                assert b.first_ns is not None and b.last_ns is not None
                if a.first_ns <= b.last_ns and b.first_ns <= a.last_ns:
                    paired.add((a.index, b.index))
    # Union the pairwise matches into groups (one view per capture).
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    method: dict[int, str] = {}
    for f, g, how in matched:
        ra, rb = find(id(f)), find(id(g))
        if ra != rb:
            parent[rb] = ra
        method[id(f)] = method[id(g)] = how
    members: dict[int, list[View]] = defaultdict(list)
    for per_capture in facts:
        for f in per_capture:
            members[find(id(f))].append(f)
    groups = []
    for views in members.values():
        seen: dict[int, View] = {}
        for v in views:
            seen.setdefault(v.capture, v)
        ordered = tuple(sorted(seen.values(), key=lambda v: v.capture))
        how = "single" if len(ordered) == 1 else min(method[id(v)] for v in ordered if id(v) in method)
        groups.append(Group(ordered, how))
    groups.sort(key=lambda g: (g.members[0].first_ns, g.members[0].capture, g.members[0].flow_id))
    roles, basis = _roles(captures, facts, matched)
    return Correlation(tuple(captures), tuple(groups), tuple(offsets), roles, basis, frozenset(paired))
