"""Per-direction byte-stream bookkeeping: sequence offsets, retransmissions, gaps, out-of-order data."""

from __future__ import annotations

import heapq

MASK32 = 0xFFFFFFFF
HALF32 = 0x80000000
_EMPTY: dict[int, bytes] = {}
"""Shared, never written: most streams never hold out-of-order data, so they share one empty dict."""
_NO_HEAP: list[int] = []
"""Shared, never written, like _EMPTY."""
MAX_OUT_OF_ORDER = 256 * 1024
"""Bytes of out-of-order data held per direction before the hole is declared a gap (zeek 'g')."""


class ByteStream:
    """One direction's stream, in offsets from its first byte; decides what payload is new."""

    __slots__ = ("_heap", "base", "fin_off", "gaps", "next_off", "pending", "pending_bytes")

    def __init__(self) -> None:
        self.base: int | None = None
        """Sequence number of stream offset 0 (ISN + 1, or the first sequence seen mid-stream)."""
        self.next_off = 0
        """Offset of the next byte expected in order."""
        self.fin_off: int | None = None
        """Offset the FIN occupies, once seen."""
        self.pending: dict[int, bytes] = _EMPTY
        """Out-of-order payload waiting for the hole before it to fill."""
        self.pending_bytes = 0
        self._heap: list[int] = _NO_HEAP
        """Offsets held in ``pending``, as a heap (smallest first)."""
        self.gaps = 0
        """Holes given up on (bytes never captured)."""

    def offset(self, seq: int) -> int:
        """Unwrap a 32-bit sequence number into an offset near the current position."""
        assert self.base is not None
        rel = (seq - self.base - self.next_off) & MASK32
        if rel >= HALF32:
            rel -= 1 << 32
        return self.next_off + rel

    def accept(self, off: int, data: bytes) -> tuple[bytes, bool]:
        """Take a segment's payload at ``off``; return (bytes now in order, whether all was old).

        A gap is declared (and the stream jumps ahead) when out-of-order data outgrows its cap.
        """
        end = off + len(data)
        nxt = self.next_off
        if end <= nxt:
            return b"", True
        if off > nxt:
            if self.pending is _EMPTY:
                self.pending = {}
                self._heap = []
            if off not in self.pending:
                heapq.heappush(self._heap, off)
            if off not in self.pending or len(self.pending[off]) < len(data):
                self.pending_bytes += len(data) - len(self.pending.get(off, b""))
                self.pending[off] = data
            if self.pending_bytes <= MAX_OUT_OF_ORDER:
                return b"", False
            self.gaps += 1
            nxt = self._heap[0]
            self.next_off = nxt
            return self._drain(b""), False
        fresh = data[nxt - off :]
        self.next_off = end
        if self.pending:
            return self._drain(fresh), False
        return fresh, False

    def skip_to(self, off: int) -> None:
        """Declare everything before ``off`` lost (a gap) and continue from there."""
        if off > self.next_off:
            self.gaps += 1
            self.next_off = off
            self._drain(b"")

    def _drain(self, head: bytes) -> bytes:
        """Append every pending segment that is now contiguous with the in-order position.

        The held offsets sit in a heap, so each look costs log(held): a flood of reordered
        segments cannot make reassembly quadratic.
        """
        out = bytearray(head)
        heap = self._heap
        while heap and heap[0] <= self.next_off:
            o = heapq.heappop(heap)
            chunk = self.pending.pop(o, None)
            if chunk is None:
                continue
            self.pending_bytes -= len(chunk)
            end = o + len(chunk)
            if end > self.next_off:
                out += chunk[self.next_off - o :]
                self.next_off = end
        return bytes(out)
