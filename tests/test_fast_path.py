"""The fast path gives exactly what the general path gives: decoded fields, and whole reports."""

from __future__ import annotations

import contextlib
import os
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CAPTURES, analyse
from pcapdiag.capture import CaptureError, open_capture
from pcapdiag.decode import decode
from pcapdiag.decode.fast import tcp_fields
from pcapdiag.decode.tcp import new_segment
from pcapdiag.pipeline import Options

ROOT = Path(__file__).resolve().parent.parent
CORPUS_ENV = "PCAPDIAG_ZEEK_CORPUS"


def _zeek_traces() -> list[Path]:
    """The Zeek corpus's captures (as in test_zeek_oracle.py; none when it is not there)."""
    env = os.environ.get(CORPUS_ENV)
    root = Path(env) if env else ROOT.parent / "shared" / "corpus" / "zeek"
    return sorted(p for p in (root / "Traces").rglob("*") if p.suffix in (".pcap", ".pcapng"))


OWN = sorted(p for p in CAPTURES.rglob("*") if p.suffix in (".pcap", ".pcapng"))
ZEEK = _zeek_traces()
ALL = OWN + ZEEK


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(p.parents[1])) for p in paths]


def _agree(linktype: int, data: bytes) -> bool:
    """tcp_fields declines, or gives the fields of the segment decode() gives."""
    fields = tcp_fields(linktype, data)
    return fields is None or new_segment(*fields) == decode(linktype, data)


@pytest.mark.parametrize("path", ALL, ids=_ids(ALL))
def test_fast_decode_agrees_on_every_frame(path: Path) -> None:
    frames = []
    # A broken container: the frames before the fault still count.
    with path.open("rb") as stream, contextlib.suppress(CaptureError):
        frames.extend(open_capture(stream, str(path)).frames())
    assert all(_agree(f.linktype, f.data) for f in frames)


def _frame(v6: bool, sll2: bool, tcp_header: bytes, payload: bytes) -> tuple[int, bytes]:
    tcp_len = len(tcp_header) + len(payload)
    if v6:
        ip = struct.pack("!IHBB16s16s", 6 << 28, tcp_len, 6, 64, bytes(15) + b"\x01", bytes(15) + b"\x02")
        ethertype = 0x86DD
    else:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + tcp_len, 7, 0, 64, 6, 0, b"\x0a\0\0\1", b"\x0a\0\0\2")
        ethertype = 0x0800
    if sll2:
        link = struct.pack("!HHIHBB8s", ethertype, 0, 1, 1, 0, 6, bytes(8))
        return 276, link + ip + tcp_header + payload
    return 1, bytes(12) + struct.pack("!H", ethertype) + ip + tcp_header + payload


_TCP = struct.pack("!HHIIBBHHH", 40000, 443, 1000, 2000, 0x80, 0x18, 501, 0, 0) + bytes.fromhex(
    "0101080a0000000100000002"
)


@settings(max_examples=400, deadline=None)
@given(
    v6=st.booleans(),
    sll2=st.booleans(),
    payload=st.binary(max_size=40),
    edits=st.lists(st.tuples(st.integers(0, 120), st.integers(0, 255)), max_size=4),
    cut=st.integers(0, 130),
)
def test_fast_decode_agrees_on_damaged_frames(
    v6: bool, sll2: bool, payload: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    linktype, data = _frame(v6, sll2, _TCP, payload)
    frame = bytearray(data)
    for at, value in edits:
        if at < len(frame):
            frame[at] = value
    damaged = bytes(frame[: len(frame) - cut if cut < len(frame) else len(frame)])
    assert _agree(linktype, damaged)


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("sll2", [False, True], ids=["ethernet", "sll2"])
def test_fast_decode_agrees_on_every_one_byte_change_and_cut(v6: bool, sll2: bool) -> None:
    linktype, data = _frame(v6, sll2, _TCP, b"payload")
    for at in range(len(data)):
        for value in (0x00, 0x01, 0x06, 0x20, 0x3F, 0x45, 0x50, 0x60, 0x80, 0x86, 0xDD, 0xFF):
            changed = data[:at] + bytes([value]) + data[at + 1 :]
            assert _agree(linktype, changed), (at, value)
        assert _agree(linktype, data[:at]), f"cut at {at}"


def _same_reports(path: Path) -> None:
    """The block path (forced onto every block, however small), the record path and the general
    per-packet path give the same report."""
    block_report, block_flows = analyse(path, Options(block_min=1, block_density=0))
    fast_report, fast_flows = analyse(path, Options(fast_path=True))
    slow_report, slow_flows = analyse(path, Options(fast_path=False))
    assert block_flows == fast_flows == slow_flows
    assert block_report == fast_report == slow_report


@pytest.mark.parametrize("path", OWN, ids=_ids(OWN))
def test_same_report_without_the_fast_path(path: Path) -> None:
    _same_reports(path)


@pytest.mark.parametrize("path", ZEEK, ids=_ids(ZEEK))
def test_same_report_without_the_fast_path_on_zeek_traces(path: Path) -> None:
    _same_reports(path)
