"""The TLS record layer through bytes the snaplen hid: records by length, lost places, strict resync."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversation import CCS, app_data, client_hello, handshake, record, server_hello
from pcapdiag.tls.constants import HRR_RANDOM
from pcapdiag.tls.hello import (
    parse_client_hello,
    parse_client_hello_prefix,
    parse_server_hello_prefix,
)
from pcapdiag.tls.records import (
    MAX_CIPHERTEXT,
    HandshakeReader,
    NotTls,
    Record,
    RecordReader,
    is_resync_header,
)


def _shape(records: list[Record]) -> list[tuple[int, int, int, int, bytes | None]]:
    return [(r.content_type, r.length, r.offset, r.unseen, r.body) for r in records]


def test_a_record_whose_body_is_hidden_is_still_a_record() -> None:
    reader = RecordReader()
    hello = client_hello()
    assert reader.feed(hello[:30], 0, 4, 40, -1) == []
    [got] = reader.skip(30, len(hello) - 30, 4, 40, -1)
    assert _shape([got]) == [(22, len(hello) - 5, 0, len(hello) - 30, hello[5:30])]
    assert (got.frame, got.ts_ns, got.partial) == (4, 40, True)
    assert not reader.lost
    nxt = app_data(10)
    assert _shape(reader.feed(nxt, len(hello), 5, 50, -1)) == [(23, 10, len(hello), 0, None)]


def test_a_record_cut_in_one_segment_and_seen_again_in_the_next_keeps_its_prefix() -> None:
    reader = RecordReader()
    body = bytes(range(200))
    rec = record(22, body)
    reader.feed(rec[:30], 0, 1, 1, -1)
    reader.skip(30, 70, 1, 1, -1)
    [got] = reader.feed(rec[100:], 100, 2, 2, -1)
    assert got.body == body[:25]
    assert got.unseen == 175
    assert got.frame == 2


def test_a_hidden_header_loses_the_place_until_a_segment_starts_with_a_valid_one() -> None:
    reader = RecordReader()
    flight = server_hello() + CCS + app_data(800)
    assert len(reader.feed(flight[:30], 0, 6, 60, -1)) == 0
    records = reader.skip(30, len(flight) - 30, 6, 60, -1)
    assert _shape(records)[0][:2] == (22, len(server_hello()) - 5)
    assert reader.lost
    assert reader.lost_offset == len(server_hello())
    base = len(flight)
    # A segment that starts mid-record: passed over, and so is what it holds (no header is looked
    # for in the middle of a segment).
    assert reader.feed(bytes(20) + app_data(80), base, 7, 70, -1) == []
    assert reader.lost
    # A segment whose first bytes are not strictly a header: still lost.
    reader.feed(b"\x17\x03\x01\x00\x10" + bytes(10), base + 105, 8, 80, -1)
    reader.skip(base + 120, 80, 8, 80, -1)
    assert reader.lost
    # A segment that starts with a valid header: found again.
    answer = app_data(40)
    got = reader.feed(answer, base + 200, 10, 100, -1)
    assert _shape(got) == [(23, 40, base + 200, 0, None)]
    assert (reader.lost, reader.resyncs) == (False, 1)


def test_a_header_whose_first_bytes_are_seen_loses_the_place_at_that_header() -> None:
    reader = RecordReader()
    data = CCS + app_data(53)
    assert _shape(reader.feed(data[:10], 0, 8, 80, -1)) == [(20, 1, 0, 0, b"\x01")]
    assert reader.skip(10, len(data) - 10, 8, 80, -1) == []
    assert (reader.lost, reader.lost_offset) == (True, 6)


def test_the_first_bytes_of_a_header_that_cannot_be_one_are_not_tls() -> None:
    reader = RecordReader()
    reader.feed(b"HTTP", 0, 5, 50, -1)
    with pytest.raises(NotTls):
        reader.skip(4, 200, 5, 50, -1)
    assert reader.header_prefix == b"HTTP"
    assert reader.header_start == 0


def test_resync_headers_are_strict() -> None:
    assert is_resync_header(b"\x17\x03\x03\x00\x20")
    assert is_resync_header(b"\x14\x03\x03\x00\x01")
    assert is_resync_header(b"\x16\x03\x01\x02\x00\x01")  # a ClientHello record may say 0x0301
    assert not is_resync_header(b"\x16\x03\x01\x02\x00\x02")  # ... nothing else may
    assert not is_resync_header(b"\x16\x03\x01\x02\x00")  # ... and its next byte must be seen
    assert not is_resync_header(b"\x18\x03\x03\x00\x20")  # heartbeat
    assert not is_resync_header(b"\x17\x03\x02\x00\x20")
    assert not is_resync_header(b"\x17\x03\x03\x00\x00")
    assert not is_resync_header(b"\x17\x03\x03" + (MAX_CIPHERTEXT + 1).to_bytes(2, "big"))
    assert is_resync_header(b"\x17\x03\x03" + MAX_CIPHERTEXT.to_bytes(2, "big"))
    assert not is_resync_header(b"\x17\x03\x03\x00")


def test_five_random_bytes_pass_the_resync_test_with_probability_under_1e_7() -> None:
    """Every field of the test is checked on its own; they are independent, so the share of all
    5-byte strings that pass is the product of the shares of each field that pass (the 0x0301
    ClientHello case needs a sixth byte, 1/256 more)."""
    valid = b"\x17\x03\x03\x00\x20\x01"

    def passes(i: int, value: int) -> bool:
        return is_resync_header(valid[:i] + bytes([value]) + valid[i + 1 :])

    types = sum(passes(0, v) for v in range(256)) / 256
    major = sum(passes(1, v) for v in range(256)) / 256
    minor = sum(passes(2, v) for v in range(256)) / 256  # 0x0301 fails without a ClientHello byte
    lengths = sum(is_resync_header(b"\x17\x03\x03" + n.to_bytes(2, "big")) for n in range(65536)) / 65536
    hello = 1 / 256 * 1 / 256  # 0x0301 (one more minor) and a sixth byte of 1, handshake type only
    share = types * major * (minor + hello / types) * lengths
    assert share < 1e-7
    assert types == 4 / 256 and major == 1 / 256 and minor == 1 / 256


def test_the_reader_says_how_far_it_has_read_and_what_it_need_not_see() -> None:
    reader = RecordReader()
    reader.feed(app_data(1000)[:30], 0, 1, 1, -1)
    reader.skip(30, 500, 1, 1, -1)
    assert reader.end == 530
    assert reader.opaque_until == 1005


def test_a_handshake_message_cut_is_given_with_what_was_seen_and_its_rest_skipped() -> None:
    reader = HandshakeReader()
    cert = handshake(11, bytes(3000))
    assert reader.feed(cert[:25]) == []
    assert reader.cut(2000 - 25) == (11, cert[4:25])
    # The next record holds the rest of the certificate and a ServerHelloDone.
    assert reader.feed(cert[2000:] + handshake(14, b"")) == [(14, b"")]
    assert reader.at_boundary


def test_a_handshake_header_among_hidden_bytes_loses_message_boundaries() -> None:
    reader = HandshakeReader()
    two = handshake(2, bytes(60)) + handshake(11, bytes(100))
    reader.feed(two[:30])
    assert reader.cut(len(two) - 30) == (2, bytes(26))
    assert reader.lost and not reader.at_boundary
    assert reader.feed(handshake(14, b"")) == []


def test_a_client_hello_cut_anywhere_still_shows_what_it_can() -> None:
    body = client_hello()[9:]
    whole = parse_client_hello(body)
    for n in range(len(body)):
        hello = parse_client_hello_prefix(body[:n])
        assert hello.partial
        assert hello.sni in (None, whole.sni)
        assert hello.legacy_version in (0, 0x0303)
    assert parse_client_hello_prefix(body[:1]).sni is None
    assert parse_client_hello_prefix(body).sni == "webhook.pcd-system.svc"


def test_a_cut_server_hello_says_its_version_only_when_it_was_seen() -> None:
    body13 = server_hello(tls13=True)[9:]
    assert parse_server_hello_prefix(body13[:38]).selected_version == 0
    assert parse_server_hello_prefix(body13).selected_version == 0x0304
    body12 = server_hello(tls13=False)[9:]
    assert parse_server_hello_prefix(body12[:40]).selected_version == 0
    old = b"\x03\x01" + bytes(20)
    assert parse_server_hello_prefix(old).selected_version == 0x0301  # below TLS 1.2: no 1.3 there
    assert not parse_server_hello_prefix(body13[:30]).retry


def test_a_cut_hello_retry_request_is_told_by_eight_bytes_of_its_random() -> None:
    body = b"\x03\x03" + HRR_RANDOM
    assert parse_server_hello_prefix(body[:10]).retry
    assert not parse_server_hello_prefix(body[:9]).retry


# -- never a record that was not there ---------------------------------------------------------


_bodies = st.binary(min_size=1, max_size=400).map(lambda b: b.replace(b"\x03", b"\x04"))
"""Record bodies without a 0x03 byte: none can pass for a header (whose version starts 0x03), as
random or encrypted bytes almost never do (6e-8); the test is about the reader, not that chance."""
_records = st.lists(st.tuples(st.sampled_from([20, 21, 22, 23]), _bodies), min_size=1, max_size=10)


@settings(max_examples=300, deadline=None)
@given(_records, st.data())
def test_what_a_cut_stream_gives_is_what_the_whole_stream_gives(
    spec: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    """Cut into segments, each showing a random prefix: every record that comes out is a record of
    the whole stream (same type, length and offset), with its seen body a prefix of the real one."""
    stream = b"".join(record(ctype, body) for ctype, body in spec)
    whole = {r.offset: r for r in RecordReader().feed(stream, 0, 1, 1, -1)}
    reader = RecordReader()
    got: list[Record] = []
    off = 0
    while off < len(stream):
        size = data.draw(st.integers(1, len(stream) - off))
        seen = data.draw(st.integers(0, size))
        if seen:
            got += reader.feed(stream[off : off + seen], off, 1, 1, -1)
        if seen < size:
            got += reader.skip(off + seen, size - seen, 1, 1, -1)
        off += size
    for r in got:
        real = whole[r.offset]
        assert (r.content_type, r.length) == (real.content_type, real.length)
        assert r.unseen <= r.length
        if r.body is not None and real.body is not None:
            assert real.body.startswith(r.body) and len(r.body) == r.length - r.unseen
