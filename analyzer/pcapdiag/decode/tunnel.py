"""Tunnels that carry whole packets: IP-in-IP, GRE (ERSPAN, GRE-in-UDP), VXLAN, Geneve, Teredo."""

from __future__ import annotations

from pcapdiag.decode import skip
from pcapdiag.decode.ip import PROTO_GRE, PROTO_IPIP, PROTO_IPV6, PROTO_UDP
from pcapdiag.decode.link import ETH_IPV4, ETH_IPV6, ethernet, ethertype_chain
from pcapdiag.decode.packet import Skipped

# GRE (RFC 2784, key and sequence number from RFC 2890).
GRE_CHECKSUM = 0x8000  # C: checksum and reserved1 present (4 bytes)
GRE_ROUTING = 0x4000  # R: RFC 1701 source routing, obsolete: not followed
GRE_KEY = 0x2000  # K: key present (4 bytes)
GRE_SEQUENCE = 0x1000  # S: sequence number present (4 bytes)
GRE_VERSION = 0x0007  # 0 for GRE; 1 is PPTP's enhanced GRE carrying PPP, not followed
GRE_HEADER = 4  # flags/version, protocol type
ETH_TEB = 0x6558  # transparent Ethernet bridging: a whole Ethernet frame follows
ETH_ERSPAN2 = 0x88BE  # ERSPAN type II: 8-byte header, then Ethernet (type I when S is clear: none)
ETH_ERSPAN3 = 0x22EB  # ERSPAN type III: 12-byte header (+8 with the O flag), then Ethernet
ERSPAN2_HEADER = 8
ERSPAN3_HEADER = 12
ERSPAN3_PLATFORM = 8  # platform-specific subheader, present when O (bit 0 of byte 11) is set

UDP_HEADER = 8  # RFC 768
VXLAN_PORTS = frozenset({4789, 8472})  # IANA (RFC 7348); 8472: Linux default (flannel, Cilium)
VXLAN_HEADER = 8  # flags, reserved, VNI, reserved
VXLAN_FLAG_VNI = 0x08  # I flag: the VNI is valid (RFC 7348 section 5)
GENEVE_PORT = 6081  # RFC 8926 section 3.3
GENEVE_HEADER = 8  # version/option length, flags, protocol type, VNI, reserved
GRE_IN_UDP_PORT = 4754  # GRE-in-UDP (RFC 8086 section 3.2): a GRE header follows the UDP one
TEREDO_PORT = 3544  # RFC 4380 section 5.2.1
TEREDO_AUTH = 0x0001  # authentication indicator (RFC 4380 section 5.1.1)
TEREDO_ORIGIN = 0x0000  # origin indication, 8 bytes (RFC 4380 section 5.1.1)
TEREDO_ORIGIN_LEN = 8
TEREDO_AUTH_FIXED = 13  # indicator, id-len, au-len, nonce (8), confirmation byte

Inner = tuple[int, int, int] | Skipped
"""(EtherType, offset, end) of the packet a tunnel carries, or why there is none."""


def tunnel_inner(proto: int, data: bytes, off: int, end: int) -> Inner:
    """The packet carried by transport protocol proto at data[off:end], if it is a tunnel."""
    if proto == PROTO_IPIP:
        return ETH_IPV4, off, end
    if proto == PROTO_IPV6:
        return ETH_IPV6, off, end
    if proto == PROTO_GRE:
        return _gre(data, off, end)
    if proto == PROTO_UDP:
        return _udp(data, off, end)
    return skip.NOT_TCP


def _with_end(start: tuple[int, int] | Skipped, end: int) -> Inner:
    if isinstance(start, Skipped):
        return start
    return start[0], start[1], end


def _gre(data: bytes, off: int, end: int) -> Inner:
    if end - off < GRE_HEADER:
        return skip.TRUNCATED
    flags = (data[off] << 8) | data[off + 1]
    protocol = (data[off + 2] << 8) | data[off + 3]
    if flags & (GRE_ROUTING | GRE_VERSION):
        return skip.NOT_TCP
    off += GRE_HEADER
    off += 4 * ((flags & GRE_CHECKSUM != 0) + (flags & GRE_KEY != 0) + (flags & GRE_SEQUENCE != 0))
    if protocol == ETH_TEB:
        return _with_end(ethernet(data, off, end), end)
    if protocol == ETH_ERSPAN2:
        header = ERSPAN2_HEADER if flags & GRE_SEQUENCE else 0
        return _with_end(ethernet(data, off + header, end), end)
    if protocol == ETH_ERSPAN3:
        if end - off < ERSPAN3_HEADER:
            return skip.TRUNCATED
        platform = ERSPAN3_PLATFORM if data[off + 11] & 0x01 else 0
        return _with_end(ethernet(data, off + ERSPAN3_HEADER + platform, end), end)
    return _with_end(ethertype_chain(protocol, data, off, end), end)


def _udp(data: bytes, off: int, end: int) -> Inner:
    if end - off < UDP_HEADER:
        return skip.TRUNCATED
    sport = (data[off] << 8) | data[off + 1]
    dport = (data[off + 2] << 8) | data[off + 3]
    length = (data[off + 4] << 8) | data[off + 5]
    if UDP_HEADER <= length < end - off:
        end = off + length
    off += UDP_HEADER
    if dport in VXLAN_PORTS:
        if end - off < VXLAN_HEADER:
            return skip.TRUNCATED
        if not data[off] & VXLAN_FLAG_VNI:
            return skip.NOT_TCP
        return _with_end(ethernet(data, off + VXLAN_HEADER, end), end)
    if dport == GENEVE_PORT:
        if end - off < GENEVE_HEADER:
            return skip.TRUNCATED
        if data[off] >> 6:  # version 0 is the only one defined
            return skip.NOT_TCP
        protocol = (data[off + 2] << 8) | data[off + 3]
        off += GENEVE_HEADER + (data[off] & 0x3F) * 4
        if protocol == ETH_TEB:
            return _with_end(ethernet(data, off, end), end)
        return _with_end(ethertype_chain(protocol, data, off, end), end)
    if dport == GRE_IN_UDP_PORT:
        return _gre(data, off, end)
    if sport == TEREDO_PORT or dport == TEREDO_PORT:
        return _teredo(data, off, end)
    # Teredo through a relay runs on any port (RFC 4380 5.2, 5.4): recognise it, as Zeek and
    # Wireshark do, by a payload that is exactly one IPv6 packet after the optional indications.
    inner = _teredo(data, off, end)
    if isinstance(inner, tuple):
        start = inner[1]
        if end - start >= 40 and 40 + ((data[start + 4] << 8) | data[start + 5]) == end - start:
            return inner
    return skip.NOT_TCP


def _teredo(data: bytes, off: int, end: int) -> Inner:
    """Teredo: optional authentication and origin indications, then a bare IPv6 packet."""
    if end - off >= 4 and ((data[off] << 8) | data[off + 1]) == TEREDO_AUTH:
        off += TEREDO_AUTH_FIXED + data[off + 2] + data[off + 3]
    if end - off >= 2 and ((data[off] << 8) | data[off + 1]) == TEREDO_ORIGIN:
        off += TEREDO_ORIGIN_LEN
    if off >= end:
        return skip.TRUNCATED
    if data[off] >> 4 != 6:
        return skip.NOT_TCP  # a Teredo bubble or other non-IPv6 payload
    return ETH_IPV6, off, end
