"""Every supported link layer leads to the same TCP segment; unknown ones are skipped."""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

import pytest
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, LLC, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether
from scapy.layers.ppp import PPP, PPPoE

from pcapdiag.decode import Skipped, TcpSegment, decode

SYN4 = IP(src="198.18.2.3", dst="198.19.8.7") / TCP(sport=40000, dport=443, flags="S", seq=77)
SYN6 = IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=40000, dport=443, flags="S", seq=77)
ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
AF_VALUES_INET6 = [10, 24, 28, 30]  # Linux, NetBSD/OpenBSD, FreeBSD, macOS


def assert_syn(decoded: object, family: int = 4) -> None:
    assert isinstance(decoded, TcpSegment), decoded
    assert decoded.family == family
    assert (decoded.sport, decoded.dport, decoded.seq, decoded.flags) == (40000, 443, 77, 0x02)
    if family == 4:
        assert (decoded.src, decoded.dst) == (bytes([198, 18, 2, 3]), bytes([198, 19, 8, 7]))
    else:
        assert decoded.src == ipaddress.ip_address("2001:db8::1").packed


@pytest.mark.parametrize(
    "frame",
    [
        ETH / SYN4,
        ETH / Dot1Q(vlan=10) / SYN4,
        ETH / Dot1AD(vlan=100) / Dot1Q(vlan=10) / SYN4,
        ETH / Dot1Q(vlan=5, type=0x9100) / Dot1Q(vlan=7) / SYN4,
        Ether(type=0x9100) / Dot1Q(vlan=7) / SYN4,
        ETH / MPLS(label=100, s=0) / MPLS(label=200, s=1) / SYN4,
        ETH / PPPoE(sessionid=1) / PPP(proto=0x0021) / SYN4,
    ],
    ids=["plain", "802.1q", "qinq-88a8", "qinq-9100-inner", "qinq-9100", "mpls", "pppoe"],
)
def test_ethernet_and_its_tags(frame: Any) -> None:
    assert_syn(decode(1, bytes(frame)))


