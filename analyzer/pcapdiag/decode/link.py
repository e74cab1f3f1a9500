"""Link layers: where a frame's IP packet starts (Ethernet and its tags, Linux cooked, loopback)."""

from __future__ import annotations

from pcapdiag.capture.linktype import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    LINKTYPE_RAW_BSD12,
    LINKTYPE_RAW_BSD14,
)
from pcapdiag.decode import skip
from pcapdiag.decode.packet import Skipped

# EtherTypes (IEEE 802 numbers registry; IANA ieee-802-numbers).
ETH_IPV4 = 0x0800  # Internet Protocol version 4 (RFC 894)
ETH_IPV6 = 0x86DD  # Internet Protocol version 6 (RFC 2464)
ETH_VLAN = 0x8100  # IEEE 802.1Q VLAN tag
ETH_QINQ = 0x88A8  # IEEE 802.1ad service VLAN tag
ETH_QINQ_OLD = 0x9100  # pre-standard QinQ tag (Cisco and others)
ETH_MPLS = 0x8847  # MPLS unicast label stack (RFC 3032)
ETH_MPLS_MC = 0x8848  # MPLS multicast label stack (RFC 5332)
ETH_PPPOE = 0x8864  # PPPoE session stage (RFC 2516)
ETH_PBB = 0x88E7  # IEEE 802.1ah provider backbone bridging: 4-byte I-TAG, then an Ethernet frame
ETH_FABRICPATH = 0x8903  # Cisco FabricPath: 16-byte outer header, then a whole Ethernet frame

PBB_ITAG_LEN = 4  # I-TAG: priority, drop eligibility, flags, 24-bit service instance id
PPP_IPV4 = 0x0021  # PPP protocol number for IPv4 (RFC 1332)
PPP_IPV6 = 0x0057  # PPP protocol number for IPv6 (RFC 5072)
PPPOE_BOUNDED = 0x10000
"""Added to the EtherType of an IP packet inside PPPoE: decode() then ends the packet where the PPPoE
LENGTH says (RFC 2516), since what follows is Ethernet padding even when the IP length claims it."""

# Address families in NULL/LOOP headers (NULL: capturing host's byte order; LOOP: network order).
AF_INET = 2  # every BSD, Linux, macOS
AF_INET6 = frozenset({10, 24, 28, 30})  # Linux, NetBSD/OpenBSD/BSD/OS, FreeBSD, macOS/Darwin

ETHERNET_HEADER_LEN = 14  # destination, source, EtherType
FABRICPATH_HEADER_LEN = 16  # outer destination, outer source, EtherType 0x8903, FTag/TTL
SLL_HEADER_LEN = 16  # packet type, ARPHRD, address length, address (8), protocol
SLL2_HEADER_LEN = 20  # protocol, reserved, ifindex, ARPHRD, packet type, address length, address
NULL_HEADER_LEN = 4  # address family

_IP = frozenset({ETH_IPV4, ETH_IPV6})
_VLAN_TAGS = frozenset({ETH_VLAN, ETH_QINQ, ETH_QINQ_OLD})
_MPLS = frozenset({ETH_MPLS, ETH_MPLS_MC})
_LOOPBACK_LINKTYPES = frozenset({LINKTYPE_NULL, LINKTYPE_LOOP})
_RAW_LINKTYPES = frozenset(
    {LINKTYPE_RAW, LINKTYPE_RAW_BSD12, LINKTYPE_RAW_BSD14, LINKTYPE_IPV4, LINKTYPE_IPV6}
)

Start = tuple[int, int] | Skipped
"""(EtherType of the network packet, offset where it starts), or why there is none."""


