"""The values a capture reader yields: one Frame per captured record, and the reader's errors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured record, as the capture file holds it."""

    number: int
    """1-based record number, counted the way Wireshark counts frames (every record, decodable or not)."""
    ts_ns: int
    """Capture timestamp in integer nanoseconds since the Unix epoch (pcapng if_tsoffset applied)."""
    linktype: int
    """LINKTYPE_* value of the interface this record was captured on (not DLT_*; host-independent)."""
    data: bytes
    """The captured bytes (caplen of them; may be fewer than orig_len when the snaplen cut the packet)."""
    orig_len: int
    """Length of the packet on the wire."""
    interface: int = 0
    """pcapng interface id (0 for classic pcap)."""


RawRecord = tuple[int, int, int, bytes, int, int]
"""A Frame's fields as a plain tuple, in the same order (number, ts_ns, linktype, data, orig_len,
interface): what readers yield to the per-packet loop, which needs no object per record."""


class CaptureError(Exception):
    """The capture container itself is unreadable: bad magic, impossible lengths, a missing interface.

    Raised by readers; everything yielded before it stays valid.
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        self.message = message
        self.offset = offset
        where = f" at byte offset {offset}" if offset is not None else ""
        super().__init__(f"{message}{where}")


@dataclass(frozen=True, slots=True)
class TruncatedRecord:
    """A last record cut off mid-way (tcpdump killed, a pipe cut): not fatal, reported once."""

    offset: int
    """Byte offset (in the decompressed stream) where the cut-off record starts."""
    wanted: int
    """Bytes the record needed."""
    got: int
    """Bytes that were there."""