def test_cisco_fabricpath_wraps_a_whole_ethernet_frame() -> None:
    outer = bytes(Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b", type=0x8903))
    frame = outer + b"\x00\x3f" + bytes(ETH / Dot1Q(vlan=3) / SYN4)  # FTag/TTL, then Ethernet
    assert_syn(decode(1, frame))


@pytest.mark.parametrize("linktype", [101, 12, 14])
def test_raw_ip_linktypes_carry_v4_and_v6(linktype: int) -> None:
    assert_syn(decode(linktype, bytes(SYN4)))
    assert_syn(decode(linktype, bytes(SYN6)), family=6)


def test_ipv4_and_ipv6_linktypes() -> None:
    assert_syn(decode(228, bytes(SYN4)))
    assert_syn(decode(229, bytes(SYN6)), family=6)


def test_linux_cooked_v1_and_v2() -> None:
    assert_syn(decode(113, bytes(CookedLinux(proto=0x0800) / SYN4)))
    assert_syn(decode(113, bytes(CookedLinux(proto=0x86DD) / SYN6)), family=6)
    assert_syn(decode(276, bytes(CookedLinuxV2(proto=0x0800) / SYN4)))
    assert_syn(decode(276, bytes(CookedLinuxV2(proto=0x86DD) / SYN6)), family=6)


@pytest.mark.parametrize("endian", ["<", ">"], ids=["little-endian-host", "big-endian-host"])
def test_null_loopback_accepts_every_os_family_value_in_host_order(endian: str) -> None:
    assert_syn(decode(0, struct.pack(endian + "I", 2) + bytes(SYN4)))
    for af in AF_VALUES_INET6:
        assert_syn(decode(0, struct.pack(endian + "I", af) + bytes(SYN6)), family=6)
    assert decode(0, struct.pack(endian + "I", 17) + bytes(SYN4)) == Skipped("not-ip")


def test_loop_uses_network_byte_order() -> None:
    assert_syn(decode(108, struct.pack(">I", 2) + bytes(SYN4)))
    for af in AF_VALUES_INET6:
        assert_syn(decode(108, struct.pack(">I", af) + bytes(SYN6)), family=6)


@pytest.mark.parametrize(
    ("linktype", "frame", "reason"),
    [
        (147, bytes(ETH / SYN4), "unknown-linktype"),
        (1, bytes(ETH / ARP()), "not-ip"),
        (1, bytes(Ether(dst="01:80:c2:00:00:00") / LLC()), "not-ip"),
        (1, bytes(ETH / SYN4)[:13], "truncated"),
        (1, bytes(ETH / Dot1Q())[:16], "truncated"),
        (113, bytes(CookedLinux(proto=0x0806) / ARP()), "not-ip"),
        (276, b"\x08\x00" * 5, "truncated"),
        (0, b"\x02\x00", "truncated"),
        (101, b"", "truncated"),
        (1, bytes(ETH / MPLS(s=1) / (b"\x00" * 20)), "not-ip"),
    ],
    ids=[
        "unknown",
        "arp",
        "llc",
        "short-eth",
        "short-vlan",
        "sll-arp",
        "short-sll2",
        "short-null",
        "empty-raw",
        "mpls-pseudowire",
    ],
)
def test_skipped_link_layers(linktype: int, frame: bytes, reason: str) -> None:
    decoded = decode(linktype, frame)
    assert isinstance(decoded, Skipped)
    assert decoded.reason == reason
    assert not decoded.malformed


def test_raw_with_a_bad_version_nibble_is_malformed() -> None:
    assert decode(101, b"\x50" + bytes(39)) == Skipped("malformed-ip", malformed=True)


def test_provider_backbone_bridging_wraps_a_customer_frame() -> None:
    itag = b"\x00\x00\x01\x00"
    frame = bytes(Ether(type=0x88E7)) + itag + bytes(ETH / Dot1Q(vlan=9) / SYN4)
    assert_syn(decode(1, frame))


def test_deeply_nested_tags_stay_bounded() -> None:
    """Tag and PBB nesting is walked in a loop: a crafted frame cannot exhaust the stack."""
    pbb = b"\x00" * 12 + b"\x88\xe7" + b"\x00" * 4
    frame = b"\x00" * 12 + b"\x88\xe7" + b"\x00" * 4 + pbb * 10_000 + bytes(ETH / SYN4)
    assert_syn(decode(1, frame))
    vlans = b"\x81\x00\x00\x01" * 20_000
    assert_syn(decode(1, b"\x00" * 12 + vlans + b"\x81\x00\x00\x01\x08\x00" + bytes(SYN4)))


@pytest.mark.parametrize("version", [4, 6])
def test_pppoe_length_ends_the_packet_before_ethernet_padding(version: int) -> None:
    """RFC 2516: the PPPoE LENGTH bounds the PPP payload; what follows in the frame is Ethernet padding,
    even when the IP length field claims it (pppoe-over-qinq.pcap in Zeek's corpus does exactly that)."""
    syn = SYN4 if version == 4 else SYN6
    ip = bytearray(bytes(syn))
    if version == 4:
        struct.pack_into("!H", ip, 2, len(ip) + 6)  # the IP total length counts 6 bytes of padding
    else:
        struct.pack_into("!H", ip, 4, len(ip) - 40 + 6)
    pppoe = PPPoE(sessionid=1, len=len(ip) + 2) / PPP(proto=0x0021 if version == 4 else 0x0057)
    frame = bytes(ETH / Dot1AD(vlan=100) / Dot1Q(vlan=10, type=0x8864) / pppoe) + bytes(ip) + b"\x00" * 6
    d = decode(1, frame)
    assert_syn(d, version)
    assert isinstance(d, TcpSegment)
    assert d.payload == b"" and d.payload_len == 0  # the padding is not payload
    honest = bytes(ETH / Dot1Q(vlan=10, type=0x8864) / PPPoE(sessionid=1) / PPP(proto=0x0021) / SYN4)
    assert decode(1, honest + b"\x00" * 6) == decode(1, honest)  # padding after a correct IP length