def network_start(linktype: int, data: bytes) -> Start:
    """Where the network-layer packet of a frame starts, and its EtherType."""
    if linktype == LINKTYPE_ETHERNET:
        return ethernet(data, 0, len(data))
    if linktype in _RAW_LINKTYPES:
        return raw_ip(data, 0, len(data))
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(data) < SLL2_HEADER_LEN:
            return skip.TRUNCATED
        return ethertype_chain((data[0] << 8) | data[1], data, SLL2_HEADER_LEN, len(data))
    if linktype == LINKTYPE_LINUX_SLL:
        if len(data) < SLL_HEADER_LEN:
            return skip.TRUNCATED
        return ethertype_chain((data[14] << 8) | data[15], data, SLL_HEADER_LEN, len(data))
    if linktype in _LOOPBACK_LINKTYPES:
        if len(data) < NULL_HEADER_LEN:
            return skip.TRUNCATED
        family = int.from_bytes(data[:4], "big")
        if linktype == LINKTYPE_NULL and family > 0xFFFF:  # written by a little-endian host
            family = int.from_bytes(data[:4], "little")
        if family == AF_INET:
            return ETH_IPV4, NULL_HEADER_LEN
        if family in AF_INET6:
            return ETH_IPV6, NULL_HEADER_LEN
        return skip.NOT_IP
    return skip.UNKNOWN_LINKTYPE


def raw_ip(data: bytes, off: int, end: int) -> Start:
    """A bare IP packet: the version nibble says which."""
    if off >= end:
        return skip.TRUNCATED
    version = data[off] >> 4
    if version == 4:
        return ETH_IPV4, off
    if version == 6:
        return ETH_IPV6, off
    return skip.MALFORMED_IP


def ethernet(data: bytes, off: int, end: int) -> Start:
    """An Ethernet frame starting at off (a Cisco FabricPath outer header is unwrapped first)."""
    if end - off < ETHERNET_HEADER_LEN:
        return skip.TRUNCATED
    ethertype = (data[off + 12] << 8) | data[off + 13]
    if ethertype == ETH_FABRICPATH:
        off += FABRICPATH_HEADER_LEN
        if end - off < ETHERNET_HEADER_LEN:
            return skip.TRUNCATED
        ethertype = (data[off + 12] << 8) | data[off + 13]
    if ethertype in _IP:  # the common case, without the chain's call
        return ethertype, off + ETHERNET_HEADER_LEN
    return ethertype_chain(ethertype, data, off + ETHERNET_HEADER_LEN, end)


def ethertype_chain(ethertype: int, data: bytes, off: int, end: int) -> Start:
    """Follow VLAN tags, MPLS labels, PBB and PPPoE from an EtherType to the IP packet inside."""
    while True:
        if ethertype in _IP:
            return ethertype, off
        if ethertype in _VLAN_TAGS:
            if end - off < 4:  # TCI, then the next EtherType
                return skip.TRUNCATED
            ethertype = (data[off + 2] << 8) | data[off + 3]
            off += 4
        elif ethertype in _MPLS:
            return _mpls(data, off, end)
        elif ethertype == ETH_PBB:  # a loop, not a call to ethernet(): nesting stays bounded
            off += PBB_ITAG_LEN
            if end - off < ETHERNET_HEADER_LEN:
                return skip.TRUNCATED
            ethertype = (data[off + 12] << 8) | data[off + 13]
            off += ETHERNET_HEADER_LEN
        elif ethertype == ETH_PPPOE:
            if end - off < 8:  # version/type, code, session id, length, PPP protocol
                return skip.TRUNCATED
            protocol = (data[off + 6] << 8) | data[off + 7]
            if protocol == PPP_IPV4:
                return PPPOE_BOUNDED + ETH_IPV4, off + 8
            if protocol == PPP_IPV6:
                return PPPOE_BOUNDED + ETH_IPV6, off + 8
            return skip.NOT_IP
        else:
            return skip.NOT_IP


def _mpls(data: bytes, off: int, end: int) -> Start:
    """Pop MPLS labels to the bottom of the stack, then tell IPv4/IPv6 by the nibble (RFC 3032)."""
    while end - off >= 4:
        bottom = data[off + 2] & 0x01
        off += 4
        if bottom:
            version = data[off] >> 4 if off < end else -1
            if version == 4:
                return ETH_IPV4, off
            if version == 6:
                return ETH_IPV6, off
            return skip.NOT_IP if version >= 0 else skip.TRUNCATED  # else: a pseudowire
    return skip.TRUNCATED
