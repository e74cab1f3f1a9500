"""Parsers for the ClientHello and ServerHello bodies and the TLS 1.2 Certificate list.

Each parser takes one complete handshake message body and returns a value, or raises ValueError
when the bytes are not a valid message (incomplete input never reaches them: the record layer
only hands over complete messages). The *_prefix parsers take the part of a body a short snaplen
let through and return what it shows, never raising.
"""

from __future__ import annotations

import contextlib
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
    partial: bool = False
    """The snaplen cut the message: fields it hid are empty (sni None, legacy_version 0)."""


@dataclass(frozen=True, slots=True)
class ServerHello:
    """What a ServerHello shows in clear."""

    legacy_version: int
    selected_version: int
    """supported_versions choice, else the legacy version."""
    cipher_suite: int
    retry: bool
    """True for a HelloRetryRequest."""
    partial: bool = False
    """The snaplen cut the message: fields it hid are 0 (selected_version 0: not seen)."""
    alpn: str | None = None
    """The application protocol the server chose (ALPN extension; TLS 1.2 and older show it in
    clear, TLS 1.3 sends it in the encrypted EncryptedExtensions); None when not seen."""


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
    sni, alpn, versions = _client_extensions(_extensions(r))
    return ClientHello(legacy_version=legacy_version, sni=sni, alpn=alpn, versions=versions)


def _client_extensions(exts: dict[int, bytes]) -> tuple[str | None, tuple[str, ...], tuple[int, ...]]:
    """(SNI, ALPN protocols, supported_versions) from a ClientHello's extensions."""
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
    return sni, tuple(alpn), versions


def _server_alpn(exts: dict[int, bytes]) -> str | None:
    """The one protocol a ServerHello's ALPN extension names (RFC 7301 3.1), None if absent."""
    raw = exts.get(EXT_ALPN)
    if raw is None:
        return None
    lst = _Reader(_Reader(raw).vec16())
    return lst.vec8().decode("ascii", "replace") if not lst.done() else None


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
        alpn=_server_alpn(exts),
    )


HRR_PREFIX_SEEN = 8
"""Bytes of ServerHello.random that must be seen, and equal HRR_RANDOM's, to call a cut ServerHello
a HelloRetryRequest: a real random matches 8 bytes of that constant with probability 2^-64."""


def _prefix_fields(r: _Reader, server: bool) -> tuple[int, bytes, int, dict[int, bytes]]:
    """(legacy_version, random seen, cipher suite, extensions seen whole) of a hello body prefix:
    each field as far as it was seen (0, shorter or empty beyond that); never raises."""
    legacy = suite = 0
    random = b""
    exts: dict[int, bytes] = {}
    try:
        legacy = r.u16()
        random = r.buf[r.pos : r.pos + 32]
        r.take(32)
        r.vec8()  # session id
        if server:
            suite = r.u16()
            r.u8()  # compression method
        else:
            r.vec16()  # cipher suites
            r.vec8()  # compression methods
        end = r.pos + 2 + r.u16()
        while r.pos < end:
            ext_type = r.u16()
            exts[ext_type] = r.vec16()
    except ValueError:
        pass
    return legacy, random, suite, exts


def parse_client_hello_prefix(body: bytes) -> ClientHello:
    """What the seen start of a ClientHello body shows: the name and protocols only when their
    extensions were seen whole (else None and empty)."""
    legacy, _, _, exts = _prefix_fields(_Reader(body), server=False)
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    versions: tuple[int, ...] = ()
    with contextlib.suppress(ValueError):  # an extension seen whole but malformed: nothing from it
        sni, alpn, versions = _client_extensions(exts)
    return ClientHello(legacy_version=legacy, sni=sni, alpn=alpn, versions=versions, partial=True)


def parse_server_hello_prefix(body: bytes) -> ServerHello:
    """What the seen start of a ServerHello body shows. The chosen version is known only when the
    supported_versions extension was seen whole, or when the legacy version is below TLS 1.2 (a
    TLS 1.3 server always says 0x0303 there); else it is 0."""
    legacy, random, suite, exts = _prefix_fields(_Reader(body), server=True)
    selected = 0
    raw = exts.get(EXT_SUPPORTED_VERSIONS)
    if raw is not None and len(raw) == 2:
        selected = struct.unpack("!H", raw)[0]
    elif legacy and legacy < 0x0303:
        selected = legacy
    retry = len(random) >= HRR_PREFIX_SEEN and HRR_RANDOM.startswith(random)
    alpn: str | None = None
    with contextlib.suppress(ValueError):  # seen whole but malformed: nothing from it
        alpn = _server_alpn(exts)
    return ServerHello(
        legacy_version=legacy,
        selected_version=selected,
        cipher_suite=suite,
        retry=retry,
        partial=True,
        alpn=alpn,
    )


def parse_certificate_list(body: bytes) -> tuple[bytes, ...]:
    """The DER certificates of a TLS 1.2 Certificate message, leaf first (at most MAX_CERTIFICATES)."""
    r = _Reader(body)
    chain = _Reader(r.take(r.u24()))
    certs: list[bytes] = []
    while not chain.done() and len(certs) < MAX_CERTIFICATES:
        certs.append(chain.take(chain.u24()))
    return tuple(certs)
