"""open_capture: format sniffing, gzip, non-seekable pipes, header errors, and never crashing."""

from __future__ import annotations

import gzip
import io
import os
import threading
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import Interface, Record, epb, pcap_bytes, pcapng_section, tcp
from pcapdiag.capture import CaptureError, Frame, linktype_name, open_capture

T0 = 1_700_000_000_000_000_000
RECORDS = [Record(bytes(tcp(seq=i, payload=bytes(i))), T0 + i * 1000) for i in range(30)]
FORMATS: dict[str, Callable[[], bytes]] = {
    "pcap": lambda: pcap_bytes(RECORDS),
    "pcap-nsec": lambda: pcap_bytes(RECORDS, nsec=True, big_endian=True),
    "pcapng": lambda: pcapng_section(RECORDS, big_endian=True),
}


def summary(frames: Iterator[Frame]) -> list[tuple[int, int, int, bytes, int]]:
    return [(f.number, f.ts_ns, f.linktype, f.data, f.orig_len) for f in frames]


EXPECTED = [(i + 1, r.ts_ns, 1, r.data, len(r.data)) for i, r in enumerate(RECORDS)]


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_format_comes_from_the_magic(fmt: str, gzipped: bool) -> None:
    data = FORMATS[fmt]()
    stream = gzip.compress(data) if gzipped else data
    capture = open_capture(io.BytesIO(stream), "capture.txt")  # the name says nothing
    assert capture.format == fmt + ("+gzip" if gzipped else "")
    assert capture.name == "capture.txt"
    assert summary(capture.frames()) == EXPECTED
    assert capture.truncated is None
    assert capture.bytes_read == len(data)  # counted in the decompressed stream


def _feed_pipe(data: bytes, chunk: int) -> tuple[int, threading.Thread]:
    read_fd, write_fd = os.pipe()

    def writer() -> None:
        with os.fdopen(write_fd, "wb", buffering=0) as out:
            for i in range(0, len(data), chunk):
                out.write(data[i : i + chunk])

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    return read_fd, thread


@pytest.mark.parametrize("buffering", [0, -1], ids=["raw-short-reads", "buffered"])
@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_reads_from_a_non_seekable_pipe(fmt: str, gzipped: bool, buffering: int) -> None:
    data = FORMATS[fmt]()
    read_fd, thread = _feed_pipe(gzip.compress(data) if gzipped else data, chunk=7)
    with os.fdopen(read_fd, "rb", buffering=buffering) as stream:
        assert not stream.seekable()
        capture = open_capture(stream, "-")
        assert summary(capture.frames()) == EXPECTED
    thread.join()
    assert capture.truncated is None
    assert capture.bytes_read == len(data)


