"""Write the reproducer of quadratic reassembly: a connection whose N one-byte segments come out of order."""

from __future__ import annotations

import argparse
import struct

CLIENT = (b"\x0a\x00\x00\x01", 40000)
SERVER = (b"\x0a\x00\x00\x02", 443)


def frame(seq: int, ack: int, flags: int, payload: bytes = b"", to_server: bool = True) -> bytes:
    """An Ethernet/IPv4/TCP frame between CLIENT and SERVER (checksums left zero)."""
    (src, sport), (dst, dport) = (CLIENT, SERVER) if to_server else (SERVER, CLIENT)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, dst) + tcp
    return bytes(12) + b"\x08\x00" + ip


def reordered_capture(n: int) -> bytes:
    """Handshake, then client bytes 1..n one per segment, then byte 0: everything waits for the last."""
    frames = [frame(1000, 0, 0x02), frame(5000, 1001, 0x12, to_server=False), frame(1001, 5001, 0x10)]
    frames += [frame(1001 + off, 5001, 0x18, b"x") for off in [*range(1, n + 1), 0]]
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i, f in enumerate(frames):
        out += struct.pack("<IIII", 1_700_000_000, i, len(f), len(f)) + f
    return bytes(out)


def main() -> None:
    """python fuzz/make_reordered_capture.py N OUT.pcap"""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("segments", type=int, help="one-byte segments held out of order (e.g. 64000)")
    p.add_argument("output", help="pcap file to write")
    args = p.parse_args()
    with open(args.output, "wb") as f:
        f.write(reordered_capture(args.segments))


if __name__ == "__main__":
    main()
