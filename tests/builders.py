"""Build capture files for tests: pcap and pcapng bytes written by hand with struct, packets by scapy.

Typical use::

    from builders import Record, tcp, write_pcap
    path = write_pcap(tmp_path / "a.pcap", [Record(bytes(tcp(flags="S")), ts_ns=1_000_000_000)])

Every writer takes "packets": an iterable of Record, bytes or scapy packets. Bytes and
scapy packets get timestamps start_ns, start_ns + step_ns, ... (see as_records). The
pcapng block helpers (block, shb, idb, epb, spb, pb, isb) build single blocks, so tests
can assemble odd or broken files; they take big_endian and let a test override lengths.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

LINKTYPE_ETHERNET = 1
PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_MAGIC_NSEC = 0xA1B23C4D
BLOCK_SHB = 0x0A0D0D0A
BLOCK_IDB = 1
BLOCK_PB = 2
BLOCK_SPB = 3
BLOCK_ISB = 5
BLOCK_EPB = 6
OPT_IF_TSRESOL = 9
OPT_IF_TSOFFSET = 14
OPT_ISB_ENDTIME = 3
OPT_ISB_IFDROP = 5
DEFAULT_START_NS = 1_700_000_000_123_456_000  # 2023-11-14, whole microseconds
NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class Record:
    """One packet to write: bytes, timestamp, and optionally a different wire length."""

    data: bytes
    ts_ns: int = DEFAULT_START_NS
    orig_len: int | None = None
    """Length on the wire; None means len(data)."""
    interface: int = 0
    """pcapng interface id (ignored by write_pcap)."""
    raw_ts: int | None = None
    """pcapng only: timestamp units to write as-is instead of converting ts_ns."""

    @property
    def wire_len(self) -> int:
        return len(self.data) if self.orig_len is None else self.orig_len


PacketLike = Record | bytes | Any  # Any: a scapy Packet


def as_records(
    packets: Iterable[PacketLike], start_ns: int = DEFAULT_START_NS, step_ns: int = 1_000_000
) -> list[Record]:
    """Turn bytes and scapy packets into Records spaced step_ns apart; Records pass through."""
    out = []
    for i, packet in enumerate(packets):
        if isinstance(packet, Record):
            out.append(packet)
        else:
            out.append(Record(bytes(packet), start_ns + i * step_ns))
    return out


def tcp(
    src: str = "198.18.0.1",
    dst: str = "198.18.0.2",
    sport: int = 40000,
    dport: int = 443,
    flags: str = "S",
    seq: int = 1000,
    ack: int = 0,
    payload: bytes = b"",
    **tcp_fields: Any,
) -> Any:
    """An Ethernet/IPv4/TCP scapy packet with handy defaults (a SYN to port 443)."""
    return (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src=src, dst=dst)
        / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, **tcp_fields)
        / payload
    )


# --- classic pcap -------------------------------------------------------------------------


def pcap_header(
    *,
    linktype: int = LINKTYPE_ETHERNET,
    nsec: bool = False,
    big_endian: bool = False,
    snaplen: int = 262144,
) -> bytes:
    """The 24-byte pcap file header."""
    endian = ">" if big_endian else "<"
    magic = PCAP_MAGIC_NSEC if nsec else PCAP_MAGIC_USEC
    return struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(record: Record, *, nsec: bool = False, big_endian: bool = False) -> bytes:
    """One 16-byte record header plus data; ts_ns must be whole microseconds unless nsec."""
    seconds, rest = divmod(record.ts_ns, NS_PER_S)
    if not nsec and rest % 1000:
        raise ValueError(f"{record.ts_ns} ns is not a whole number of microseconds")
    fraction = rest if nsec else rest // 1000
    endian = ">" if big_endian else "<"
    header = struct.pack(endian + "IIII", seconds, fraction, len(record.data), record.wire_len)
    return header + record.data


def pcap_bytes(
    packets: Iterable[PacketLike],
    *,
    linktype: int = LINKTYPE_ETHERNET,
    nsec: bool = False,
    big_endian: bool = False,
    snaplen: int = 262144,
) -> bytes:
    """A whole classic pcap file."""
    header = pcap_header(linktype=linktype, nsec=nsec, big_endian=big_endian, snaplen=snaplen)
    records = [pcap_record(r, nsec=nsec, big_endian=big_endian) for r in as_records(packets)]
    return header + b"".join(records)


def write_pcap(path: Path, packets: Iterable[PacketLike], **kwargs: Any) -> Path:
    """Write pcap_bytes(packets, **kwargs) to path (gzip-compressed if path ends in .gz)."""
    return write_bytes(path, pcap_bytes(packets, **kwargs))


# --- pcapng -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interface:
    """An IDB: link type, snaplen, and if_tsresol/if_tsoffset options when not None."""

    linktype: int = LINKTYPE_ETHERNET
    snaplen: int = 0
    tsresol: int | None = None
    """Raw if_tsresol byte: 6 = µs (the default when absent), 9 = ns, 0x80 | 20 = 2^-20 s."""
    tsoffset: int | None = None
    """if_tsoffset in seconds, added by readers to every timestamp."""

    def units(self, ts_ns: int) -> int:
        """ts_ns in this interface's timestamp units; ValueError unless exactly representable."""
        ts_ns -= (self.tsoffset or 0) * NS_PER_S
        resol = 6 if self.tsresol is None else self.tsresol
        exponent = resol & 0x7F
        per_second = (1 << exponent) if resol & 0x80 else 10**exponent
        units, remainder = divmod(ts_ns * per_second, NS_PER_S)
        if remainder:
            raise ValueError(f"{ts_ns} ns is not a whole number of units of resolution {resol}")
        return units


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def options(items: Sequence[tuple[int, bytes]], *, big_endian: bool = False) -> bytes:
    """An option list (code, value) ending in opt_endofopt; empty list gives b""."""
    if not items:
        return b""
    endian = ">" if big_endian else "<"
    out = b"".join(struct.pack(endian + "HH", c, len(v)) + _pad(v) for c, v in items)
    return out + struct.pack(endian + "HH", 0, 0)


