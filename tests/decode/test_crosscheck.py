"""scapy as an oracle: decode() agrees with its dissection of built and real captures; never raises."""

from __future__ import annotations

import csv
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.contrib.geneve import GENEVE
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.ipsec import AH
from scapy.layers.l2 import GRE, Dot1Q, Ether
from scapy.layers.vxlan import VXLAN
from scapy.utils import rdpcap

from builders import write_pcap
from pcapdiag.capture import open_capture
from pcapdiag.decode import IcmpError, Skipped, TcpSegment, decode

CORPUS = Path(os.environ.get("PCAPDIAG_ZEEK_CORPUS", "/work/shared/corpus/zeek"))
LINKTYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147]
ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def scapy_view(packet: Any) -> tuple[Any, ...] | None:
    """The fields decode() reports, as scapy dissects them (first real TCP layer), or None."""
    tcp = next((layer for layer in packet.iterpayloads() if type(layer) is TCP), None)
    if tcp is None:
        return None
    ip: Any = tcp.underlayer
    while not isinstance(ip, IP | IPv6):  # skip IPv6 extension headers
        ip = ip.underlayer
    family = socket.AF_INET6 if isinstance(ip, IPv6) else socket.AF_INET
    header = tcp.dataofs * 4
    payload = tcp.original[header:]  # scapy trims the IP payload to the IP length, like decode()
    pppoe = next((layer for layer in packet.iterpayloads() if type(layer).__name__ == "PPPoE"), None)
    if pppoe is not None:  # RFC 2516: the PPPoE length ends the packet (scapy's IP reads on into padding)
        ip_bytes = bytes(ip)
        inside = pppoe.len - 2 - (len(ip_bytes) - len(bytes(ip.payload)))  # PPP protocol, IP header
        payload = payload[: max(0, inside - header)]
    return (
        socket.inet_pton(family, ip.src),
        socket.inet_pton(family, ip.dst),
        tcp.sport,
        tcp.dport,
        tcp.seq,
        tcp.ack,
        int(tcp.flags),
        tcp.window,
        payload,
        tcp.original[20:header],
    )


def our_view(decoded: TcpSegment) -> tuple[Any, ...]:
    return (
        decoded.src,
        decoded.dst,
        decoded.sport,
        decoded.dport,
        decoded.seq,
        decoded.ack,
        decoded.flags,
        decoded.window,
        decoded.payload,
        decoded.options,
    )


def _conversation() -> list[Any]:
    client, server = IP(src="198.18.0.1", dst="198.18.96.1"), IP(src="198.18.96.1", dst="198.18.0.1")
    opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (5, 0)), ("NOP", None), ("WScale", 7)]
    packets = [
        ETH / client / TCP(sport=40000, dport=443, flags="S", seq=1000, options=opts),
        ETH / server / TCP(sport=443, dport=40000, flags="SA", seq=9000, ack=1001, options=opts),
        ETH / client / TCP(sport=40000, dport=443, flags="A", seq=1001, ack=9001),
        ETH / client / TCP(sport=40000, dport=443, flags="PA", seq=1001, ack=9001) / bytes(517),
        ETH / Dot1Q(vlan=20) / server / TCP(sport=443, dport=40000, flags="A", ack=1518),
        ETH / server / TCP(sport=443, dport=40000, flags="PA", seq=9001, ack=1518) / bytes(1400),
        ETH
        / IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrDestOpt()
        / TCP(sport=5, dport=6, flags="FA", seq=2**32 - 2, ack=77, window=0),
        ETH / client / TCP(sport=40000, dport=443, flags="RA", seq=1518, ack=10401),
        ETH / client / TCP(sport=40000, dport=443, flags="FSRPAUEC", urgptr=3) / b"all",
    ]
    return packets * 5


def test_decoder_agrees_with_scapy_on_a_built_capture(tmp_path: Path) -> None:
    packets = _conversation()
    path = write_pcap(tmp_path / "conversation.pcap", packets)
    with path.open("rb") as stream:
        decoded = [decode(f.linktype, f.data) for f in open_capture(stream, "x").frames()]
    expected = [scapy_view(p) for p in rdpcap(str(path))]
    assert len(decoded) == len(expected) == len(packets)
    for ours, theirs in zip(decoded, expected, strict=True):
        assert isinstance(ours, TcpSegment)
        assert our_view(ours) == theirs


def _corpus_rows() -> list[dict[str, str]]:
    tsv = CORPUS / "TRACES.tsv"
    if not tsv.exists():
        return []
    with tsv.open(newline="") as rows:
        return list(csv.DictReader(rows, delimiter="\t"))


@pytest.mark.skipif(not _corpus_rows(), reason=f"no Zeek trace corpus at {CORPUS}")
def test_decoder_agrees_with_scapy_on_every_real_tcp_packet() -> None:
    """Every packet in which scapy finds TCP decodes to the same fields (20k+ packets)."""
    compared = 0
    for row in _corpus_rows():
        path = CORPUS / row["trace"]
        with path.open("rb") as stream:
            frames = list(open_capture(stream, str(path)).frames())
        for frame, packet in zip(frames, rdpcap(str(path)), strict=True):
            theirs = scapy_view(packet)
            if theirs is None:
                continue
            ours = decode(frame.linktype, frame.data)
            assert isinstance(ours, TcpSegment), (row["trace"], frame.number, ours)
            assert our_view(ours) == theirs, (row["trace"], frame.number)
            compared += 1
    assert compared > 20_000


# --- never raises --------------------------------------------------------------------------

_SYN = IP(src="198.18.0.1", dst="198.18.0.2") / TCP(sport=1, dport=2, flags="S")
SEEDS = [bytes(p) for p in _conversation()[:9]] + [
    bytes(ETH / IP() / UDP(dport=4789) / VXLAN() / ETH / _SYN),
    bytes(ETH / IP() / UDP(dport=6081) / GENEVE(proto=0x6558, optionlen=1) / bytes(4) / ETH / _SYN),
    bytes(ETH / IP() / GRE(key_present=1, proto=0x6558) / ETH / Dot1Q() / _SYN),
    bytes(ETH / IP() / ICMP(type=3) / _SYN),
    bytes(ETH / IPv6() / ICMPv6DestUnreach() / IPv6() / IPv6ExtHdrFragment() / TCP()),
    bytes(ETH / IPv6() / IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting() / AH(nh=6) / TCP()),
    bytes(ETH / IP() / UDP(sport=3544) / b"\x00\x01\x02\x03" / bytes(20) / IPv6() / TCP()),
]


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(LINKTYPES), st.binary(max_size=200))
def test_decode_never_raises_on_arbitrary_bytes(linktype: int, data: bytes) -> None:
    assert isinstance(decode(linktype, data), TcpSegment | IcmpError | Skipped)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 2000),
)
def test_decode_never_raises_on_mutated_packets(seed: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seed)
    for position, value in flips:
        data[position % len(data)] = value
    mutated = bytes(data[: len(data) - cut % len(data)])
    assert isinstance(decode(1, mutated), TcpSegment | IcmpError | Skipped)
