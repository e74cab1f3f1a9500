"""Per-direction byte-stream bookkeeping: sequence offsets, retransmissions, gaps, reordering, snaplen."""

from __future__ import annotations

import heapq

MASK32 = 0xFFFFFFFF
HALF32 = 0x80000000
_EMPTY: dict[int, bytes] = {}
"""Shared, never written: most streams never hold out-of-order data, so they share one empty dict."""
_NO_HEAP: list[int] = []
"""Shared, never written, like _EMPTY."""
_NO_WIRE: dict[int, int] = {}
"""Shared, never written, like _EMPTY: most streams never hold a cut segment out of order."""
MAX_OUT_OF_ORDER = 256 * 1024
"""Bytes of out-of-order data held per direction before the hole is declared a gap (zeek 'g')."""

Piece = tuple[int, bytes, int]
"""(stream offset, visible bytes, unseen bytes right after them): a run of in-order stream whose
tail the snaplen may have hidden. The bytes were all on the wire and their packets were captured."""


class ByteStream:
    """One direction's stream, in offsets from its first byte; decides what payload is new."""

    __slots__ = (
        "_heap",
        "_wire",
        "base",
        "fin_off",
        "gaps",
        "next_off",
        "pending",
        "pending_bytes",
    )

    def __init__(self) -> None:
        self.base: int | None = None
        """Sequence number of stream offset 0 (ISN + 1, or the first sequence seen mid-stream)."""
        self.next_off = 0
        """Offset of the next byte expected in order."""
        self.fin_off: int | None = None
        """Offset the FIN occupies, once seen."""
        self.pending: dict[int, bytes] = _EMPTY
        """Out-of-order payload waiting for the hole before it to fill (what was captured of it)."""
        self._wire: dict[int, int] = _NO_WIRE
        """Wire length of the ``pending`` entries the snaplen cut (absent: the entry is whole)."""
        self.pending_bytes = 0
        """Wire bytes held in ``pending`` (a cut segment counts its whole length)."""
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

    @property
    def holds_cut(self) -> bool:
        """True when a cut segment is held out of order: segments must then go through accept_cut
        even if whole (accept() drains whole segments only)."""
        return bool(self._wire)

    def accept_cut(self, off: int, data: bytes, wire_len: int) -> tuple[list[Piece], bool]:
        """accept() for a segment whose payload the snaplen may have cut: ``data`` is the captured
        prefix of ``wire_len`` bytes that were on the wire. Return (pieces now in order, whether all
        was old).

        The stream advances by wire lengths: a cut is not a gap (the packet was seen, its bytes were
        sent), so it counts no gap. A cut segment that arrives out of order is held with its wire
        length and drained in order like any other. Like accept(), each piece starts where earlier
        bytes ended, that is at a segment boundary: the first byte of a segment, or the end of the
        previous one.
        """
        if off == self.next_off and not self.pending:  # in order, nothing held: the common case
            self.next_off = off + wire_len
            return [(off, data, wire_len - len(data))], False
        if off + wire_len <= self.next_off:
            return [], True
        out: list[Piece] = []
        if off > self.next_off:
            self._hold(off, data, wire_len)
            if self.pending_bytes <= MAX_OUT_OF_ORDER:
                return out, False
            self.gaps += 1
            self.next_off = self._heap[0]
            self._drain_pieces(out)
            return out, False
        self._take(out, off, data, wire_len)
        if self.pending:
            self._drain_pieces(out)
        return out, False

    def _hold(self, off: int, data: bytes, wire_len: int) -> None:
        """Hold an out-of-order segment; of two at one offset, keep the longer on the wire, then the
        more visible."""
        if self.pending is _EMPTY:
            self.pending = {}
            self._heap = []
        held = self.pending.get(off)
        if held is None:
            heapq.heappush(self._heap, off)
            held_wire = 0
        else:
            held_wire = self._wire.get(off, len(held))
            if held_wire > wire_len or (held_wire == wire_len and len(held) >= len(data)):
                return
        self.pending_bytes += wire_len - held_wire
        self.pending[off] = data
        if wire_len > len(data):
            if self._wire is _NO_WIRE:
                self._wire = {}
            self._wire[off] = wire_len
        elif off in self._wire:
            del self._wire[off]

    def _take(self, out: list[Piece], off: int, data: bytes, wire_len: int) -> None:
        """Append what of the segment at ``off`` lies past next_off to ``out``, and move next_off."""
        nxt = self.next_off
        end = off + wire_len
        if end <= nxt:
            return
        seen_end = off + len(data)
        if seen_end > nxt:
            out.append((nxt, data[nxt - off :], 0))
            nxt = seen_end
        if end > nxt:
            if out and out[-1][0] + len(out[-1][1]) + out[-1][2] == nxt:
                o, d, u = out.pop()
                out.append((o, d, u + end - nxt))
            else:
                out.append((nxt, b"", end - nxt))
        self.next_off = end

    def _drain_pieces(self, out: list[Piece]) -> None:
        """_drain() for streams that may hold cut segments: appends pieces to ``out``."""
        heap = self._heap
        wire = self._wire
        while heap and heap[0] <= self.next_off:
            o = heapq.heappop(heap)
            chunk = self.pending.pop(o, None)
            if chunk is None:
                continue
            length = wire.pop(o, len(chunk)) if wire else len(chunk)
            self.pending_bytes -= length
            self._take(out, o, chunk, length)

    def _drain(self, head: bytes) -> bytes:
        """Append every pending segment that is now contiguous with the in-order position (none of
        them cut: accept() is not used while one is held, see holds_cut).

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
