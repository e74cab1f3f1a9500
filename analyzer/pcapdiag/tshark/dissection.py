"""One packet as tshark dissected it (pyshark's JSON layers) as decode's TcpSegment, IcmpError or Skipped."""

from __future__ import annotations

import ipaddress
from typing import Any

from pcapdiag.decode import skip
from pcapdiag.decode.icmp import (
    ICMP_PARAMETER_PROBLEM,
    ICMP_TIME_EXCEEDED,
    ICMP_UNREACHABLE,
    ICMPV6_PACKET_TOO_BIG,
    ICMPV6_PARAMETER_PROBLEM,
    ICMPV6_TIME_EXCEEDED,
    ICMPV6_UNREACHABLE,
)
from pcapdiag.decode.packet import Decoded, IcmpError, Skipped, TcpSegment

NETWORK = frozenset({"ip", "ipv6"})
"""tshark's names for the network layers pcapdiag reads."""
TRANSPORT = frozenset({"tcp", "icmp", "icmpv6"})
"""The first of these in frame.protocols is the packet's transport (an ICMP error quotes IP and TCP
after it, nested inside the ICMP layer)."""
FLAG_BYTE = 0xFF
"""tcp.flags is 12 bits (with the reserved and AccECN bits); pcapdiag keeps the flag byte."""
IPV4_MORE_FRAGMENTS = 0x1
"""ip.flags as tshark 4 shows it: the three flag bits (reserved, DF, MF) as a number."""

_ERRORS = {
    "icmp": frozenset({ICMP_UNREACHABLE, ICMP_TIME_EXCEEDED, ICMP_PARAMETER_PROBLEM}),
    "icmpv6": frozenset(
        {ICMPV6_UNREACHABLE, ICMPV6_PACKET_TOO_BIG, ICMPV6_TIME_EXCEEDED, ICMPV6_PARAMETER_PROBLEM}
    ),
}
_FAMILY = {"ip": 4, "ipv6": 6, "icmp": 4, "icmpv6": 6}


def field(layer: Any, name: str) -> Any:
    """A field of a pyshark JSON layer (a string, or a layer for a nested subtree), or None if absent."""
    try:
        return layer.get_field(name)
    except AttributeError:
        return None


def occurrences(packet: Any, name: str) -> list[Any]:
    """Every top-level layer of that name, outermost first (pyshark folds repeats into one layer)."""
    for layer in packet.layers:
        if layer.layer_name == name:
            return [layer, *layer.duplicate_layers]
    return []


def _sequence(tcp: Any, name: str) -> Any:
    """tcp.seq_raw / tcp.ack_raw, or tcp.seq / tcp.ack where tshark writes no raw field (an ICMP quote):
    absolute either way, as the reader turns relative sequence numbers off."""
    raw = field(tcp, f"{name}_raw")
    return raw if raw is not None else field(tcp, name)


def _hex_bytes(value: Any) -> bytes:
    """A tshark bytes field ('16:03:01' or '160301') as bytes; b'' when absent."""
    return bytes.fromhex(str(value).replace(":", "")) if value else b""


def _packed(value: Any) -> bytes | None:
    try:
        return ipaddress.ip_address(str(value)).packed
    except ValueError:
        return None


def _is_fragment(name: str, layer: Any, protocols: list[str]) -> bool:
    """An IP fragment tshark did not (or could not yet) reassemble into the transport."""
    if name == "ipv6":
        return "ipv6.fraghdr" in protocols
    flags, offset = field(layer, "flags"), field(layer, "frag_offset")
    return bool(flags and int(str(flags), 16) & IPV4_MORE_FRAGMENTS) or bool(offset and int(str(offset)))


