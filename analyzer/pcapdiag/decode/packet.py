"""The values the decoder produces: a TCP segment, an ICMP error quoting one, or a reason to skip."""

from __future__ import annotations

from dataclasses import dataclass

# TCP flag bits (RFC 9293 section 3.1; ECE/CWR RFC 3168).
FIN = 0x01  # no more data from sender
SYN = 0x02  # synchronize sequence numbers
RST = 0x04  # reset the connection
PSH = 0x08  # push function
ACK = 0x10  # acknowledgment field is significant
URG = 0x20  # urgent pointer field is significant
ECE = 0x40  # ECN echo
CWR = 0x80  # congestion window reduced


@dataclass(frozen=True, slots=True)
class TcpSegment:
    """One TCP segment with the IP fields the flow machine needs; addresses stay packed bytes."""

    family: int
    """4 or 6."""
    src: bytes
    """Packed source address (4 or 16 bytes)."""
    dst: bytes
    """Packed destination address."""
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    """TCP flag byte (FIN, SYN, RST, PSH, ACK, URG, ECE, CWR)."""
    window: int
    payload: bytes
    """Captured payload bytes; shorter than payload_len when the snaplen cut the packet."""
    payload_len: int
    """Payload length on the wire, from the IP length fields."""
    ip_id: int = 0
    """IPv4 identification (0 for IPv6): tells a retransmission from the same packet captured twice."""
    ttl: int = 0
    """IPv4 TTL or IPv6 hop limit."""
    options: bytes = b""
    """Raw TCP option bytes (MSS, window scale, SACK, timestamps)."""


@dataclass(frozen=True, slots=True)
class IcmpError:
    """An ICMP or ICMPv6 error that quotes the IP and TCP header of a packet it refers to."""

    family: int
    """4 (ICMP) or 6 (ICMPv6)."""
    reporter: bytes
    """Packed address of the host or router that sent the error."""
    icmp_type: int
    icmp_code: int
    quoted_src: bytes
    """Source address of the quoted (original) packet: the TCP client for an error about its SYN."""
    quoted_dst: bytes
    quoted_sport: int
    quoted_dport: int
    quoted_seq: int
    quote_cut: bool = False
    """The snaplen cut the quote before its TCP ports: the ports and seq are -1, ``quoted_dst`` holds
    only the bytes of the destination address that were captured (maybe none)."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A frame the decoder could not or would not turn into TCP or ICMP evidence."""

    reason: str
    """Short, stable reason: 'not-ip', 'not-tcp', 'malformed-ip', 'malformed-tcp', 'fragment',
    'unknown-linktype', 'truncated', ..."""
    malformed: bool = False
    """True when the bytes are broken (counted as malformed), False when merely not of interest."""


Decoded = TcpSegment | IcmpError | Skipped
