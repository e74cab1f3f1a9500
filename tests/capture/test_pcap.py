"""Classic pcap: both byte orders, µs and ns, snaplen rules, truncation and every container error."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from scapy.utils import EDecimal, rdpcap, wrpcap

from builders import Record, pcap_bytes, pcap_header, pcap_record, tcp, write_pcap
from pcapdiag.capture import CaptureError, Frame, TruncatedRecord, open_capture

T0 = 1_700_000_000_000_000_000


def read_all(data: bytes) -> tuple[list[Frame], TruncatedRecord | None]:
    capture = open_capture(io.BytesIO(data), "test")
    frames = list(capture.frames())
    return frames, capture.truncated


@pytest.mark.parametrize("big_endian", [False, True], ids=["little", "big"])
@pytest.mark.parametrize(
    ("nsec", "fmt", "stamps"),
    [
        (False, "pcap", [T0 + 1_000, T0 + 999_999_000, T0 + 5_000_000_000]),
        (True, "pcap-nsec", [T0 + 1, T0 + 999_999_999, T0 + 5_000_000_123]),
    ],
    ids=["usec", "nsec"],
)
def test_reads_exact_timestamps_in_each_variant(
    tmp_path: Path, nsec: bool, fmt: str, stamps: list[int], big_endian: bool
) -> None:
    packets = [Record(bytes(tcp(seq=i, payload=b"x" * i)), ts) for i, ts in enumerate(stamps)]
    path = write_pcap(tmp_path / "a.pcap", packets, nsec=nsec, big_endian=big_endian)
    with path.open("rb") as stream:
        capture = open_capture(stream, str(path))
        frames = list(capture.frames())
    assert capture.format == fmt
    assert capture.link_types == {1}
    assert capture.truncated is None
    assert capture.drops is None
    assert capture.bytes_read == path.stat().st_size
    assert [f.number for f in frames] == [1, 2, 3]
    assert [f.ts_ns for f in frames] == stamps
    assert [f.data for f in frames] == [p.data for p in packets]
    assert [f.orig_len for f in frames] == [len(p.data) for p in packets]
    assert {(f.linktype, f.interface) for f in frames} == {(1, 0)}


def test_matches_scapy_written_and_read_file(tmp_path: Path) -> None:
    """scapy's own writer and reader are the oracle for bytes, lengths and nanosecond stamps."""
    packets = [tcp(seq=i, payload=bytes(i * 7)) for i in range(20)]
    for i, packet in enumerate(packets):
        packet.time = EDecimal(f"1700000000.{i:03d}456789")
    path = tmp_path / "scapy.pcap"
    wrpcap(str(path), packets, nano=True)
    frames, truncated = read_all(path.read_bytes())
    expected = rdpcap(str(path))
    assert truncated is None
    assert [f.data for f in frames] == [bytes(p) for p in expected]
    assert [f.orig_len for f in frames] == [p.wirelen or len(p) for p in expected]
    assert [f.ts_ns for f in frames] == [int(p.time * 10**9) for p in expected]


def test_orig_len_is_kept_when_snaplen_cut_the_packet() -> None:
    packet = bytes(tcp(payload=bytes(500)))
    frames, _ = read_all(pcap_bytes([Record(packet[:96], orig_len=len(packet))], snaplen=96))
    assert frames[0].data == packet[:96]
    assert frames[0].orig_len == len(packet)


@pytest.mark.parametrize("raw_linktype", [0x04000001, 0x44000001, 0xF0000001])
def test_fcs_bits_are_masked_off_the_linktype(raw_linktype: int) -> None:
    frames, _ = read_all(pcap_bytes([tcp()], linktype=raw_linktype))
    assert frames[0].linktype == 1


@pytest.mark.parametrize("snaplen", [0, 300_000, 0xFFFFFFFF])
def test_insane_snaplen_means_the_262144_maximum(snaplen: int) -> None:
    frames, _ = read_all(pcap_bytes([Record(bytes(70_000))], snaplen=snaplen))
    assert len(frames[0].data) == 70_000


def test_empty_capture_after_header_has_no_frames() -> None:
    frames, truncated = read_all(pcap_header())
    assert frames == []
    assert truncated is None


@pytest.mark.parametrize("cut", [1, 15, 16, 17, 40])
def test_truncated_last_record_is_reported_not_raised(cut: int) -> None:
    first, last = Record(bytes(tcp(seq=1))), Record(bytes(tcp(seq=2, payload=b"abc")))
    whole = pcap_bytes([first, last])
    last_start = 24 + 16 + len(first.data)
    frames, truncated = read_all(whole[: last_start + cut])
    assert [f.data for f in frames] == [first.data]
    wanted = 16 if cut < 16 else 16 + len(last.data)
    assert truncated == TruncatedRecord(offset=last_start, wanted=wanted, got=cut)


def test_caplen_above_snaplen_is_an_error_naming_the_record() -> None:
    data = pcap_bytes([Record(bytes(90)), Record(bytes(100))], snaplen=96)
    with pytest.raises(CaptureError, match="record 2: caplen 100 exceeds snaplen 96") as err:
        read_all(data)
    assert err.value.offset == 24 + 16 + 90


def test_caplen_above_256k_is_an_error_before_reading_it() -> None:
    header = struct.pack("<IIII", 1, 0, 300_000, 300_000)
    with pytest.raises(CaptureError, match="record 1: caplen 300000 exceeds the 262144") as err:
        read_all(pcap_header(snaplen=0) + header)
    assert err.value.offset == 24


@pytest.mark.parametrize("length", [4, 5, 23])
def test_truncated_file_header_is_an_error(length: int) -> None:
    with pytest.raises(CaptureError, match=f"truncated pcap file header \\({length} of 24") as err:
        read_all(pcap_header()[:length])
    assert err.value.offset == 0


def test_records_big_endian_nsec_round_trip_through_record_helper() -> None:
    record = Record(b"\x01\x02", ts_ns=T0 + 7)
    data = pcap_header(nsec=True, big_endian=True) + pcap_record(record, nsec=True, big_endian=True)
    frames, _ = read_all(data)
    assert (frames[0].ts_ns, frames[0].data) == (T0 + 7, b"\x01\x02")
