"""What one capture saw of one connection, reduced to what matching and localising need."""

from __future__ import annotations

from dataclasses import dataclass

from pcapdiag.classify import Label
from pcapdiag.flow import Connection, format_ip


@dataclass(frozen=True, slots=True)
class SideView:
    """What one endpoint was seen sending at one capture point."""

    syn: bool
    """A SYN (client) or SYN-ACK (server)."""
    syns: int
    """SYN transmissions seen (client side only; 0 for the server)."""
    data_bytes: int
    """Payload bytes seen, each byte once."""
    fin: bool
    rst: bool
    packets: int
    ttl: int
    """IPv4 TTL / IPv6 hop limit of its first packet here (0: none seen)."""


@dataclass(frozen=True, slots=True)
class FlowFacts:
    """One connection as one capture saw it."""

    capture: int
    """Index of the capture in the order given."""
    flow_id: int
    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    client_isn: int | None
    """Sequence number of the client's SYN (None if no SYN was captured)."""
    server_isn: int | None
    first_ns: int
    last_ns: int
    syn_ns: int | None
    """Time of the first SYN seen."""
    synack_ns: int | None
    """Time of the first SYN-ACK seen."""
    client: SideView
    server: SideView
    icmp_from: tuple[str, ...]
    """Senders of ICMP errors about this connection."""
    label: Label

    @property
    def failing(self) -> bool:
        """The label at this capture point is a failure."""
        return self.label.failing


def flow_facts(capture: int, conn: Connection, label: Label) -> FlowFacts:
    """The facts of a finished connection."""
    c, s = conn.client_side, conn.server_side
    return FlowFacts(
        capture=capture,
        flow_id=conn.id,
        client_ip=format_ip(conn.client[0]),
        client_port=conn.client[1],
        server_ip=format_ip(conn.server[0]),
        server_port=conn.server[1],
        client_isn=c.isn if c.syn_count else None,
        server_isn=s.isn if s.synack_frame else None,
        first_ns=conn.first_ts,
        last_ns=conn.last_ts,
        syn_ns=c.syn_ts if c.syn_count else None,
        synack_ns=s.synack_ts if s.synack_frame else None,
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
        icmp_from=tuple(dict.fromkeys(format_ip(i.reporter) for i in conn.icmp)),
        label=label,
    )
