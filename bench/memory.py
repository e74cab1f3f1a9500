"""Measure pcapdiag's peak RSS and speed under /usr/bin/time -v on generated captures, one run at a time."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gen

HERE = Path(__file__).resolve().parent
TAIL_BYTES = 1 << 20
"""How much of a JSON report's end is read to find its summary (it follows the flows)."""


@dataclass(frozen=True, slots=True)
class Spec:
    """A capture to generate: gen.py's kind, packet count, file format and link type."""

    kind: str
    packets: int
    fmt: str = "pcap"
    linktype: str = "ethernet"
    seed: int = 1
    connections: int = 20
    """long: how many connections."""
    options: tuple[str, ...] = ()
    """pcapdiag analyze options for this entry (e.g. another --max-flows)."""
    file: str | None = None
    """Share another entry's capture file (same kind, packets, format and link type)."""

    @property
    def suffix(self) -> str:
        return ".pcapng" if self.fmt == "pcapng" else ".pcap"


CAPTURES = {
    "long-1M": Spec("long", 1_000_000),
    "long-5M": Spec("long", 5_000_000),
    "synflood-1M": Spec("synflood", 1_000_000),
    "synflood-1M-cap100k": Spec("synflood", 1_000_000, options=("--max-flows", "100000"), file="synflood-1M"),
    "mix-1M": Spec("mix", 1_000_000),
    # Not in the default set (larger files, longer runs): pass --only to measure them.
    "synflood-5M": Spec("synflood", 5_000_000),
    "mix-5M": Spec("mix", 5_000_000),
    "long-1M-sll2-pcapng": Spec("long", 1_000_000, "pcapng", "sll2"),
    "synflood-200k": Spec("synflood", 200_000),
    "long-10k-conns": Spec("long", 1_300_000, connections=10_000),
    "mix-200k": Spec("mix", 200_000),
}
DEFAULT = ("long-1M", "long-5M", "synflood-1M", "synflood-1M-cap100k", "mix-1M")


