"""Write large, realistic TCP/TLS 1.3 captures (pcap or pcapng) for pcapdiag's memory benchmarks, fast."""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import random
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

NS = 1_000_000_000
MS = 1_000_000
US = 1_000
START_NS = 1_790_000_000 * NS
"""First packet time (2026-09-21), as in tests/conversation.py."""
MASK32 = 0xFFFFFFFF
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MSS4 = 1448
"""TCP payload per full segment over IPv4 with the timestamp option (MTU 1500)."""
MSS6 = 1428
LINKTYPES = {"ethernet": 1, "sll2": 276}
KINDS = ("long", "synflood", "mix", "busy")
GENERATOR_VERSION = 2
"""Bumped whenever the bytes a given command line writes change (bench/memory.py regenerates)."""

# TLS record sizes (bodies) of a Go TLS 1.3 handshake, as in tests/conversation.py.
TLS_OVERHEAD = 17
"""TLS 1.3 encrypted record body = plaintext + content type byte + 16-byte AEAD tag."""
MAX_PLAINTEXT = 16384
GO_MSS_ESTIMATE_PAYLOAD = 1186
"""Go's dynamic record sizing (crypto/tls maxPayloadSizeForWrite): records start at this much
plaintext (1208 - 5 - 16 - 1) and grow by it per record until 128 KiB have been sent."""
GO_BOOST_THRESHOLD = 128 * 1024
FINISHED_BODY = 53
CLOSE_NOTIFY_BODY = 19
BULK_WRITE = 64 * 1024
"""Bulk transfers are written (and generated) this much plaintext at a time, so memory stays small."""

_IP4 = struct.Struct("!BBHHHBBH4s4s")
_IP6 = struct.Struct("!IHBB16s16s")
_TCP_BARE = struct.Struct("!HHIIHHHH")
_TCP_TS = struct.Struct("!HHIIHHHHBBBBII")
_TCP_SYN = struct.Struct("!HHIIHHHHBBHBBBBIIBBBB")
_SLL2 = struct.Struct("!HHIHBB6sxx")
_PCAP_HEADER = struct.Struct("<IHHiIII")
_PCAP_RECORD = struct.Struct("<IIII")
_EPB_HEAD = struct.Struct("<IIIIIII")
_U32 = struct.Struct("<I")
_OPT_TS = 0x0101 + 0x080A
_OPT_SYN_FIXED = 0x0204 + 0x0402 + 0x080A + 0x0103 + 0x0307


def _ones(data: bytes) -> int:
    """The 16-bit one's-complement sum of ``data``, modulo 0xFFFF (2**16 == 1 mod 0xFFFF)."""
    value = int.from_bytes(data, "big")
    return (value << 8 if len(data) & 1 else value) % 0xFFFF


def _fold(total: int) -> int:
    """The Internet checksum of words summing to ``total`` (0x0000 rather than 0xFFFF, as stacks send it)."""
    return 0xFFFF - (total % 0xFFFF or 0xFFFF)


def parse_count(text: str) -> int:
    """'5000000', '5M', '500k' -> an int."""
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    return int(float(text[:-1] if mult != 1 else text) * mult)


# -- link layers and the file writer ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    """How frames of one capture begin: Ethernet (the capturing host's view) or SLL2 (tcpdump -i any)."""

    linktype: int

    def prefix(self, v6: bool, outgoing: bool, src_mac: bytes, dst_mac: bytes) -> bytes:
        """The link header of a frame sent from ``src_mac`` (outgoing: sent by the capturing host)."""
        ethertype = 0x86DD if v6 else 0x0800
        if self.linktype == LINKTYPES["ethernet"]:
            return dst_mac + src_mac + struct.pack("!H", ethertype)
        return _SLL2.pack(ethertype, 0, 2, 1, 4 if outgoing else 0, 6, src_mac)


