"""One report from several captures of the same traffic: a connection's views merged, with where it failed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from pcapdiag.correlate import Correlation, Group, localise
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
    role = corr.roles[capture]
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


def paired_flows(
    corr: Correlation, flows: Mapping[tuple[int, int], FlowReport], paths: list[str]
) -> list[FlowReport]:
    """One FlowReport per connection: the client side's view (what the client lived through), with
    every paired capture's view in ``sides`` and the localisation in ``where``."""
    out = []
    for group in corr.groups:
        primary = next((m for m in group.members if corr.roles[m.capture] == "client"), group.members[0])
        flow = flows[(primary.capture, primary.flow_id)]
        member_caps = {m.capture for m in group.members}
        caps = sorted(
            member_caps
            | {i for i in range(len(corr.captures)) if any((m, i) in corr.paired for m in member_caps)}
        )
        if len(caps) < 2:
            out.append(flow)
            continue
        location = localise(group, corr)
        limits = flow.capture_limits + _clock_limits(corr, caps)
        server_view = next((m for m in group.members if corr.roles[m.capture] == "server"), primary)
        checks = location.checks(server_view.client_ip, server_view.server_port) if location else ()
        out.append(
            dataclasses.replace(
                flow,
                sides=tuple(_side(group, corr, i, paths, flows) for i in caps),
                match=group.method,
                where=location.where.value if location else None,
                where_explanation=location.explanation if location else None,
                next_steps=checks + flow.next_steps,
                capture_limits=limits,
            )
        )
    return out


def _clock_limits(corr: Correlation, caps: list[int]) -> tuple[str, ...]:
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
                    f"{names[a]} and {names[b]} share no connection with a SYN, so their clocks could not "
                    "be compared: their times are taken as recorded"
                )
            elif abs(o.offset_ns) >= NS // 1000:
                out.append(
                    f"the clock of {names[o.b]} runs {o.offset_ns / NS:+.3f} s from {names[o.a]}'s "
                    f"(measured on {o.matches} shared connection{'s' * (o.matches != 1)}); times are "
                    "compared after correcting it"
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
