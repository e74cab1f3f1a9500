"""IPv4 and IPv6 headers: addresses, protocol and where the transport header starts and ends."""

from __future__ import annotations

import struct

from pcapdiag.decode import skip
from pcapdiag.decode.packet import Skipped

# IP protocol numbers (IANA protocol-numbers registry).
PROTO_HOPOPTS = 0  # IPv6 hop-by-hop options (RFC 8200 section 4.3)
PROTO_ICMP = 1  # ICMP (RFC 792)
PROTO_IPIP = 4  # IPv4 encapsulated in IP (RFC 2003)
PROTO_TCP = 6  # TCP (RFC 9293)
PROTO_UDP = 17  # UDP (RFC 768)
PROTO_IPV6 = 41  # IPv6 encapsulated in IP (RFC 2473, RFC 4213)
PROTO_ROUTING = 43  # IPv6 routing header (RFC 8200 section 4.4)
PROTO_FRAGMENT = 44  # IPv6 fragment header (RFC 8200 section 4.5)
PROTO_GRE = 47  # Generic Routing Encapsulation (RFC 2784)
PROTO_ESP = 50  # IPsec Encapsulating Security Payload (RFC 4303)
PROTO_AH = 51  # IPsec Authentication Header (RFC 4302): length in 4-byte units, minus 2
PROTO_ICMPV6 = 58  # ICMPv6 (RFC 4443)
PROTO_NONE = 59  # IPv6 no next header (RFC 8200 section 4.7)
PROTO_DSTOPTS = 60  # IPv6 destination options (RFC 8200 section 4.6)
PROTO_MOBILITY = 135  # Mobility header (RFC 6275)
PROTO_HIP = 139  # Host Identity Protocol (RFC 7401)
PROTO_SHIM6 = 140  # Shim6 (RFC 5533)

# Extension headers laid out as next header, length in 8-byte units minus 1 (RFC 8200 section 4).
_GENERIC_EXTENSIONS = frozenset(
    {PROTO_HOPOPTS, PROTO_ROUTING, PROTO_DSTOPTS, PROTO_MOBILITY, PROTO_HIP, PROTO_SHIM6}
)
_EXTENSIONS = _GENERIC_EXTENSIONS | {PROTO_AH, PROTO_FRAGMENT}

IPV4_MIN_HEADER = 20  # RFC 791: IHL of 5 words
IPV6_HEADER = 40  # RFC 8200 section 3
IPV4_OFFSET_MASK = 0x1FFF  # fragment offset bits of the flags/offset field (RFC 791)
IPV6_OFFSET_MASK = 0xFFF8  # fragment offset bits of the fragment header (RFC 8200 section 4.5)

_IPV4 = struct.Struct("!BxHHHBB2x4s4s")  # version/IHL, total length, id, frag, TTL, proto, addrs
_IPV6 = struct.Struct("!B3xHBB16s16s")  # version/class, payload length, next, hop limit, addrs

IpHeader = tuple[int, bytes, bytes, int, int, int, int, int, int]
"""(family, src, dst, protocol, l4_off, l4_end, l4_wire_len, ip_id, ttl).

l4_off..l4_end is the captured transport part (trimmed to the IP length, so Ethernet
padding is gone); l4_wire_len is its length on the wire, from the IP length fields.
"""


def ipv4(data: bytes, off: int, end: int) -> IpHeader | Skipped:
    """An IPv4 header at off; a non-first fragment is skipped (no reassembly)."""
    if end - off < IPV4_MIN_HEADER:
        return skip.TRUNCATED
    version_ihl, total, ident, frag, ttl, proto, src, dst = _IPV4.unpack_from(data, off)
    header_len = (version_ihl & 0x0F) * 4
    if version_ihl >> 4 != 4 or header_len < IPV4_MIN_HEADER:
        return skip.MALFORMED_IP
    if total == 0:  # TCP segmentation offload: the NIC fills the length in after capture
        total = end - off
    if total < header_len:
        return skip.MALFORMED_IP
    if frag & IPV4_OFFSET_MASK:
        return skip.FRAGMENT
    l4_off = off + header_len
    l4_end = off + total
    if l4_end > end:  # the snaplen cut the packet (not min(): a builtin call costs more here)
        l4_end = end
    if l4_off > l4_end:
        return skip.TRUNCATED
    return 4, src, dst, proto, l4_off, l4_end, total - header_len, ident, ttl


def ipv6(data: bytes, off: int, end: int) -> IpHeader | Skipped:
    """An IPv6 header at off, walking extension headers to the upper-layer protocol."""
    if end - off < IPV6_HEADER:
        return skip.TRUNCATED
    version, payload_len, proto, hop_limit, src, dst = _IPV6.unpack_from(data, off)
    if version >> 4 != 6:
        return skip.MALFORMED_IP
    pos = off + IPV6_HEADER
    if payload_len == 0:
        if proto == PROTO_HOPOPTS:
            return skip.JUMBOGRAM
        payload_len = end - pos  # BIG TCP / segmentation offload, as for IPv4 total length 0
    wire_end = pos + payload_len
    l4_end = wire_end if wire_end < end else end
    while True:
        if proto in _EXTENSIONS:
            if pos + 8 > l4_end:  # every extension header is at least 8 bytes
                return skip.MALFORMED_IP if pos + 8 > wire_end else skip.TRUNCATED
            if proto == PROTO_FRAGMENT:
                if ((data[pos + 2] << 8) | data[pos + 3]) & IPV6_OFFSET_MASK:
                    return skip.FRAGMENT
                length = 8
            elif proto == PROTO_AH:
                length = (data[pos + 1] + 2) * 4
            else:
                length = (data[pos + 1] + 1) * 8
            proto = data[pos]
            pos += length
        elif proto == PROTO_ESP:
            return skip.ESP
        elif proto == PROTO_NONE:
            return skip.NOT_TCP
        else:
            break
    if pos > l4_end:
        return skip.MALFORMED_IP if pos > wire_end else skip.TRUNCATED
    return 6, src, dst, proto, pos, l4_end, wire_end - pos, 0, hop_limit
