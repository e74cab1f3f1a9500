"""A block of capture records: what one read of the stream gave, as columns (one per field)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import accumulate
from typing import TYPE_CHECKING, TypeAlias

from pcapdiag.capture.frame import RawRecord

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Ints: TypeAlias = "list[int] | npt.NDArray[np.int64]"
"""A column of integers: a list, or (as the classic pcap reader makes them) a numpy array."""


def _as_list(column: Ints) -> list[int]:
    return column if isinstance(column, list) else column.tolist()


class RecordBlock:
    """Consecutive records of a capture, field by field: record ``i`` is frame ``first + i``.

    A reader hands over a block each time it would have to wait for the stream (a file: about
    1 MiB at a time; a live pipe: whatever has arrived), so a block never delays a record.

    The records' bytes are held either as one bytes object per record (``datas``) or, as a classic
    pcap reader has them, as stretches of the one buffer they were read into (``buffer()``: the
    buffer, each record's start in it and its captured length). Each form, and the list form of
    each numeric column, is made when first asked for, so a block decoded column by column never
    cuts a bytes object, or makes an int, per record.
    """

    __slots__ = (
        "_buf",
        "_caplens",
        "_datas",
        "_ifaces",
        "_links",
        "_n",
        "_origs",
        "_starts",
        "_ts",
        "first",
    )

    def __init__(
        self,
        first: int,
        ts_ns: Ints,
        linktypes: list[int] | int,
        datas: list[bytes] | None,
        orig_lens: Ints,
        interfaces: list[int] | int,
        buffer: tuple[bytes, Ints, Ints] | None = None,
    ) -> None:
        self.first = first
        """Frame number of the first record (1-based, counted as Wireshark counts frames)."""
        self._n = len(ts_ns)
        self._ts = ts_ns
        self._links = linktypes
        """One LINKTYPE per record, or one for them all."""
        self._origs = orig_lens
        self._ifaces = interfaces
        """One pcapng interface id per record, or one for them all."""
        self._datas = datas
        if buffer is None:
            if datas is None:
                raise ValueError("a RecordBlock needs its records' bytes")
            self._buf: bytes | None = None
            self._starts: Ints = []
            self._caplens: Ints = []
        else:
            self._buf, self._starts, self._caplens = buffer

    def __len__(self) -> int:
        return self._n

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordBlock):
            return NotImplemented
        return (
            self.first == other.first
            and self.ts_ns == other.ts_ns
            and self.linktypes == other.linktypes
            and self.datas == other.datas
            and self.orig_lens == other.orig_lens
            and self.interfaces == other.interfaces
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RecordBlock(first={self.first}, records={self._n})"

    @property
    def ts_ns(self) -> list[int]:
        """Each record's capture time, in ns."""
        ts = self._ts
        if not isinstance(ts, list):
            ts = self._ts = ts.tolist()
        return ts

    def ts_array(self) -> npt.NDArray[np.int64]:
        """The capture times as a numpy array."""
        import numpy as np  # here: a small capture read record by record never needs numpy

        return np.asarray(self._ts, np.int64)

    @property
    def linktypes(self) -> list[int]:
        """Each record's LINKTYPE."""
        links = self._links
        if isinstance(links, int):
            links = self._links = [links] * self._n
        return links

    @property
    def single_linktype(self) -> int | None:
        """The LINKTYPE of every record, when the reader knows they share one (classic pcap)."""
        return self._links if isinstance(self._links, int) else None

    @property
    def orig_lens(self) -> list[int]:
        """Each record's length on the wire."""
        origs = self._origs
        if not isinstance(origs, list):
            origs = self._origs = origs.tolist()
        return origs

    @property
    def interfaces(self) -> list[int]:
        """Each record's pcapng interface id (0 for classic pcap)."""
        ifaces = self._ifaces
        if isinstance(ifaces, int):
            ifaces = self._ifaces = [ifaces] * self._n
        return ifaces

    @property
    def datas(self) -> list[bytes]:
        """Each record's captured bytes."""
        if self._datas is None:
            buf = self._buf
            assert buf is not None
            starts, caplens = _as_list(self._starts), _as_list(self._caplens)
            self._datas = [buf[s : s + c] for s, c in zip(starts, caplens, strict=True)]
        return self._datas

    def buffer(self) -> tuple[bytes, Ints, Ints]:
        """(buffer, start of each record in it, each record's captured length)."""
        if self._buf is None:
            datas = self.datas
            lengths = [len(d) for d in datas]
            self._caplens = lengths
            self._starts = [0, *accumulate(lengths)][:-1] if lengths else []
            self._buf = b"".join(datas)
        return self._buf, self._starts, self._caplens

    def head(self, n: int) -> RecordBlock:
        """The first ``n`` records (a limit reached inside the block)."""
        if n >= self._n:
            return self
        buffer = None
        if self._buf is not None:
            buffer = (self._buf, self._starts[:n], self._caplens[:n])
        links = self._links if isinstance(self._links, int) else self._links[:n]
        ifaces = self._ifaces if isinstance(self._ifaces, int) else self._ifaces[:n]
        return RecordBlock(
            self.first,
            self._ts[:n],
            links,
            self._datas[:n] if self._datas is not None else None,
            self._origs[:n],
            ifaces,
            buffer,
        )

    def records(self) -> Iterator[RawRecord]:
        """The records as RawRecord tuples, in order."""
        return zip(
            range(self.first, self.first + self._n),
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
