"""IP and TCP header rules: lengths, fragments, extension headers, snaplen cuts, malformed headers."""

from __future__ import annotations

from typing import Any

import pytest
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.ipsec import AH, ESP
from scapy.layers.l2 import Ether

from pcapdiag.decode import Skipped, TcpSegment, decode

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
V4 = IP(src="192.0.2.1", dst="198.51.100.2", id=4242, ttl=61)
V6 = IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=33)
OPTIONS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]


def segment(frame: Any, linktype: int = 1) -> TcpSegment:
    decoded = decode(linktype, bytes(frame))
    assert isinstance(decoded, TcpSegment), decoded
    return decoded


def skipped(frame: Any, linktype: int = 1) -> Skipped:
    decoded = decode(linktype, bytes(frame) if not isinstance(frame, bytes) else frame)
    assert isinstance(decoded, Skipped), decoded
    return decoded


def test_every_field_of_an_ipv4_segment() -> None:
    tcp = TCP(sport=1234, dport=443, seq=2**32 - 1, ack=5, flags="PA", window=513, options=OPTIONS)
    got = segment(ETH / V4 / tcp / b"hello")
    assert got == TcpSegment(
        family=4,
        src=bytes([192, 0, 2, 1]),
        dst=bytes([198, 51, 100, 2]),
        sport=1234,
        dport=443,
        seq=2**32 - 1,
        ack=5,
        flags=0x18,
        window=513,
        payload=b"hello",
        payload_len=5,
        ip_id=4242,
        ttl=61,
        options=bytes(TCP(options=OPTIONS))[20:],
    )


def test_ethernet_padding_is_trimmed_by_the_ip_length() -> None:
    frame = bytes(ETH / V4 / TCP(flags="A")) + b"\x00" * 6  # padded to the 60-byte minimum
    got = segment(frame)
    assert (got.payload, got.payload_len) == (b"", 0)


def test_snaplen_cut_packet_keeps_the_wire_payload_length() -> None:
    frame = bytes(ETH / V4 / TCP(flags="PA", options=OPTIONS) / bytes(1000))[:96]  # tcpdump -s 96
    got = segment(frame)
    assert got.payload_len == 1000
    assert len(got.payload) == 96 - 14 - 20 - 40
    assert got.payload == bytes(len(got.payload))


def test_snaplen_cut_inside_the_tcp_header_keeps_the_segment_not_malformed() -> None:
    """An IPv6 SYN over -i any at -s 96 (20 + 40 + 40 bytes): the fixed header is whole, the options are
    cut; the segment is decoded with the options captured and no payload seen."""
    whole = bytes(ETH / V4 / TCP(options=OPTIONS) / bytes(100))
    got = segment(whole[: 14 + 20 + 30])
    header = segment(whole)
    assert (got.sport, got.dport, got.seq, got.flags, got.payload_len) == (
        header.sport,
        header.dport,
        header.seq,
        header.flags,
        100,
    )
    assert got.payload == b"" and header.options.startswith(got.options) and len(got.options) == 10
    assert skipped(whole[: 14 + 20 + 19]) == Skipped("truncated"), "the fixed 20 bytes are needed"


def test_tso_zero_total_length_uses_the_captured_length() -> None:
    raw = bytearray(bytes(ETH / V4 / TCP(flags="PA") / b"offloaded"))
    raw[16:18] = b"\x00\x00"
    got = segment(bytes(raw))
    assert (got.payload, got.payload_len) == (b"offloaded", 9)


def test_ipv6_zero_payload_length_without_jumbo_option_uses_the_captured_length() -> None:
    got = segment(ETH / IPv6(plen=0) / TCP(flags="PA") / b"big tcp")
    assert (got.payload, got.payload_len) == (b"big tcp", 7)


@pytest.mark.parametrize("ihl", [0, 1, 4])
def test_bad_ihl_is_malformed(ihl: int) -> None:
    raw = bytearray(bytes(ETH / V4 / TCP()))
    raw[14] = 0x40 | ihl
    assert skipped(bytes(raw)) == Skipped("malformed-ip", malformed=True)


def test_total_length_shorter_than_header_is_malformed() -> None:
    assert skipped(ETH / IP(len=12) / TCP()) == Skipped("malformed-ip", malformed=True)


