"""pcapng files: sections (each with its own byte order), their interfaces, and packet blocks."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from pcapdiag.capture.block import RecordBlock
from pcapdiag.capture.fastinit import new_frame
from pcapdiag.capture.frame import CaptureError, Frame, RawRecord, TruncatedRecord
from pcapdiag.capture.source import Source

# Block types and option codes from draft-ietf-opsawg-pcapng (sections 4 and 5).
SHB_MAGIC = b"\x0a\x0d\x0d\x0a"  # Section Header Block type as stored on disk
BLOCK_SHB = 0x0A0D0D0A  # the same type as a number: a palindrome, so equal in either byte order
BLOCK_IDB = 0x00000001  # Interface Description Block
BLOCK_PB = 0x00000002  # Packet Block (obsolete, appendix A)
BLOCK_SPB = 0x00000003  # Simple Packet Block: interface 0, no timestamp
BLOCK_ISB = 0x00000005  # Interface Statistics Block
BLOCK_EPB = 0x00000006  # Enhanced Packet Block
OPT_ENDOFOPT = 0  # opt_endofopt: end of an option list
OPT_IF_TSRESOL = 9  # if_tsresol: timestamp resolution, 10^-n (or 2^-n with the high bit set)
OPT_IF_TSOFFSET = 14  # if_tsoffset: seconds added to every timestamp of the interface
OPT_ISB_ENDTIME = 3  # isb_endtime: when the capture stopped, a 64-bit timestamp like the block's
OPT_ISB_IFDROP = 5  # isb_ifdrop: packets the interface dropped since the capture started
_US_SCALE = (1000, 1)  # (mul, div) of microsecond timestamps
DEFAULT_TSRESOL = 6  # microseconds when an IDB has no if_tsresol
MAX_BLOCK_LEN = 16 * 1024 * 1024  # larger than any real block: a bigger length means corruption
_BIG_ENDIAN_BOM = b"\x1a\x2b\x3c\x4d"  # byte-order magic 0x1A2B3C4D, big-endian section
_LITTLE_ENDIAN_BOM = b"\x4d\x3c\x2b\x1a"

_NS_PER_S = 1_000_000_000
_PACKET_BLOCKS = frozenset({BLOCK_EPB, BLOCK_PB})
CHUNK = 1 << 20
"""Bytes asked of the stream at a time."""


class _Layout:
    """Precompiled structs for one byte order."""

    __slots__ = ("block", "epb", "i64", "idb", "option", "pb", "shb", "u32", "u64")

    def __init__(self, endian: str) -> None:
        self.block = struct.Struct(endian + "II")  # block type, block total length
        self.shb = struct.Struct(endian + "IHH")  # byte-order magic, major, minor
        self.idb = struct.Struct(endian + "HHI")  # linktype, reserved, snaplen
        self.epb = struct.Struct(endian + "IIIII")  # interface, ts high, ts low, caplen, orig len
        self.pb = struct.Struct(endian + "HHIIII")  # interface, drops, ts high, ts low, caplen, len
        self.u32 = struct.Struct(endian + "I")  # SPB original length, ISB interface id
        self.option = struct.Struct(endian + "HH")  # option code, option length
        self.u64 = struct.Struct(endian + "Q")
        self.i64 = struct.Struct(endian + "q")


_LAYOUTS = {_BIG_ENDIAN_BOM: _Layout(">"), _LITTLE_ENDIAN_BOM: _Layout("<")}


@dataclass(frozen=True, slots=True)
class Interface:
    """One IDB of the current section: how to read its packets' link layer and timestamps."""

    linktype: int
    snaplen: int
    mul: int
    """Timestamp in ns is units * mul // div + offset_ns: exact integer arithmetic."""
    div: int
    offset_ns: int


class _Cut(Exception):
    """The stream ended inside a block."""

    def __init__(self, wanted: int, got: int) -> None:
        super().__init__(wanted, got)
        self.wanted = wanted
        self.got = got


def _scale(tsresol: int) -> tuple[int, int]:
    """(mul, div) turning timestamp units of resolution 10^-n or 2^-n into nanoseconds."""
    exponent = tsresol & 0x7F
    if tsresol & 0x80:
        return _NS_PER_S, 1 << exponent
    if exponent <= 9:
        return 10 ** (9 - exponent), 1
    return 1, 10 ** (exponent - 9)


