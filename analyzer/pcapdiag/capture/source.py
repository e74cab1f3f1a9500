"""Exact-size reads over any readable binary stream (file, pipe, gzip) that never seek."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable
from typing import Protocol

from pcapdiag.capture.frame import CaptureError


class Readable(Protocol):
    """The one thing a capture stream must do: return up to n bytes, b"" at end of stream."""

    def read(self, n: int, /) -> bytes: ...


class Source:
    """Reads exactly n bytes at a time from a stream and counts the bytes consumed.

    A pipe or an unbuffered stream may return fewer bytes than asked for; read()
    loops until it has n bytes or the stream ends, so a short result always means
    end of stream. Nothing here seeks or tells.
    """

    __slots__ = ("offset", "raw_read", "read_some")

    def __init__(self, stream: Readable) -> None:
        self.raw_read = stream.read
        """The stream's own read: hot loops call it directly and complete() a short result."""
        self.read_some: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
        """Up to n bytes, as soon as some are there (b"" only at end of stream): a chunked reader
        asks for a large block and a live pipe still hands over each record as it arrives."""
        self.offset = 0
        """Bytes consumed so far (from the decompressed stream when gzip-wrapped)."""

    def read(self, n: int) -> bytes:
        """Return n bytes, or fewer only when the stream ended first; counts them in offset."""
        data = self.raw_read(n)
        if len(data) != n:
            data = self.complete(data, n)
        self.offset += len(data)
        return data

    def complete(self, first: bytes, n: int) -> bytes:
        """After raw_read(n) returned first, short: read on until n bytes or end of stream.

        Does not count the bytes in offset: a caller using raw_read keeps offset itself.
        """
        if not first:
            return first
        parts = [first]
        got = len(first)
        while got < n:
            more = self.raw_read(n - got)
            if not more:
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts)


class _Replay:
    """A stream that first returns bytes already read from another stream, then the rest of it."""

    __slots__ = ("_head", "_read")

    def __init__(self, head: bytes, stream: Readable) -> None:
        self._head = head
        # read1 returns what is available instead of waiting for a full chunk, so a
        # gzip stream arriving on a live pipe is decompressed as it comes.
        self._read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)

    def read(self, n: int, /) -> bytes:
        head = self._head
        if head:
            self._head = head[n:]
            return head[:n]
        return self._read(n)

    def seek(self, offset: int, /) -> int:
        """GzipFile only seeks to rewind, which reading forward never does."""
        raise io.UnsupportedOperation("capture streams are read forward only")


class GzipStream:
    """A gzip-decompressing view of a stream whose first bytes (the gzip magic) were already read.

    A gzip stream cut short reads as end of stream (so a cut last record is reported as
    truncated, like an uncompressed one); corrupt compressed data raises CaptureError.
    """

    __slots__ = ("_gz", "produced")

    def __init__(self, head: bytes, stream: Readable) -> None:
        self._gz = gzip.GzipFile(fileobj=_Replay(head, stream), mode="rb")
        self.produced = 0
        """Decompressed bytes returned so far: the offset reported with a gzip error."""

    def read(self, n: int, /) -> bytes:
        try:
            # read1 never loses already-decompressed bytes when the stream turns out cut.
            data = self._gz.read1(n)
        except EOFError:
            return b""
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise CaptureError(f"corrupt gzip data ({exc})", self.produced) from exc
        self.produced += len(data)
        return data
