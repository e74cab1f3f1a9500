"""One packet as tshark dissected it (its JSON layers) as decode's TcpSegment, IcmpError or Skipped."""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
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

Fields = Mapping[str, Any]
"""One layer of tshark -T json: full field names ('tcp.srcport') to strings, subtrees to objects."""
Layers = Mapping[str, Sequence[Fields]]
"""The packet's top-level layers by protocol name, each name's occurrences outermost first."""

NETWORK = frozenset({"ip", "ipv6"})
"""tshark's names for the network layers pcapdiag reads."""
TRANSPORT = frozenset({"tcp", "icmp", "icmpv6"})
"""The first of these in frame.protocols is the packet's transport (an ICMP error quotes IP and TCP
after it, nested inside the ICMP layer)."""
FLAG_BYTE = 0xFF
"""tcp.flags is 12 bits (with the reserved and AccECN bits); pcapdiag keeps the flag byte."""
IPV4_MORE_FRAGMENTS = 0x1
"""ip.flags as tshark 4 shows it: the three flag bits (reserved, DF, MF) as a number."""
TCP = "6"

_ERRORS = {
    "icmp": frozenset({ICMP_UNREACHABLE, ICMP_TIME_EXCEEDED, ICMP_PARAMETER_PROBLEM}),
    "icmpv6": frozenset(
        {ICMPV6_UNREACHABLE, ICMPV6_PACKET_TOO_BIG, ICMPV6_TIME_EXCEEDED, ICMPV6_PARAMETER_PROBLEM}
    ),
}
_FAMILY = {"ip": 4, "ipv6": 6, "icmp": 4, "icmpv6": 6}
_AF = {"ip": socket.AF_INET, "ipv6": socket.AF_INET6}


def _sequence(tcp: Fields, name: str) -> str | None:
    """tcp.seq_raw / tcp.ack_raw, or tcp.seq / tcp.ack where tshark writes no raw field (an ICMP quote):
    absolute either way, as the reader turns relative sequence numbers off."""
    raw = tcp.get(f"tcp.{name}_raw")
    return raw if raw is not None else tcp.get(f"tcp.{name}")


def _hex_bytes(value: str | None) -> bytes:
    """A tshark bytes field ('16:03:01' or '160301') as bytes; b'' when absent."""
    return bytes.fromhex(value.replace(":", "")) if value else b""


def _packed(net_name: str, value: Any) -> bytes | None:
    """An address field in packed form, or None if absent or not an address."""
    if not isinstance(value, str):
        return None
    try:
        return socket.inet_pton(_AF[net_name], value)
    except OSError:
        return None


def _is_fragment(net_name: str, net: Fields, protocols: Sequence[str]) -> bool:
    """An IP fragment tshark did not (or could not yet) reassemble into the transport."""
    if net_name == "ipv6":
        return "ipv6.fraghdr" in protocols
    flags, offset = net.get("ip.flags"), net.get("ip.frag_offset")
    return bool(flags and int(flags, 16) & IPV4_MORE_FRAGMENTS) or bool(offset and int(offset))


def decoded(protocols: Sequence[str], layers: Layers, truncated: bool = False) -> Decoded:
    """The innermost IP/TCP (through any tunnel tshark dissects), an ICMP error quoting TCP, or Skipped.

    ``protocols`` is frame.protocols split at ':'; ``truncated`` says the snaplen cut the frame.
    """
    transport = next((i for i, p in enumerate(protocols) if p in TRANSPORT), None)
    before = protocols if transport is None else protocols[:transport]
    net_at = max((i for i, p in enumerate(before) if p in NETWORK), default=None)
    if net_at is None:
        return skip.NOT_IP
    if "esp" in protocols[net_at:]:
        return skip.ESP
    net_name = protocols[net_at]
    found = layers.get(net_name, ())
    nth = protocols[:net_at].count(net_name)
    if nth >= len(found):
        return skip.NOT_IP  # nested in a layer tshark writes as a subtree (802.11 A-MSDU subframes)
    net = found[nth]
    if transport is None:
        return skip.FRAGMENT if _is_fragment(net_name, net, protocols[net_at:]) else skip.NOT_TCP
    src = _packed(net_name, net.get(f"{net_name}.src"))
    dst = _packed(net_name, net.get(f"{net_name}.dst"))
    if src is None or dst is None:
        return skip.MALFORMED_IP
    name = protocols[transport]
    if name == "tcp":
        return _tcp(layers["tcp"][0], net_name, net, src, dst, truncated)
    return _icmp(layers[name][0], name, net_name, src, truncated)