def block(
    block_type: int,
    body: bytes,
    *,
    big_endian: bool = False,
    total_length: int | None = None,
    trailing_length: int | None = None,
) -> bytes:
    """A generic block: type, length, body padded to 4, length again (both overridable)."""
    body = _pad(body)
    endian = ">" if big_endian else "<"
    length = 12 + len(body)
    lead = length if total_length is None else total_length
    trail = length if trailing_length is None else trailing_length
    return struct.pack(endian + "II", block_type, lead) + body + struct.pack(endian + "I", trail)


def shb(*, big_endian: bool = False, major: int = 1) -> bytes:
    """A Section Header Block (section length -1, unknown)."""
    endian = ">" if big_endian else "<"
    body = struct.pack(endian + "IHHq", 0x1A2B3C4D, major, 0, -1)
    return block(BLOCK_SHB, body, big_endian=big_endian)


def idb(iface: Interface, *, big_endian: bool = False) -> bytes:
    """An Interface Description Block for iface."""
    endian = ">" if big_endian else "<"
    items = []
    if iface.tsresol is not None:
        items.append((OPT_IF_TSRESOL, bytes([iface.tsresol])))
    if iface.tsoffset is not None:
        items.append((OPT_IF_TSOFFSET, struct.pack(endian + "q", iface.tsoffset)))
    body = struct.pack(endian + "HHI", iface.linktype, 0, iface.snaplen)
    return block(BLOCK_IDB, body + options(items, big_endian=big_endian), big_endian=big_endian)


def _units(record: Record, iface: Interface) -> int:
    return iface.units(record.ts_ns) if record.raw_ts is None else record.raw_ts


def epb(record: Record, iface: Interface = Interface(), *, big_endian: bool = False) -> bytes:
    """An Enhanced Packet Block for record, timestamp in iface's units."""
    endian = ">" if big_endian else "<"
    units = _units(record, iface)
    fields = (record.interface, units >> 32, units & 0xFFFFFFFF, len(record.data), record.wire_len)
    body = struct.pack(endian + "IIIII", *fields) + _pad(record.data)
    return block(BLOCK_EPB, body, big_endian=big_endian)


def pb(record: Record, iface: Interface = Interface(), *, big_endian: bool = False) -> bytes:
    """An obsolete Packet Block (type 2) for record."""
    endian = ">" if big_endian else "<"
    units = _units(record, iface)
    fields = (record.interface, 0, units >> 32, units & 0xFFFFFFFF, len(record.data))
    body = struct.pack(endian + "HHIIII", *fields, record.wire_len) + _pad(record.data)
    return block(BLOCK_PB, body, big_endian=big_endian)


def spb(data: bytes, orig_len: int | None = None, *, big_endian: bool = False) -> bytes:
    """A Simple Packet Block (interface 0, no timestamp)."""
    endian = ">" if big_endian else "<"
    wire = len(data) if orig_len is None else orig_len
    return block(BLOCK_SPB, struct.pack(endian + "I", wire) + _pad(data), big_endian=big_endian)


def isb(
    interface: int,
    ifdrop: int | None,
    *,
    big_endian: bool = False,
    units: int = 0,
    endtime: int | None = None,
) -> bytes:
    """An Interface Statistics Block, with isb_ifdrop when ifdrop is not None, stamped ``units``,
    with isb_endtime (in timestamp units, high 32 bits first like the block's) when given."""
    endian = ">" if big_endian else "<"
    items = (
        []
        if endtime is None
        else [(OPT_ISB_ENDTIME, struct.pack(endian + "II", endtime >> 32, endtime & 0xFFFFFFFF))]
    )
    if ifdrop is not None:
        items.append((OPT_ISB_IFDROP, struct.pack(endian + "Q", ifdrop)))
    head = struct.pack(endian + "III", interface, units >> 32, units & 0xFFFFFFFF)
    body = head + options(items, big_endian=big_endian)
    return block(BLOCK_ISB, body, big_endian=big_endian)


def pcapng_section(
    packets: Iterable[PacketLike],
    *,
    interfaces: Sequence[Interface] = (Interface(),),
    big_endian: bool = False,
) -> bytes:
    """SHB, one IDB per interface, then one EPB per packet (on its Record.interface)."""
    out = [shb(big_endian=big_endian)]
    out += [idb(iface, big_endian=big_endian) for iface in interfaces]
    for record in as_records(packets):
        out.append(epb(record, interfaces[record.interface], big_endian=big_endian))
    return b"".join(out)


def write_pcapng(path: Path, packets: Iterable[PacketLike], **kwargs: Any) -> Path:
    """Write pcapng_section(packets, **kwargs) to path (gzip-compressed if path ends in .gz)."""
    return write_bytes(path, pcapng_section(packets, **kwargs))


def write_bytes(path: Path, data: bytes) -> Path:
    """Write data to path, gzip-compressed when the name ends in .gz; return path."""
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path
