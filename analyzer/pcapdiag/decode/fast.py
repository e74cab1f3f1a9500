"""The common frame (Ethernet or SLL2, IPv4 without options or IPv6 without extensions, TCP) in one call."""

from __future__ import annotations

import struct

from pcapdiag.capture.linktype import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2
from pcapdiag.decode.ip import IPV4_OFFSET_MASK, PROTO_TCP
from pcapdiag.decode.link import ETH_IPV4, ETH_IPV6

SegmentFields = tuple[int, bytes, bytes, int, int, int, int, int, int, bytes, int, int, int, bytes]
"""A TcpSegment's fields in its field order (family, src, dst, sport, dport, seq, ack, flags, window,
payload, payload_len, ip_id, ttl, options): ``new_segment(*fields)`` is the segment decode() gives."""

# The link header's EtherType, then the IP header, then the TCP header up to the window.
_V4 = "B x H H H B B 2x 4s 4s HHIIBBH"  # version/IHL, total length, id, frag, TTL, protocol, addresses
_V6 = "B 3x H B B 16s 16s HHIIBBH"  # version/class, payload length, next header, hop limit, addresses
_ETHERNET4 = struct.Struct("!12x H " + _V4).unpack_from
_ETHERNET6 = struct.Struct("!12x H " + _V6).unpack_from
_SLL2_4 = struct.Struct("!H 18x " + _V4).unpack_from  # SLL2: protocol first, then 18 bytes we skip
_SLL2_6 = struct.Struct("!H 18x " + _V6).unpack_from
_LINKS = {LINKTYPE_ETHERNET: (14, _ETHERNET4, _ETHERNET6), LINKTYPE_LINUX_SLL2: (20, _SLL2_4, _SLL2_6)}
"""LINKTYPE -> (link header length, IPv4 unpacker, IPv6 unpacker)."""
_VERSION_IHL_5 = 0x45  # IPv4 with a 20-byte header: no options
_TCP_MIN = 20
_IPV6_LEN = 40


def tcp_fields(linktype: int, data: bytes) -> SegmentFields | None:
    """The TCP segment of a common frame, or None when decode() must look (any other layout, a
    fragment, IP options, IPv6 extension headers, a zero IP length, a cut or malformed header).

    Where it answers, it gives exactly the fields decode() would; the tests hold it to that.
    """
    link = _LINKS.get(linktype)
    if link is None:
        return None
    l3, v4, v6 = link
    n = len(data)
    if n < l3 + 20 + _TCP_MIN:
        return None
    (
        ethertype,
        version,
        length,
        ident,
        frag,
        ttl,
        proto,
        src,
        dst,
        sport,
        dport,
        seq,
        ack,
        doff,
        flags,
        win,
    ) = v4(data, 0)
    if ethertype == ETH_IPV4:
        if version != _VERSION_IHL_5 or proto != PROTO_TCP or frag & IPV4_OFFSET_MASK or not length:
            return None
        family = 4
        l4 = l3 + 20
        wire_len = length - 20
    elif ethertype == ETH_IPV6:
        if n < l3 + _IPV6_LEN + _TCP_MIN:
            return None
        ethertype, version, length, proto, ttl, src, dst, sport, dport, seq, ack, doff, flags, win = v6(
            data, 0
        )
        if version >> 4 != 6 or proto != PROTO_TCP or not length:
            return None
        family = 6
        l4 = l3 + _IPV6_LEN
        wire_len = length
        ident = 0
    else:
        return None
    end = l4 + wire_len
    if end > n:
        end = n
    header_len = (doff >> 4) * 4
    if header_len < _TCP_MIN or header_len > wire_len or l4 + header_len > end:
        return None
    start = l4 + header_len
    return (
        family,
        src,
        dst,
        sport,
        dport,
        seq,
        ack,
        flags,
        win,
        data[start:end],
        wire_len - header_len,
        ident,
        ttl,
        data[l4 + _TCP_MIN : start],
    )
