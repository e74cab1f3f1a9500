"""Build TCP/TLS conversations packet by packet with scapy, with sequence numbers kept right.

Used by the edge-case tests for what a lab cannot easily make (VLAN tags, IPv6 extension
headers, reused 5-tuples, duplicated packets, mid-stream starts, lost packets). Addresses are
from 198.18.0.0/15 and 2001:db8::/32 only.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop
from scapy.layers.l2 import Dot1Q, Ether

from builders import Record

NS = 1_000_000_000
START = 1_790_000_000 * NS
CLIENT_ISN = 1_000_000
SERVER_ISN = 3_000_000_000


@dataclass
class Conversation:
    """One client-server TCP connection; each method appends a packet at capture time ``t`` (s)."""

    client: tuple[str, int] = ("198.18.0.2", 40000)
    server: tuple[str, int] = ("198.19.0.2", 443)
    vlan: int | None = None
    ipv6_ext: bool = False
    client_isn: int = CLIENT_ISN
    server_isn: int = SERVER_ISN
    records: list[Record] = field(default_factory=list)
    cseq: int = 0
    sseq: int = 0
    ip_id: int = 1
    ttl_to_server: int = 64
    """TTL (hop limit) of the client's packets where this conversation is captured."""
    ttl_to_client: int = 64

    def __post_init__(self) -> None:
        self.cseq = self.client_isn + 1
        self.sseq = self.server_isn + 1

    def _l3(self, to_server: bool) -> Any:
        src, dst = (self.client[0], self.server[0]) if to_server else (self.server[0], self.client[0])
        ttl = self.ttl_to_server if to_server else self.ttl_to_client
        self.ip_id += 1
        if ":" in src:
            ip = IPv6(src=src, dst=dst, hlim=ttl)
            if self.ipv6_ext:
                ip = ip / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt()
            return ip
        return IP(src=src, dst=dst, id=self.ip_id, ttl=ttl)

    def packet(self, t: float, to_server: bool, flags: str, seq: int, ack: int, payload: bytes = b"") -> Any:
        """Append one raw packet (no sequence bookkeeping)."""
        sport, dport = (self.client[1], self.server[1]) if to_server else (self.server[1], self.client[1])
        eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        if self.vlan is not None:
            eth = eth / Dot1Q(vlan=self.vlan)
        pkt = (
            eth / self._l3(to_server) / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack) / payload
        )
        self.records.append(Record(bytes(pkt), START + round(t * NS)))
        return pkt

    def syn(self, t: float) -> None:
        self.packet(t, True, "S", self.client_isn, 0)

    def synack(self, t: float) -> None:
        self.packet(t, False, "SA", self.server_isn, self.client_isn + 1)

    def handshake(self, t: float) -> None:
        """SYN, SYN-ACK, ACK, 100 µs apart."""
        self.syn(t)
        self.synack(t + 0.0001)
        self.ack(t + 0.0002, to_server=True)

    def ack(self, t: float, to_server: bool) -> None:
        if to_server:
            self.packet(t, True, "A", self.cseq, self.sseq)
        else:
            self.packet(t, False, "A", self.sseq, self.cseq)

    def send(self, t: float, to_server: bool, payload: bytes, *, advance: bool = True) -> None:
        """Payload with PSH/ACK; advance=False re-sends (a retransmission) or loses bytes."""
        if to_server:
            self.packet(t, True, "PA", self.cseq, self.sseq, payload)
            if advance:
                self.cseq += len(payload)
        else:
            self.packet(t, False, "PA", self.sseq, self.cseq, payload)
            if advance:
                self.sseq += len(payload)

    def fin(self, t: float, to_server: bool) -> None:
        if to_server:
            self.packet(t, True, "FA", self.cseq, self.sseq)
            self.cseq += 1
        else:
            self.packet(t, False, "FA", self.sseq, self.cseq)
            self.sseq += 1

    def rst(self, t: float, to_server: bool) -> None:
        if to_server:
            self.packet(t, True, "R", self.cseq, 0)
        else:
            self.packet(t, False, "RA", self.sseq, self.cseq)