def _tcp(tcp: Fields, net_name: str, net: Fields, src: bytes, dst: bytes, truncated: bool) -> Decoded:
    seq, ack, flags = _sequence(tcp, "seq"), _sequence(tcp, "ack"), tcp.get("tcp.flags")
    sport, dport = tcp.get("tcp.srcport"), tcp.get("tcp.dstport")
    if seq is None or ack is None or flags is None or sport is None or dport is None:
        return skip.TRUNCATED if truncated else skip.MALFORMED_TCP
    ipv4 = net_name == "ip"
    ttl = net.get("ip.ttl" if ipv4 else "ipv6.hlim")
    ip_id = net.get("ip.id") if ipv4 else None
    length = tcp.get("tcp.len")
    return TcpSegment(
        family=_FAMILY[net_name],
        src=src,
        dst=dst,
        sport=int(sport),
        dport=int(dport),
        seq=int(seq),
        ack=int(ack),
        flags=int(flags, 16) & FLAG_BYTE,
        window=int(tcp.get("tcp.window_size_value") or 0),
        payload=_hex_bytes(tcp.get("tcp.payload")),
        payload_len=int(length) if length else 0,
        ip_id=int(ip_id, 16) if ip_id else 0,
        ttl=int(ttl) if ttl else 0,
        options=_hex_bytes(tcp.get("tcp.options")),
    )


def _icmp(
    icmp: Fields, name: str, net_name: str, reporter: bytes, truncated: bool = False
) -> IcmpError | Skipped:
    kind, code = icmp.get(f"{name}.type"), icmp.get(f"{name}.code")
    if kind is None or code is None:
        return skip.TRUNCATED
    if _FAMILY[name] != _FAMILY[net_name] or int(kind) not in _ERRORS[name]:
        return skip.NOT_TCP
    quoted_name = "ip" if name == "icmp" else "ipv6"
    quoted_ip, quoted_tcp = icmp.get(quoted_name), icmp.get("tcp")
    if not isinstance(quoted_ip, Mapping):
        return skip.MALFORMED_ICMP
    if not isinstance(quoted_tcp, Mapping):
        proto = quoted_ip.get("ip.proto" if name == "icmp" else "ipv6.nxt")
        cut_src = _packed(quoted_name, quoted_ip.get(f"{quoted_name}.src"))
        if truncated and proto == TCP and cut_src is not None:
            # The snaplen cut the quote before its TCP ports (as decode.icmp reads it: the flow table
            # ties it to the one recent dial it fits).
            cut_dst = _packed(quoted_name, quoted_ip.get(f"{quoted_name}.dst")) or b""
            return IcmpError(
                _FAMILY[name], reporter, int(kind), int(code), cut_src, cut_dst, -1, -1, -1, True
            )
        return skip.MALFORMED_ICMP if proto == TCP else skip.NOT_TCP
    qsrc = _packed(quoted_name, quoted_ip.get(f"{quoted_name}.src"))
    qdst = _packed(quoted_name, quoted_ip.get(f"{quoted_name}.dst"))
    sport, dport = quoted_tcp.get("tcp.srcport"), quoted_tcp.get("tcp.dstport")
    seq = _sequence(quoted_tcp, "seq")
    if qsrc is None or qdst is None or sport is None or dport is None or seq is None:
        return skip.MALFORMED_ICMP
    return IcmpError(
        family=_FAMILY[name],
        reporter=reporter,
        icmp_type=int(kind),
        icmp_code=int(code),
        quoted_src=qsrc,
        quoted_dst=qdst,
        quoted_sport=int(sport),
        quoted_dport=int(dport),
        quoted_seq=int(seq),
    )


def json_fields(layer: Any) -> Fields:
    """The JSON object of one of pyshark's JsonLayers. pyshark keeps it as ``_all_fields``; its public
    get_field() wraps every value in two objects per call, a third of the engine's time, and pyshark
    0.6 has no other way to reach a subtree (an ICMP error's quoted headers)."""
    fields = getattr(layer, "_all_fields", None)
    if not isinstance(fields, Mapping):
        raise TypeError(f"pyshark's JSON layer {layer!r} keeps no field mapping (pyshark 0.6 expected)")
    return fields


def decoded_packet(packet: Any) -> Decoded:
    """decoded() for one of pyshark's JSON packets."""
    frame = json_fields(packet.frame_info)
    layers = {
        layer.layer_name: [json_fields(layer), *(json_fields(d) for d in layer.duplicate_layers)]
        for layer in packet.layers
    }
    cap_len, length = frame.get("frame.cap_len"), frame.get("frame.len")
    truncated = cap_len is not None and length is not None and int(cap_len) < int(length)
    return decoded(str(frame.get("frame.protocols", "")).split(":"), layers, truncated)