def test_ip_version_must_match_the_ethertype() -> None:
    assert skipped(Ether(type=0x0800) / V6 / TCP()) == Skipped("malformed-ip", malformed=True)
    assert skipped(Ether(type=0x86DD) / V4 / TCP()) == Skipped("malformed-ip", malformed=True)


@pytest.mark.parametrize("dataofs", [0, 4])
def test_tcp_data_offset_below_five_is_malformed(dataofs: int) -> None:
    assert skipped(ETH / V4 / TCP(dataofs=dataofs)) == Skipped("malformed-tcp", malformed=True)


def test_tcp_data_offset_beyond_the_packet_is_malformed() -> None:
    assert skipped(ETH / V4 / TCP(dataofs=15)) == Skipped("malformed-tcp", malformed=True)


def test_ip_length_too_short_for_a_tcp_header_is_malformed() -> None:
    frame = ETH / IP(len=30, proto=6) / bytes(30)
    assert skipped(frame) == Skipped("malformed-tcp", malformed=True)


def test_ipv4_fragments() -> None:
    split: Any = fragment
    first, *rest = split(V4 / TCP(flags="PA", seq=9) / bytes(100), fragsize=48)
    got = segment(ETH / first)  # the first fragment holds the whole TCP header
    assert (got.seq, got.payload, got.payload_len) == (9, bytes(28), 28)
    assert [f.frag for f in rest] == [6, 12]
    for later in rest:
        assert skipped(ETH / later) == Skipped("fragment")


def test_ipv6_segment_fields() -> None:
    got = segment(ETH / V6 / TCP(sport=5, dport=6, seq=7, flags="S"))
    assert got.family == 6
    assert got.src == b"\x20\x01\x0d\xb8" + bytes(11) + b"\x01"
    assert (got.ip_id, got.ttl) == (0, 33)


def test_ipv6_walks_hop_by_hop_destination_routing_and_first_fragment_headers() -> None:
    frame = (
        ETH
        / V6
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrRouting(addresses=["2001:db8::9"])
        / IPv6ExtHdrFragment(offset=0, m=1, id=1)
        / IPv6ExtHdrDestOpt()
        / TCP(sport=1, dport=2, seq=3, flags="S")
        / b"data"
    )
    got = segment(frame)
    assert (got.sport, got.dport, got.seq, got.payload, got.payload_len) == (1, 2, 3, b"data", 4)


def test_ipv6_non_first_fragment_is_skipped() -> None:
    frame = ETH / V6 / IPv6ExtHdrFragment(offset=10, m=0, nh=6) / bytes(40)
    assert skipped(frame) == Skipped("fragment")


def test_ipv6_authentication_header_is_walked() -> None:
    raw = bytes(ETH / V6 / AH(nh=6, payloadlen=4, spi=1, seq=1, icv=bytes(12)) / TCP(seq=55))
    assert segment(raw).seq == 55


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (ETH / V6 / ESP(spi=1, seq=1, data=bytes(20)), "esp"),
        (ETH / V6 / IPv6ExtHdrHopByHop(nh=59), "not-tcp"),
        (ETH / IPv6(plen=0, nh=0) / IPv6ExtHdrHopByHop(nh=6) / TCP(), "jumbogram"),
        (ETH / V4 / UDP(), "not-tcp"),
        (ETH / V6 / UDP(), "not-tcp"),
    ],
    ids=["esp", "no-next-header", "jumbogram", "udp4", "udp6"],
)
def test_uninteresting_ip_payloads(frame: Any, reason: str) -> None:
    assert skipped(frame) == Skipped(reason)


def test_ipv6_extension_header_past_the_payload_is_malformed() -> None:
    raw = bytearray(bytes(ETH / V6 / IPv6ExtHdrDestOpt() / TCP()))
    raw[14 + 40 + 1] = 200  # destination options claims 1608 bytes
    assert skipped(bytes(raw)) == Skipped("malformed-ip", malformed=True)


@pytest.mark.parametrize("cut", [14 + 10, 14 + 39])
def test_ip_header_cut_by_the_snaplen_is_truncated(cut: int) -> None:
    assert skipped(bytes(ETH / V6 / TCP())[:cut]) == Skipped("truncated")
    assert skipped(bytes(ETH / V4 / TCP())[: min(cut, 14 + 19)]) == Skipped("truncated")
