"""Incremental TLS record layer: cut one direction's byte stream into records without buffering bulk data."""

from __future__ import annotations

from dataclasses import dataclass

from pcapdiag.capture.fastinit import slot_setters
from pcapdiag.tls.constants import (
    ALERT,
    APPLICATION_DATA,
    CHANGE_CIPHER_SPEC,
    HANDSHAKE,
    HEARTBEAT,
    MAX_RECORD_BODY,
)

KEPT_BODIES = frozenset({CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE})
"""Content types whose bodies are kept for parsing; application data is only counted."""


class NotTls(ValueError):
    """The stream holds bytes that cannot be a TLS record header."""


@dataclass(frozen=True, slots=True)
class Record:
    """One complete TLS record of one direction."""

    content_type: int
    version: int
    length: int
    offset: int
    """Stream offset of the record's first header byte."""
    frame: int
    """Frame in which the record's last byte arrived."""
    ts_ns: int
    ack_offset: int
    """How much of the other direction the sender had acknowledged in that frame (-1 unknown)."""
    body: bytes | None
    """The body for ChangeCipherSpec, Alert and Handshake records; None for the others."""


_new = object.__new__
_ctype, _version, _length, _offset, _frame, _ts, _ack, _body = slot_setters(Record)


def check_header(header: bytes) -> tuple[int, int, int]:
    """(content type, version, length) of a 5-byte record header; NotTls if it cannot be one."""
    ctype = header[0]
    if ctype < CHANGE_CIPHER_SPEC or ctype > HEARTBEAT:
        raise NotTls(f"content type {ctype}")
    if header[1] != 3 or header[2] > 4:
        raise NotTls(f"version {header[1]}.{header[2]}")
    length = (header[3] << 8) | header[4]
    if length > MAX_RECORD_BODY or (length == 0 and ctype != APPLICATION_DATA):
        raise NotTls(f"record length {length}")
    return ctype, (header[1] << 8) | header[2], length


class RecordReader:
    """Feed in-order bytes, get complete records; an incomplete tail waits for the next feed."""

    __slots__ = ("_body", "_ctype", "_head", "_left", "_length", "_next", "_start", "_version")

    def __init__(self) -> None:
        self._head = bytearray()
        self._body = bytearray()
        self._left = 0
        """Body bytes still to come for the current record (0: expecting a header)."""
        self._ctype = 0
        self._version = 0
        self._length = 0
        self._start = 0
        self._next = 0
        """Stream offset just past the last byte fed."""

    def feed(self, data: bytes, offset: int, frame: int, ts_ns: int, ack_offset: int) -> list[Record]:
        """Consume ``data`` (starting at stream ``offset``); raise NotTls on an impossible header."""
        out: list[Record] = []
        if self._left and offset > self._next:
            # The connection left out bytes inside this record's body (see opaque_until).
            self._left -= offset - self._next
        self._next = offset + len(data)
        pos = 0
        n = len(data)
        while pos < n:
            if self._left:
                take = min(self._left, n - pos)
                if self._ctype in KEPT_BODIES:
                    self._body += data[pos : pos + take]
                self._left -= take
                pos += take
                if not self._left:
                    out.append(self._finish(frame, ts_ns, ack_offset))
                continue
            need = 5 - len(self._head)
            chunk = data[pos : pos + need]
            if not self._head:
                self._start = offset + pos
            self._head += chunk
            pos += len(chunk)
            if len(self._head) < 5:
                break
            self._ctype, self._version, self._length = check_header(bytes(self._head))
            self._head.clear()
            self._left = self._length
            if not self._left:
                out.append(self._finish(frame, ts_ns, ack_offset))
        return out

    @property
    def opaque_until(self) -> int:
        """The stream offset where the body now being read ends, when it is a body that is only
        counted (application data): bytes before it change nothing but the count; else 0."""
        if self._left and self._ctype not in KEPT_BODIES:
            return self._next + self._left
        return 0

    def _finish(self, frame: int, ts_ns: int, ack_offset: int) -> Record:
        if self._ctype in KEPT_BODIES:
            body: bytes | None = bytes(self._body)
            self._body.clear()
        else:
            body = None
        # Record(...) without the frozen __init__'s setattr calls (see capture.fastinit): one per record.
        record: Record = _new(Record)
        _ctype(record, self._ctype)
        _version(record, self._version)
        _length(record, self._length)
        _offset(record, self._start)
        _frame(record, frame)
        _ts(record, ts_ns)
        _ack(record, ack_offset)
        _body(record, body)
        return record


class HandshakeReader:
    """Reassemble handshake messages that span or share records (type, body) pairs."""

    __slots__ = ("_buf",)

    MAX_BUFFER = 256 * 1024
    """A handshake message larger than this is not a plausible hello or certificate chain."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, body: bytes) -> list[tuple[int, bytes]]:
        """Add a handshake record body; return the complete messages; ValueError if absurd."""
        self._buf += body
        out: list[tuple[int, bytes]] = []
        buf = self._buf
        while len(buf) >= 4:
            length = (buf[1] << 16) | (buf[2] << 8) | buf[3]
            if length > self.MAX_BUFFER:
                raise ValueError(f"handshake message length {length}")
            if len(buf) < 4 + length:
                break
            out.append((buf[0], bytes(buf[4 : 4 + length])))
            del buf[: 4 + length]
        if len(buf) > self.MAX_BUFFER:
            raise ValueError("handshake buffer overflow")
        return out
