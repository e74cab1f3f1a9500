"""A decoded block's TCP packets grouped by connection: one group per connection key, in capture order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pcapdiag.decode.columns import Columns
from pcapdiag.flow.key import FlowKey

_MIX = (
    np.uint64(0x9E3779B97F4A7C15),
    np.uint64(0xBF58476D1CE4E5B9),
    np.uint64(0x94D049BB133111EB),
    np.uint64(0xD6E8FEB86659FD93),
    np.uint64(0xFF51AFD7ED558CCD),
    np.uint64(0xC4CEB9FE1A85EC53),
)


@dataclass(frozen=True, slots=True)
class Group:
    """The packets of one connection key in a stretch of a block."""

    key: FlowKey
    """The connection key (flow.key.canonical) of every packet in the group."""
    packets: list[int]
    """Their indices in the block, in capture order."""


class KeyColumns:
    """Each packet's connection key as columns: the key's first end, its second end, the family."""

    __slots__ = ("_cols", "_words")

    def __init__(self, cols: Columns) -> None:
        sf = cols.src_first
        self._cols = cols
        self._words = (
            np.where(sf, cols.a_hi, cols.b_hi),
            np.where(sf, cols.a_lo, cols.b_lo),
            np.where(sf, cols.sport, cols.dport).astype(np.uint64),
            np.where(sf, cols.b_hi, cols.a_hi),
            np.where(sf, cols.b_lo, cols.a_lo),
            (np.where(sf, cols.dport, cols.sport) + (cols.family << 16)).astype(np.uint64),
        )

    def groups(self, packets: npt.NDArray[np.int64]) -> list[Group] | None:
        """The packets (indices, ascending) grouped by connection key, each group in capture order,
        in no particular order; None if two keys could not be told apart
        (a 64-bit hash collision: the caller takes the packets one by one instead)."""
        if not len(packets):
            return []
        words = [w[packets] for w in self._words]
        h = words[0] * _MIX[0]
        for w, m in zip(words[1:], _MIX[1:], strict=True):
            h ^= w * m
            h = (h ^ (h >> np.uint64(29))) * _MIX[0]
        _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
        reps = first[inverse]  # each packet's group's first packet
        for w in words:
            if not np.array_equal(w, w[reps]):
                return None
        order = np.argsort(inverse, kind="stable")
        sizes = np.bincount(inverse)
        ends = np.cumsum(sizes).tolist()
        ordered = packets[order].tolist()
        starts = [0, *ends[:-1]]
        cols = self._cols
        out = []
        for start, end in zip(starts, ends, strict=True):
            members = ordered[start:end]
            i = members[0]
            src, dst = cols.src(i), cols.dst(i)
            sport, dport = int(cols.sport[i]), int(cols.dport[i])
            key = (src, sport, dst, dport) if cols.src_first[i] else (dst, dport, src, sport)
            out.append(Group(key, members))
        return out