def _check_length(length: int, minimum: int, what: str, offset: int) -> None:
    if length % 4 or length < minimum or length > MAX_BLOCK_LEN:
        raise CaptureError(f"{what} has impossible block length {length}", offset)


class PcapngReader:
    """Reads one pcapng stream; the first Section Header Block is read on construction."""

    format = "pcapng"

    def __init__(self, source: Source, magic: bytes) -> None:
        self._source = source
        self._layout = _LAYOUTS[_BIG_ENDIAN_BOM]
        self._interfaces: list[Interface] = []
        self.snaplen: int | None = None
        """The smallest non-zero snaplen of the interfaces read so far (None: none set one)."""
        self._sections = 0
        self._drops: dict[tuple[int, int], int] = {}
        self.end_ns: int | None = None
        """Latest Interface Statistics Block time: the capture ran at least until then (dumpcap writes
        one as it stops), whether or not a packet came after the last one."""
        self.link_types: set[int] = set()
        """LINKTYPE of every IDB seen so far, in any section."""
        self.truncated: TruncatedRecord | None = None
        """Set when the last block was cut off."""
        length_field = source.read(4)
        try:
            self._section(magic + length_field, 0)
        except _Cut as cut:
            raise CaptureError(
                f"truncated pcapng section header ({cut.got} of {cut.wanted} bytes)", 0
            ) from None

    @property
    def drops(self) -> int | None:
        """Sum over interfaces of the latest isb_ifdrop each reported, or None if none did."""
        return sum(self._drops.values()) if self._drops else None

    def frames(self) -> Iterator[Frame]:
        """Yield every EPB, SPB and PB as a Frame; at a cut-off block set truncated and stop."""
        for record in self.records():
            yield new_frame(*record)

    def records(self) -> Iterator[RawRecord]:
        """Yield every EPB, SPB and PB as a RawRecord tuple; at a cut-off block set truncated and stop."""
        for block in self.blocks():
            yield from block.records()

    def blocks(self) -> Iterator[RecordBlock]:
        """Yield the packet records as blocks, one each time the stream must be read again; at a
        cut-off pcapng block set truncated and stop. A corrupt block raises CaptureError after the
        RecordBlock of the records before it.

        The stream is read in chunks of up to CHUNK bytes (as much as a pipe has, at once) and
        pcapng blocks are cut from the chunk; ``source.offset`` moves on a chunk at a time, and at
        the end to the exact end of the stream.
        """
        source = self._source
        read = source.read_some
        layout = self._layout
        interfaces = self._interfaces
        number = 0
        last_ts = 0
        base = source.offset
        """Stream offset of buf[0]."""
        buf = b""
        pos = end = 0
        stamps: list[int] = []
        links: list[int] = []
        datas: list[bytes] = []
        origs: list[int] = []
        ifaces: list[int] = []
        while True:
            avail = end - pos
            need = 8
            shb_layout = layout
            error: CaptureError | None = None
            if avail >= 8:
                block_type, length = layout.block.unpack_from(buf, pos)
                if block_type == BLOCK_SHB:
                    need = 12
                    if avail >= 12:
                        bom = buf[pos + 8 : pos + 12]
                        found = _LAYOUTS.get(bom)
                        if found is None:
                            error = CaptureError(
                                f"pcapng section has bad byte-order magic 0x{bom.hex()}", base + pos
                            )
                        else:
                            shb_layout = found
                            (length,) = found.u32.unpack_from(buf, pos + 4)
                            if length % 4 or length < 28 or length > MAX_BLOCK_LEN:
                                error = CaptureError(
                                    f"section header block has impossible block length {length}", base + pos
                                )
                            need = length
                elif length % 4 or length < 12 or length > MAX_BLOCK_LEN:
                    error = CaptureError(
                        f"block type {block_type} has impossible length {length}", base + pos
                    )
                else:
                    need = length
            if error is not None or avail < need:
                if stamps:
                    yield RecordBlock(number - len(stamps) + 1, stamps, links, datas, origs, ifaces)
                    stamps, links, datas, origs, ifaces = [], [], [], [], []
                if error is not None:
                    source.offset = base + end
                    raise error
                more = read(max(CHUNK, need - avail))
                if more:
                    buf = buf[pos:] + more
                    base += pos
                    pos, end = 0, len(buf)
                    source.offset = base
                    continue
                source.offset = base + end
                if avail:
                    self.truncated = TruncatedRecord(base + pos, need, avail)
                return
            start = base + pos
            body_end = pos + length
            if buf[body_end - 4 : body_end] != buf[pos + 4 : pos + 8]:
                if stamps:
                    yield RecordBlock(number - len(stamps) + 1, stamps, links, datas, origs, ifaces)
                    stamps, links, datas, origs, ifaces = [], [], [], [], []
                source.offset = base + end
                if block_type == BLOCK_SHB:
                    raise CaptureError("section header block: trailing length does not match", start)
                trailing = layout.u32.unpack_from(buf, body_end - 4)[0]
                raise CaptureError(
                    f"block type {block_type}: trailing length {trailing} does not match leading length "
                    f"{length}",
                    start,
                )
            body = buf[pos + 8 : body_end]
            pos = body_end
            if block_type in _PACKET_BLOCKS:
                problem = None
                if length < 32:
                    iface_id = high = low = caplen = orig_len = 0
                    problem = f"packet block type {block_type} too short"
                elif block_type == BLOCK_EPB:
                    iface_id, high, low, caplen, orig_len = layout.epb.unpack_from(body)
                else:  # the obsolete Packet Block: 16-bit interface id and drop count
                    iface_id, _drops, high, low, caplen, orig_len = layout.pb.unpack_from(body)
                if problem is not None:
                    pass
                elif iface_id >= len(interfaces):
                    problem = f"record {number + 1}: interface {iface_id} not defined"
                elif caplen > length - 32:
                    problem = f"record {number + 1}: caplen {caplen} exceeds its block"
                if problem is not None:
                    if stamps:
                        yield RecordBlock(number - len(stamps) + 1, stamps, links, datas, origs, ifaces)
                        stamps, links, datas, origs, ifaces = [], [], [], [], []
                    source.offset = base + end
                    raise CaptureError(problem, start)
                number += 1
                iface = interfaces[iface_id]
                last_ts = ((high << 32) | low) * iface.mul // iface.div + iface.offset_ns
                stamps.append(last_ts)
                links.append(iface.linktype)
                datas.append(body[20 : 20 + caplen])
                origs.append(orig_len)
                ifaces.append(iface_id)
            elif block_type == BLOCK_SPB:
                if not interfaces:
                    if stamps:
                        yield RecordBlock(number - len(stamps) + 1, stamps, links, datas, origs, ifaces)
                        stamps, links, datas, origs, ifaces = [], [], [], [], []
                    source.offset = base + end
                    raise CaptureError(f"record {number + 1}: interface 0 not defined", start)
                number += 1
                (orig_len,) = layout.u32.unpack_from(body)
                iface = interfaces[0]
                caplen = length - 16 if orig_len > length - 16 else orig_len
                if 0 < iface.snaplen < caplen:
                    caplen = iface.snaplen
                stamps.append(last_ts)
                links.append(iface.linktype)
                datas.append(body[4 : 4 + caplen])
                origs.append(orig_len)
                ifaces.append(0)
            elif block_type == BLOCK_SHB:
                if stamps:
                    # Records of the section before keep their own interfaces' link types.
                    yield RecordBlock(number - len(stamps) + 1, stamps, links, datas, origs, ifaces)
                    stamps, links, datas, origs, ifaces = [], [], [], [], []
                try:
                    self._open_section(shb_layout, buf[body_end - length : body_end], start)
                except CaptureError:
                    source.offset = base + end
                    raise
                layout = self._layout
                interfaces = self._interfaces
            elif block_type == BLOCK_IDB:
                try:
                    iface = self._interface(body, start)
                except CaptureError:
                    if stamps:
                        yield RecordBlock(number - len(stamps) + 1, stamps, links, datas, origs, ifaces)
                        stamps, links, datas, origs, ifaces = [], [], [], [], []
                    source.offset = base + end
                    raise
                interfaces.append(iface)
                if iface.snaplen and (self.snaplen is None or iface.snaplen < self.snaplen):
                    self.snaplen = iface.snaplen
            elif block_type == BLOCK_ISB:
                try:
                    self._statistics(body, start, last_ts)
                except CaptureError:
                    if stamps:
                        yield RecordBlock(number - len(stamps) + 1, stamps, links, datas, origs, ifaces)
                        stamps, links, datas, origs, ifaces = [], [], [], [], []
                    source.offset = base + end
                    raise
            # Any other block type (name resolution, decryption secrets, custom...) is skipped.

    def _read(self, n: int, wanted: int, have: int) -> bytes:
        data = self._source.read(n)
        if len(data) != n:
            raise _Cut(wanted, have + len(data))
        return data

    def _section(self, head: bytes, start: int) -> None:
        """Read the rest of the first Section Header Block, starting with head."""
        if len(head) != 8:
            raise _Cut(12, len(head))
        bom = self._read(4, 12, 8)
        layout = _LAYOUTS.get(bom)
        if layout is None:
            raise CaptureError(f"pcapng section has bad byte-order magic 0x{bom.hex()}", start)
        (length,) = layout.u32.unpack_from(head, 4)
        _check_length(length, 28, "section header block", start)
        rest = self._read(length - 12, length, 12)
        self._open_section(layout, head + bom + rest, start)

    def _open_section(self, layout: _Layout, block: bytes, start: int) -> None:
        """Check a whole Section Header Block and start its section: its byte order, no interfaces."""
        if block[-4:] != block[4:8]:
            raise CaptureError("section header block: trailing length does not match", start)
        _bom, major, minor = layout.shb.unpack_from(block, 8)
        if major != 1:
            raise CaptureError(f"unsupported pcapng version {major}.{minor}", start)
        self._layout = layout
        self._interfaces = []
        self._sections += 1

    def _options(self, body: bytes, pos: int) -> Iterator[tuple[int, bytes]]:
        """(code, value) for each option from pos to the trailing length; stops at a broken one."""
        unpack = self._layout.option.unpack_from
        end = len(body) - 4
        while pos + 4 <= end:
            code, length = unpack(body, pos)
            if code == OPT_ENDOFOPT or pos + 4 + length > end:
                return
            yield code, body[pos + 4 : pos + 4 + length]
            pos += 4 + ((length + 3) & ~3)

    def _interface(self, body: bytes, start: int) -> Interface:
        layout = self._layout
        if len(body) < 12:
            raise CaptureError("interface description block too short", start)
        linktype, _reserved, snaplen = layout.idb.unpack_from(body)
        tsresol = DEFAULT_TSRESOL
        offset_s = 0
        for code, value in self._options(body, 8):
            if code == OPT_IF_TSRESOL and len(value) == 1:
                tsresol = value[0]
            elif code == OPT_IF_TSOFFSET and len(value) == 8:
                (offset_s,) = layout.i64.unpack(value)
        mul, div = _scale(tsresol)
        self.link_types.add(linktype)
        return Interface(linktype, snaplen, mul, div, offset_s * _NS_PER_S)

    def _statistics(self, body: bytes, start: int, last_ts: int) -> None:
        """Keep the latest isb_ifdrop per interface (each ISB carries a running total), and the latest
        of the block's time and its isb_endtime as the time the capture stopped.

        Wireshark's dumpcap (writecap/pcapio.c) stamps ISBs, and writes isb_endtime, in microseconds
        from gettimeofday() whatever the interface's if_tsresol, so a reading that falls before the
        last packet is read again as microseconds; a time that still precedes the last packet is not
        an end time.
        """
        if len(body) < 16:
            raise CaptureError("interface statistics block too short", start)
        (iface_id,) = self._layout.u32.unpack_from(body)
        u32 = self._layout.u32
        times = [(u32.unpack_from(body, 4)[0], u32.unpack_from(body, 8)[0])]
        for code, value in self._options(body, 12):
            if code == OPT_ISB_IFDROP and len(value) == 8:
                (self._drops[self._sections, iface_id],) = self._layout.u64.unpack(value)
            elif code == OPT_ISB_ENDTIME and len(value) == 8:
                times.append((u32.unpack_from(value)[0], u32.unpack_from(value, 4)[0]))
        if iface_id < len(self._interfaces):
            iface = self._interfaces[iface_id]
            for high, low in times:
                units = (high << 32) | low
                ts = units * iface.mul // iface.div + iface.offset_ns
                if ts < last_ts and (iface.mul, iface.div) != _US_SCALE:
                    ts = units * _US_SCALE[0] + iface.offset_ns
                if ts >= last_ts and (self.end_ns is None or ts > self.end_ns):
                    self.end_ns = ts
