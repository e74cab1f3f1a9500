"""How fast Python can walk a capture at all: the floors under pcapdiag's per-packet loop, in packets/s."""

from __future__ import annotations

import argparse
import resource
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pcapdiag.capture import open_capture
from pcapdiag.decode.fast import tcp_fields

_RECORD = struct.Struct("<IIII")
_HEADERS = struct.Struct("!12xHBxHHHBB2x4s4sHHIIBBH")  # Ethernet, IPv4 without options, TCP to the window


def minimal_loop(path: Path) -> int:
    """A pure-Python reader of a little-endian Ethernet pcap: 1 MiB blocks, record headers, frames
    sliced out, IPv4/TCP headers unpacked and each packet counted in a dict by its 4-tuple."""
    seen: dict[tuple[bytes, int, bytes, int], int] = {}
    packets = 0
    with path.open("rb") as f:
        f.read(24)
        buf, pos = b"", 0
        while more := f.read(1 << 20):
            buf, pos = buf[pos:] + more, 0
            end = len(buf)
            while pos + 16 <= end:
                _s, _f, caplen, _o = _RECORD.unpack_from(buf, pos)
                if pos + 16 + caplen > end:
                    break
                frame = buf[pos + 16 : pos + 16 + caplen]
                pos += 16 + caplen
                packets += 1
                if caplen >= 54:
                    fields = _HEADERS.unpack_from(frame)
                    if fields[0] == 0x0800 and fields[6] == 6:
                        key = (fields[7], fields[9], fields[8], fields[10])
                        seen[key] = seen.get(key, 0) + 1
    return packets


def records_only(path: Path) -> int:
    """pcapdiag's own reader (Capture.records()), and nothing done with the records."""
    with path.open("rb") as f:
        return sum(1 for _ in open_capture(f, str(path)).records())


def records_and_fields(path: Path) -> int:
    """pcapdiag's reader plus its one-call decoder of the common frame (decode.fast)."""
    n = 0
    with path.open("rb") as f:
        for record in open_capture(f, str(path)).records():
            tcp_fields(record[2], record[3])
            n += 1
    return n


def timed(what: str, run: Callable[[Path], int], path: Path) -> None:
    """Print one line: packets/s from CPU time (process_time) and wall time."""
    wall, cpu = time.perf_counter(), time.process_time()
    packets = run(path)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{what:46} {packets / cpu:>12,.0f} packets/s CPU  {packets / wall:>12,.0f} wall", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Command line: python bench/ceiling.py CAPTURE (a little-endian Ethernet pcap)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("capture", type=Path)
    args = ap.parse_args(argv)
    timed("minimal pure-Python loop (headers + dict)", minimal_loop, args.capture)
    timed("pcapdiag Capture.records()", records_only, args.capture)
    timed("pcapdiag Capture.records() + tcp_fields()", records_and_fields, args.capture)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run(["tcpdump", "-r", str(args.capture), "-w", "/dev/null"], check=True, capture_output=True)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    packets = records_only(args.capture)
    what = "tcpdump -r FILE -w /dev/null"
    print(f"{what:46} {packets / cpu:>12,.0f} packets/s CPU  {packets / wall:>12,.0f} wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
