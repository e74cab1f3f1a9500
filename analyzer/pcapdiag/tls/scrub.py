"""Remove payload from extracted packets but keep what the diagnosis reads: TLS framing and hellos.

A ``StreamScrubber`` follows one direction of a connection. Fed each segment's payload with its
stream offset (in capture order), it returns bytes of the same length where everything is zero
except TLS record headers, the 4-byte handshake message header at the start of a handshake record,
whole ServerHello, ChangeCipherSpec and Alert records (no names or secrets in them), and the
status code of a clear-text HTTP response, and in h2c (HTTP/2 in clear) the connection preface and
every 9-byte frame header. Lengths, record and frame boundaries, versions and alerts, and so every
label, survive; SNI, certificates, requests and responses do not. Bytes that arrive before the bytes
in front of them (out of order) are zeroed whole.
"""

from __future__ import annotations

from pcapdiag.tls.constants import ALERT, CHANGE_CIPHER_SPEC, HANDSHAKE, SERVER_HELLO
from pcapdiag.tls.h2 import FRAME_HEADER, PREFACE, SETTINGS, plausible
from pcapdiag.tls.records import NotTls, check_header

HTTP_STATUS_PREFIX = 12
"""'HTTP/1.1 500' — the part of a clear-text response a probe's verdict needs."""
MAX_KEEP_RANGES = 4096
"""Kept ranges remembered per direction (for retransmitted segments)."""


class StreamScrubber:
    """Zero one direction's payload except the byte ranges the diagnosis needs."""

    __slots__ = ("_head", "_keep", "_mode", "_next", "_record_end", "_seen_end")

    def __init__(self) -> None:
        self._keep: list[tuple[int, int]] = []
        """[start, end) stream ranges to keep, in order."""
        self._mode = ""
        """'' until the first byte, then 'tls', 'h2c' or 'plain'."""
        self._seen_end = 0
        """Stream offset up to which ranges have been worked out."""
        self._next = 0
        """Offset of the next TLS record header."""
        self._head = bytearray()
        self._record_end = 0

    def scrub(self, offset: int, payload: bytes) -> bytes:
        """``payload`` (at stream ``offset``) with everything but the kept ranges zeroed."""
        end = offset + len(payload)
        if offset <= self._seen_end < end:
            self._learn(payload[self._seen_end - offset :], self._seen_end)
            self._seen_end = end
        out = bytearray(len(payload))
        for start, stop in self._keep:
            lo, hi = max(start, offset), min(stop, end)
            if lo < hi:
                out[lo - offset : hi - offset] = payload[lo - offset : hi - offset]
        return bytes(out)

    def _keep_range(self, start: int, stop: int) -> None:
        if stop > start and len(self._keep) < MAX_KEEP_RANGES:
            self._keep.append((start, stop))

    def _learn(self, data: bytes, offset: int) -> None:
        """Work out kept ranges for new in-order bytes starting at ``offset``."""
        if not self._mode:
            try:
                check_header(data[:5])
                self._mode = "tls"  # a handshake, or (mid-stream) any record
            except (NotTls, IndexError):
                self._mode = "plain"
            if self._mode == "plain" and data.startswith(b"HTTP/"):
                self._keep_range(offset, offset + min(HTTP_STATUS_PREFIX, len(data)))
            elif self._mode == "plain" and len(data) >= 4 and data[: len(PREFACE)] == PREFACE[: len(data)]:
                self._mode = "h2c"
                self._keep_range(offset, offset + len(PREFACE))
                self._next = offset + len(PREFACE)
            elif self._mode == "plain" and plausible(data) and data[3] == SETTINGS:
                self._mode = "h2c"  # a server's h2c stream opens with its SETTINGS frame
                self._next = offset
        if self._mode == "h2c":
            self._learn_frames(data, offset)
            return
        if self._mode != "tls":
            return
        pos = offset
        end = offset + len(data)
        while pos < end:
            if pos < self._next:
                pos = self._next
                continue
            need = 5 - len(self._head)
            chunk = data[pos - offset : pos - offset + need]
            self._head += chunk
            if len(self._head) < 5:
                return
            header_start = pos - (5 - need)
            try:
                ctype, _, length = check_header(bytes(self._head))
            except NotTls:
                self._mode = "plain"  # framing lost: keep nothing more
                return
            self._head.clear()
            body = header_start + 5
            self._keep_range(header_start, body)
            if ctype in (ALERT, CHANGE_CIPHER_SPEC):
                self._keep_range(body, body + length)
            elif ctype == HANDSHAKE:
                first = data[body - offset : body - offset + 1]
                self._keep_range(body, body + (length if first == bytes([SERVER_HELLO]) else min(4, length)))
            self._next = body + length
            pos = self._next

    def _learn_frames(self, data: bytes, offset: int) -> None:
        """h2c: keep each frame's 9-byte header (type, flags, stream, length), zero its payload."""
        pos = offset
        end = offset + len(data)
        while pos < end:
            if pos < self._next:
                pos = self._next
                continue
            need = FRAME_HEADER - len(self._head)
            self._head += data[pos - offset : pos - offset + need]
            if len(self._head) < FRAME_HEADER:
                return
            header_start = pos - (FRAME_HEADER - need)
            head = bytes(self._head)
            self._head.clear()
            self._keep_range(header_start, header_start + FRAME_HEADER)
            self._next = header_start + FRAME_HEADER + ((head[0] << 16) | (head[1] << 8) | head[2])
            pos = self._next
