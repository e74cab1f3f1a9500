"""One report from several captures of the same traffic: each connection decided again with all their views.

A connection seen at several capture points is reported once, from the view nearer its client
(what the client lived through). Its Diagnosis is decided again by the same classify() call that
decided it alone, now given what the other captures saw (a ``Pairing``): where it failed, the clock
limits of the comparison, and next steps that leave out what the second capture already answered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from pcapdiag.classify import Diagnosis, Pairing, classify
from pcapdiag.correlate import Correlation, Group
from pcapdiag.prose import Text, text
from pcapdiag.report.model import Address, ClockOffset, FlowReport, SideReport

NS = 1_000_000_000


def _side(
    group: Group,
    corr: Correlation,
    capture: int,
    paths: list[str],
    flows: Mapping[tuple[int, int], FlowReport],
) -> SideReport:
    info = corr.captures[capture]
    view = group.at(capture)
    role = corr.roles[capture] or "unknown"
    if view is None:
        return SideReport(capture=paths[capture], name=info.name, role=role, seen=False)
    flow = flows[(capture, view.flow_id)]
    return SideReport(
        capture=paths[capture],
        name=info.name,
        role=role,
        seen=True,
        client=Address(view.client_ip, view.client_port),
        server=Address(view.server_ip, view.server_port),
        packets=flow.packets,
        label=flow.label,
        flow_id=view.flow_id,
        first_frame=flow.first_frame,
        last_frame=flow.last_frame,
    )


def pairing_of(group: Group, corr: Correlation, caps: list[int]) -> Pairing:
    """What the captures in ``caps`` say about the connection of ``group``."""
    roles = corr.roles
    names = {info.index: info.name for info in corr.captures}
    known = "client" in {roles[i] for i in caps} and "server" in {roles[i] for i in caps}
    c = next((v for v in group.members if roles[v.capture] == "client"), None)
    s = next((v for v in group.members if roles[v.capture] == "server"), None)
    client_caps = [i for i in caps if roles[i] == "client"]
    server_caps = [i for i in caps if roles[i] == "server"]
    client_cap = c.capture if c is not None else (client_caps[0] if client_caps else None)
    server_cap = s.capture if s is not None else (server_caps[0] if server_caps else None)
    seen = c or s or group.members[0]
    note = ""
    server_running = True
    if s is None and server_cap is not None:
        server_running = corr.covers(server_cap, seen)
        info = corr.captures[server_cap]
        if info.first_ns is None:
            note = " (which holds no packet at all: check it captured the right interface)"
        elif corr.after_last_packet(server_cap, seen):
            note = " (whose last packet came earlier: check it was still capturing)"
    client_running = corr.covers(client_cap, seen) if c is None and client_cap is not None else True
    return Pairing(
        client=c,
        server=s,
        client_name=names[client_cap] if client_cap is not None else "",
        server_name=names[server_cap] if server_cap is not None else "",
        client_running=client_running,
        server_running=server_running,
        server_note=note,
        roles_known=known,
        roles_basis="; ".join(f"{names[i]}: {corr.role_basis[i]}" for i in caps),
        limits=_clock_limits(corr, caps),
    )


def paired_flows(
    corr: Correlation, flows: Mapping[tuple[int, int], FlowReport], paths: list[str]
) -> list[FlowReport]:
    """One FlowReport per connection: the client side's view (what the client lived through), decided
    again with every paired capture's view; each capture's own view in ``sides``."""
    out = []
    for group in corr.groups:
        primary = next((m for m in group.members if corr.roles[m.capture] == "client"), None)
        primary = primary or next((m for m in group.members if corr.roles[m.capture] is None), None)
        primary = primary or group.members[0]
        flow = flows[(primary.capture, primary.flow_id)]
        member_caps = {m.capture for m in group.members}
        caps = sorted(
            member_caps
            | {i for i in range(len(corr.captures)) if any((m, i) in corr.paired for m in member_caps)}
        )
        if len(caps) < 2:
            out.append(flow)
            continue
        diagnosis = flow.diagnosis
        basis = flow.basis
        if basis is not None:
            again = classify(
                basis.facts, basis.ctx, webhook=basis.webhook, pairing=pairing_of(group, corr, caps)
            )
            assert isinstance(again, Diagnosis), "a finished connection is always decided"
            diagnosis = again
        out.append(
            dataclasses.replace(
                flow,
                diagnosis=diagnosis,
                sides=tuple(_side(group, corr, i, paths, flows) for i in caps),
                match=group.method,
            )
        )
    return out


def _clock_limits(corr: Correlation, caps: list[int]) -> tuple[Text, ...]:
    """What the captures' clocks do to the comparison: an offset corrected, or none measurable."""
    out = []
    names = [c.name for c in corr.captures]
    for a in caps:
        for b in caps:
            if a >= b:
                continue
            o = next((o for o in corr.offsets if {o.a, o.b} == {a, b}), None)
            if o is None:
                out.append(
                    text(
                        f"{names[a]} and {names[b]} share no connection with a SYN, "
                        "so their clocks could not "
                        "be compared: their times are taken as recorded"
                    )
                )
            elif abs(o.offset_ns) >= NS // 1000:
                out.append(
                    text(
                        f"the clock of {names[o.b]} runs {o.offset_ns / NS:+.3f} s from {names[o.a]}'s "
                        f"(measured on {o.matches} shared connection{'s' * (o.matches != 1)}); times are "
                        "compared after correcting it"
                    )
                )
    return tuple(out)


def clock_offsets(corr: Correlation) -> tuple[ClockOffset, ...]:
    """Each measured clock offset, named by the captures' side names."""
    names = [c.name for c in corr.captures]
    return tuple(
        ClockOffset(
            capture=names[o.b],
            reference=names[o.a],
            offset_s=round(o.offset_ns / NS, 6),
            connections=o.matches,
            one_way_delay_s=round(o.delay_ns / NS, 6) if o.delay_ns is not None else None,
            spread_s=round(o.spread_ns / NS, 6),
        )
        for o in corr.offsets
    )
