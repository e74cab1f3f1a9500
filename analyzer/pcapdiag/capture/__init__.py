"""Streaming capture readers: open_capture() sniffs the format; Capture.frames() yields Frames."""

from __future__ import annotations

from collections.abc import Iterator

from pcapdiag.capture.block import RecordBlock
from pcapdiag.capture.frame import CaptureError, Frame, RawRecord, TruncatedRecord
from pcapdiag.capture.linktype import linktype_name
from pcapdiag.capture.pcap import MAGICS as PCAP_MAGICS
from pcapdiag.capture.pcap import PcapReader
from pcapdiag.capture.pcapng import SHB_MAGIC, PcapngReader
from pcapdiag.capture.source import GzipStream, Readable, Source

__all__ = [
    "Capture",
    "CaptureError",
    "Frame",
    "RawRecord",
    "RecordBlock",
    "TruncatedRecord",
    "linktype_name",
    "open_capture",
]

GZIP_MAGIC = b"\x1f\x8b"  # RFC 1952 section 2.3.1: ID1, ID2
_KNOWN_MAGICS = (*PCAP_MAGICS, SHB_MAGIC)


WHOLE_PACKETS = 65535
"""A snaplen at least this large keeps whole packets (tcpdump -s 0 writes 262144; older ones 65535)."""


class Capture:
    """An opened capture: its format, what has been learned while reading it, and its frames."""

    __slots__ = ("_reader", "_source", "_started", "gzipped", "name")

    def __init__(self, name: str, reader: PcapReader | PcapngReader, source: Source, gzipped: bool) -> None:
        self.name = name
        """What the caller called the stream (a path, or "-"): for messages only, never sniffed."""
        self.gzipped = gzipped
        self._reader = reader
        self._source = source
        self._started = False

    @property
    def format(self) -> str:
        """ "pcap", "pcap-nsec" or "pcapng", plus "+gzip" when the stream was gzip-wrapped."""
        return self._reader.format + ("+gzip" if self.gzipped else "")

    @property
    def link_types(self) -> set[int]:
        """Every LINKTYPE seen so far (pcapng: every IDB read so far, in every section)."""
        return self._reader.link_types

    @property
    def truncated(self) -> TruncatedRecord | None:
        """The cut-off last record (known once frames() is exhausted), or None."""
        return self._reader.truncated

    @property
    def bytes_read(self) -> int:
        """Bytes consumed so far from the (decompressed) stream, for progress reporting."""
        return self._source.offset

    @property
    def drops(self) -> int | None:
        """Packets the kernel dropped if the file says (pcapng isb_ifdrop), else None."""
        return self._reader.drops

    @property
    def end_ns(self) -> int | None:
        """When the capture stopped, if the file says (pcapng statistics time), else None."""
        return self._reader.end_ns

    @property
    def snaplen(self) -> int | None:
        """The snapshot length the capture was taken with when it is short enough to cut ordinary
        packets (below 65535, tcpdump -s 96), else None (whole packets)."""
        snaplen = self._reader.snaplen
        return snaplen if snaplen is not None and 0 < snaplen < WHOLE_PACKETS else None

    def frames(self) -> Iterator[Frame]:
        """Every record, in file order; raises CaptureError on a corrupt container.

        A stream cannot rewind, so this may be called only once.
        """
        self._start()
        return self._reader.frames()

    def records(self) -> Iterator[RawRecord]:
        """The same records as frames(), as plain tuples (cheaper per record); once only, like frames()."""
        self._start()
        return self._reader.records()

    def blocks(self) -> Iterator[RecordBlock]:
        """The same records as blocks, one per read of the stream (see RecordBlock); once only."""
        self._start()
        return self._reader.blocks()

    def _start(self) -> None:
        if self._started:
            raise RuntimeError("Capture.frames() can be called only once: streams do not rewind")
        self._started = True


def open_capture(stream: Readable, name: str) -> Capture:
    """Sniff the format from the first bytes of stream (never its name) and read the file header.

    Reads only the file header (pcap) or first section header (pcapng), unwrapping gzip
    first if the stream is gzip-compressed; never seeks, so a pipe works.
    Raises CaptureError when the stream is empty or is not a capture.
    """
    source = Source(stream)
    magic = source.read(4)
    gzipped = magic[:2] == GZIP_MAGIC
    if gzipped:
        source = Source(GzipStream(magic, stream))
        magic = source.read(4)
    if not magic:
        where = " inside gzip" if gzipped else ""
        raise CaptureError(f"empty file (no capture header{where})", 0)
    reader: PcapReader | PcapngReader
    if magic in PCAP_MAGICS:
        reader = PcapReader(source, magic)
    elif magic == SHB_MAGIC:
        reader = PcapngReader(source, magic)
    elif len(magic) < 4 and any(known.startswith(magic) for known in _KNOWN_MAGICS):
        raise CaptureError(f"truncated capture header ({len(magic)} of 4 magic bytes)", 0)
    else:
        raise CaptureError(f"not a pcap or pcapng capture (magic 0x{magic.hex()})", 0)
    return Capture(name, reader, source, gzipped)