def decoded_packet(packet: Any) -> Decoded:
    """The innermost IP/TCP (through any tunnel tshark dissects), an ICMP error quoting TCP, or Skipped."""
    protocols = str(packet.frame_info.get_field("protocols")).split(":")
    transport = next((i for i, p in enumerate(protocols) if p in TRANSPORT), None)
    before = protocols if transport is None else protocols[:transport]
    net_at = max((i for i, p in enumerate(before) if p in NETWORK), default=None)
    if net_at is None:
        return skip.NOT_IP
    if "esp" in protocols[net_at:]:
        return skip.ESP
    net_name = protocols[net_at]
    layers = occurrences(packet, net_name)
    nth = protocols[:net_at].count(net_name)
    if nth >= len(layers):
        return skip.NOT_IP  # nested in a layer tshark writes as a subtree (802.11 A-MSDU subframes)
    net = layers[nth]
    if transport is None:
        return skip.FRAGMENT if _is_fragment(net_name, net, protocols[net_at:]) else skip.NOT_TCP
    src, dst = _packed(field(net, "src")), _packed(field(net, "dst"))
    if src is None or dst is None:
        return skip.MALFORMED_IP
    name = protocols[transport]
    if name == "tcp":
        return _tcp(packet, net_name, net, src, dst)
    return _icmp(packet, name, net_name, src)


def _tcp(packet: Any, net_name: str, net: Any, src: bytes, dst: bytes) -> TcpSegment | Skipped:
    tcp = occurrences(packet, "tcp")[0]
    seq, ack = _sequence(tcp, "seq"), _sequence(tcp, "ack")
    if seq is None or ack is None or field(tcp, "flags") is None:
        short = int(str(packet.frame_info.get_field("cap_len"))) < int(str(packet.length))
        return skip.TRUNCATED if short else skip.MALFORMED_TCP
    length = field(tcp, "len")
    ipv4 = net_name == "ip"
    ttl = field(net, "ttl" if ipv4 else "hlim")
    return TcpSegment(
        family=_FAMILY[net_name],
        src=src,
        dst=dst,
        sport=int(str(field(tcp, "srcport"))),
        dport=int(str(field(tcp, "dstport"))),
        seq=int(str(seq)),
        ack=int(str(ack)),
        flags=int(str(field(tcp, "flags")), 16) & FLAG_BYTE,
        window=int(str(field(tcp, "window_size_value") or 0)),
        payload=_hex_bytes(field(tcp, "payload")),
        payload_len=int(str(length)) if length else 0,
        ip_id=int(str(field(net, "id")), 16) if ipv4 and field(net, "id") else 0,
        ttl=int(str(ttl)) if ttl else 0,
        options=_hex_bytes(field(tcp, "options")),
    )


def _icmp(packet: Any, name: str, net_name: str, reporter: bytes) -> IcmpError | Skipped:
    icmp = occurrences(packet, name)[0]
    kind, code = field(icmp, "type"), field(icmp, "code")
    if kind is None or code is None:
        return skip.TRUNCATED
    if _FAMILY[name] != _FAMILY[net_name] or int(str(kind)) not in _ERRORS[name]:
        return skip.NOT_TCP
    quoted_ip = field(icmp, "ip" if name == "icmp" else "ipv6")
    quoted_tcp = field(icmp, "tcp")
    if quoted_ip is None:
        return skip.MALFORMED_ICMP
    if quoted_tcp is None:
        proto = field(quoted_ip, "proto" if name == "icmp" else "nxt")
        return skip.MALFORMED_ICMP if proto is not None and str(proto) == "6" else skip.NOT_TCP
    qsrc, qdst = _packed(field(quoted_ip, "src")), _packed(field(quoted_ip, "dst"))
    sport, dport = field(quoted_tcp, "srcport"), field(quoted_tcp, "dstport")
    seq = _sequence(quoted_tcp, "seq")
    if qsrc is None or qdst is None or sport is None or dport is None or seq is None:
        return skip.MALFORMED_ICMP
    return IcmpError(
        family=_FAMILY[name],
        reporter=reporter,
        icmp_type=int(str(kind)),
        icmp_code=int(str(code)),
        quoted_src=qsrc,
        quoted_dst=qdst,
        quoted_sport=int(str(sport)),
        quoted_dport=int(str(dport)),
        quoted_seq=int(str(seq)),
    )
