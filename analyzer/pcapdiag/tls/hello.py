"""Parsers for the ClientHello and ServerHello bodies and the TLS 1.2 Certificate list.

Each parser takes one complete handshake message body and returns a value, or raises ValueError
when the bytes are not a valid message (incomplete input never reaches them: the record layer
only hands over complete messages).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pcapdiag.tls.constants import (
    EXT_ALPN,
    EXT_SERVER_NAME,
    EXT_SUPPORTED_VERSIONS,
    HRR_RANDOM,
)

MAX_CERTIFICATES = 4
"""Certificates of a chain kept for analysis (leaf first)."""


@dataclass(frozen=True, slots=True)
class ClientHello:
    """What a ClientHello shows in clear."""

    legacy_version: int
    sni: str | None
    alpn: tuple[str, ...]
    versions: tuple[int, ...]
    """supported_versions offered (empty when the extension is absent: legacy_version only)."""


@dataclass(frozen=True, slots=True)
class ServerHello:
    """What a ServerHello shows in clear."""

    legacy_version: int
    selected_version: int
    """supported_versions choice, else the legacy version."""
    cipher_suite: int
    retry: bool
    """True for a HelloRetryRequest."""


class _Reader:
    """Bounds-checked big-endian reads over one message body."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise ValueError("message shorter than its length fields")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        value: int = struct.unpack("!H", self.take(2))[0]
        return value

    def u24(self) -> int:
        b = self.take(3)
        return (b[0] << 16) | (b[1] << 8) | b[2]

    def vec8(self) -> bytes:
        return self.take(self.u8())

    def vec16(self) -> bytes:
        return self.take(self.u16())

    def done(self) -> bool:
        return self.pos >= len(self.buf)


def _extensions(r: _Reader) -> dict[int, bytes]:
    if r.done():
        return {}
    block = _Reader(r.vec16())
    out: dict[int, bytes] = {}
    while not block.done():
        ext_type = block.u16()
        out[ext_type] = block.vec16()
    return out


def parse_client_hello(body: bytes) -> ClientHello:
    """Parse a ClientHello body (after the 4-byte handshake header)."""
    r = _Reader(body)
    legacy_version = r.u16()
    r.take(32)
    r.vec8()
    suites = r.vec16()
    if len(suites) % 2:
        raise ValueError("odd cipher_suites length")
    r.vec8()
    exts = _extensions(r)
    sni: str | None = None
    if EXT_SERVER_NAME in exts:
        lst = _Reader(_Reader(exts[EXT_SERVER_NAME]).vec16())
        while not lst.done():
            name_type = lst.u8()
            name = lst.vec16()
            if name_type == 0:
                sni = name.decode("ascii", "replace")
                break
    alpn: list[str] = []
    if EXT_ALPN in exts:
        lst = _Reader(_Reader(exts[EXT_ALPN]).vec16())
        while not lst.done():
            alpn.append(lst.vec8().decode("ascii", "replace"))
    versions: tuple[int, ...] = ()
    if EXT_SUPPORTED_VERSIONS in exts:
        raw = _Reader(exts[EXT_SUPPORTED_VERSIONS]).vec8()
        versions = tuple(struct.unpack("!H", raw[i : i + 2])[0] for i in range(0, len(raw) - 1, 2))
    return ClientHello(legacy_version=legacy_version, sni=sni, alpn=tuple(alpn), versions=versions)


def parse_server_hello(body: bytes) -> ServerHello:
    """Parse a ServerHello body (after the 4-byte handshake header)."""
    r = _Reader(body)
    legacy_version = r.u16()
    random = r.take(32)
    draft13 = legacy_version >> 8 == 0x7F  # TLS 1.3 drafts: no session id, no compression
    if not draft13:
        r.vec8()
    suite = r.u16()
    if not draft13:
        r.u8()
    exts = _extensions(r)
    selected = legacy_version
    raw = exts.get(EXT_SUPPORTED_VERSIONS)
    if raw is not None and len(raw) == 2:
        selected = struct.unpack("!H", raw)[0]
    return ServerHello(
        legacy_version=legacy_version,
        selected_version=selected,
        cipher_suite=suite,
        retry=random == HRR_RANDOM,
    )


def parse_certificate_list(body: bytes) -> tuple[bytes, ...]:
    """The DER certificates of a TLS 1.2 Certificate message, leaf first (at most MAX_CERTIFICATES)."""
    r = _Reader(body)
    chain = _Reader(r.take(r.u24()))
    certs: list[bytes] = []
    while not chain.done() and len(certs) < MAX_CERTIFICATES:
        certs.append(chain.take(chain.u24()))
    return tuple(certs)
