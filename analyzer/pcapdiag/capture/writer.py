"""Bytes of capture files to write (classic pcap, nanosecond, or pcapng for several link types).

Pure functions: the caller (the CLI) writes what they return, so evidence extracted from a capture
opens in Wireshark and in pcapdiag itself.
"""

from __future__ import annotations

import struct

from pcapdiag.capture.frame import Frame

PCAP_NSEC_MAGIC = 0xA1B23C4D  # pcap with nanosecond timestamps (libpcap 1.5+, Wireshark)
SNAPLEN = 262144  # tcpdump's default snaplen
_PCAP_HEADER = struct.Struct("<IHHiIII")
_PCAP_RECORD = struct.Struct("<IIII")

# pcapng (draft-ietf-opsawg-pcapng): section header, interface description, enhanced packet.
SHB_TYPE = 0x0A0D0D0A
IDB_TYPE = 0x00000001
EPB_TYPE = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_IF_TSRESOL = 9  # if_tsresol: 9 = nanoseconds


def pcap_header(linktype: int) -> bytes:
    """A little-endian, nanosecond pcap file header for one link type."""
    return _PCAP_HEADER.pack(PCAP_NSEC_MAGIC, 2, 4, 0, 0, SNAPLEN, linktype)


def pcap_record(frame: Frame, data: bytes | None = None) -> bytes:
    """One pcap record for ``frame`` (with ``data`` instead of its bytes, same length, if given)."""
    body = frame.data if data is None else data
    secs, nsec = divmod(frame.ts_ns, 1_000_000_000)
    return _PCAP_RECORD.pack(secs & 0xFFFFFFFF, nsec, len(body), max(frame.orig_len, len(body))) + body


def _block(block_type: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def pcapng_header(linktypes: list[int]) -> bytes:
    """A section header and one interface (nanosecond timestamps) per link type, in order."""
    out = _block(SHB_TYPE, struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1))
    tsresol = struct.pack("<HHB", OPT_IF_TSRESOL, 1, 9) + b"\0\0\0" + struct.pack("<HH", 0, 0)
    for lt in linktypes:
        out += _block(IDB_TYPE, struct.pack("<HHI", lt, 0, SNAPLEN) + tsresol)
    return out


def pcapng_record(frame: Frame, interface: int, data: bytes | None = None) -> bytes:
    """One enhanced packet block for ``frame`` on ``interface`` (nanosecond units)."""
    body = frame.data if data is None else data
    ts = frame.ts_ns & 0xFFFFFFFFFFFFFFFF
    head = struct.pack(
        "<IIIII", interface, ts >> 32, ts & 0xFFFFFFFF, len(body), max(frame.orig_len, len(body))
    )
    return _block(EPB_TYPE, head + body)
