"""Packet decoding: decode(linktype, data) gives a TCP segment, an ICMP error, or Skipped."""

from __future__ import annotations

from pcapdiag.capture.linktype import LINKTYPE_ETHERNET
from pcapdiag.decode import skip
from pcapdiag.decode.icmp import icmp_error
from pcapdiag.decode.ip import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, ipv4, ipv6
from pcapdiag.decode.link import ETH_IPV4, ETH_IPV6, PPPOE_BOUNDED, ethernet, network_start
from pcapdiag.decode.packet import Decoded, IcmpError, Skipped, TcpSegment
from pcapdiag.decode.tcp import tcp_segment
from pcapdiag.decode.tunnel import tunnel_inner

__all__ = ["MAX_TUNNEL_DEPTH", "Decoded", "IcmpError", "Skipped", "TcpSegment", "decode"]

MAX_TUNNEL_DEPTH = 4  # encapsulations followed (VXLAN in IPIP in GRE ...) before giving up
_ICMP_PROTOS = frozenset({PROTO_ICMP, PROTO_ICMPV6})


def decode(linktype: int, data: bytes) -> Decoded:
    """Decode one frame of the given LINKTYPE down to TCP, through up to MAX_TUNNEL_DEPTH tunnels.

    Returns a TcpSegment, an IcmpError quoting a TCP packet, or a Skipped whose reason is
    one of the values in pcapdiag.decode.skip. Never returns None and never raises,
    whatever the bytes.
    """
    end = len(data)
    # Ethernet first: nearly every frame is, and it saves a dispatch call per packet.
    start = ethernet(data, 0, end) if linktype == LINKTYPE_ETHERNET else network_start(linktype, data)
    if isinstance(start, Skipped):
        return start
    ethertype, off = start
    depth = 0
    while True:
        bound = -1
        if ethertype >= PPPOE_BOUNDED:  # PPPoE's LENGTH counts from its PPP protocol field, 2 bytes back
            ethertype -= PPPOE_BOUNDED
            bound = off - 2 + ((data[off - 4] << 8) | data[off - 3])
            if bound < end:
                end = bound
        if ethertype == ETH_IPV4:
            ip = ipv4(data, off, end)
        elif ethertype == ETH_IPV6:
            ip = ipv6(data, off, end)
        else:
            return skip.NOT_IP
        if isinstance(ip, Skipped):
            return ip
        if bound >= 0 and ip[4] + ip[6] > bound >= ip[4]:  # the IP length ran into the padding
            ip = (ip[0], ip[1], ip[2], ip[3], ip[4], ip[5], bound - ip[4], ip[7], ip[8])
        proto = ip[3]
        if proto == PROTO_TCP:
            return tcp_segment(data, ip)
        if proto in _ICMP_PROTOS:
            return icmp_error(data, ip)
        depth += 1
        if depth > MAX_TUNNEL_DEPTH:
            return skip.TUNNEL_TOO_DEEP
        inner = tunnel_inner(proto, data, ip[4], ip[5])
        if isinstance(inner, Skipped):
            return inner
        ethertype, off, end = inner
