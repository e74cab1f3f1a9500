"""What one capture saw of one connection, reduced to what matching and localising need."""

from __future__ import annotations

from pcapdiag.classify import ConnectionFacts, Label, SideView, View
from pcapdiag.decode.packet import SYN


def view_of(capture: int, facts: ConnectionFacts, label: Label) -> View:
    """One capture's view of a decided connection."""
    c, s = facts.client_side, facts.server_side
    ack_ns = None
    if s.synack_frame:
        ack_ns = next(
            (p.ts_ns for p in facts.log if p.direction == 0 and p.ts_ns >= s.synack_ts and not p.flags & SYN),
            None,
        )
    return View(
        capture=capture,
        flow_id=facts.id,
        client_ip=facts.client.ip,
        client_port=facts.client.port,
        server_ip=facts.server.ip,
        server_port=facts.server.port,
        client_isn=c.isn if c.syn_count else None,
        server_isn=s.isn if s.synack_frame else None,
        first_ns=facts.first_ts,
        last_ns=facts.last_ts,
        syn_ns=c.syn_ts if c.syn_count else None,
        synack_ns=s.synack_ts if s.synack_frame else None,
        ack_ns=ack_ns,
        client=SideView(
            syn=bool(c.syn_count),
            syns=c.syn_count,
            data_bytes=c.bytes,
            fin=bool(c.fin_frame),
            rst=bool(c.rst_frame),
            packets=c.packets,
            ttl=c.ttl,
        ),
        server=SideView(
            syn=bool(s.synack_frame),
            syns=0,
            data_bytes=s.bytes,
            fin=bool(s.fin_frame),
            rst=bool(s.rst_frame),
            packets=s.packets,
            ttl=s.ttl,
        ),
        icmp_from=tuple(dict.fromkeys(i.reporter for i in facts.icmp)),
        label=label,
    )
