"""Classic pcap files: a 24-byte file header, then records; either byte order, µs or ns stamps."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from pcapdiag.capture.fastinit import new_frame
from pcapdiag.capture.frame import CaptureError, Frame, TruncatedRecord
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
        self._record = struct.Struct(endian + "IIII")
        self._source = source

    def frames(self) -> Iterator[Frame]:
        """Yield every record as a Frame; at a cut-off last record set truncated and stop."""
        source = self._source
        # Hot loop: the stream's read is called directly (a short read is completed by
        # source.complete), and source.offset is updated once per record.
        read = source.raw_read
        complete = source.complete
        unpack = self._record.unpack
        tick_ns = self._tick_ns
        linktype = self.linktype
        snaplen = self.snaplen
        number = 0
        offset = source.offset
        while True:
            header = read(RECORD_HEADER_LEN)
            if len(header) != RECORD_HEADER_LEN:
                header = complete(header, RECORD_HEADER_LEN)
                if len(header) != RECORD_HEADER_LEN:
                    source.offset = offset + len(header)
                    if header:
                        self.truncated = TruncatedRecord(offset, RECORD_HEADER_LEN, len(header))
                    return
            seconds, fraction, caplen, orig_len = unpack(header)
            number += 1
            if caplen > snaplen:
                source.offset = offset + RECORD_HEADER_LEN
                raise CaptureError(self._caplen_error(number, caplen), offset)
            data = read(caplen)
            if len(data) != caplen:
                data = complete(data, caplen)
                if len(data) != caplen:
                    source.offset = offset + RECORD_HEADER_LEN + len(data)
                    self.truncated = TruncatedRecord(
                        offset, RECORD_HEADER_LEN + caplen, RECORD_HEADER_LEN + len(data)
                    )
                    return
            offset += RECORD_HEADER_LEN + caplen
            source.offset = offset
            ts_ns = seconds * _NS_PER_S + fraction * tick_ns
            yield new_frame(number, ts_ns, linktype, data, orig_len)

    def _caplen_error(self, number: int, caplen: int) -> str:
        if caplen > MAX_CAPLEN:
            return f"record {number}: caplen {caplen} exceeds the {MAX_CAPLEN}-byte maximum"
        return f"record {number}: caplen {caplen} exceeds snaplen {self.snaplen}"
