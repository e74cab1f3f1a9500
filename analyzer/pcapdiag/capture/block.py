"""A block of capture records: what one read of the stream gave, as columns (one list per field)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pcapdiag.capture.frame import RawRecord


@dataclass(frozen=True, slots=True)
class RecordBlock:
    """Consecutive records of a capture, field by field: record ``i`` is frame ``first + i``.

    A reader hands over a block each time it would have to wait for the stream (a file: about
    1 MiB at a time; a live pipe: whatever has arrived), so a block never delays a record.
    """

    first: int
    """Frame number of the first record (1-based, counted as Wireshark counts frames)."""
    ts_ns: list[int]
    linktypes: list[int]
    datas: list[bytes]
    orig_lens: list[int]
    interfaces: list[int]

    def __len__(self) -> int:
        return len(self.ts_ns)

    def head(self, n: int) -> RecordBlock:
        """The first ``n`` records (a limit reached inside the block)."""
        if n >= len(self.ts_ns):
            return self
        return RecordBlock(
            self.first,
            self.ts_ns[:n],
            self.linktypes[:n],
            self.datas[:n],
            self.orig_lens[:n],
            self.interfaces[:n],
        )

    def records(self) -> Iterator[RawRecord]:
        """The records as RawRecord tuples, in order."""
        return zip(
            range(self.first, self.first + len(self.ts_ns)),
            self.ts_ns,
            self.linktypes,
            self.datas,
            self.orig_lens,
            self.interfaces,
            strict=True,
        )


def empty_block(first: int) -> RecordBlock:
    """A block with no records, starting at frame ``first``."""
    return RecordBlock(first, [], [], [], [], [])
