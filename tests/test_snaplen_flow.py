"""Segments the snaplen cut: the stream moves by wire lengths, and the observer is told what was hidden."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from builders import tcp
from pcapdiag.decode.fast import tcp_fields
from pcapdiag.decode.packet import ACK, PSH, SYN, TcpSegment
from pcapdiag.flow import OPAQUE, Connection, Direction
from pcapdiag.flow.connection import REJECTED
from pcapdiag.flow.stream import MAX_OUT_OF_ORDER, ByteStream

C = Direction.TO_SERVER
S = Direction.TO_CLIENT
CLIENT = (bytes([198, 18, 0, 2]), 40000)
SERVER = (bytes([198, 19, 0, 2]), 443)
CISN, SISN = 1000, 5000


@dataclass
class Recorder:
    """A StreamObserver that writes down every call, in order."""

    calls: list[tuple[str, Direction, int, bytes | int]] = field(default_factory=list)
    answer: int = 0

    def feed(self, direction: Direction, data: bytes, offset: int, frame: int, ts_ns: int, ack: int) -> int:
        self.calls.append(("feed", direction, offset, data))
        return self.answer

    def cut(self, direction: Direction, offset: int, length: int, frame: int, ts_ns: int, ack: int) -> int:
        self.calls.append(("cut", direction, offset, length))
        return self.answer

    def gap(self, direction: Direction) -> None:
        self.calls.append(("gap", direction, 0, 0))


def _seg(
    to_server: bool, seq: int, ack: int, flags: int, wire: bytes = b"", seen: int | None = None
) -> TcpSegment:
    """A segment with ``wire`` as its payload on the wire, of which ``seen`` bytes were captured."""
    src, dst = (CLIENT, SERVER) if to_server else (SERVER, CLIENT)
    return TcpSegment(
        family=4,
        src=src[0],
        dst=dst[0],
        sport=src[1],
        dport=dst[1],
        seq=seq,
        ack=ack,
        flags=flags,
        window=502,
        payload=wire if seen is None else wire[:seen],
        payload_len=len(wire),
        ip_id=seq & 0xFFFF,
    )


def _connection() -> tuple[Connection, Recorder]:
    """A connection through its TCP handshake, with a Recorder as its observer."""
    recorder = Recorder()
    conn = Connection(1, CLIENT, SERVER, inferred=False, observer_factory=lambda _: recorder)
    conn.receive(1, 1_000, _seg(True, CISN, 0, SYN), C)
    conn.receive(2, 2_000, _seg(False, SISN, CISN + 1, SYN | ACK), S)
    conn.receive(3, 3_000, _seg(True, CISN + 1, SISN + 1, ACK), C)
    return conn, recorder


def _data(n: int, fill: int) -> bytes:
    return bytes([fill]) * n


def test_a_cut_segment_is_fed_then_cut_and_the_stream_moves_by_its_wire_length() -> None:
    conn, rec = _connection()
    first = _data(1000, 1)
    conn.receive(4, 4_000, _seg(True, CISN + 1, SISN + 1, ACK | PSH, first, seen=30), C)
    second = _data(20, 2)
    conn.receive(5, 5_000, _seg(True, CISN + 1001, SISN + 1, ACK | PSH, second), C)
    assert rec.calls == [("feed", C, 0, first[:30]), ("cut", C, 30, 970), ("feed", C, 1000, second)]
    side = conn.client_side
    assert side.stream.next_off == 1020
    assert side.stream.gaps == 0
    assert side.bytes == 1020
    assert conn.snapped == 1
    assert "g" not in conn.history.lower()


def test_a_segment_cut_to_nothing_is_only_a_cut() -> None:
    conn, rec = _connection()
    conn.receive(4, 4_000, _seg(False, SISN + 1, CISN + 1, ACK | PSH, _data(500, 3), seen=0), S)
    assert rec.calls == [("cut", S, 0, 500)]
    assert conn.server_side.stream.next_off == 500


def test_a_retransmitted_cut_segment_is_a_retransmission_not_new_bytes() -> None:
    conn, rec = _connection()
    wire = _data(800, 4)
    conn.receive(4, 4_000, _seg(True, CISN + 1, SISN + 1, ACK | PSH, wire, seen=30), C)
    conn.receive(5, 300_000_000, _seg(True, CISN + 1, SISN + 1, ACK | PSH, wire, seen=30), C)
    assert rec.calls == [("feed", C, 0, wire[:30]), ("cut", C, 30, 770)]
    assert conn.client_side.retransmissions == 1
    assert conn.snapped == 2
    assert conn.log[-1].note == "retransmission"


def test_cut_segments_out_of_order_are_held_with_their_wire_length() -> None:
    conn, rec = _connection()
    a, b, c = _data(100, 5), _data(1400, 6), _data(50, 7)
    # b (cut) and c (whole) arrive before a, which fills the hole.
    conn.receive(4, 4_000, _seg(True, CISN + 101, SISN + 1, ACK, b, seen=30), C)
    conn.receive(5, 5_000, _seg(True, CISN + 1501, SISN + 1, ACK, c), C)
    assert rec.calls == []
    assert conn.client_side.stream.pending_bytes == 1450
    conn.receive(6, 6_000, _seg(True, CISN + 1, SISN + 1, ACK, a, seen=30), C)
    assert rec.calls == [
        ("feed", C, 0, a[:30]),
        ("cut", C, 30, 70),
        ("feed", C, 100, b[:30]),
        ("cut", C, 130, 1370),
        ("feed", C, 1500, c),
    ]
    stream = conn.client_side.stream
    assert (stream.next_off, stream.gaps, stream.pending_bytes, stream.pending) == (1550, 0, 0, {})
    assert conn.client_side.bytes == 1550


def test_of_two_held_segments_at_one_offset_the_longer_on_the_wire_wins() -> None:
    stream = ByteStream()
    stream.base = 0
    stream.accept_cut(100, _data(30, 1), 60)
    stream.accept_cut(100, _data(20, 2), 1000)
    stream.accept_cut(100, _data(10, 3), 1000)
    pieces, old = stream.accept_cut(0, _data(100, 4), 100)
    assert not old
    assert pieces == [(0, _data(100, 4), 0), (100, _data(20, 2), 980)]
    assert stream.pending_bytes == 0


def test_held_cut_segments_past_the_cap_make_a_gap_and_drain_as_pieces() -> None:
    stream = ByteStream()
    stream.base = 0
    step = 60_000
    out = []
    for i in range(1, 6):
        pieces, _ = stream.accept_cut(i * step, _data(30, i), step)
        out += pieces
    assert stream.gaps == 1
    assert stream.pending_bytes <= MAX_OUT_OF_ORDER
    assert out[0] == (step, _data(30, 1), step - 30)
    assert stream.next_off == 6 * step


def test_a_retransmission_overlapping_hidden_bytes_gives_what_it_shows_past_them() -> None:
    """A repacketized retransmission that starts inside hidden bytes: its bytes past them are fed
    from where the hidden ones ended, a segment boundary (the cut segment's end)."""
    conn, rec = _connection()
    conn.receive(4, 4_000, _seg(True, CISN + 1, SISN + 1, ACK, _data(1000, 1), seen=30), C)
    overlap = _data(20, 1) + _data(20, 2)  # starts 20 bytes before the end of the hidden run
    conn.receive(5, 300_000_000, _seg(True, CISN + 981, SISN + 1, ACK, overlap), C)
    assert rec.calls[-1] == ("feed", C, 1000, _data(20, 2))
    cut_overlap = _data(100, 3)
    conn.receive(6, 300_001_000, _seg(True, CISN + 1001, SISN + 1, ACK, cut_overlap, seen=10), C)
    assert rec.calls[-1] == ("cut", C, 1020, 80)  # its visible bytes were old; the rest is hidden


def test_the_fast_path_leaves_cut_segments_to_the_general_path() -> None:
    conn, rec = _connection()
    packet = bytes(
        tcp(
            src="198.18.0.2",
            dst="198.19.0.2",
            sport=40000,
            dport=443,
            flags="A",
            seq=CISN + 1,
            ack=SISN + 1,
            payload=_data(200, 1),
        )
    )
    fields = tcp_fields(1, packet[:96])
    assert fields is not None
    assert conn.receive_common(4, 4_000, fields, C) == REJECTED
    assert rec.calls == []


def test_whole_segments_out_of_order_are_still_fed_as_one_run() -> None:
    """The general path for whole segments is unchanged: a filled hole delivers one feed."""
    conn, rec = _connection()
    conn.receive(4, 4_000, _seg(True, CISN + 11, SISN + 1, ACK, _data(10, 2)), C)
    conn.receive(5, 5_000, _seg(True, CISN + 1, SISN + 1, ACK, _data(10, 1)), C)
    assert rec.calls == [("feed", C, 0, _data(10, 1) + _data(10, 2))]


def test_an_observer_that_looks_no_further_is_respected_after_a_cut() -> None:
    """cut() answers like feed(): the fast path then skips whole segments before that offset."""
    conn, rec = _connection()
    rec.answer = OPAQUE
    conn.receive(4, 4_000, _seg(True, CISN + 1, SISN + 1, ACK, _data(1000, 1), seen=30), C)
    assert conn.client_side.opaque_until == OPAQUE


# -- any segmentation, any order, any cut ------------------------------------------------------


@st.composite
def _cut_segments(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, bytes, int]]]:
    """A byte stream, segmented, each segment cut to a random snaplen, sent in a random order
    with random repeats: (stream, [(offset, captured bytes, wire length)])."""
    sizes = draw(st.lists(st.integers(1, 300), min_size=1, max_size=12))
    stream = bytes(i % 251 for i in range(sum(sizes)))
    segments, off = [], 0
    for size in sizes:
        seen = draw(st.integers(0, size))
        segments.append((off, stream[off : off + seen], size))
        off += size
    order = draw(st.permutations(segments))
    repeats = draw(st.lists(st.sampled_from(segments), max_size=4))
    return stream, list(order) + repeats


@settings(max_examples=300, deadline=None)
@given(_cut_segments())
def test_pieces_rebuild_the_stream_whatever_the_order(
    case: tuple[bytes, list[tuple[int, bytes, int]]],
) -> None:
    """Visible bytes come out at their offsets, hidden ones as counts, once each, in order."""
    stream, segments = case
    bs = ByteStream()
    bs.base = 0
    pieces = []
    for off, data, wire in segments:
        got, _ = bs.accept_cut(off, data, wire)
        pieces += got
    assert bs.next_off == len(stream) and bs.pending_bytes == 0 and bs.gaps == 0
    pos = 0
    for off, data, unseen in pieces:
        assert off == pos
        assert data == stream[off : off + len(data)]
        pos = off + len(data) + unseen
    assert pos == len(stream)
