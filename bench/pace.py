"""Write a capture into pcapdiag's stdin at a fixed packet rate, as tcpdump -U would; print its lag."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from memory import freeze_analyzer

PCAP_MAGIC_USEC = 0xA1B2C3D4
F_SETPIPE_SZ = 1031
PIPE_BYTES = 1 << 20
"""The pipe's buffer (Linux's default pipe-max-size): about 1,400 packets of mix."""
TICK_S = 0.005
"""The writer hands over what is due every 5 ms (tcpdump -U flushes each packet as it comes)."""
CHECKPOINTS = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True, slots=True)
class Paced:
    """One paced run: the rate asked for, the rate the reader allowed, and the lag at each quarter."""

    capture: str
    packets: int
    rate_pps: int
    achieved_pps: float
    lag_s: tuple[float, ...]
    """How late the writer was at 25/50/75/100% of the packets: the reader's backlog (the pipe was full)."""
    drain_s: float
    """From when the last packet was due to pcapdiag's exit (final decisions and report included)."""
    exit_status: int

    @property
    def keeps_up(self) -> bool:
        """The writer never fell behind by more than a few ticks, and the backlog did not grow."""
        return max(self.lag_s) < 0.25


def load(path: Path, limit: int, rate: int) -> tuple[bytes, list[int]]:
    """The first ``limit`` records of a pcap, retimed to ``rate`` packets/s, and each record's end offset."""
    with path.open("rb") as f:
        header = f.read(24)
        (magic,) = struct.unpack("<I", header[:4])
        if magic != PCAP_MAGIC_USEC:
            raise SystemExit(f"{path}: pace.py replays little-endian microsecond pcap files (bench/gen.py's)")
        out = bytearray(header)
        ends: list[int] = []
        start = 1_800_000_000 * 1_000_000
        while len(ends) < limit:
            rec = f.read(16)
            if len(rec) < 16:
                break
            _, _, caplen, orig = struct.unpack("<IIII", rec)
            data = f.read(caplen)
            us = start + len(ends) * 1_000_000 // rate
            out += struct.pack("<IIII", us // 1_000_000, us % 1_000_000, caplen, orig)
            out += data
            ends.append(len(out))
    return bytes(out), ends


def pace(capture: Path, rate: int, packets: int, cmd: list[str], env: dict[str, str]) -> Paced:
    """Feed ``packets`` records at ``rate`` packets/s into ``cmd`` (reading stdin) and measure its lag."""
    blob, ends = load(capture, packets, rate)
    proc = subprocess.Popen(
        [*cmd, "analyze", "-", "--format", "jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdin is not None
    fd = proc.stdin.fileno()
    fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES)
    os.write(fd, blob[:24])
    lags: list[float] = []
    marks = [int(len(ends) * q) - 1 for q in CHECKPOINTS]
    sent = 0
    offset = 24
    chunk = max(1, int(rate * TICK_S))
    t0 = time.monotonic()
    while sent < len(ends):
        now = time.monotonic()
        # At most one tick's packets per write, so a checkpoint's lag is read when its packet went in.
        due = min(len(ends), int((now - t0) * rate) + 1, sent + chunk)
        if due > sent:
            end = ends[due - 1]
            view = memoryview(blob)[offset:end]
            while view:
                view = view[os.write(fd, view) :]
            for m in marks[len(lags) :]:
                if m < due:
                    # Packet m was due at t0 + m/rate; the write of it returned only now.
                    lags.append(max(0.0, time.monotonic() - (t0 + m / rate)))
            sent, offset = due, end
        else:
            time.sleep(max(0.0, min(TICK_S, t0 + sent / rate - now)))
    last_due = t0 + (len(ends) - 1) / rate
    written = time.monotonic()
    proc.stdin.close()
    status = proc.wait()
    done = time.monotonic()
    return Paced(
        capture=capture.name,
        packets=len(ends),
        rate_pps=rate,
        achieved_pps=len(ends) / max(written - t0, 1e-9),
        lag_s=tuple(round(x, 3) for x in lags),
        drain_s=round(done - last_due, 3),
        exit_status=status,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("capture", type=Path, help="a classic pcap, e.g. bench/out/mix-1M.pcap")
    ap.add_argument(
        "--rate", type=int, action="append", help="packets/s (repeat for several runs; default 300000)"
    )
    ap.add_argument("--seconds", type=float, default=10.0, help="how long each run writes (default 10)")
    ap.add_argument("--live", action="store_true", help="run the installed pcapdiag, not a frozen copy")
    ap.add_argument("--results", type=Path, help="also write the runs here as JSON")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.live:
            cmd, env = [sys.executable, "-m", "pcapdiag"], dict(os.environ)
        else:
            cmd, env = freeze_analyzer(Path(tmp))
        runs = []
        print(
            "| rate asked (packets/s) | packets | rate reached | lag at 25/50/75/100% (s) "
            "| done after last packet (s) | keeps up |"
        )
        print("|---:|---:|---:|---|---:|---|")
        for rate in args.rate or [300_000]:
            r = pace(args.capture, rate, int(rate * args.seconds), cmd, env)
            runs.append(r)
            lags = " / ".join(f"{x:.2f}" for x in r.lag_s)
            print(
                f"| {r.rate_pps:,} | {r.packets:,} | {r.achieved_pps:,.0f} | {lags} | {r.drain_s:.2f} | "
                f"{'yes' if r.keeps_up else 'no'} |",
                flush=True,
            )
            if r.exit_status not in (0, 1):
                print(f"pcapdiag exited with {r.exit_status}", file=sys.stderr)
    if args.results:
        args.results.write_text(
            json.dumps([asdict(r) | {"keeps_up": r.keeps_up} for r in runs], indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