def test_truncated_record_through_a_pipe() -> None:
    data = pcap_bytes(RECORDS)
    read_fd, thread = _feed_pipe(data[:-5], chunk=3)
    with os.fdopen(read_fd, "rb", buffering=0) as stream:
        capture = open_capture(stream, "-")
        frames = summary(capture.frames())
    thread.join()
    assert frames == EXPECTED[:-1]
    assert capture.truncated is not None
    assert capture.truncated.offset == len(data) - 16 - len(RECORDS[-1].data)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_cut_gzip_stream_reports_the_cut_record(fmt: str) -> None:
    data = FORMATS[fmt]()
    compressed = gzip.compress(data)
    capture = open_capture(io.BytesIO(compressed[: len(compressed) * 2 // 3]), "cut.gz")
    frames = summary(capture.frames())
    assert 0 < len(frames) < len(EXPECTED)
    assert frames == EXPECTED[: len(frames)]
    assert capture.truncated is not None or capture.bytes_read < len(data)


def test_corrupt_gzip_data_is_a_capture_error() -> None:
    compressed = bytearray(gzip.compress(pcap_bytes(RECORDS)))
    compressed[30:60] = bytes(30)
    with pytest.raises(CaptureError, match="corrupt gzip data"):
        list(open_capture(io.BytesIO(bytes(compressed)), "bad.gz").frames())


def test_gzip_magic_on_non_gzip_data_is_a_capture_error() -> None:
    with pytest.raises(CaptureError, match="corrupt gzip data"):
        open_capture(io.BytesIO(b"\x1f\x8b" + bytes(40)), "x")


@pytest.mark.parametrize("data", [b"", gzip.compress(b"")], ids=["plain", "gzip"])
def test_empty_file_is_an_error(data: bytes) -> None:
    with pytest.raises(CaptureError, match="empty file \\(no capture header") as err:
        open_capture(io.BytesIO(data), "empty")
    assert err.value.offset == 0


@pytest.mark.parametrize(
    ("data", "magic"),
    [
        (b"GET / HTTP/1.1\r\n", "0x47455420"),
        (bytes(range(100, 140)), "0x64656667"),
        (b"\x00\x01", "0x0001"),
    ],
)
def test_wrong_magic_is_an_error(data: bytes, magic: str) -> None:
    with pytest.raises(CaptureError, match=f"not a pcap or pcapng capture \\(magic {magic}\\)"):
        open_capture(io.BytesIO(data), "x")


@pytest.mark.parametrize("data", [b"\xd4\xc3", b"\x0a\x0d\x0d", b"\x4d"])
def test_a_cut_magic_is_a_truncated_header(data: bytes) -> None:
    with pytest.raises(CaptureError, match=f"truncated capture header \\({len(data)} of 4"):
        open_capture(io.BytesIO(data), "x")


def test_frames_can_be_iterated_only_once() -> None:
    capture = open_capture(io.BytesIO(pcap_bytes(RECORDS)), "x")
    list(capture.frames())
    with pytest.raises(RuntimeError, match="only once"):
        capture.frames()


def test_bytes_read_and_link_types_grow_while_iterating() -> None:
    data = pcapng_section(RECORDS[:1], interfaces=[Interface()]) + epb(RECORDS[1])
    capture = open_capture(io.BytesIO(data), "x")
    assert capture.link_types == set()
    frames = capture.frames()
    next(frames)
    assert capture.link_types == {1}
    assert 0 < capture.bytes_read < len(data)


@pytest.mark.parametrize(
    ("linktype", "name"),
    [
        (0, "NULL"),
        (1, "EN10MB"),
        (101, "RAW"),
        (108, "LOOP"),
        (113, "LINUX_SLL"),
        (228, "IPV4"),
        (229, "IPV6"),
        (276, "LINUX_SLL2"),
        (4242, "UNKNOWN"),
    ],
)
def test_linktype_names(linktype: int, name: str) -> None:
    assert linktype_name(linktype) == name


# --- robustness: whatever the bytes, frames, truncated, or CaptureError ----------------------


def _read_or_capture_error(data: bytes) -> None:
    try:
        capture = open_capture(io.BytesIO(data), "fuzz")
        for frame in capture.frames():
            assert isinstance(frame, Frame)
    except CaptureError:
        pass


SAMPLES = [
    pcap_bytes(RECORDS[:4]),
    pcap_bytes(RECORDS[:4], nsec=True, big_endian=True),
    pcapng_section(RECORDS[:4], interfaces=[Interface(tsresol=9)]),
    pcapng_section(RECORDS[:4], big_endian=True),
]
MAGICS = [
    b"\xa1\xb2\xc3\xd4",
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x4d\x3c\xb2\xa1",
    b"\x0a\x0d\x0d\x0a",
    b"\x1f\x8b",
]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_other_errors(data: bytes) -> None:
    _read_or_capture_error(data)


@FUZZ
@given(st.sampled_from(MAGICS), st.binary(max_size=300))
def test_arbitrary_bytes_after_a_valid_magic(magic: bytes, rest: bytes) -> None:
    _read_or_capture_error(magic + rest)


@FUZZ
@given(
    st.sampled_from(SAMPLES),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    st.integers(0, 10_000),
    st.booleans(),
)
def test_mutated_captures(sample: bytes, flips: list[tuple[int, int]], cut: int, gzipped: bool) -> None:
    data = bytearray(sample)
    for position, value in flips:
        data[position % len(data)] = value
    mutated = bytes(data[: len(data) - cut % len(data)])
    _read_or_capture_error(gzip.compress(mutated) if gzipped else mutated)
