"""Classic pcap files: a 24-byte file header, then records; either byte order, µs or ns stamps."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from pcapdiag.capture.block import RecordBlock
from pcapdiag.capture.fastinit import new_frame
from pcapdiag.capture.frame import CaptureError, Frame, RawRecord, TruncatedRecord
from pcapdiag.capture.source import Source

# File header magic as it appears on disk (draft-ietf-opsawg-pcap section 4): the
# writer's byte order and the timestamp unit (ns per fraction tick) follow from it.
MAGICS: dict[bytes, tuple[str, int, str]] = {
    b"\xa1\xb2\xc3\xd4": (">", 1000, "pcap"),  # big-endian, microseconds
    b"\xd4\xc3\xb2\xa1": ("<", 1000, "pcap"),  # little-endian, microseconds
    b"\xa1\xb2\x3c\x4d": (">", 1, "pcap-nsec"),  # big-endian, nanoseconds
    b"\x4d\x3c\xb2\xa1": ("<", 1, "pcap-nsec"),  # little-endian, nanoseconds
}
FILE_HEADER_LEN = 24  # magic, version, thiszone, sigfigs, snaplen, linktype
RECORD_HEADER_LEN = 16  # ts seconds, ts fraction, captured length, original length
MAX_CAPLEN = 262144  # libpcap's MAXIMUM_SNAPLEN: a longer record means a corrupt file
CHUNK = 1 << 20  # bytes asked of the stream at a time
ARRAY_MIN = 64
"""Records in a block from which its headers are decoded with numpy (fewer: one by one)."""
LINKTYPE_MASK = 0x03FFFFFF  # libpcap LT_LINKTYPE: drop the FCS length and F bits (spec section 4)

_NS_PER_S = 1_000_000_000


class PcapReader:
    """Reads one classic pcap stream; the file header is read (and checked) on construction."""

    format: str
    """"pcap" (microsecond timestamps) or "pcap-nsec"."""
    linktype: int
    """The file's single LINKTYPE value."""
    snaplen: int
    """Largest caplen a record may have: the header's snaplen, or MAX_CAPLEN if that is not sane."""
    drops: int | None = None
    """Classic pcap records no drop count."""
    end_ns: int | None = None
    """Classic pcap records no end time: the capture ends, as far as anyone can tell, at its last packet."""
    truncated: TruncatedRecord | None = None
    """Set when the last record was cut off."""

    def __init__(self, source: Source, magic: bytes) -> None:
        endian, self._tick_ns, self.format = MAGICS[magic]
        rest = source.read(FILE_HEADER_LEN - 4)
        if len(rest) != FILE_HEADER_LEN - 4:
            raise CaptureError(f"truncated pcap file header ({4 + len(rest)} of {FILE_HEADER_LEN} bytes)", 0)
        snaplen, network = struct.unpack_from(endian + "II", rest, 12)
        self.linktype = network & LINKTYPE_MASK
        self.link_types = {self.linktype}
        self.snaplen = snaplen if 0 < snaplen <= MAX_CAPLEN else MAX_CAPLEN
        self._caplen = struct.Struct(endian + "I")
        self._header = struct.Struct(endian + "IIII")
        self._dtype = endian + "u4"
        self._source = source

    def frames(self) -> Iterator[Frame]:
        """Yield every record as a Frame; at a cut-off last record set truncated and stop."""
        for record in self.records():
            yield new_frame(*record)

    def records(self) -> Iterator[RawRecord]:
        """Yield every record as a RawRecord tuple; at a cut-off last record set truncated and stop."""
        for block in self.blocks():
            yield from block.records()

    def blocks(self) -> Iterator[RecordBlock]:
        """Yield the records as blocks, one each time the stream must be read again; at a cut-off
        last record set truncated and stop. A corrupt record raises CaptureError after the block
        of the records before it.

        The stream is read in chunks of up to CHUNK bytes (as much as a pipe has, at once) and
        records are found in the chunk by their captured lengths alone; their headers are decoded
        for the whole block at once (``_block``). ``source.offset`` moves on a chunk at a time,
        and at the end to the exact end of the stream.
        """
        source = self._source
        read = source.read_some
        caplen_at = self._caplen.unpack_from
        snaplen = self.snaplen
        number = 0
        base = source.offset
        """Stream offset of buf[0]."""
        buf = b""
        pos = end = 0
        starts: list[int] = []
        while True:
            if end - pos < RECORD_HEADER_LEN:
                if starts:
                    number += len(starts)
                    yield self._block(number, buf, starts)
                    starts = []
                more = read(CHUNK)
                if more:
                    buf = buf[pos:] + more if pos < end else more
                    base += pos
                    pos, end = 0, len(buf)
                    source.offset = base
                    continue
                source.offset = base + end
                if end > pos:
                    self.truncated = TruncatedRecord(base + pos, RECORD_HEADER_LEN, end - pos)
                return
            (caplen,) = caplen_at(buf, pos + 8)
            if caplen > snaplen:
                if starts:
                    number += len(starts)
                    yield self._block(number, buf, starts)
                    starts = []
                source.offset = base + pos + RECORD_HEADER_LEN
                raise CaptureError(self._caplen_error(number + 1, caplen), base + pos)
            stop = pos + RECORD_HEADER_LEN + caplen
            if stop > end:
                if starts:
                    number += len(starts)
                    yield self._block(number, buf, starts)
                    starts = []
                more = read(max(CHUNK, stop - end))
                if more:
                    buf = buf[pos:] + more
                    base += pos
                    pos, end = 0, len(buf)
                    source.offset = base
                    continue
                source.offset = base + end
                self.truncated = TruncatedRecord(base + pos, RECORD_HEADER_LEN + caplen, end - pos)
                return
            starts.append(pos)
            pos = stop

    def _block(self, last: int, buf: bytes, headers: list[int]) -> RecordBlock:
        """The block of the records whose headers start at ``headers`` in ``buf`` (``last`` is the
        number of its last record): the headers decoded (a block of some size all at once, with
        numpy), the data left in the buffer."""
        n = len(headers)
        if n < ARRAY_MIN:
            unpack = self._header.unpack_from
            tick = self._tick_ns
            stamps, starts, caplens, origs = [], [], [], []
            for at in headers:
                seconds, fraction, caplen, orig_len = unpack(buf, at)
                stamps.append(seconds * _NS_PER_S + fraction * tick)
                starts.append(at + RECORD_HEADER_LEN)
                caplens.append(caplen)
                origs.append(orig_len)
            return RecordBlock(last - n + 1, stamps, self.linktype, None, origs, 0, (buf, starts, caplens))
        import numpy as np  # here: a small capture never needs it

        at_ = np.asarray(headers, np.int64)
        window = np.lib.stride_tricks.sliding_window_view(np.frombuffer(buf, np.uint8), RECORD_HEADER_LEN)
        fields = window[at_]
        seconds_, fraction_, caplen_, orig_ = (
            np.ascontiguousarray(fields).view(self._dtype).astype(np.int64).T
        )
        stamps_ = seconds_ * _NS_PER_S + fraction_ * self._tick_ns
        return RecordBlock(
            last - n + 1,
            stamps_,
            self.linktype,
            None,
            orig_,
            0,
            (buf, at_ + RECORD_HEADER_LEN, caplen_),
        )

    def _caplen_error(self, number: int, caplen: int) -> str:
        if caplen > MAX_CAPLEN:
            return f"record {number}: caplen {caplen} exceeds the {MAX_CAPLEN}-byte maximum"
        return f"record {number}: caplen {caplen} exceeds snaplen {self.snaplen}"
