"""pcapng: interfaces with their own link types and resolutions, sections, odd blocks, errors."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from scapy.utils import EDecimal, PcapNgWriter, rdpcap

from builders import (
    Interface,
    Record,
    block,
    epb,
    idb,
    isb,
    pb,
    pcapng_section,
    shb,
    spb,
    tcp,
)
from pcapdiag.capture import Capture, CaptureError, Frame, TruncatedRecord, open_capture

T0 = 1_700_000_000_000_000_000
LINUX_SLL2 = 276
RAW = 101


def opened(data: bytes) -> Capture:
    return open_capture(io.BytesIO(data), "test")


def read_all(data: bytes) -> tuple[list[Frame], Capture]:
    capture = opened(data)
    return list(capture.frames()), capture


@pytest.mark.parametrize("big_endian", [False, True], ids=["little", "big"])
def test_interfaces_keep_their_own_linktype_and_resolution(big_endian: bool) -> None:
    nano = Interface(linktype=1, tsresol=9)
    binary = Interface(linktype=LINUX_SLL2, tsresol=0x80 | 20)
    micro_offset = Interface(linktype=RAW, tsoffset=100)  # no if_tsresol: microseconds
    records = [
        Record(b"eth", T0 + 123_456_789, interface=0),
        # 2^-20 s units: 1953125 ns is 2048 units exactly.
        Record(b"sll2", T0 + 3 * 1_953_125, interface=1),
        Record(b"raw", T0 + 42_000, interface=2),
        Record(b"eth2", T0 + 1, interface=0),
        # a stamp not representable in 2^-20 s: units 1 -> floor(10^9 / 2^20) ns
        Record(b"sll2b", raw_ts=1, interface=1),
    ]
    data = pcapng_section(records, interfaces=[nano, binary, micro_offset], big_endian=big_endian)
    frames, capture = read_all(data)
    assert capture.format == "pcapng"
    assert capture.link_types == {1, LINUX_SLL2, RAW}
    assert capture.truncated is None
    assert capture.bytes_read == len(data)
    assert [f.number for f in frames] == [1, 2, 3, 4, 5]
    assert [f.ts_ns for f in frames] == [
        T0 + 123_456_789,
        T0 + 3 * 1_953_125,
        T0 + 42_000,
        T0 + 1,
        10**9 // 2**20,
    ]
    assert [f.linktype for f in frames] == [1, LINUX_SLL2, RAW, 1, LINUX_SLL2]
    assert [f.interface for f in frames] == [0, 1, 2, 0, 1]
    assert [f.data for f in frames] == [b"eth", b"sll2", b"raw", b"eth2", b"sll2b"]


@pytest.mark.parametrize(
    ("tsresol", "units", "ns"),
    [
        (0, 3, 3_000_000_000),  # seconds
        (3, 5, 5_000_000),  # milliseconds
        (12, 1_234_567, 1_234),  # picoseconds, floored
        (0x80 | 0, 2, 2_000_000_000),  # 2^0 s
        (0x80 | 30, 2**30 + 1, 1_000_000_000),  # 2^-30 s, floored
    ],
)
def test_tsresol_is_converted_in_exact_integer_arithmetic(tsresol: int, units: int, ns: int) -> None:
    iface = Interface(tsresol=tsresol)
    frames, _ = read_all(shb() + idb(iface) + epb(Record(b"x", raw_ts=units), iface))
    assert frames[0].ts_ns == ns


def test_large_timestamps_stay_exact() -> None:
    iface = Interface(tsresol=9)
    stamp = 2**63 + 987_654_321  # beyond float precision
    frames, _ = read_all(shb() + idb(iface) + epb(Record(b"x", raw_ts=stamp), iface))
    assert frames[0].ts_ns == stamp


def test_new_section_switches_byte_order_and_resets_interfaces() -> None:
    first = pcapng_section(
        [Record(b"a", T0), Record(b"b", T0 + 1000, interface=1)],
        interfaces=[Interface(), Interface(linktype=RAW)],
    )
    second = pcapng_section(
        [Record(b"c", T0 + 2000)], interfaces=[Interface(linktype=LINUX_SLL2)], big_endian=True
    )
    frames, capture = read_all(first + second)
    assert [(f.number, f.linktype, f.interface, f.data) for f in frames] == [
        (1, 1, 0, b"a"),
        (2, RAW, 1, b"b"),
        (3, LINUX_SLL2, 0, b"c"),
    ]
    assert capture.link_types == {1, RAW, LINUX_SLL2}
    stale = epb(Record(b"d", T0, interface=1), big_endian=True)
    with pytest.raises(CaptureError, match="record 4: interface 1 not defined"):
        read_all(first + second + stale)


def test_unknown_and_unused_blocks_are_skipped() -> None:
    iface = Interface()
    data = (
        shb()
        + block(0x0BAD, b"whatever")
        + idb(iface)
        + block(4, b"\x00" * 8)  # name resolution block
        + epb(Record(b"one", T0), iface)
        + block(0x40000BAD, b"\x00\x00\x7e\x1f custom")  # custom block
        + block(0x0000000A, b"\x00" * 16)  # decryption secrets
        + epb(Record(b"two", T0 + 1000), iface)
    )
    frames, capture = read_all(data)
    assert [(f.number, f.data) for f in frames] == [(1, b"one"), (2, b"two")]
    assert capture.bytes_read == len(data)


def test_simple_packet_block_uses_interface_0_and_previous_timestamp() -> None:
    iface = Interface(linktype=RAW, snaplen=4, tsresol=9)
    data = (
        shb()
        + idb(iface)
        + spb(b"ab", 2)  # before any timestamp: 0
        + epb(Record(b"abcd", T0 + 5), iface)
        + spb(b"abcd", 10)  # snaplen 4 caps the captured bytes; orig_len stays
        + pb(Record(b"old", T0 + 9), iface)  # obsolete Packet Block
    )
    frames, _ = read_all(data)
    assert [(f.number, f.ts_ns, f.linktype, f.data, f.orig_len) for f in frames] == [
        (1, 0, RAW, b"ab", 2),
        (2, T0 + 5, RAW, b"abcd", 4),
        (3, T0 + 5, RAW, b"abcd", 10),
        (4, T0 + 9, RAW, b"old", 3),
    ]


def test_isb_drops_are_the_latest_per_interface_summed() -> None:
    data = pcapng_section([tcp()], interfaces=[Interface(), Interface()])
    data += isb(0, 5) + isb(1, 3) + isb(0, 7) + isb(1, None)
    frames, capture = read_all(data)
    assert len(frames) == 1
    assert capture.drops == 7 + 3


def test_drops_unknown_without_isb() -> None:
    _, capture = read_all(pcapng_section([tcp()]) + isb(0, None))
    assert capture.drops is None


@pytest.mark.parametrize("big_endian", [False, True])
def test_statistics_time_is_when_the_capture_stopped(big_endian: bool) -> None:
    ns = Interface(tsresol=9)
    data = pcapng_section([Record(bytes(tcp()), T0)], interfaces=[ns], big_endian=big_endian)
    data += isb(0, 0, big_endian=big_endian, units=T0 + 5_000_000_000)
    _, capture = read_all(data)
    assert capture.end_ns == T0 + 5_000_000_000


def test_dumpcap_statistics_in_microseconds_on_a_nanosecond_interface() -> None:
    # writecap/pcapio.c stamps ISBs with gettimeofday() microseconds whatever if_tsresol says.
    ns = Interface(tsresol=9)
    data = pcapng_section([Record(bytes(tcp()), T0)], interfaces=[ns])
    data += isb(0, 0, units=(T0 + 5_000_000_000) // 1000)
    _, capture = read_all(data)
    assert capture.end_ns == T0 + 5_000_000_000


@pytest.mark.parametrize("big_endian", [False, True])
def test_isb_endtime_is_when_the_capture_stopped(big_endian: bool) -> None:
    # A writer may leave the block's own time at 0 and say when it stopped in isb_endtime only;
    # dumpcap writes both, in microseconds (also on a nanosecond interface).
    data = pcapng_section([Record(bytes(tcp()), T0)], big_endian=big_endian)
    data += isb(0, 0, big_endian=big_endian, endtime=(T0 + 30_000_000_000) // 1000)
    _, capture = read_all(data)
    assert capture.end_ns == T0 + 30_000_000_000
    ns = Interface(tsresol=9)
    data = pcapng_section([Record(bytes(tcp()), T0)], interfaces=[ns], big_endian=big_endian)
    end_us = (T0 + 30_000_000_000) // 1000
    data += isb(0, 0, big_endian=big_endian, units=(T0 + 1_000) // 1000, endtime=end_us)
    _, capture = read_all(data)
    assert capture.end_ns == T0 + 30_000_000_000


def test_statistics_before_the_last_packet_say_nothing_of_the_end() -> None:
    data = pcapng_section([Record(bytes(tcp()), T0)])
    data += isb(0, 0, units=(T0 - 1_000_000_000) // 1000)
    _, capture = read_all(data)
    assert capture.end_ns is None
    _, without = read_all(pcapng_section([tcp()]))
    assert without.end_ns is None


def test_matches_scapy_written_and_read_file(tmp_path: Path) -> None:
    packets = [tcp(seq=i, payload=bytes(i * 3)) for i in range(10)]
    for i, packet in enumerate(packets):
        packet.time = EDecimal(f"1700000000.{i:03d}456")
    path = tmp_path / "scapy.pcapng"
    writer = PcapNgWriter(str(path))
    for packet in packets:
        writer.write(packet)
    writer.close()
    frames, capture = read_all(path.read_bytes())
    expected = rdpcap(str(path))
    assert capture.truncated is None
    assert [f.data for f in frames] == [bytes(p) for p in expected]
    assert [f.ts_ns for f in frames] == [int(p.time * 10**9) for p in expected]


@pytest.mark.parametrize("cut", [1, 7, 8, 20, 39])
def test_truncated_last_block_is_reported(cut: int) -> None:
    whole = pcapng_section([Record(b"first"), Record(b"second!!")])
    last = epb(Record(b"second!!"))
    start = len(whole) - len(last)
    frames, capture = read_all(whole[: start + cut])
    assert [f.data for f in frames] == [b"first"]
    wanted = 8 if cut < 8 else len(last)
    assert capture.truncated == TruncatedRecord(offset=start, wanted=wanted, got=cut)


def test_truncated_second_section_header_is_reported() -> None:
    whole = pcapng_section([b"x"]) + shb(big_endian=True)
    frames, capture = read_all(whole[:-6])
    assert len(frames) == 1
    assert capture.truncated is not None
    assert capture.truncated.offset == len(whole) - len(shb())


@pytest.mark.parametrize("length", [4, 7, 11, 20, 27])
def test_truncated_first_section_header_is_an_error(length: int) -> None:
    with pytest.raises(CaptureError, match="truncated pcapng section header") as err:
        opened(shb()[:length])
    assert err.value.offset == 0


@pytest.mark.parametrize("length", [13, 8, 0, 16 * 1024 * 1024 + 4, 0xFFFFFFFC], ids=lambda n: f"len{n}")
def test_impossible_block_length_is_an_error(length: int) -> None:
    head = shb() + idb(Interface())
    bad = block(6, bytes(24), total_length=length)
    with pytest.raises(CaptureError, match=f"impossible length {length}") as err:
        read_all(head + bad)
    assert err.value.offset == len(head)


def test_trailing_length_mismatch_is_an_error() -> None:
    head = shb() + idb(Interface())
    bad = block(6, bytes(24), trailing_length=40)
    with pytest.raises(CaptureError, match="trailing length 40 does not match") as err:
        read_all(head + bad)
    assert err.value.offset == len(head)


def test_section_header_with_bad_length_or_trailer_is_an_error() -> None:
    good = shb()
    short = good[:4] + struct.pack("<I", 24) + good[8:]
    with pytest.raises(CaptureError, match="impossible block length 24"):
        opened(short)
    mismatch = good[:-4] + struct.pack("<I", 32)
    with pytest.raises(CaptureError, match="trailing length does not match"):
        opened(mismatch)


def test_bad_byte_order_magic_and_version_are_errors() -> None:
    good = shb()
    with pytest.raises(CaptureError, match="bad byte-order magic 0x01020304"):
        opened(good[:8] + b"\x01\x02\x03\x04" + good[12:])
    with pytest.raises(CaptureError, match=r"unsupported pcapng version 2\.0"):
        opened(shb(major=2))


def test_epb_naming_an_undefined_interface_is_an_error() -> None:
    data = pcapng_section([Record(b"a")]) + epb(Record(b"b", interface=3))
    capture = opened(data)
    frames = capture.frames()
    assert next(frames).data == b"a"
    with pytest.raises(CaptureError, match="record 2: interface 3 not defined"):
        next(frames)


def test_packet_before_any_interface_is_an_error() -> None:
    with pytest.raises(CaptureError, match="record 1: interface 0 not defined"):
        read_all(shb() + spb(b"x"))
    with pytest.raises(CaptureError, match="record 1: interface 0 not defined"):
        read_all(shb() + epb(Record(b"x")))


def test_epb_caplen_beyond_its_block_is_an_error() -> None:
    iface = Interface()
    good = epb(Record(b"abcd"), iface)
    bad = good[:20] + struct.pack("<I", 200) + good[24:]
    with pytest.raises(CaptureError, match="record 1: caplen 200 exceeds its block"):
        read_all(shb() + idb(iface) + bad)


def test_blocks_too_short_for_their_type_are_errors() -> None:
    with pytest.raises(CaptureError, match="packet block type 6 too short"):
        read_all(shb() + idb(Interface()) + block(6, bytes(8)))
    with pytest.raises(CaptureError, match="interface description block too short"):
        read_all(shb() + block(1, bytes(4)))
    with pytest.raises(CaptureError, match="interface statistics block too short"):
        read_all(shb() + block(5, bytes(4)))
