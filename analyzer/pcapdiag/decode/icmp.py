"""ICMP and ICMPv6 errors that quote a TCP packet: who reported what about which connection."""

from __future__ import annotations

import struct

from pcapdiag.decode import skip
from pcapdiag.decode.ip import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, IpHeader, ipv4, ipv6
from pcapdiag.decode.packet import IcmpError, Skipped

# Error types whose body quotes the offending packet's IP header and first 8+ bytes.
ICMP_UNREACHABLE = 3  # destination unreachable (RFC 792)
ICMP_TIME_EXCEEDED = 11  # TTL expired in transit or reassembly time exceeded (RFC 792)
ICMP_PARAMETER_PROBLEM = 12  # parameter problem (RFC 792)
ICMPV6_UNREACHABLE = 1  # destination unreachable (RFC 4443 section 3.1)
ICMPV6_PACKET_TOO_BIG = 2  # packet too big, path MTU discovery (RFC 4443 section 3.2)
ICMPV6_TIME_EXCEEDED = 3  # hop limit exceeded (RFC 4443 section 3.3)
ICMPV6_PARAMETER_PROBLEM = 4  # parameter problem (RFC 4443 section 3.4)

_ICMP_ERRORS = frozenset({ICMP_UNREACHABLE, ICMP_TIME_EXCEEDED, ICMP_PARAMETER_PROBLEM})
_ICMPV6_ERRORS = frozenset(
    {ICMPV6_UNREACHABLE, ICMPV6_PACKET_TOO_BIG, ICMPV6_TIME_EXCEEDED, ICMPV6_PARAMETER_PROBLEM}
)
ICMP_HEADER = 8  # type, code, checksum, 4 type-specific bytes; the quote follows (both versions)
QUOTED_TCP_MIN = 8  # RFC 792 guarantees 8 bytes of the quoted datagram: TCP ports and seq

# A quote skipped for one of these reasons is sound, it just cannot be a TCP header.
_QUOTE_NOT_TCP = (skip.FRAGMENT, skip.ESP, skip.NOT_TCP)

_PORTS_SEQ = struct.Struct("!HHI")  # quoted TCP source port, destination port, sequence number


def icmp_error(data: bytes, ip: IpHeader) -> IcmpError | Skipped:
    """The ICMP(v6) message in ip's transport bytes, if it is an error quoting a TCP packet."""
    family, reporter, _dst, proto, off, end, wire_len, _ip_id, _ttl = ip
    if proto != (PROTO_ICMP if family == 4 else PROTO_ICMPV6):
        return skip.NOT_TCP  # ICMPv4 in IPv6 or the reverse: nothing a host would send
    if end - off < ICMP_HEADER:
        return skip.TRUNCATED
    icmp_type = data[off]
    if icmp_type not in (_ICMP_ERRORS if family == 4 else _ICMPV6_ERRORS):
        return skip.NOT_TCP
    quoted = (ipv4 if family == 4 else ipv6)(data, off + ICMP_HEADER, end)
    if quoted is skip.TRUNCATED and off + wire_len > end:  # the snaplen cut the quote
        return _cut_quote(data, family, reporter, icmp_type, off, end)
    if isinstance(quoted, Skipped):
        return skip.NOT_TCP if quoted in _QUOTE_NOT_TCP else skip.MALFORMED_ICMP
    _family, quoted_src, quoted_dst, quoted_proto, tcp_off, tcp_end, *_rest = quoted
    if quoted_proto != PROTO_TCP:
        return skip.NOT_TCP
    if tcp_end - tcp_off < QUOTED_TCP_MIN:
        if off + wire_len <= end:  # captured whole: the sender quoted less than RFC 792's 8 bytes
            return skip.MALFORMED_ICMP
        if tcp_end - tcp_off < 4:  # the snaplen cut the quoted ports
            return IcmpError(
                family, reporter, icmp_type, data[off + 1], quoted_src, quoted_dst, -1, -1, -1, True
            )
        return _with_ports(data, tcp_off, family, reporter, icmp_type, off, quoted_src, quoted_dst)
    sport, dport, seq = _PORTS_SEQ.unpack_from(data, tcp_off)
    return IcmpError(family, reporter, icmp_type, data[off + 1], quoted_src, quoted_dst, sport, dport, seq)


def _with_ports(
    data: bytes, tcp_off: int, family: int, reporter: bytes, icmp_type: int, off: int, src: bytes, dst: bytes
) -> IcmpError:
    """A quote whose ports were captured but not its whole sequence number (a short snaplen)."""
    sport, dport = struct.unpack_from("!HH", data, tcp_off)
    return IcmpError(family, reporter, icmp_type, data[off + 1], src, dst, sport, dport, -1)


_QUOTED_ADDRESSES = {4: (12, 4), 6: (8, 16)}
"""Where the source address starts in an IPv4 / IPv6 header, and an address's length."""


def _cut_quote(
    data: bytes, family: int, reporter: bytes, icmp_type: int, off: int, end: int
) -> IcmpError | Skipped:
    """An error whose quote the snaplen cut inside the quoted IP header: the quoted source (the sender
    of the offending packet) when whole, and as much of the destination as was captured."""
    start, size = _QUOTED_ADDRESSES[family]
    src_at = off + ICMP_HEADER + start
    if src_at + size > end:
        return skip.TRUNCATED
    src = data[src_at : src_at + size]
    dst = data[src_at + size : min(src_at + 2 * size, end)]
    return IcmpError(family, reporter, icmp_type, data[off + 1], src, dst, -1, -1, -1, True)
