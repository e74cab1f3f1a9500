"""Record blocks: one per read of the stream (a live pipe's records are never held back), the same
records as one at a time, and a corrupt record raising only after the block before it."""

from __future__ import annotations

import io

import pytest

from builders import Interface, Record, epb, idb, pcap_bytes, pcapng_section, shb, tcp
from pcapdiag.capture import CaptureError, RecordBlock, open_capture

T0 = 1_700_000_000_000_000_000


class Pipe:
    """A stream that hands out the given pieces one per read, as a pipe does when the writer
    flushes each piece on its own (tcpdump -U)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = list(pieces)
        self.reads = 0

    def read(self, n: int, /) -> bytes:
        self.reads += 1
        if not self.pieces:
            return b""
        piece = self.pieces[0]
        self.pieces[0] = piece[n:]
        if not self.pieces[0]:
            self.pieces.pop(0)
        return piece[:n]


def _packets(n: int) -> list[Record]:
    return [Record(bytes(tcp(sport=40000 + i, seq=i)), T0 + i * 1_000_000) for i in range(n)]


def _flat(blocks: list[RecordBlock]) -> list[tuple[int, int, int, bytes, int, int]]:
    return [r for b in blocks for r in b.records()]


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_a_block_ends_where_the_stream_would_wait(fmt: str) -> None:
    """Records flushed one at a time come out one block each: none waits for the next read."""
    records = _packets(5)
    whole = pcap_bytes(records) if fmt == "pcap" else pcapng_section(records)
    head = 24 if fmt == "pcap" else len(shb()) + len(idb(Interface()))
    sizes = [16 + len(r.data) for r in records] if fmt == "pcap" else [len(epb(r)) for r in records]
    pieces, pos = [whole[:head]], head
    for size in sizes:
        pieces.append(whole[pos : pos + size])
        pos += size
    capture = open_capture(Pipe(pieces), "pipe")
    blocks = list(capture.blocks())
    assert [len(b) for b in blocks] == [1] * 5
    assert [b.first for b in blocks] == [1, 2, 3, 4, 5]
    expected = list(open_capture(io.BytesIO(whole), "file").records())
    assert _flat(blocks) == expected
    assert [f[3] for f in expected] == [r.data for r in records]


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
@pytest.mark.parametrize("step", [1, 7, 100, 1 << 20])
def test_any_split_of_the_stream_gives_the_same_records(fmt: str, step: int) -> None:
    records = _packets(40)
    whole = pcap_bytes(records) if fmt == "pcap" else pcapng_section(records)
    pieces = [whole[i : i + step] for i in range(0, len(whole), step)]
    blocks = list(open_capture(Pipe(pieces), "pipe").blocks())
    assert _flat(blocks) == list(open_capture(io.BytesIO(whole), "file").records())
    numbers = [n for b in blocks for n in range(b.first, b.first + len(b))]
    assert numbers == list(range(1, 41))


def test_pcapng_sections_keep_each_interfaces_link_type() -> None:
    first = pcapng_section(_packets(2))
    second = pcapng_section(
        [Record(bytes(tcp())[14:], T0 + 5_000_000)],
        interfaces=(Interface(linktype=101),),
    )
    blocks = list(open_capture(io.BytesIO(first + second), "two").blocks())
    flat = _flat(blocks)
    assert [r[2] for r in flat] == [1, 1, 101]
    assert [r[0] for r in flat] == [1, 2, 3]


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_a_corrupt_record_comes_after_the_records_before_it(fmt: str) -> None:
    records = _packets(3)
    whole = pcap_bytes(records) if fmt == "pcap" else pcapng_section(records)
    if fmt == "pcap":
        bad = whole + (16).to_bytes(4, "little") * 2 + (10_000_000).to_bytes(4, "little") * 2
    else:
        bad = whole + (6).to_bytes(4, "little") + (13).to_bytes(4, "little") + bytes(8)
    got: list[RecordBlock] = []
    with pytest.raises(CaptureError):
        for block in open_capture(io.BytesIO(bad), "bad").blocks():
            got.append(block)
    assert len(_flat(got)) == 3


def test_head_cuts_a_block() -> None:
    block = next(iter(open_capture(io.BytesIO(pcap_bytes(_packets(10))), "f").blocks()))
    assert len(block) == 10
    cut = block.head(4)
    assert len(cut) == 4 and cut.first == 1
    assert _flat([cut]) == _flat([block])[:4]
    assert block.head(10) is block