class Writer:
    """Streams records to a pcap (microsecond) or pcapng (nanosecond EPB) file."""

    def __init__(self, out: BinaryIO, fmt: str, linktype: int) -> None:
        self.out = out
        self.pcapng = fmt == "pcapng"
        self.packets = 0
        self.bytes = 0
        if self.pcapng:
            shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
            shb_len = 12 + len(shb_body)
            out.write(struct.pack("<II", 0x0A0D0D0A, shb_len) + shb_body + _U32.pack(shb_len))
            # IDB: linktype, snaplen, if_tsresol = 9 (nanoseconds), end of options.
            idb_body = struct.pack("<HHI", linktype, 0, 262144) + struct.pack("<HHB3x", 9, 1, 9) + bytes(4)
            out.write(struct.pack("<II", 1, 12 + len(idb_body)) + idb_body + _U32.pack(12 + len(idb_body)))
        else:
            out.write(_PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))

    def write(self, ts_ns: int, frame: bytes) -> None:
        """One packet, captured whole."""
        n = len(frame)
        self.packets += 1
        self.bytes += n
        if self.pcapng:
            pad = -n & 3
            total = 32 + n + pad
            self.out.write(_EPB_HEAD.pack(6, total, 0, ts_ns >> 32, ts_ns & MASK32, n, n))
            self.out.write(frame + bytes(pad) + _U32.pack(total) if pad else frame + _U32.pack(total))
        else:
            sec, frac = divmod(ts_ns, NS)
            self.out.write(_PCAP_RECORD.pack(sec, frac // US, n, n))
            self.out.write(frame)


# -- TCP ----------------------------------------------------------------------------------------


class Half:
    """One direction of a connection: its headers, next sequence number, IPv4 ID and TCP timestamp clock."""

    __slots__ = (
        "dport",
        "dst",
        "hole_seq",
        "hole_until",
        "ip_id",
        "ip_k",
        "isn",
        "k",
        "mss",
        "nxt",
        "prefix",
        "rec_bytes",
        "rec_count",
        "sport",
        "src",
        "ts_base",
        "tsval",
        "ttl",
        "v6",
        "win",
    )

    def __init__(
        self, prefix: bytes, src: bytes, dst: bytes, sport: int, dport: int, rng: random.Random, win: int
    ) -> None:
        self.prefix = prefix
        self.src, self.dst = src, dst
        self.sport, self.dport = sport, dport
        self.v6 = len(src) == 16
        self.isn = rng.getrandbits(32)
        self.nxt = self.isn
        self.ip_id = rng.getrandbits(16)
        self.ts_base = rng.getrandbits(32)
        self.tsval = 0
        self.win = win
        self.ttl = 64
        self.mss = MSS6 if self.v6 else MSS4
        addr_sum = int.from_bytes(src, "big") + int.from_bytes(dst, "big")
        self.k = (addr_sum + 6 + sport + dport) % 0xFFFF
        """Pseudo-header addresses and protocol, plus the ports: the constant part of the TCP checksum."""
        self.ip_k = (0x4500 + 0x4000 + (self.ttl << 8 | 6) + addr_sum) % 0xFFFF
        self.rec_bytes = 0
        """Go dynamic record sizing state: application-data bytes and records written so far."""
        self.rec_count = 0
        self.hole_seq = 0
        """A lost segment's sequence number: the receiver's ACKs stop there until ``hole_until``."""
        self.hole_until = 0

    def frame(self, t_ns: int, flags: int, seq: int, ack: int, payload: bytes, tsecr: int) -> bytes:
        """The whole frame, checksums right (IPv4 header and TCP)."""
        if flags & RST:
            win = tsval = tsecr = 0
            doff = 5
        else:
            win = self.win
            tsval = (self.ts_base + t_ns // MS) & MASK32
            self.tsval = tsval
            doff = 10 if flags & SYN else 8
        offflags = doff << 12 | flags
        tcp_len = doff * 4 + len(payload)
        s = self.k + tcp_len + seq + ack + offflags + win + tsval + tsecr
        if payload:
            s += _ones(payload)
        if flags & SYN:
            win = 64240 if not flags & ACK else 65160  # unscaled in a SYN
            s += win - self.win
            csum = _fold(s + _OPT_SYN_FIXED + self.mss + 12)
            tcp = _TCP_SYN.pack(
                self.sport, self.dport, seq, ack, offflags, win, csum, 0,
                2, 4, self.mss + 12, 4, 2, 8, 10, tsval, tsecr, 1, 3, 3, 7,
            )  # fmt: skip
        elif flags & RST:
            tcp = _TCP_BARE.pack(self.sport, self.dport, seq, ack, offflags, win, _fold(s), 0)
        else:
            csum = _fold(s + _OPT_TS)
            tcp = _TCP_TS.pack(
                self.sport, self.dport, seq, ack, offflags, win, csum, 0, 1, 1, 8, 10, tsval, tsecr
            )
        if self.v6:
            ip = _IP6.pack(0x60000000, tcp_len, 6, self.ttl, self.src, self.dst)
        else:
            self.ip_id = ip_id = (self.ip_id + 1) & 0xFFFF
            total = 20 + tcp_len
            ip = _IP4.pack(
                0x45, 0, total, ip_id, 0x4000, self.ttl, 6,
                _fold(self.ip_k + total + ip_id), self.src, self.dst,
            )  # fmt: skip
        return self.prefix + ip + tcp + payload


Event = tuple[int, int, bool, int, int, int, bytes]
"""(time, order, to_server, flags, seq, ack, payload)."""


class Conn:
    """A client-to-server connection seen from the client's host; packets queue up and leave in time order."""

    def __init__(
        self,
        link: Link,
        client: tuple[bytes, int],
        server: tuple[bytes, int],
        rng: random.Random,
        client_mac: bytes = b"\x02\x42\xc6\x12\x00\x02",
        gateway_mac: bytes = b"\x02\x42\xc6\x12\x00\x01",
    ) -> None:
        v6 = len(client[0]) == 16
        out_prefix = link.prefix(v6, True, client_mac, gateway_mac)
        in_prefix = link.prefix(v6, False, gateway_mac, client_mac)
        self.c = Half(out_prefix, client[0], server[0], client[1], server[1], rng, 502)
        self.s = Half(in_prefix, server[0], client[0], server[1], client[1], rng, 509)
        self.rng = rng
        self.events: list[Event] = []
        self._order = 0

    def half(self, to_server: bool) -> Half:
        """The sending direction."""
        return self.c if to_server else self.s

    def send(
        self,
        t: int,
        to_server: bool,
        flags: int,
        payload: bytes = b"",
        ack: int | None = None,
        seq: int | None = None,
        captured: bool = True,
    ) -> int:
        """Queue one segment at capture time ``t`` (ns) and advance the sender's sequence number.

        ``ack`` defaults to everything the peer has sent so far (queue segments in causal order);
        ``seq`` given means a retransmission or a RST's own number: nothing advances; a segment not
        ``captured`` (lost before the capture point) advances the sequence number but is not written.
        """
        me, peer = (self.c, self.s) if to_server else (self.s, self.c)
        if ack is None:
            ack = peer.nxt if flags & ACK else 0
        if seq is None:
            seq = me.nxt
            me.nxt = (seq + len(payload) + (1 if flags & (SYN | FIN) else 0)) & MASK32
        if not captured:
            return t
        self._order += 1
        self.events.append((t, self._order, to_server, flags, seq, ack, payload))
        return t

    def flush(self, until: int | None = None) -> Iterator[tuple[int, bytes]]:
        """The queued packets as (time, frame), in time order; with ``until``, only those sent by then
        (the caller queues nothing earlier afterwards)."""
        self.events.sort()
        cut = (
            len(self.events) if until is None else bisect.bisect_right(self.events, until, key=lambda e: e[0])
        )
        events, self.events = self.events[:cut], self.events[cut:]
        c, s = self.c, self.s
        for t, _, to_server, flags, seq, ack, payload in events:
            if to_server:
                yield t, c.frame(t, flags, seq, ack, payload, s.tsval if flags & ACK else 0)
            else:
                yield t, s.frame(t, flags, seq, ack, payload, c.tsval)


# -- TLS bytes ----------------------------------------------------------------------------------


def tls_record(content_type: int, body: bytes, version: int = 0x0303) -> bytes:
    """A TLS record."""
    return struct.pack("!BHH", content_type, version, len(body)) + body


def _hs(hs_type: int, body: bytes) -> bytes:
    return struct.pack("!B", hs_type) + len(body).to_bytes(3, "big") + body


def _ext(ext_type: int, data: bytes) -> bytes:
    return struct.pack("!HH", ext_type, len(data)) + data


def client_hello(sni: str, rng: random.Random) -> bytes:
    """A Go-like TLS 1.3 ClientHello record: SNI, ALPN, supported_versions, key_share and the rest."""
    name = sni.encode()
    exts = _ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
    exts += _ext(5, b"\x01\x00\x00\x00\x00")  # status_request
    exts += _ext(10, b"\x00\x08\x00\x1d\x00\x17\x00\x18\x00\x19")  # supported_groups
    exts += _ext(11, b"\x01\x00")  # ec_point_formats
    exts += _ext(13, b"\x00\x08\x04\x03\x08\x04\x04\x01\x05\x03")  # signature_algorithms
    exts += _ext(0xFF01, b"\x00")  # renegotiation_info
    exts += _ext(16, b"\x00\x09\x08http/1.1")  # ALPN
    exts += _ext(18, b"")  # signed_certificate_timestamp
    exts += _ext(43, b"\x04\x03\x04\x03\x03")  # supported_versions: TLS 1.3, 1.2
    exts += _ext(51, b"\x00\x24\x00\x1d\x00\x20" + rng.randbytes(32))  # key_share x25519
    suites = b"\x13\x01\x13\x02\x13\x03\xc0\x2b\xc0\x2f\xc0\x2c\xc0\x30\xcc\xa9\xcc\xa8"
    body = (
        b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32)
        + struct.pack("!H", len(suites)) + suites + b"\x01\x00"
        + struct.pack("!H", len(exts)) + exts
    )  # fmt: skip
    return tls_record(22, _hs(1, body), version=0x0301)


def server_hello(rng: random.Random, session_id: bytes) -> bytes:
    """A TLS 1.3 ServerHello record (supported_versions, key_share)."""
    exts = _ext(43, b"\x03\x04") + _ext(51, b"\x00\x1d\x00\x20" + rng.randbytes(32))
    body = b"\x03\x03" + rng.randbytes(32) + b"\x20" + session_id + b"\x13\x01\x00"
    return tls_record(22, _hs(2, body + struct.pack("!H", len(exts)) + exts))


CCS = tls_record(20, b"\x01")


class Ciphertext:
    """Pseudo-random bytes to cut encrypted record bodies from (deterministic per seed)."""

    def __init__(self, rng: random.Random) -> None:
        self.pool = rng.randbytes(1 << 20)
        self.rng = rng

    def record(self, body_len: int) -> bytes:
        """An application-data record (TLS 1.3: any encrypted record) with a body of ``body_len`` bytes."""
        start = self.rng.randrange(len(self.pool) - body_len)
        return struct.pack("!BHH", 23, 0x0303, body_len) + self.pool[start : start + body_len]

    def message(self, half: Half, plaintext: int) -> bytes:
        """Application data of ``plaintext`` bytes cut into records the way Go's crypto/tls sizes them."""
        out = []
        left = plaintext
        while left > 0:
            if half.rec_bytes >= GO_BOOST_THRESHOLD:
                m = MAX_PLAINTEXT
            else:
                half.rec_count += 1
                m = min(GO_MSS_ESTIMATE_PAYLOAD * half.rec_count, MAX_PLAINTEXT)
            m = min(m, left)
            left -= m
            out.append(self.record(m + TLS_OVERHEAD))
            half.rec_bytes += m + TLS_OVERHEAD + 5
        return b"".join(out)


# -- conversation pieces (client-side capture: client packets at send time, server ones an RTT later) --


@dataclass(slots=True)
class Route:
    """Timing of one client-server path."""

    rtt: int
    """Round-trip time seen from the client's host, ns."""
    gap: int
    """Time between back-to-back full segments of a bulk sender (its pacing), ns."""

    def ack_delay(self, rng: random.Random) -> int:
        """How soon the capturing host (the client) answers: tens of microseconds."""
        return rng.randrange(15 * US, 80 * US)


def tcp_open(conn: Conn, t: int, path: Route) -> int:
    """SYN, SYN-ACK, ACK; returns the time of the ACK."""
    rng = conn.rng
    conn.send(t, True, SYN)
    t += path.rtt
    conn.send(t, False, SYN | ACK)
    t += path.ack_delay(rng)
    return conn.send(t, True, ACK)


def send_data(
    conn: Conn, t: int, to_server: bool, data: bytes, path: Route, ack_last: bool = True, retrans: float = 0.0
) -> int:
    """``data`` cut into full segments (PSH on the last), paced by path.gap; the receiver ACKs every
    second segment (and the last when ``ack_last``). With probability ``retrans`` a segment is lost:
    the client's own segments after the capture point (captured, then the server's ACKs stop at the
    hole), the server's before it (a hole in the capture, the client's ACKs stop there); either way
    the sender repeats it once the duplicate ACKs reach it. Returns the time of the last segment."""
    rng = conn.rng
    me = conn.half(to_server)
    mss = me.mss
    n = len(data)
    ack_delay = path.rtt if to_server else 0
    pos = 0
    count = 0
    last_ack = 0
    while pos < n:
        chunk = data[pos : pos + mss]
        pos += len(chunk)
        count += 1
        seq = me.nxt
        lost = retrans and me.hole_until <= t and rng.random() < retrans
        conn.send(t, to_server, ACK | PSH if pos >= n else ACK, chunk, captured=not lost or to_server)
        if lost:
            again = t + path.rtt + 3 * path.gap + rng.randrange(20 * US, 200 * US)
            conn.send(again, to_server, ACK, chunk, seq=seq)
            me.hole_seq, me.hole_until = seq, again + ack_delay
        if count % 2 == 0 or (pos >= n and ack_last):
            last_ack = max(t + ack_delay + path.ack_delay(rng), last_ack + US)  # ACKs leave in order
            conn.send(last_ack, not to_server, ACK, ack=me.hole_seq if last_ack < me.hole_until else me.nxt)
        if pos < n:
            t += path.gap // 2 + rng.randrange(path.gap + 1)
    return t


def send_bulk(
    conn: Conn, t: int, to_server: bool, plaintext: int, path: Route, tls: Ciphertext, retrans: float = 0.0
) -> Generator[tuple[int, bytes], None, int]:
    """A bulk transfer of ``plaintext`` bytes in BULK_WRITE writes, yielding packets as it goes;
    returns the time of the last segment."""
    half = conn.half(to_server)
    while plaintext > 0:
        n = min(plaintext, BULK_WRITE)
        plaintext -= n
        t = send_data(conn, t, to_server, tls.message(half, n), path, retrans=retrans)
        yield from conn.flush(until=t)  # the ACKs still to come stay queued
        if plaintext:
            t += path.gap // 2 + conn.rng.randrange(path.gap + 1)
    return t


def tls13_handshake(conn: Conn, t: int, path: Route, tls: Ciphertext, sni: str, cert_len: int) -> int:
    """ClientHello; ServerHello + CCS + encrypted EE/Certificate/CertificateVerify/Finished; client
    CCS + Finished (53-byte record body). Returns the time of the client's Finished."""
    rng = conn.rng
    t += rng.randrange(60 * US, 200 * US)
    conn.send(t, True, ACK | PSH, client_hello(sni, rng))
    proc = rng.randrange(50 * US, 3 * MS)
    if proc > 200 * US:  # else the flight itself carries the ACK
        conn.send(t + path.rtt, False, ACK)
    t += path.rtt + proc
    flight = (
        server_hello(rng, rng.randbytes(32)) + CCS
        + tls.record(38) + tls.record(cert_len) + tls.record(96) + tls.record(FINISHED_BODY)
    )  # fmt: skip
    t = send_data(conn, t, False, flight, path, ack_last=False)
    t += rng.randrange(200 * US, 1 * MS)
    return conn.send(t, True, ACK | PSH, CCS + tls.record(FINISHED_BODY))


def tls_close(
    conn: Conn, t: int, path: Route, tls: Ciphertext, by_client: bool = True, peer_fin: bool = True
) -> int:
    """close_notify and FIN from one side, the other side's ACK, then (``peer_fin``) its FIN and the
    last ACK; a peer stuck in its handler only ACKs."""
    rng = conn.rng
    conn.send(t, by_client, ACK | PSH, tls.record(CLOSE_NOTIFY_BODY))
    t += rng.randrange(10 * US, 40 * US)
    conn.send(t, by_client, ACK | FIN)
    t += path.rtt if by_client else path.ack_delay(rng)
    conn.send(t, not by_client, ACK)
    if not peer_fin:
        return t
    t += rng.randrange(50 * US, 500 * US)
    conn.send(t, not by_client, ACK | FIN)
    t += path.ack_delay(rng) if by_client else path.rtt
    return conn.send(t, by_client, ACK)


def exchange(
    conn: Conn, t: int, path: Route, tls: Ciphertext, request: int, response: int, think: int
) -> int:
    """A request of ``request`` plaintext bytes and its response after ``think`` ns of server work."""
    t = send_data(conn, t, True, tls.message(conn.c, request), path)
    t += path.rtt + max(think, 200 * US)  # the server's ACK of the request comes first
    return send_data(conn, t, False, tls.message(conn.s, response), path)


# -- address plans ------------------------------------------------------------------------------


def v4(a: int, b: int, c: int, d: int) -> bytes:
    """An IPv4 address (198.18.0.0/15 only, checked)."""
    assert (a, b & 0xFE) == (198, 18), "benchmark addresses come from 198.18.0.0/15"
    return bytes((a, b, c, d))


def v6(*words: int) -> bytes:
    """An IPv6 address in 2001:db8::/32."""
    return struct.pack("!HH", 0x2001, 0x0DB8) + struct.pack("!6H", *words)


class Ports:
    """Ephemeral ports handed out in turn per client address (Linux's range 32768-60999)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next: dict[bytes, int] = {}

    def take(self, client: bytes) -> int:
        port = self.next.get(client) or self.rng.randrange(32768, 61000)
        self.next[client] = 32768 + (port + 1 + self.rng.randrange(3) - 32768) % (61000 - 32768)
        return port


# -- the scheduler -------------------------------------------------------------------------------

Source = Iterator[tuple[int, str, Iterator[tuple[int, bytes]]]]
"""Connections in start order: (start time, scenario name, its packets in time order)."""


@dataclass(slots=True)
class Result:
    """What a generator run wrote."""

    packets: int = 0
    bytes: int = 0
    first_ns: int = 0
    last_ns: int = 0
    completed: Counter[str] = field(default_factory=Counter)
    """Connections whose every packet was written, by scenario."""
    cut: Counter[str] = field(default_factory=Counter)
    """Connections cut off by the end of the capture (the packet budget), by scenario."""


def merge(sources: Source, writer: Writer, limit: int) -> Result:
    """Interleave the connections' packets in time order until ``limit`` packets are written."""
    res = Result()
    heap: list[tuple[int, int, bytes, str, Iterator[tuple[int, bytes]]]] = []
    order = 0
    nxt = next(sources, None)
    write = writer.write
    while res.packets < limit and (heap or nxt is not None):
        if nxt is not None and (not heap or nxt[0] <= heap[0][0]):
            _, name, packets = nxt
            first = next(packets, None)
            if first is not None:
                order += 1
                heapq.heappush(heap, (first[0], order, first[1], name, packets))
            nxt = next(sources, None)
            continue
        t, _, frame, name, packets = heap[0]
        if not res.packets:
            res.first_ns = t
        res.last_ns = t
        write(t, frame)
        res.packets += 1
        following = next(packets, None)
        if following is None:
            heapq.heappop(heap)
            res.completed[name] += 1
        else:
            order += 1
            heapq.heapreplace(heap, (following[0], order, following[1], name, packets))
    for _, _, _, name, _ in heap:
        res.cut[name] += 1
    res.bytes = writer.bytes
    return res


# -- kinds ---------------------------------------------------------------------------------------


def long_source(link: Link, rng: random.Random, connections: int, rate: float) -> Source:
    """``connections`` TLS connections doing bulk transfer both ways (uploads, then downloads) forever;
    ``rate`` packets/s in all."""
    tls = Ciphertext(rng)
    per_conn = rate / connections
    gap = int(NS / (per_conn / 1.5))  # a data segment and half an ACK per segment
    ports = Ports(rng)

    def one(i: int, start: int) -> Iterator[tuple[int, bytes]]:
        client = v4(198, 18, 0, 2 + i % 2)
        server = v4(198, 19, 1, 10 + i % 10)
        conn = Conn(link, (client, ports.take(client)), (server, 443), rng)
        path = Route(rtt=rng.randrange(200 * US, 2 * MS), gap=gap)
        t = tcp_open(conn, start, path)
        t = tls13_handshake(conn, t, path, tls, f"bulk-{i}.pcd-bench.svc", rng.randrange(700, 2500))
        while True:
            t += path.rtt + rng.randrange(1 * MS, 5 * MS)  # after the last retransmission and ACK
            upload = rng.choice((2_000, 64_000, 1_000_000))
            t = yield from send_bulk(conn, t, True, upload, path, tls, retrans=5e-5)
            t += path.rtt + rng.randrange(1 * MS, 10 * MS)
            download = rng.choice((64_000, 1_000_000, 4_000_000))
            t = yield from send_bulk(conn, t, False, download, path, tls, retrans=5e-5)
            yield from conn.flush()

    start = START_NS
    for i in range(connections):
        yield start, "long", one(i, start)
        start += rng.randrange(1 * MS, max(2 * MS, min(50 * MS, 2 * NS // connections)))  # all within ~1 s


def synflood_source(link: Link, rng: random.Random, packets: int, rate: float) -> Source:
    """``packets`` SYNs, each from a distinct source address and port in 198.18.0.0/15, to one server,
    never answered (captured on the server's host)."""
    server = v4(198, 19, 0, 10)
    addresses = (1 << 17) - 256  # 198.18.0.0/15 without the server's 198.19.0.0/24
    space = addresses * (65536 - 1024)
    step = 2654435761  # a prime coprime to ``space``: i -> i * step mod space is one-to-one
    server_mac, router_mac = b"\x02\x42\xc6\x13\x00\x0a", b"\x02\x42\xc6\x13\x00\x01"
    prefix = link.prefix(False, False, router_mac, server_mac)
    offset = rng.randrange(space)
    t = START_NS
    mean_gap = NS / rate
    for i in range(packets):
        j = (i * step + offset) % space
        host = j % addresses
        host += 256 if host >= (1 << 16) else 0  # skip 198.19.0.0/24
        src = bytes((198, 18 + (host >> 16), (host >> 8) & 0xFF, host & 0xFF))
        half = Half(prefix, src, server, 1024 + j // addresses, 443, rng, 512)
        half.ttl = rng.randrange(40, 64)
        half.ip_k = (0x4500 + 0x4000 + (half.ttl << 8 | 6) + int.from_bytes(src, "big")
                     + int.from_bytes(server, "big")) % 0xFFFF  # fmt: skip
        t += int(rng.expovariate(1.0) * mean_gap)
        frame = _flood_syn(half)
        yield t, "synflood", iter(((t, frame),))


def _flood_syn(half: Half) -> bytes:
    """A bare SYN as flood tools send it (no options, window 512, random ISN and IPv4 ID)."""
    offflags = 5 << 12 | SYN
    s = half.k + 20 + half.isn + offflags + half.win
    tcp = _TCP_BARE.pack(half.sport, half.dport, half.isn, 0, offflags, half.win, _fold(s), 0)
    ip_id = half.ip_id
    ip = _IP4.pack(
        0x45, 0, 40, ip_id, 0, half.ttl, 6,
        _fold(half.ip_k - 0x4000 + 40 + ip_id), half.src, half.dst,
    )  # fmt: skip
    return half.prefix + ip + tcp


@dataclass(frozen=True, slots=True)
class Scenario:
    """One kind of connection in the mix: its name, share of connections, the label pcapdiag should give."""

    name: str
    weight: float
    expect: str
    build: Callable[[Conn, int, Route, Ciphertext, str], None]


def _timeout(rng: random.Random) -> int:
    """The webhook timeout a stalled connection is given up after (seconds: mostly the 10 s default)."""
    return rng.choice((10, 10, 10, 10, 5, 3, 15, 30)) * NS


def _healthy(conn: Conn, t: int, path: Route, tls: Ciphertext, sni: str) -> None:
    """Webhook calls on a keep-alive connection, then a close (by the client, or the server's idle timer)."""
    rng = conn.rng
    t = tcp_open(conn, t, path)
    t = tls13_handshake(conn, t, path, tls, sni, rng.randrange(700, 2500))
    calls = 1 + min(int(rng.expovariate(1 / 3)), 40)
    for call in range(calls):
        if call:
            t += int(rng.expovariate(1 / 1.5) * NS) + 1 * MS
        else:
            t += rng.randrange(20 * US, 200 * US)
        t = exchange(
            conn, t, path, tls, rng.randrange(700, 9000), rng.randrange(150, 2500),
            int(rng.lognormvariate(1.5, 1.0) * MS),
        )  # fmt: skip
    by_client = rng.random() < 0.7
    t += int(rng.uniform(0.05, 5.0) * NS)
    tls_close(conn, t, path, tls, by_client=by_client)


def _bulk(conn: Conn, t: int, path: Route, tls: Ciphertext, sni: str) -> None:
    """A big download (a large list or a log) or upload, then a close by the client."""
    rng = conn.rng
    t = tcp_open(conn, t, path)
    t = tls13_handshake(conn, t, path, tls, sni, rng.randrange(700, 2500))
    t += rng.randrange(20 * US, 200 * US)
    big = rng.choice((128_000, 256_000, 512_000, 1_000_000, 2_000_000))
    if rng.random() < 0.7:
        t = exchange(conn, t, path, tls, rng.randrange(300, 1200), big, rng.randrange(1 * MS, 40 * MS))
    else:
        t = exchange(conn, t, path, tls, big, rng.randrange(150, 600), rng.randrange(1 * MS, 40 * MS))
    tls_close(conn, t + rng.randrange(1 * MS, 50 * MS), path, tls)


def _refused(conn: Conn, t: int, path: Route, tls: Ciphertext, sni: str) -> None:
    """SYN answered by RST/ACK (nothing listens)."""
    conn.send(t, True, SYN)
    conn.send(t + path.rtt, False, RST | ACK, seq=0)


def _syn_dropped(conn: Conn, t: int, path: Route, tls: Ciphertext, sni: str) -> None:
    """SYN dropped by a firewall: retransmitted at 1, 3 and 7 s until the client's dial gives up."""
    rng = conn.rng
    seq = conn.c.isn
    conn.send(t, True, SYN)
    deadline = t + _timeout(rng)
    for backoff in (1, 3, 7):
        if t + backoff * NS >= deadline:
            break
        conn.send(t + backoff * NS + rng.randrange(0, 2 * MS), True, SYN, seq=seq)


def _stalled_handshake(conn: Conn, t: int, path: Route, tls: Ciphertext, sni: str) -> None:
    """TCP up and a ClientHello, ACKed, never answered; the client closes at its timeout."""
    rng = conn.rng
    t = tcp_open(conn, t, path)
    t += rng.randrange(60 * US, 200 * US)
    conn.send(t, True, ACK | PSH, client_hello(sni, rng))
    conn.send(t + path.rtt, False, ACK)
    t += _timeout(rng)
    conn.send(t, True, ACK | FIN)
    conn.send(t + path.rtt, False, ACK)
    if rng.random() < 0.5:  # the server's TLS stack notices the close and closes too
        t += path.rtt + rng.randrange(50 * US, 500 * US)
        conn.send(t, False, ACK | FIN)
        conn.send(t + path.ack_delay(rng), True, ACK)


def _stalled_request(conn: Conn, t: int, path: Route, tls: Ciphertext, sni: str) -> None:
    """Handshake done, request sent and ACKed, no response; the client gives up at its timeout."""
    rng = conn.rng
    t = tcp_open(conn, t, path)
    t = tls13_handshake(conn, t, path, tls, sni, rng.randrange(700, 2500))
    t += rng.randrange(20 * US, 200 * US)
    t = send_data(conn, t, True, tls.message(conn.c, rng.randrange(700, 9000)), path)
    tls_close(conn, t + _timeout(rng), path, tls, peer_fin=rng.random() < 0.5)


MIX = (
    Scenario("healthy", 0.80, "ok", _healthy),
    Scenario("bulk", 0.02, "ok", _bulk),
    Scenario("refused", 0.06, "refused", _refused),
    Scenario("syn-dropped", 0.04, "syn-timeout", _syn_dropped),
    Scenario("stalled-handshake", 0.04, "tls-handshake-timeout", _stalled_handshake),
    Scenario("stalled-request", 0.04, "awaiting-headers", _stalled_request),
)
MIX_PACKETS_PER_CONNECTION = 52.0
"""Measured average packets per mix connection (sets the connection rate for --duration)."""


def mix_source(link: Link, rng: random.Random, packets: int, duration: float) -> Source:
    """Connections from three API-server addresses to 24 webhook servers (a tenth over IPv6), starting as a
    Poisson process so that ``packets`` packets span about ``duration`` seconds."""
    tls = Ciphertext(rng)
    ports = Ports(rng)
    clients4 = [v4(198, 18, 0, 2 + i) for i in range(3)]
    clients6 = [v6(0, 0, 0, 0, 0, 2 + i) for i in range(3)]
    servers = []
    for i in range(24):
        rtt = int(rng.choice((0.15, 0.3, 0.5, 1.0, 2.5, 8.0)) * MS)
        path = Route(rtt=rtt, gap=rng.choice((12, 30, 120)) * US)
        name = f"webhook-{i}.ns-{i % 7}.svc"
        port = rng.choice((443, 8443, 9443))
        servers.append((v4(198, 19, 0, 10 + i), v6(1, 0, 0, 0, 0, 10 + i), port, path, name))
    weights = [s.weight for s in MIX]
    rate = packets / MIX_PACKETS_PER_CONNECTION / duration
    t = START_NS
    while True:
        t += int(rng.expovariate(rate) * NS)
        scenario = rng.choices(MIX, weights)[0]
        server4, server6, port, path, sni = rng.choice(servers)
        ipv6 = rng.random() < 0.1
        client = rng.choice(clients6 if ipv6 else clients4)
        conn = Conn(link, (client, ports.take(client)), (server6 if ipv6 else server4, port), rng)
        scenario.build(conn, t, path, tls, sni)
        yield t, scenario.name, conn.flush()


# -- busy: a control-plane node's webhook calls, failures of each kind at known times ---------


def _one_call(conn: Conn, t: int, path: Route, tls: Ciphertext, sni: str) -> None:
    """One webhook call on its own connection: handshake, request, response, close by the client.

    Requests stay under one record (1186 bytes): a request's last record must not be alert-sized."""
    rng = conn.rng
    t = tcp_open(conn, t, path)
    t = tls13_handshake(conn, t, path, tls, sni, rng.randrange(700, 1400))
    t += rng.randrange(20 * US, 200 * US)
    t = exchange(
        conn, t, path, tls, rng.randrange(300, 1100), rng.randrange(150, 700), rng.randrange(MS, 4 * MS)
    )
    tls_close(conn, t + rng.randrange(MS, 20 * MS), path, tls)


def _dropped_dial(conn: Conn, t: int, path: Route, tls: Ciphertext, sni: str) -> None:
    """SYNs at 0, 1, 3 and 7 s, never answered: the 10 s webhook timeout ends the dial."""
    seq = conn.c.isn
    conn.send(t, True, SYN)
    for backoff in (1, 3, 7):
        conn.send(t + backoff * NS + conn.rng.randrange(0, MS), True, SYN, seq=seq)


def _silent_handshake(conn: Conn, t: int, path: Route, tls: Ciphertext, sni: str) -> None:
    """TCP up, a ClientHello ACKed and never answered; the client closes at the 10 s timeout."""
    rng = conn.rng
    t = tcp_open(conn, t, path)
    t += rng.randrange(60 * US, 200 * US)
    conn.send(t, True, ACK | PSH, client_hello(sni, rng))
    conn.send(t + path.rtt, False, ACK)
    t += 10 * NS
    conn.send(t, True, ACK | FIN)
    conn.send(t + path.rtt, False, ACK)


def _silent_request(conn: Conn, t: int, path: Route, tls: Ciphertext, sni: str) -> None:
    """Handshake done, the request sent and ACKed, no response; the client gives up at 10 s."""
    rng = conn.rng
    t = tcp_open(conn, t, path)
    t = tls13_handshake(conn, t, path, tls, sni, rng.randrange(700, 1400))
    t += rng.randrange(20 * US, 200 * US)
    t = send_data(conn, t, True, tls.message(conn.c, rng.randrange(300, 1100)), path)
    tls_close(conn, t + 10 * NS, path, tls, peer_fin=False)


def _bad_certificate(conn: Conn, t: int, path: Route, tls: Ciphertext, sni: str) -> None:
    """TLS 1.3: the server's flight, then the client's one alert-sized encrypted record and FIN (Go
    rejecting the certificate) instead of its Finished and the request."""
    rng = conn.rng
    t = tcp_open(conn, t, path)
    t += rng.randrange(60 * US, 200 * US)
    conn.send(t, True, ACK | PSH, client_hello(sni, rng))
    t += path.rtt + rng.randrange(100 * US, 400 * US)
    flight = (
        server_hello(rng, rng.randbytes(32)) + CCS
        + tls.record(38) + tls.record(rng.randrange(700, 1400)) + tls.record(96) + tls.record(FINISHED_BODY)
    )  # fmt: skip
    t = send_data(conn, t, False, flight, path, ack_last=False)
    t += rng.randrange(200 * US, 1 * MS)
    conn.send(t, True, ACK | PSH, CCS + tls.record(19))
    conn.send(t + 20 * US, True, ACK | FIN)
    t += 20 * US + path.rtt
    conn.send(t, False, ACK | FIN)
    conn.send(t + path.ack_delay(rng), True, ACK)


def _server_close(conn: Conn, t: int, path: Route, tls: Ciphertext, sni: str) -> None:
    """Handshake done, the request sent; the server closes (FIN) without an answer."""
    rng = conn.rng
    t = tcp_open(conn, t, path)
    t = tls13_handshake(conn, t, path, tls, sni, rng.randrange(700, 1400))
    t += rng.randrange(20 * US, 200 * US)
    t = send_data(conn, t, True, tls.message(conn.c, rng.randrange(300, 1100)), path)
    t += path.rtt + rng.randrange(MS, 3 * MS)
    conn.send(t, False, ACK | FIN)
    t += path.ack_delay(rng)
    conn.send(t, True, ACK | FIN)
    conn.send(t + path.rtt, False, ACK)


BUSY_BUILDS: dict[str, Callable[[Conn, int, Route, Ciphertext, str], None]] = {
    "ok": _one_call,
    "refused": _refused,
    "syn-timeout": _dropped_dial,
    "tls-handshake-timeout": _silent_handshake,
    "awaiting-headers": _silent_request,
    "cert-rejected": _bad_certificate,
    "server-closed": _server_close,
}
"""The label pcapdiag should give each kind of busy call, and how the call is built."""


@dataclass(frozen=True, slots=True)
class BusyServer:
    """One webhook server of the busy capture and when its calls fail (seconds since the start)."""

    ip: bytes
    port: int
    sni: str
    share: float
    """Its part of the calls."""
    label: str = "ok"
    """What its failing calls get."""
    windows: tuple[tuple[float, float], ...] = ()
    """Times at which every call fails; () with a failing label: every call fails."""
    last_call_s: float | None = None
    """No call starts after this (a call that would still be undecided when the capture ends)."""


BUSY_SERVERS = (
    BusyServer(v4(198, 19, 0, 10), 443, "policy.gatekeeper-system.svc", 0.30, "refused", ((100.0, 110.0),)),
    BusyServer(v4(198, 19, 0, 11), 8443, "mutate.istio-system.svc", 0.22, "syn-timeout", ((200.0, 215.0),)),
    BusyServer(
        v4(198, 19, 0, 12), 9443, "validate.cert-manager.svc", 0.15, "tls-handshake-timeout", ((0.0, 30.0),)
    ),
    BusyServer(
        v4(198, 19, 0, 13), 443, "pods.kyverno.svc", 0.12, "awaiting-headers", ((240.0, 300.0),), 282.0
    ),
    BusyServer(v6(1, 0, 0, 0, 0, 0x14), 443, "mutate.linkerd.svc", 0.03, "cert-rejected"),
    BusyServer(
        v4(198, 19, 0, 15), 443, "webhook.vault.svc", 0.10, "server-closed", ((150.0, 152.0), (260.0, 262.0))
    ),
    BusyServer(v4(198, 19, 0, 16), 443, "quota.platform.svc", 0.08),
)
"""The busy capture's servers: a failure of each kind, intermittent, at the start, at the end, always."""


def busy_plan(rng: random.Random, calls: int, duration: float) -> list[tuple[int, int, str]]:
    """(start ns, server index, expected label) of every call, in start order: ``calls`` calls spread
    over ``duration`` seconds, each server's share at random times."""
    plan: list[tuple[int, int, str]] = []
    for i, server in enumerate(BUSY_SERVERS):
        last = min(server.last_call_s or duration, duration - 15.0)
        for _ in range(max(1, round(calls * server.share))):
            at = rng.uniform(0.0, last)
            failing = server.label != "ok" and (
                not server.windows or any(a <= at < b for a, b in server.windows)
            )
            plan.append((START_NS + int(at * NS), i, server.label if failing else "ok"))
    plan.sort()
    return plan


def busy_source(link: Link, rng: random.Random, plan: list[tuple[int, int, str]]) -> Source:
    """The calls of ``plan`` from two API-server addresses (IPv4 and IPv6), a connection each."""
    tls = Ciphertext(rng)
    ports = Ports(rng)
    client4, client6 = v4(198, 18, 0, 2), v6(0, 0, 0, 0, 0, 2)
    for t, i, label in plan:
        server = BUSY_SERVERS[i]
        client = client6 if len(server.ip) == 16 else client4
        path = Route(rtt=int((0.3 + 0.2 * i) * MS), gap=30 * US)
        conn = Conn(link, (client, ports.take(client)), (server.ip, server.port), rng)
        BUSY_BUILDS[label](conn, t, path, tls, server.sni)
        yield t, label, conn.flush()


def busy_expected(plan: list[tuple[int, int, str]]) -> list[dict[str, object]]:
    """Per server what pcapdiag's roll-up should say: calls, labels, the first and last failure."""
    import ipaddress

    out = []
    for i, server in enumerate(BUSY_SERVERS):
        mine = [(t, label) for t, j, label in plan if j == i]
        failures = [t for t, label in mine if label != "ok"]
        ip = str(ipaddress.ip_address(server.ip))
        out.append(
            {
                "server": f"[{ip}]:{server.port}" if ":" in ip else f"{ip}:{server.port}",
                "ip": ip,
                "port": server.port,
                "sni": server.sni,
                "calls": len(mine),
                "by_label": dict(Counter(label for _, label in mine)),
                "failure_label": server.label,
                "first_failure_ns": min(failures) if failures else None,
                "last_failure_ns": max(failures) if failures else None,
                "windows": [list(w) for w in server.windows],
            }
        )
    return out


# -- command line ---------------------------------------------------------------------------------


def generate(
    kind: str,
    out: Path,
    packets: int,
    fmt: str = "pcap",
    linktype: str = "ethernet",
    seed: int = 1,
    rate: float | None = None,
    duration: float = 300.0,
    connections: int = 20,
) -> dict[str, object]:
    """Write a capture of ``kind`` to ``out`` and a ``.meta.json`` beside it; return that metadata."""
    rng = random.Random(seed)
    link = Link(LINKTYPES[linktype])
    source: Source
    if kind == "long":
        source = long_source(link, rng, connections, rate or 40_000.0)
    elif kind == "synflood":
        source = synflood_source(link, rng, packets, rate or 50_000.0)
    elif kind == "mix":
        source = mix_source(link, rng, packets, duration)
    elif kind == "busy":
        plan = busy_plan(rng, connections, duration)
        source = busy_source(link, rng, plan)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    began = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb", buffering=1 << 20) as f:
        res = merge(source, Writer(f, fmt, LINKTYPES[linktype]), packets)
    meta: dict[str, object] = {
        "generator_version": GENERATOR_VERSION,
        "kind": kind,
        "packets": res.packets,
        "format": fmt,
        "linktype": linktype,
        "seed": seed,
        "rate": rate,
        "duration": duration if kind == "mix" else None,
        "connections": connections if kind == "long" else None,
        "bytes": res.bytes,
        "capture_seconds": round((res.last_ns - res.first_ns) / NS, 3),
        "completed": dict(sorted(res.completed.items())),
        "cut_off": dict(sorted(res.cut.items())),
        "expected_labels": {s.name: s.expect for s in MIX} if kind == "mix" else None,
        "servers": busy_expected(plan) if kind == "busy" else None,
        "generate_seconds": round(time.monotonic() - began, 1),
    }
    Path(str(out) + ".meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> int:
    """Command line: python bench/gen.py KIND -o FILE --packets 1M [...]."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("kind", choices=KINDS)
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--packets", type=parse_count, default=1_000_000, help="packets to write (1M, 500k, ...)")
    ap.add_argument("--format", dest="fmt", choices=("pcap", "pcapng"), default="pcap")
    ap.add_argument("--linktype", choices=tuple(LINKTYPES), default="ethernet")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", type=float, help="packets/s of capture time (long: 40000; synflood: 50000)")
    ap.add_argument("--duration", type=float, default=300.0, help="mix: seconds of capture (about)")
    ap.add_argument("--connections", type=int, default=20, help="long, busy: number of connections")
    args = ap.parse_args(argv)
    meta = generate(
        args.kind, args.output, args.packets, args.fmt, args.linktype, args.seed, args.rate, args.duration,
        args.connections,
    )  # fmt: skip
    json.dump(meta, sys.stderr, indent=2)
    sys.stderr.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
