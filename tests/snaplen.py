"""Rewrite a capture file as tcpdump -s N would have written it, and read what its packets show.

A test helper (not the code under test). cut_capture() keeps each record's original (wire)
length, cuts its captured length and data to ``snaplen``, and sets the file's snaplen: pcap in
both byte orders (micro- or nanosecond), and pcapng (each section's byte order; EPB, SPB and the
obsolete PB cut, their block lengths and padding fixed; IDB snaplen set; every other block copied
as it is). headers() reads, with its own few lines of parsing rather than pcapdiag's decoder, how
many payload bytes each TCP packet kept.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<",
    b"\x4d\x3c\xb2\xa1": "<",
    b"\xa1\xb2\xc3\xd4": ">",
    b"\xa1\xb2\x3c\x4d": ">",
}
SHB = 0x0A0D0D0A
IDB, PB, SPB, EPB = 1, 2, 3, 6


def cut_capture(data: bytes, snaplen: int) -> bytes:
    """The same capture with every packet cut to ``snaplen`` bytes (pcap or pcapng)."""
    if data[:4] in PCAP_MAGICS:
        return _cut_pcap(data, snaplen, PCAP_MAGICS[data[:4]])
    if int.from_bytes(data[:4], "little") == SHB:
        return _cut_pcapng(data, snaplen)
    raise ValueError("not a pcap or pcapng file")


def _cut_pcap(data: bytes, snaplen: int, e: str) -> bytes:
    out = bytearray(data[:16])
    out += struct.pack(e + "II", snaplen, struct.unpack_from(e + "I", data, 20)[0])
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack_from(e + "IIII", data, pos)
        body = data[pos + 16 : pos + 16 + incl]
        kept = body[:snaplen]
        out += struct.pack(e + "IIII", sec, frac, len(kept), orig) + kept
        pos += 16 + incl
    return bytes(out)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _block(e: str, btype: int, body: bytes) -> bytes:
    body = _pad(body)
    return struct.pack(e + "II", btype, 12 + len(body)) + body + struct.pack(e + "I", 12 + len(body))


def _cut_pcapng(data: bytes, snaplen: int) -> bytes:
    out = bytearray()
    pos = 0
    e = "<"
    while pos + 12 <= len(data):
        if int.from_bytes(data[pos : pos + 4], "little") == SHB:
            e = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        btype, total = struct.unpack_from(e + "II", data, pos)
        body = data[pos + 8 : pos + total - 4]
        if btype == IDB:
            linktype, reserved, _ = struct.unpack_from(e + "HHI", body)
            out += _block(e, IDB, struct.pack(e + "HHI", linktype, reserved, snaplen) + body[8:])
        elif btype == EPB:
            iface, high, low, incl, orig = struct.unpack_from(e + "IIIII", body)
            packet = body[20 : 20 + incl]
            options = body[20 + incl + (-incl % 4) :]
            kept = packet[:snaplen]
            head = struct.pack(e + "IIIII", iface, high, low, len(kept), orig)
            out += _block(e, EPB, head + _pad(kept) + options)
        elif btype == PB:
            iface, drops, high, low, incl, orig = struct.unpack_from(e + "HHIIII", body)
            packet = body[20 : 20 + incl]
            options = body[20 + incl + (-incl % 4) :]
            kept = packet[:snaplen]
            head = struct.pack(e + "HHIIII", iface, drops, high, low, len(kept), orig)
            out += _block(e, PB, head + _pad(kept) + options)
        elif btype == SPB:
            (orig,) = struct.unpack_from(e + "I", body)
            out += _block(e, SPB, struct.pack(e + "I", orig) + body[4 : 4 + min(orig, snaplen)])
        else:
            out += data[pos : pos + total]
        pos += total
    return bytes(out)


# -- reading a capture's headers (independently of pcapdiag's decoder) ---------------------------

LINKTYPE_ETHERNET = 1
LINKTYPE_SLL2 = 276
ETH_VLAN = (0x8100, 0x88A8)
ICMP_ERRORS = {4: {3, 11, 12}, 6: {1, 2, 3, 4}}


@dataclass(frozen=True)
class Seen:
    """What a captured packet shows of its TCP (or ICMP error) headers and payload."""

    index: int
    """Its place in the file (1 = first packet)."""
    family: int
    src: tuple[bytes, int]
    dst: tuple[bytes, int]
    flags: int
    payload_len: int
    """TCP payload bytes on the wire (from the IP length)."""
    visible: int
    """TCP payload bytes captured."""
    header_cut: bool
    """The snaplen cut the TCP header itself."""
    icmp_quote_cut: bool = False
    """An ICMP(v6) error whose quoted TCP ports the snaplen cut (src/dst are then the ICMP's own)."""


def records(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(link type, captured bytes) of every packet of a pcap or pcapng file."""
    if data[:4] in PCAP_MAGICS:
        e = PCAP_MAGICS[data[:4]]
        linktype = struct.unpack_from(e + "I", data, 20)[0]
        pos = 24
        while pos + 16 <= len(data):
            incl = struct.unpack_from(e + "I", data, pos + 8)[0]
            yield linktype, data[pos + 16 : pos + 16 + incl]
            pos += 16 + incl
        return
    pos, e, links = 0, "<", []
    while pos + 12 <= len(data):
        if int.from_bytes(data[pos : pos + 4], "little") == SHB:
            e = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        btype, total = struct.unpack_from(e + "II", data, pos)
        body = data[pos + 8 : pos + total - 4]
        if btype == IDB:
            links.append(struct.unpack_from(e + "H", body)[0])
        elif btype == EPB:
            iface, _, _, incl, _ = struct.unpack_from(e + "IIIII", body)
            yield links[iface], body[20 : 20 + incl]
        elif btype == SPB:
            (orig,) = struct.unpack_from(e + "I", body)
            yield links[0], body[4 : 4 + orig]
        pos += total


def _network(linktype: int, frame: bytes) -> tuple[int, int] | None:
    """(ethertype, offset of the network header), or None."""
    if linktype == LINKTYPE_ETHERNET:
        off, ethertype = 14, int.from_bytes(frame[12:14], "big")
        while ethertype in ETH_VLAN:
            ethertype, off = int.from_bytes(frame[off + 2 : off + 4], "big"), off + 4
        return ethertype, off
    if linktype == LINKTYPE_SLL2:
        return int.from_bytes(frame[0:2], "big"), 20
    return None


def _ip(frame: bytes, off: int) -> tuple[int, int, int, bytes, bytes, int] | None:
    """(family, protocol, header length, src, dst, payload length on the wire) of an IP header."""
    if len(frame) < off + 1:
        return None
    version = frame[off] >> 4
    if version == 4 and len(frame) >= off + 20:
        ihl = (frame[off] & 0x0F) * 4
        total = int.from_bytes(frame[off + 2 : off + 4], "big")
        return 4, frame[off + 9], ihl, frame[off + 12 : off + 16], frame[off + 16 : off + 20], total - ihl
    if version == 6 and len(frame) >= off + 40:
        plen = int.from_bytes(frame[off + 4 : off + 6], "big")
        return 6, frame[off + 6], 40, frame[off + 8 : off + 24], frame[off + 24 : off + 40], plen
    return None


def headers(data: bytes) -> list[Seen]:
    """What every TCP packet and ICMP error of a capture file shows (others are left out)."""
    out = []
    for index, (linktype, frame) in enumerate(records(data), start=1):
        net = _network(linktype, frame)
        if net is None or net[0] not in (0x0800, 0x86DD):
            continue
        ip = _ip(frame, net[1])
        if ip is None:
            continue
        family, proto, ihl, src, dst, plen = ip
        l4 = net[1] + ihl
        if proto in (1, 58) and len(frame) > l4 and frame[l4] in ICMP_ERRORS[family]:
            quoted = _ip(frame, l4 + 8)
            cut = quoted is None or len(frame) < l4 + 8 + quoted[2] + 4
            if cut:
                out.append(Seen(index, family, (src, 0), (dst, 0), 0, 0, 0, False, icmp_quote_cut=True))
            continue
        if proto != 6 or len(frame) < l4 + 4:
            continue
        sport, dport = struct.unpack_from("!HH", frame, l4)
        header_cut = len(frame) < l4 + 13 or len(frame) < l4 + (frame[l4 + 12] >> 4) * 4
        tcp_len = 20 if len(frame) < l4 + 13 else (frame[l4 + 12] >> 4) * 4
        flags = frame[l4 + 13] if len(frame) > l4 + 13 else 0
        visible = max(0, min(len(frame) - l4 - tcp_len, plen - tcp_len))
        out.append(
            Seen(index, family, (src, sport), (dst, dport), flags, plen - tcp_len, visible, header_cut)
        )
    return out
