"""Overlay and tunnel encapsulations are unwrapped to the inner TCP segment, with a depth bound."""

from __future__ import annotations

from typing import Any

import pytest
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III
from scapy.contrib.geneve import GENEVE
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import GRE, Ether
from scapy.layers.vxlan import VXLAN

from pcapdiag.decode import MAX_TUNNEL_DEPTH, Skipped, TcpSegment, decode

NODE_A = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="198.18.1.1", dst="198.18.1.2")
POD_ETH = Ether(src="0a:58:0a:f4:00:01", dst="0a:58:0a:f4:01:01")
POD_SYN = IP(src="198.19.244.5", dst="198.19.245.7") / TCP(sport=51000, dport=8443, flags="S", seq=99)
POD_SYN6 = IPv6(src="2001:db8:244::5", dst="2001:db8:244:1::7") / TCP(
    sport=51000, dport=8443, flags="S", seq=99
)


def inner(frame: Any) -> TcpSegment:
    decoded = decode(1, bytes(frame))
    assert isinstance(decoded, TcpSegment), decoded
    assert (decoded.sport, decoded.dport, decoded.seq, decoded.flags) == (51000, 8443, 99, 2)
    return decoded


@pytest.mark.parametrize("port", [4789, 8472], ids=["iana", "linux-flannel-cilium"])
def test_vxlan(port: int) -> None:
    got = inner(NODE_A / UDP(sport=33333, dport=port) / VXLAN(vni=1) / POD_ETH / POD_SYN)
    assert got.src == bytes([198, 19, 244, 5])


def test_vxlan_without_the_vni_flag_is_not_followed() -> None:
    frame = NODE_A / UDP(dport=4789) / VXLAN(flags=0) / POD_ETH / POD_SYN
    assert decode(1, bytes(frame)) == Skipped("not-tcp")


def test_geneve_with_options_and_ethernet() -> None:
    geneve = GENEVE(vni=7, proto=0x6558, optionlen=2, options=bytes(8))
    inner(NODE_A / UDP(sport=1, dport=6081) / geneve / POD_ETH / POD_SYN)


def test_geneve_carrying_ip_directly() -> None:
    inner(NODE_A / UDP(dport=6081) / GENEVE(proto=0x0800) / POD_SYN)
    assert inner(NODE_A / UDP(dport=6081) / GENEVE(proto=0x86DD) / POD_SYN6).family == 6


def test_ip_in_ip_and_6in4_and_4in6() -> None:
    inner(NODE_A / POD_SYN)  # scapy sets proto 4
    assert inner(NODE_A / POD_SYN6).family == 6  # proto 41
    outer6 = Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2")
    inner(outer6 / POD_SYN)


@pytest.mark.parametrize(
    "gre",
    [
        GRE(proto=0x0800),
        GRE(key_present=1, key=5, seqnum_present=1, sequence_number=9, proto=0x0800),
        GRE(chksum_present=1, proto=0x0800),
    ],
    ids=["plain", "key-and-seq", "checksum"],
)
def test_gre_carrying_ip(gre: Any) -> None:
    inner(NODE_A / gre / POD_SYN)


def test_gre_transparent_ethernet_bridging() -> None:
    inner(NODE_A / GRE(proto=0x6558) / POD_ETH / POD_SYN)


def test_erspan_types_2_and_3() -> None:
    inner(NODE_A / GRE(seqnum_present=1, proto=0x88BE) / ERSPAN_II() / POD_ETH / POD_SYN)
    inner(NODE_A / GRE(seqnum_present=1, proto=0x22EB) / ERSPAN_III() / POD_ETH / POD_SYN)


def test_pptp_enhanced_gre_is_not_followed() -> None:
    frame = NODE_A / GRE(version=1, proto=0x880B) / bytes(40)
    assert decode(1, bytes(frame)) == Skipped("not-tcp")


def test_teredo_with_and_without_origin_indication() -> None:
    teredo = NODE_A / UDP(sport=3544, dport=50000)
    inner(teredo / POD_SYN6)
    origin = b"\x00\x00" + bytes(6)
    inner(teredo / origin / POD_SYN6)
    auth = b"\x00\x01\x00\x00" + bytes(8) + b"\x00"  # no id, no auth value, nonce, confirmation
    inner(teredo / auth / origin / POD_SYN6)


def test_tunnels_nest_up_to_the_depth_limit() -> None:
    packet: Any = POD_SYN
    for _ in range(MAX_TUNNEL_DEPTH):
        packet = IP(src="1.1.1.1", dst="2.2.2.2") / packet
    inner(Ether() / packet)
    too_deep = Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / packet
    assert decode(1, bytes(too_deep)) == Skipped("tunnel-too-deep")


def test_truncated_tunnel_headers() -> None:
    assert decode(1, bytes(NODE_A / UDP(dport=4789) / b"\x08\x00")) == Skipped("truncated")
    assert decode(1, bytes(NODE_A / GRE(proto=0x6558) / bytes(6))) == Skipped("truncated")
    assert decode(1, bytes(NODE_A / UDP(dport=53) / b"dns")) == Skipped("not-tcp")


def test_gre_in_udp() -> None:
    inner(NODE_A / UDP(sport=40000, dport=4754) / GRE(proto=0x0800) / POD_SYN)