def freeze_analyzer(dest: Path) -> tuple[list[str], dict[str, str]]:
    """Copy analyzer/pcapdiag as it is now into ``dest`` and run that copy: others edit the tree meanwhile."""
    root = HERE.parent
    shutil.copytree(
        root / "analyzer" / "pcapdiag", dest / "pcapdiag", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {"PYTHONPATH": str(dest)}
    return [sys.executable, "-m", "pcapdiag"], env


def analyzer_state(pcapdiag: list[str], env: dict[str, str]) -> dict[str, str]:
    """What was measured: the analyzer's commit, uncommitted changes under analyzer/, --max-flows default."""
    root = HERE.parent

    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
        return proc.stdout

    dirty = git("status", "--porcelain", "--", "analyzer")
    helptext = subprocess.run(
        [*pcapdiag, "analyze", "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )
    cap = re.search(r"--max-flows.*?default:\s*(\d+)", helptext.stdout, re.S)
    return {
        "commit": git("rev-parse", "--short", "HEAD").strip() or "unknown",
        "analyzer_uncommitted": ", ".join(line[3:] for line in dirty.splitlines() if line) or "none",
        "max_flows_default": cap.group(1) if cap else "unknown",
    }


@dataclass(slots=True)
class Measurement:
    """One pcapdiag run under /usr/bin/time -v."""

    name: str
    packets: int
    file_mb: float
    rss_mb: float
    seconds: float
    cpu_seconds: float
    exit_status: int
    summary: dict[str, object] = field(default_factory=dict)
    """The JSON report's summary (from a second run that keeps the report)."""
    summary_rss_mb: float | None = None
    """Peak RSS of that second run (a repeat measurement)."""
    expected: dict[str, int] = field(default_factory=dict)
    """mix: connections the generator completed, by the label they should get."""
    load: float = 0.0
    """The machine's 1-minute load average when the timed run started (other work slows it down)."""

    @property
    def packets_per_s(self) -> float:
        return self.packets / self.seconds if self.seconds else 0.0


def ensure_capture(name: str, spec: Spec, out_dir: Path, regenerate: bool) -> tuple[Path, dict[str, object]]:
    """The capture file for ``spec``, generated unless an identical one (per its .meta.json) exists."""
    path = out_dir / f"{spec.file or name}{spec.suffix}"
    meta_path = Path(str(path) + ".meta.json")
    if path.exists() and meta_path.exists() and not regenerate:
        meta: dict[str, object] = json.loads(meta_path.read_text())
        wanted = {
            "generator_version": gen.GENERATOR_VERSION,
            "kind": spec.kind,
            "packets": spec.packets,
            "format": spec.fmt,
            "linktype": spec.linktype,
            "seed": spec.seed,
            "connections": spec.connections if spec.kind == "long" else None,
        }
        if all(meta.get(k) == v for k, v in wanted.items()):
            print(f"reusing {path}", file=sys.stderr)
            return path, meta
    print(f"generating {path} ({spec.kind}, {spec.packets} packets) ...", file=sys.stderr, flush=True)
    meta = gen.generate(
        spec.kind, path, spec.packets, spec.fmt, spec.linktype, spec.seed, connections=spec.connections
    )
    print(f"  {meta['bytes']} bytes in {meta['generate_seconds']} s", file=sys.stderr)
    return path, meta


def _time_v(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, int, str]:
    """Run ``argv`` under /usr/bin/time -v: (peak RSS MB, wall s, CPU s, exit status, its own stderr)."""
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *argv], capture_output=True, text=True, check=False, env={**os.environ, **env}
    )
    err = proc.stderr
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", err)
    user = re.search(r"User time \(seconds\): ([\d.]+)", err)
    system = re.search(r"System time \(seconds\): ([\d.]+)", err)
    status = re.search(r"Exit status: (\d+)", err)
    if not (rss and wall and user and system and status):
        raise RuntimeError(f"no /usr/bin/time -v figures in:\n{err}")
    seconds = 0.0
    for part in wall.group(1).split(":"):
        seconds = seconds * 60 + float(part)
    own = err[: err.find("\tCommand being timed:")].strip()
    cpu = float(user.group(1)) + float(system.group(1))
    return int(rss.group(1)) / 1024, seconds, cpu, int(status.group(1)), own


def read_summary(report: Path) -> dict[str, object]:
    """The "summary" object of a --format json report, read from the file's end."""
    size = report.stat().st_size
    with open(report, "rb") as f:
        f.seek(max(0, size - TAIL_BYTES))
        tail = f.read().decode("utf-8", "replace")
    at = tail.rfind('"summary": ')
    if at < 0:
        raise RuntimeError(f"{report}: no summary in its last {TAIL_BYTES} bytes")
    summary, _ = json.JSONDecoder().raw_decode(tail, at + len('"summary": '))
    assert isinstance(summary, dict)
    return summary


def measure(
    name: str,
    capture: Path,
    meta: dict[str, object],
    pcapdiag: list[str],
    env: dict[str, str],
    extra: list[str],
    summary: bool,
) -> Measurement:
    """Time one capture (report to /dev/null), then (``summary``) again keeping the report for its counts."""
    base = [*pcapdiag, "analyze", str(capture), "--format", "json", *extra]
    shown = " ".join(f"{k}={v}" for k, v in env.items())
    print(f"measuring {name}: {shown} {' '.join(base)} -o /dev/null", file=sys.stderr, flush=True)
    load = os.getloadavg()[0]
    rss, seconds, cpu, status, own = _time_v([*base, "-o", os.devnull], env)
    if status not in (0, 1):
        raise RuntimeError(f"pcapdiag failed on {capture} (exit {status}): {own}")
    packets = meta["packets"]
    assert isinstance(packets, int)
    m = Measurement(
        name=name,
        packets=packets,
        file_mb=capture.stat().st_size / 1e6,
        rss_mb=rss,
        seconds=seconds,
        cpu_seconds=cpu,
        exit_status=status,
        load=load,
    )
    expected = meta.get("expected_labels")
    completed = meta.get("completed")
    if isinstance(expected, dict) and isinstance(completed, dict):
        for scenario, n in completed.items():
            label = str(expected.get(scenario, scenario))
            m.expected[label] = m.expected.get(label, 0) + int(n)
    if summary:
        report = capture.with_name(capture.name + ".report.json")
        m.summary_rss_mb, _, _, status, own = _time_v([*base, "-o", str(report)], env)
        if status not in (0, 1):
            raise RuntimeError(f"pcapdiag failed on {capture} (exit {status}): {own}")
        m.summary = read_summary(report)
        report.unlink()
    speed = f"{m.seconds:.1f} s, {m.packets_per_s:,.0f} packets/s"
    print(f"  {m.rss_mb:.1f} MB peak RSS, {speed}", file=sys.stderr)
    return m


def _labels(m: Measurement) -> str:
    by_label = m.summary.get("by_label")
    if not isinstance(by_label, dict):
        return "-"
    return ", ".join(f"{k} {v}" for k, v in sorted(by_label.items(), key=lambda kv: -int(kv[1])))


def table(results: list[Measurement]) -> str:
    """The results as a Markdown table."""
    rows = [
        "| capture | packets | file MB | peak RSS MB | seconds | CPU s | packets/s | load | labels "
        "| untracked_connections |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for m in results:
        untracked = m.summary.get("untracked_connections", "-")
        rows.append(
            f"| {m.name} | {m.packets:,} | {m.file_mb:,.0f} | {m.rss_mb:.1f} | {m.seconds:.1f} "
            f"| {m.cpu_seconds:.1f} | {m.packets_per_s:,.0f} | {m.load:.1f} | {_labels(m)} | {untracked} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Command line: python bench/memory.py [--only NAME ...] [--regenerate] [-- PCAPDIAG-ARGS]."""
    ap = argparse.ArgumentParser(description=__doc__)
    default = " ".join(DEFAULT)
    ap.add_argument("--only", nargs="+", choices=tuple(CAPTURES), help=f"captures (default: {default})")
    ap.add_argument("--out", type=Path, default=HERE / "out", help="where captures go (git-ignored)")
    ap.add_argument("--regenerate", action="store_true", help="write the captures even if they exist")
    ap.add_argument("--no-summary", action="store_true", help="skip the second run that reads the counts")
    ap.add_argument(
        "--live",
        action="store_true",
        help="run the installed pcapdiag (default: a copy of analyzer/pcapdiag frozen when the run starts)",
    )
    ap.add_argument("--results", type=Path, help="also write the measurements here as JSON")
    ap.add_argument("extra", nargs="*", help="pcapdiag analyze options after --, e.g. -- --max-flows 50000")
    args = ap.parse_args(argv)
    if not Path("/usr/bin/time").exists():
        print("bench/memory.py needs GNU time as /usr/bin/time (apt-get install time)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    env: dict[str, str] = {}
    installed = shutil.which("pcapdiag")
    pcapdiag = [installed] if installed else [sys.executable, "-m", "pcapdiag"]
    frozen = Path(tempfile.mkdtemp(prefix="pcapdiag-bench-"))
    try:
        if not args.live:
            pcapdiag, env = freeze_analyzer(frozen)
        return run(args, pcapdiag, env)
    finally:
        shutil.rmtree(frozen)


def run(args: argparse.Namespace, pcapdiag: list[str], env: dict[str, str]) -> int:
    """Measure every capture asked for and print the table."""
    state = analyzer_state(pcapdiag, env)
    state["ran"] = "a copy of analyzer/pcapdiag frozen at the start" if env else " ".join(pcapdiag)
    results = []
    for name in args.only or DEFAULT:
        spec = CAPTURES[name]
        capture, meta = ensure_capture(name, spec, args.out, args.regenerate)
        options = [*spec.options, *args.extra]
        results.append(measure(name, capture, meta, pcapdiag, env, options, not args.no_summary))
    stamp = time.strftime("%Y-%m-%d %H:%M %Z")
    extra = " ".join(args.extra) or "no extra options"
    print(f"\n{stamp}, {os.cpu_count()} cores, Python {platform.python_version()}, pcapdiag {extra}")
    print(f"analyzer at {state['commit']} (uncommitted under analyzer/: {state['analyzer_uncommitted']}), "
          f"--max-flows default {state['max_flows_default']}")  # fmt: skip
    print(table(results))
    for m in results:
        if m.expected:
            print(f"\n{m.name}: labels the generator intended (completed connections): {m.expected}")
    if args.results:
        doc = [{**asdict(m), "packets_per_s": round(m.packets_per_s)} for m in results]
        info = {"date": stamp, "cores": os.cpu_count(), "options": args.extra, **state}
        args.results.write_text(json.dumps({**info, "results": doc}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