# -- TLS bytes ------------------------------------------------------------------------------


def record(content_type: int, body: bytes, version: int = 0x0303) -> bytes:
    """A TLS record."""
    return struct.pack("!BHH", content_type, version, len(body)) + body


def handshake(hs_type: int, body: bytes) -> bytes:
    """A handshake message (type, 3-byte length, body)."""
    return struct.pack("!B", hs_type) + len(body).to_bytes(3, "big") + body


def _ext(ext_type: int, data: bytes) -> bytes:
    return struct.pack("!HH", ext_type, len(data)) + data


def client_hello(
    sni: str = "webhook.pcd-system.svc", alpn: tuple[str, ...] = ("http/1.1",), tls13: bool = True
) -> bytes:
    """A ClientHello record with SNI, ALPN and (for TLS 1.3) supported_versions."""
    name = sni.encode()
    sni_ext = _ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
    alpn_list = b"".join(struct.pack("!B", len(p)) + p.encode() for p in alpn)
    alpn_ext = _ext(16, struct.pack("!H", len(alpn_list)) + alpn_list)
    exts = sni_ext + alpn_ext
    if tls13:
        exts += _ext(43, bytes([4, 0x03, 0x04, 0x03, 0x03]))
    body = (
        b"\x03\x03"
        + bytes(32)
        + b"\x20"
        + bytes(32)
        + b"\x00\x04\x13\x01\xc0\x2f"
        + b"\x01\x00"
        + struct.pack("!H", len(exts))
        + exts
    )
    return record(22, handshake(1, body), version=0x0301)


def server_hello(tls13: bool = True, alpn: str | None = None) -> bytes:
    """A ServerHello record choosing TLS 1.3 (supported_versions) or TLS 1.2, and ``alpn`` when given
    (an ALPN extension naming one protocol)."""
    exts = _ext(43, b"\x03\x04") if tls13 else b""
    if alpn is not None:
        name = struct.pack("!B", len(alpn)) + alpn.encode()
        exts += _ext(16, struct.pack("!H", len(name)) + name)
    body = (
        b"\x03\x03"
        + bytes(range(32))
        + b"\x20"
        + bytes(32)
        + (b"\x13\x01" if tls13 else b"\xc0\x2f")
        + b"\x00"
    )
    body += struct.pack("!H", len(exts)) + exts
    return record(22, handshake(2, body))


CCS = record(20, b"\x01")


def app_data(length: int) -> bytes:
    """An application-data (or TLS 1.3 encrypted) record with a body of ``length`` bytes."""
    return record(23, bytes(length))


def alert(description: int, level: int = 2) -> bytes:
    """A clear-text alert record."""
    return record(21, bytes([level, description]))


def certificate(der_chain: list[bytes]) -> bytes:
    """A TLS 1.2 Certificate handshake record."""
    certs = b"".join(len(d).to_bytes(3, "big") + d for d in der_chain)
    return record(22, handshake(11, len(certs).to_bytes(3, "big") + certs))


def tls13_server_flight(conv: Conversation, t: float = 0.0) -> None:
    """TCP handshake, ClientHello, and the server's TLS 1.3 flight (ServerHello, CCS, 4 encrypted records)."""
    conv.handshake(t)
    conv.send(t + 0.001, True, client_hello())
    conv.send(
        t + 0.002, False, server_hello() + CCS + app_data(38) + app_data(800) + app_data(96) + app_data(53)
    )


def tls13_ok(conv: Conversation, t: float = 0.0, request: int = 900, response: int = 300) -> float:
    """A complete TLS 1.3 exchange (Go-style: tickets in the server flight); returns the end time."""
    tls13_server_flight(conv, t)
    conv.send(t + 0.003, True, CCS + app_data(53))
    conv.send(t + 0.004, True, app_data(request))
    conv.send(t + 0.005, False, app_data(response))
    return t + 0.005
