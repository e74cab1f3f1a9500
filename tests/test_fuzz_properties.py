"""Property tests of the "no input can break it" contract: TLS layers and the whole pipeline on bad bytes."""

from __future__ import annotations

import contextlib
import gzip
import io
import pathlib
import signal
import struct
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Literal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import CAPTURES, ROOT
from pcapdiag.decode import decode
from pcapdiag.flow import Direction
from pcapdiag.pipeline import Options
from pcapdiag.report import CaptureReport, FlowReport
from pcapdiag.runner import Task, analyse_stream
from pcapdiag.tls import AppObserver
from pcapdiag.tls.hello import parse_certificate_list, parse_client_hello, parse_server_hello
from pcapdiag.tls.records import KEPT_BODIES, NotTls, Record, RecordReader, check_header

SEEDS = sorted(CAPTURES.glob("*/*.pcap*"))
CRASHES = sorted(p for p in (ROOT / "fuzz" / "crashes").glob("*") if p.is_file() and p.suffix != ".md")
"""Inputs the fuzzer found that once broke the contract (fuzz/README.md): each must pass now."""
HANG_S = 10
"""No input of at most a few tens of kilobytes may take longer than this (it would be a hang)."""
PEAK_MB = 128
"""Python memory a 64 kB input may use at peak: a pcapng block is at most 16 MB (read, then sliced)."""

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIPELINE = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Hang(Exception):
    """An input ran past HANG_S seconds."""


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Turn a hang into a test failure instead of a CI run that never ends (SIGALRM, main thread)."""

    def fire(_signum: int, _frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# -- TLS byte builders ------------------------------------------------------------------------------


def record(ctype: int, body: bytes, version: int = 0x0303) -> bytes:
    """One TLS record."""
    return bytes([ctype]) + version.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body


def handshake(hs_type: int, body: bytes) -> bytes:
    """One handshake message (type, 24-bit length, body)."""
    return bytes([hs_type]) + len(body).to_bytes(3, "big") + body


def vec(n: int, data: bytes) -> bytes:
    """A TLS vector with an n-byte length prefix."""
    return len(data).to_bytes(n, "big") + data


def client_hello_body(sni: str | None, alpn: list[str], versions: list[int]) -> bytes:
    """A well-formed ClientHello body with the given SNI, ALPN and supported_versions."""
    exts = b""
    if sni is not None:
        exts += struct.pack("!H", 0) + vec(2, vec(2, b"\x00" + vec(2, sni.encode())))
    if alpn:
        exts += struct.pack("!H", 16) + vec(2, vec(2, b"".join(vec(1, p.encode()) for p in alpn)))
    if versions:
        exts += struct.pack("!H", 43) + vec(2, vec(1, b"".join(struct.pack("!H", v) for v in versions)))
    return b"\x03\x03" + bytes(32) + vec(1, b"") + vec(2, b"\x13\x01") + vec(1, b"\x00") + vec(2, exts)


def server_hello_body(version: int | None, retry: bool = False) -> bytes:
    """A well-formed ServerHello body; version goes into supported_versions when given."""
    from pcapdiag.tls.constants import HRR_RANDOM

    exts = struct.pack("!H", 43) + vec(2, struct.pack("!H", version)) if version is not None else b""
    random = HRR_RANDOM if retry else bytes(range(32))
    return b"\x03\x03" + random + vec(1, b"") + b"\x13\x01" + b"\x00" + vec(2, exts)


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=40)
protocols = st.lists(st.sampled_from(["h2", "http/1.1", "x"]), max_size=3)
versions = st.lists(st.sampled_from([0x0301, 0x0302, 0x0303, 0x0304, 0x7F1C, 0xFAFA]), max_size=4)


@st.composite
def tls_chunks(draw: st.DrawFn) -> bytes:
    """Bytes that are mostly TLS records of the kinds the observer reasons about, sometimes junk."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=64))
    if kind == 1:
        body = client_hello_body(draw(st.none() | names), draw(protocols), draw(versions))
        return record(22, handshake(1, body), 0x0301)
    if kind == 2:
        version = draw(st.none() | st.sampled_from([0x0303, 0x0304, 0x7F1C]))
        return record(22, handshake(2, server_hello_body(version, draw(st.booleans()))))
    if kind == 3:
        certs = draw(st.lists(st.binary(max_size=40), max_size=3))
        chain = b"".join(vec(3, c) for c in certs)
        return record(22, handshake(11, vec(3, chain)))
    if kind == 4:
        return record(20, b"\x01")
    if kind == 5:  # alerts: mostly two bytes (level, description), sometimes an odd size
        size = draw(st.integers(1, 3) | st.just(2) | st.just(19))
        return record(
            21, bytes([draw(st.sampled_from([1, 2]))]) + draw(st.binary(min_size=size - 1, max_size=size - 1))
        )
    if kind == 6:  # TLS 1.3 encrypted records of the sizes the rules read meaning into
        size = draw(st.sampled_from([11, 17, 19, 25, 32, 33, 45, 53, 69, 200, 1400]))
        return record(23, draw(st.binary(min_size=size, max_size=size)))
    if kind == 7:
        return record(22, draw(st.binary(max_size=80)))
    if kind == 8:
        return draw(st.sampled_from([b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 500 Oops\r\n\r\n", b"HTTP/1.1 4"]))
    version = draw(st.sampled_from([0x0300, 0x0304]))
    return record(draw(st.integers(20, 24)), draw(st.binary(max_size=40)), version)


def splits(data: bytes, cuts: list[int]) -> list[bytes]:
    """data cut at the given points (any order, repeats allowed)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in [*points, len(data)]:
        out.append(data[prev:p])
        prev = p
    return out


# -- TLS record reader ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What a correct reader produces from a whole stream: complete records, then maybe NotTls."""

    records: list[tuple[int, int, int, int, bytes | None]]
    """(content type, version, length, offset, kept body) of each record before any bad header."""
    record_ends: list[int]
    bad_header_end: int | None
    """Stream position just past the first header that cannot be TLS (None: there is none)."""


def reference(data: bytes, base: int) -> Expected:
    """A whole-buffer model of RecordReader, using check_header for what a header may be."""
    records: list[tuple[int, int, int, int, bytes | None]] = []
    ends: list[int] = []
    pos = 0
    while len(data) - pos >= 5:
        try:
            ctype, version, length = check_header(data[pos : pos + 5])
        except NotTls:
            return Expected(records, ends, pos + 5)
        if len(data) - pos - 5 < length:
            break
        body = data[pos + 5 : pos + 5 + length] if ctype in KEPT_BODIES else None
        records.append((ctype, version, length, base + pos, body))
        ends.append(pos + 5 + length)
        pos += 5 + length
    return Expected(records, ends, None)


def key(r: Record) -> tuple[int, int, int, int, bytes | None]:
    return (r.content_type, r.version, r.length, r.offset, r.body)


stream_bytes = st.lists(tls_chunks(), max_size=8).map(b"".join) | st.binary(max_size=300)


@FAST
@given(data=stream_bytes, cuts=st.lists(st.integers(0, 10_000), max_size=12), base=st.integers(0, 1 << 20))
def test_record_reader_split_anywhere_equals_whole(data: bytes, cuts: list[int], base: int) -> None:
    """Fed in pieces or at once, the reader yields the model's records and raises only NotTls, at the
    piece holding the last byte of the first impossible header; each record names the piece (frame)
    that completed it."""
    want = reference(data, base)

    whole = RecordReader()
    try:
        got = whole.feed(data, base, 1, 0, -1)
        assert want.bad_header_end is None, "a bad header was accepted"
        assert [key(r) for r in got] == want.records
    except NotTls:
        assert want.bad_header_end is not None

    pieces = RecordReader()
    seen: list[Record] = []
    offset = 0
    raised_at = None
    for frame, piece in enumerate(splits(data, cuts), start=1):
        try:
            seen.extend(pieces.feed(piece, base + offset, frame, frame * 1000, -1))
        except NotTls:
            raised_at = offset + len(piece)
            break
        offset += len(piece)
    if want.bad_header_end is None:
        assert raised_at is None
        assert [key(r) for r in seen] == want.records
    else:
        assert raised_at is not None and offset < want.bad_header_end <= raised_at
        assert [key(r) for r in seen] == want.records[: len(seen)]
        # Records completed in earlier pieces all came out before the piece that raised.
        assert len(seen) == sum(1 for end in want.record_ends if end <= offset)
    for r, end in zip(seen, want.record_ends, strict=False):
        frame = next(i for i, stop in enumerate(_piece_ends(data, cuts), start=1) if stop >= end)
        assert r.frame == frame


def _piece_ends(data: bytes, cuts: list[int]) -> list[int]:
    out, total = [], 0
    for piece in splits(data, cuts):
        total += len(piece)
        out.append(total)
    return out


@FAST
@given(chunks=st.lists(st.binary(max_size=64), max_size=20))
def test_record_reader_raises_only_not_tls(chunks: list[bytes]) -> None:
    """Arbitrary bytes: every feed returns records or raises NotTls (a ValueError), nothing else."""
    reader = RecordReader()
    offset = 0
    for i, chunk in enumerate(chunks):
        try:
            reader.feed(chunk, offset, i, i, -1)
        except NotTls:
            return
        offset += len(chunk)


# -- hello parsers ----------------------------------------------------------------------------------


def _only_value_error(parse: Callable[[bytes], object], body: bytes) -> None:
    with contextlib.suppress(ValueError):
        parse(body)


@FAST
@given(body=st.binary(max_size=300))
def test_hello_parsers_raise_only_value_error_on_any_bytes(body: bytes) -> None:
    """ClientHello, ServerHello and Certificate parsers: a value or ValueError, whatever the bytes."""
    for parse in (parse_client_hello, parse_server_hello, parse_certificate_list):
        _only_value_error(parse, body)


@FAST
@given(
    sni=st.none() | names,
    alpn=protocols,
    offered=versions,
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
    cut=st.none() | st.integers(0, 10_000),
)
def test_hello_parsers_on_mutated_hellos(
    sni: str | None, alpn: list[str], offered: list[int], flips: list[tuple[int, int]], cut: int | None
) -> None:
    """A valid ClientHello round-trips its SNI, ALPN and versions; mutated, it parses or raises ValueError."""
    body = client_hello_body(sni, alpn, offered)
    hello = parse_client_hello(body)
    assert (hello.sni, list(hello.alpn), list(hello.versions)) == (sni, alpn, offered)
    mutated = bytearray(body)
    for pos, value in flips:
        mutated[pos % len(mutated)] = value
    if cut is not None:
        del mutated[cut % len(mutated) :]
    for parse in (parse_client_hello, parse_server_hello, parse_certificate_list):
        _only_value_error(parse, bytes(mutated))
    server = server_hello_body(0x0304)
    assert parse_server_hello(server).selected_version == 0x0304
    _only_value_error(parse_server_hello, bytes(mutated[: len(server)]))


# -- the application observer -----------------------------------------------------------------------

events = st.lists(
    st.tuples(
        st.sampled_from([Direction.TO_SERVER, Direction.TO_CLIENT]),
        tls_chunks(),
        st.integers(-1, 5000),
        st.integers(0, 20),
    ),
    max_size=20,
)
opening = st.sampled_from([b"", record(22, handshake(1, client_hello_body("svc.ns.svc", ["h2"], [0x0304])))])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(midstream=st.booleans(), first=opening, script=events)
def test_app_observer_never_raises(
    midstream: bool, first: bytes, script: list[tuple[Direction, bytes, int, int]]
) -> None:
    """In-order chunks of TLS records (valid, odd-sized or junk), both ways, cut in two, with gaps:
    the observer never raises."""
    app = AppObserver(midstream=midstream)
    offsets = [0, 0]
    if first:
        app.feed(Direction.TO_SERVER, first, 0, 1, 0, -1)
        offsets[Direction.TO_SERVER] = len(first)
    for frame, (direction, data, ack, action) in enumerate(script, start=2):
        if action == 0:
            app.gap(direction)
            offsets[direction] += 7  # bytes that were never captured
        cut = action % (len(data) + 1)
        for part in (data[:cut], data[cut:]):  # the same bytes in one or two segments
            if part:
                app.feed(direction, part, offsets[direction], frame, frame * 1_000_000, ack)
                offsets[direction] += len(part)
    _ = (app.version_text, app.sni, app.server_alert(), app.requests, app.answered, list(app.notes))


@FAST
@given(
    midstream=st.booleans(), script=st.lists(st.tuples(st.booleans(), st.binary(max_size=64)), max_size=20)
)
def test_app_observer_never_raises_on_arbitrary_bytes(
    midstream: bool, script: list[tuple[bool, bytes]]
) -> None:
    """Arbitrary bytes in both directions: the observer never raises."""
    app = AppObserver(midstream=midstream)
    offsets = [0, 0]
    for frame, (to_server, data) in enumerate(script, start=1):
        direction = Direction.TO_SERVER if to_server else Direction.TO_CLIENT
        if data:
            app.feed(direction, data, offsets[direction], frame, frame, offsets[1 - direction])
            offsets[direction] += len(data)


# -- decode -----------------------------------------------------------------------------------------

LINKTYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276]
frame_heads = st.sampled_from(
    [
        b"",
        bytes(12) + b"\x08\x00\x45\x00",  # Ethernet, IPv4
        bytes(12) + b"\x86\xdd\x60\x00",  # Ethernet, IPv6
        bytes(12) + b"\x81\x00\x00\x01\x08\x00",  # VLAN
        bytes(12) + b"\x88\x47\x00\x00\x01\xff\x45",  # MPLS
        b"\x45\x00\x00\x28\x00\x00\x00\x00\x40\x06\x00\x00" + bytes(8),  # IPv4 TCP
        b"\x45\x00\x00\x00\x00\x00\x00\x00\x40\x2f\x00\x00" + bytes(8),  # IPv4 GRE
        b"\x45\x00\x00\x00\x00\x00\x00\x00\x40\x11\x00\x00" + bytes(8) + b"\x12\xb5\x12\xb5",  # VXLAN
        b"\x60\x00\x00\x00\x00\x00\x00\x40" + bytes(32),  # IPv6 hop-by-hop
        b"\x45\x00\x00\x00\x00\x00\x00\x00\x40\x01\x00\x00" + bytes(8) + b"\x03\x03\x00\x00" + bytes(4),
    ]
)


@FAST
@given(
    linktype=st.sampled_from(LINKTYPES) | st.integers(0, 0xFFFFFFFF),
    head=frame_heads,
    tail=st.binary(max_size=120),
)
def test_decode_never_raises(linktype: int, head: bytes, tail: bytes) -> None:
    """decode(linktype, bytes) returns a value for any link type and any bytes."""
    assert decode(linktype, head + tail) is not None


# -- the whole pipeline -----------------------------------------------------------------------------


class Trickle:
    """A pipe that hands out at most ``step`` bytes per read (what a slow tcpdump -w - does)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._step = step

    def read(self, n: int, /) -> bytes:
        take = min(n, self._step)
        out = bytes(self._data[self._pos : self._pos + take])
        self._pos += len(out)
        return out


def run_contract(
    data: bytes, step: int | None = None, fast_path: bool = True
) -> tuple[CaptureReport, list[FlowReport]] | None:
    """open_capture + run as the contract allows: None after a CaptureError at open, else the report."""
    stream = io.BytesIO(data) if step is None else Trickle(data, step)
    flows: list[FlowReport] = []
    with time_limit(HANG_S):
        options = Options(fast_path=fast_path, block_min=1, block_density=0)  # the block path on every block
        result = analyse_stream(stream, Task("input", options), on_flow=flows.append)
    report = result.report
    if report is None:
        return None  # a CaptureError at open
    assert isinstance(report, CaptureReport)
    assert 0 <= report.tcp_packets <= report.packets
    assert report.error is None or isinstance(report.error, str)
    if report.truncated_at is not None and not report.format.endswith("+gzip"):
        assert 0 <= report.truncated_at < len(data)
    return report, flows


PCAP_HEADERS = [
    bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"),
    bytes.fromhex("a1b2c3d4000200040000000000000000000400000000006f"),
    bytes.fromhex("4d3cb2a1020004000000000000000000ffff000014010000"),
]
PCAPNG_HEAD = bytes.fromhex("0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000")
PCAPNG_IDB = bytes.fromhex("01000000140000000100000000000400" + "14000000")


@PIPELINE
@given(
    prefix=st.sampled_from([b"", *PCAP_HEADERS, PCAPNG_HEAD, PCAPNG_HEAD + PCAPNG_IDB]),
    body=st.binary(max_size=600),
    gz=st.booleans(),
)
@example(prefix=b"", body=b"", gz=False)
@example(prefix=b"", body=b"\x1f\x8b", gz=False)
def test_pipeline_on_arbitrary_bytes(prefix: bytes, body: bytes, gz: bool) -> None:
    """Any bytes, raw or behind a capture header, plain or gzip: CaptureError at open, or a report."""
    data = prefix + body
    run_contract(gzip.compress(data, mtime=0) if gz else data)


Fields = dict[str, list[tuple[int, int]]]
"""Header fields of a capture by kind ("record caplen", "idb option", ...): (offset, size) of each."""

PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d")
EPB_FIELDS = ("epb interface", "epb time high", "epb time low", "epb caplen", "epb length")


def walk_fields(data: bytes) -> Fields:
    """The header fields of a pcap or pcapng file by kind: lengths, times, link types, interfaces, options.

    Mutations pick a kind first, so that a field that occurs once (the link type) is as likely to be
    hit as one that occurs in every record."""
    fields: Fields = {}

    def add(kind: str, off: int, size: int) -> None:
        if off + size <= len(data):
            fields.setdefault(kind, []).append((off, size))

    if data[:4] in PCAP_MAGICS:
        add("pcap snaplen", 16, 4)
        add("pcap linktype", 20, 4)
        endian = "<" if data[0] in (0xD4, 0x4D) else ">"
        pos = 24
        while pos + 16 <= len(data):
            for i, kind in enumerate(("record seconds", "record fraction", "record caplen", "record length")):
                add(kind, pos + 4 * i, 4)
            pos += 16 + struct.unpack_from(endian + "I", data, pos + 8)[0]
        return fields
    endian = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    pos = 0
    while pos + 12 <= len(data):
        btype, length = struct.unpack_from(endian + "II", data, pos)
        add("block type", pos, 4)
        add("block length", pos + 4, 4)
        if btype == 6:
            for i, kind in enumerate(EPB_FIELDS):
                add(kind, pos + 8 + 4 * i, 4)
        elif btype == 1:  # linktype, snaplen, then each option's code, length and value
            add("idb linktype", pos + 8, 2)
            add("idb snaplen", pos + 12, 4)
            opt = pos + 16
            while opt + 4 <= min(pos + length - 4, len(data)):
                olen = struct.unpack_from(endian + "H", data, opt + 2)[0]
                add("option code", opt, 2)
                add("option length", opt + 2, 2)
                add("option value", opt + 4, 1)
                add("option value", opt + 4, 8)
                opt += 4 + ((olen + 3) & ~3)
        if length < 12:
            break
        pos += length
    return fields


BYTE_ORDERS: list[Literal["little", "big"]] = ["little", "big"]
BOUNDARY = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


@st.composite
def mutated_capture(draw: st.DrawFn) -> bytes:
    """A real capture with a few random byte, header-field, insertion, deletion and truncation edits."""
    seeds = st.sampled_from([p for p in SEEDS if p.suffix == ".pcapng"])
    data = bytearray(draw(seeds | st.sampled_from([p for p in SEEDS if p.suffix != ".pcapng"])).read_bytes())
    fields = walk_fields(bytes(data))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["field", "field", "field", "byte", "insert", "delete", "cut", "repeat"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "byte" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "field" and fields:
            off, size = draw(st.sampled_from(fields[draw(st.sampled_from(sorted(fields)))]))
            if off + size <= len(data):
                value = draw(st.sampled_from(BOUNDARY) | st.integers(0, (1 << (8 * size)) - 1))
                order = draw(st.sampled_from(BYTE_ORDERS))
                data[off : off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, order)
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=40))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "cut":
            del data[pos:]
        elif op == "repeat":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 200))]  # a duplicated stretch
    return bytes(data)


@PIPELINE
@given(data=mutated_capture(), step=st.integers(1, 700))
def test_pipeline_on_mutated_real_captures(data: bytes, step: int) -> None:
    """Mutated real captures: CaptureError at open, or a report; read through a trickling pipe, the
    same report and connections as from a file."""
    from_file = run_contract(data)
    from_pipe = run_contract(data, step)
    assert from_pipe == from_file


@PIPELINE
@given(data=mutated_capture(), step=st.none() | st.integers(1, 700))
def test_block_path_equals_per_packet_path_on_mutated_captures(data: bytes, step: int | None) -> None:
    """Whatever a damaged capture holds, the block path (columns, walks) gives the per-packet path's
    report and connections, from a file or a trickling pipe (blocks of every size)."""
    assert run_contract(data, step) == run_contract(data, step, fast_path=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_capture(), gz=st.booleans(), cut=st.none() | st.integers(0, 1 << 16))
def test_pipeline_on_mutated_gzip_captures(data: bytes, gz: bool, cut: int | None) -> None:
    """The same through gzip, with the compressed stream cut short: a report or CaptureError at open."""
    packed = gzip.compress(data, mtime=0)
    if cut is not None:
        packed = packed[: cut % (len(packed) + 1)]
    run_contract(packed)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_capture())
@example(data=gzip.compress(PCAPNG_HEAD + PCAPNG_IDB + b"\x06\x00\x00\x00\x00\x00\x00\x01" + bytes(1 << 24)))
def test_pipeline_memory_is_bounded(data: bytes) -> None:
    """Peak Python memory stays under PEAK_MB for a mutated capture or a gzip bomb."""
    tracemalloc.start()
    try:
        run_contract(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_MB * 1024 * 1024


@st.composite
def one_field_changed(draw: st.DrawFn) -> bytes:
    """A real capture with exactly one header field (of a kind drawn first) set to any value."""
    seeds = st.sampled_from([p for p in SEEDS if p.suffix == ".pcapng"])
    data = bytearray(draw(seeds | st.sampled_from([p for p in SEEDS if p.suffix != ".pcapng"])).read_bytes())
    fields = walk_fields(bytes(data))
    off, size = draw(st.sampled_from(fields[draw(st.sampled_from(sorted(fields)))]))
    value = draw(st.sampled_from(BOUNDARY) | st.integers(0, (1 << (8 * size)) - 1))
    data[off : off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(
        size, draw(st.sampled_from(BYTE_ORDERS))
    )
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=one_field_changed())
def test_pipeline_with_one_header_field_changed(data: bytes) -> None:
    """One length, time, link type, interface id or option of a real capture set to any value (the rest
    intact, so the bad field is reached): CaptureError at open, or a report."""
    run_contract(data)


def retime(data: bytes, first: int, step: int, tsresol: int, tsoffset: int) -> bytes:
    """The capture with every record stamped ``first + i * step`` (in the file's units, wrapped to the
    field's width); each pcapng interface also gets if_tsresol ``tsresol`` and if_tsoffset ``tsoffset``."""
    out = bytearray()
    if data[:4] in PCAP_MAGICS:
        e = "<" if data[0] in (0xD4, 0x4D) else ">"
        out += data[:24]
        pos, i = 24, 0
        while pos + 16 <= len(data):
            caplen = struct.unpack_from(e + "I", data, pos + 8)[0]
            ts = (first + i * step) & ((1 << 64) - 1)
            out += struct.pack(e + "II", ts >> 32, ts & 0xFFFFFFFF) + data[pos + 8 : pos + 16 + caplen]
            pos, i = pos + 16 + caplen, i + 1
        return bytes(out + data[pos:])
    e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    pos, i = 0, 0
    while pos + 12 <= len(data):
        btype, length = struct.unpack_from(e + "II", data, pos)
        block = data[pos : pos + length]
        if btype == 1 and length >= 20:
            body = block[8:16] + struct.pack(e + "HH", 9, 1) + bytes([tsresol, 0, 0, 0])
            body += struct.pack(e + "HHq", 14, 8, tsoffset) + bytes(4)
            block = struct.pack(e + "II", 1, len(body) + 12) + body + struct.pack(e + "I", len(body) + 12)
        elif btype == 6 and length >= 32:
            ts = (first + i * step) & ((1 << 64) - 1)
            block = block[:12] + struct.pack(e + "II", ts >> 32, ts & 0xFFFFFFFF) + block[20:]
            i += 1
        out += block
        pos += max(length, 12)
    return bytes(out + data[pos:])


EXTREMES = [0, 1, 10**9, 1 << 31, 1 << 32, 1 << 62, 1 << 63, (1 << 64) - 1, -(10**9)]


ONE_PER_CASE = sorted(p for p in SEEDS if p.name == "client.pcapng")
"""Every scenario once, as pcapng: its times are unbounded (64-bit units of any resolution, plus a
signed offset), where classic pcap's end in 2106."""


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.sampled_from(EXTREMES) | st.integers(0, (1 << 64) - 1),
    step=st.sampled_from([0, 1, 1000, 10**9, -1]) | st.integers(-(10**12), 10**12),
    tsresol=st.sampled_from([0, 3, 6, 9, 19, 0x7F, 0x80, 0x80 | 30, 0xFF]) | st.integers(0, 255),
    tsoffset=st.sampled_from([0, -1, 10**10, -(10**10), (1 << 63) - 1, -(1 << 63)]),
)
def test_pipeline_on_any_timestamps(first: int, step: int, tsresol: int, tsoffset: int) -> None:
    """Every scenario restamped with any time, resolution and offset (far past, far future, going
    backwards): the pipeline still returns a report."""
    for path in ONE_PER_CASE:
        run_contract(retime(path.read_bytes(), first, step, tsresol, tsoffset))


def one_connection(payload_offsets: list[int]) -> bytes:
    """A pcap of one handshake, then one-byte client segments at the given stream offsets, in that order."""

    def frame(seq: int, ack: int, flags: int, payload: bytes = b"", to_server: bool = True) -> bytes:
        ports = (40000, 443) if to_server else (443, 40000)
        addrs = (
            (b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02")
            if to_server
            else (b"\x0a\x00\x00\x02", b"\x0a\x00\x00\x01")
        )
        tcp = struct.pack("!HHIIBBHHH", *ports, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, *addrs) + tcp
        return bytes(12) + b"\x08\x00" + ip

    frames = [frame(1000, 0, 0x02), frame(5000, 1001, 0x12, to_server=False), frame(1001, 5001, 0x10)]
    frames += [frame(1001 + off, 5001, 0x18, b"x") for off in payload_offsets]
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i, f in enumerate(frames):
        out += struct.pack("<IIII", 1_700_000_000, i, len(f), len(f)) + f
    return bytes(out)


def test_pipeline_time_is_linear_in_reordered_segments() -> None:
    """Segments captured out of order cost about what the same segments in order cost: reassembly must
    not rescan everything it holds for each segment it releases (quadratic: minutes for a few MB)."""
    n = 10_000
    timings = []
    for offsets in (list(range(n)), [*range(1, n), 0]):  # in order; then the first segment arrives last
        data = one_connection(offsets)
        start = time.perf_counter()
        _, flows = run_contract(data) or pytest.fail("refused")
        timings.append(time.perf_counter() - start)
        assert flows[0].bytes_to_server == n
    in_order, reordered = timings
    assert reordered < 3 * in_order + 0.2, (
        f"{n} reordered segments: {reordered:.2f} s, in order {in_order:.2f} s"
    )


@pytest.mark.parametrize("path", CRASHES, ids=[p.name for p in CRASHES])
def test_fuzzer_crashes_stay_fixed(path: pathlib.Path) -> None:
    """Every input the fuzzer once broke the contract with now opens and runs within the contract."""
    run_contract(path.read_bytes())
