"""ICMP and ICMPv6 errors quoting a TCP SYN become IcmpError; everything else ICMP is skipped."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, TCPerror
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    ICMPv6PacketTooBig,
    ICMPv6TimeExceeded,
    IPv6,
    IPv6ExtHdrDestOpt,
)
from scapy.layers.l2 import Ether

from pcapdiag.decode import IcmpError, Skipped, decode

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
CLIENT4, SERVER4, ROUTER4 = "198.18.0.1", "198.18.96.10", "198.18.0.254"
CLIENT6, SERVER6, ROUTER6 = "2001:db8::1", "2001:db8::10", "2001:db8::fe"
SYN4 = IP(src=CLIENT4, dst=SERVER4) / TCP(sport=40000, dport=443, flags="S", seq=123456)
SYN6 = IPv6(src=CLIENT6, dst=SERVER6) / TCP(sport=40000, dport=443, flags="S", seq=123456)


def packed(address: str) -> bytes:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return socket.inet_pton(family, address)


@pytest.mark.parametrize(
    ("icmp_type", "code"),
    [(3, 1), (3, 3), (3, 13), (11, 0), (12, 0)],
    ids=["host-unreachable", "port-unreachable", "admin-prohibited", "ttl-exceeded", "param"],
)
def test_icmp_error_quoting_a_syn(icmp_type: int, code: int) -> None:
    frame = ETH / IP(src=ROUTER4, dst=CLIENT4) / ICMP(type=icmp_type, code=code) / SYN4
    assert decode(1, bytes(frame)) == IcmpError(
        family=4,
        reporter=packed(ROUTER4),
        icmp_type=icmp_type,
        icmp_code=code,
        quoted_src=packed(CLIENT4),
        quoted_dst=packed(SERVER4),
        quoted_sport=40000,
        quoted_dport=443,
        quoted_seq=123456,
    )


def test_icmp_error_quoting_only_eight_bytes_of_tcp() -> None:
    quote = bytes(SYN4)[: 20 + 8]  # RFC 792 minimum
    frame = ETH / IP(src=ROUTER4, dst=CLIENT4) / ICMP(type=3, code=1) / quote
    decoded = decode(1, bytes(frame))
    assert isinstance(decoded, IcmpError)
    assert (decoded.quoted_sport, decoded.quoted_dport, decoded.quoted_seq) == (40000, 443, 123456)


def test_scapy_error_layers_agree() -> None:
    frame = ETH / IP(src=ROUTER4, dst=CLIENT4) / ICMP(type=3, code=3) / SYN4
    parsed = Ether(bytes(frame))
    decoded = decode(1, bytes(frame))
    assert isinstance(decoded, IcmpError)
    assert decoded.quoted_seq == parsed[TCPerror].seq
    assert decoded.quoted_dst == packed(parsed[IPerror].dst)


@pytest.mark.parametrize(
    "icmp6",
    [
        ICMPv6DestUnreach(code=1),
        ICMPv6DestUnreach(code=4),
        ICMPv6TimeExceeded(),
        ICMPv6PacketTooBig(mtu=1280),
    ],
    ids=["admin-prohibited", "port-unreachable", "time-exceeded", "packet-too-big"],
)
def test_icmpv6_error_quoting_a_syn(icmp6: Any) -> None:
    frame = ETH / IPv6(src=ROUTER6, dst=CLIENT6) / icmp6 / SYN6
    decoded = decode(1, bytes(frame))
    assert decoded == IcmpError(
        family=6,
        reporter=packed(ROUTER6),
        icmp_type=icmp6.type,
        icmp_code=icmp6.code,
        quoted_src=packed(CLIENT6),
        quoted_dst=packed(SERVER6),
        quoted_sport=40000,
        quoted_dport=443,
        quoted_seq=123456,
    )


def test_icmpv6_quote_with_extension_headers() -> None:
    quoted = IPv6(src=CLIENT6, dst=SERVER6) / IPv6ExtHdrDestOpt() / SYN6[TCP]
    frame = ETH / IPv6(src=ROUTER6, dst=CLIENT6) / ICMPv6DestUnreach(code=3) / quoted
    decoded = decode(1, bytes(frame))
    assert isinstance(decoded, IcmpError)
    assert decoded.quoted_seq == 123456


@pytest.mark.parametrize(
    ("frame", "reason", "malformed"),
    [
        (ETH / IP() / ICMP(type=8), "not-tcp", False),
        (ETH / IPv6() / ICMPv6EchoRequest(), "not-tcp", False),
        (ETH / IP() / ICMP(type=3, code=3) / IP() / UDP(), "not-tcp", False),
        (ETH / IP() / ICMP(type=3) / bytes(SYN4)[:24], "malformed-icmp", True),
        (ETH / IP() / ICMP(type=3) / b"\x45", "malformed-icmp", True),
        (ETH / IP(proto=1) / b"\x03\x01", "truncated", False),
    ],
    ids=["echo", "echo6", "quotes-udp", "short-quote", "no-quote", "short-icmp"],
)
def test_other_icmp_is_skipped(frame: Any, reason: str, malformed: bool) -> None:
    assert decode(1, bytes(frame)) == Skipped(reason, malformed)


def test_icmp_error_inside_a_fragment_quoting_a_fragment_is_not_tcp() -> None:
    quote = IP(src=CLIENT4, dst=SERVER4, frag=10, proto=6) / bytes(8)
    frame = ETH / IP(src=ROUTER4, dst=CLIENT4) / ICMP(type=11) / quote
    assert decode(1, bytes(frame)) == Skipped("not-tcp")
