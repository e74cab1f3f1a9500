"""Time pcapdiag against tshark on one capture (median of 3, /usr/bin/time -v) and check its labels."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from memory import CAPTURES, HERE, _time_v, analyzer_state, ensure_capture, freeze_analyzer

NO_FAST_PATH = "PCAPDIAG_NO_FAST_PATH"
"""Environment variable that makes pcapdiag take its general per-packet path for every packet."""
TSHARK_FIELDS = ["-T", "fields", "-e", "tcp.stream", "-e", "tcp.flags", "-e", "tcp.analysis.retransmission"]


@dataclass(slots=True)
class Tool:
    """One command timed on the capture, and its runs."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def median_rss_mb(self) -> float:
        return statistics.median(self.rss_mb)


@dataclass(slots=True)
class Comparison:
    """Every tool's runs on one capture, and whether the fast path gave the same report."""

    capture: str
    packets: int
    file_mb: float
    tools: list[Tool]
    labels_identical: bool | None = None
    """None when the check was skipped (--no-verify)."""
    reports_identical: bool | None = None
    """Every flow object (and the summary) equal, not only the labels."""
    by_label: dict[str, int] = field(default_factory=dict)
    difference: str = ""
    load: list[float] = field(default_factory=list)
    """1-minute load average before each round (other work on the machine slows every tool)."""


def _load_report(path: Path) -> dict[str, object]:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    assert isinstance(doc, dict)
    return doc


def _flows(doc: dict[str, object]) -> list[dict[str, object]]:
    flows = doc["flows"]
    assert isinstance(flows, list)
    return flows


def verify(capture: Path, pcapdiag: list[str], env: dict[str, str], extra: list[str]) -> Comparison:
    """Run pcapdiag with and without its fast path and compare the two JSON reports."""
    base = [*pcapdiag, "analyze", str(capture), "--format", "json", *extra]
    with tempfile.TemporaryDirectory(prefix="pcapdiag-compare-") as tmp:
        fast, slow = Path(tmp) / "fast.json", Path(tmp) / "slow.json"
        print(f"verifying labels on {capture}: with and without the fast path", file=sys.stderr, flush=True)
        for path, run_env in ((fast, env), (slow, {**env, NO_FAST_PATH: "1"})):
            _, seconds, _, status, own = _time_v([*base, "-o", str(path)], run_env)
            if status not in (0, 1):
                raise RuntimeError(f"pcapdiag failed on {capture} (exit {status}): {own}")
            what = "without" if NO_FAST_PATH in run_env else "with"
            print(f"  {what} the fast path: {seconds:.1f} s", file=sys.stderr, flush=True)
        a, b = _load_report(fast), _load_report(slow)
    captures = a["captures"]
    summary = a["summary"]
    assert isinstance(captures, list) and isinstance(summary, dict)
    result = Comparison(
        capture=str(capture),
        packets=sum(int(c["packets"]) for c in captures),
        file_mb=capture.stat().st_size / 1e6,
        tools=[],
        by_label=dict(summary["by_label"]),
    )
    fa, fb = _flows(a), _flows(b)
    labels_a = [(f["id"], f["label"]) for f in fa]
    labels_b = [(f["id"], f["label"]) for f in fb]
    result.labels_identical = labels_a == labels_b and summary == b["summary"]
    result.reports_identical = fa == fb and summary == b["summary"] and captures == b["captures"]
    if not result.reports_identical:
        for x, y in zip(fa, fb, strict=False):
            if x != y:
                keys = sorted(k for k in x if x.get(k) != y.get(k))
                result.difference = f"flow {x.get('id')}: {', '.join(keys)} differ"
                break
        else:
            result.difference = f"{len(fa)} flows with the fast path, {len(fb)} without (or summary/captures)"
    return result


def run_rounds(result: Comparison, runs: int) -> None:
    """Time every tool ``runs`` times, interleaved (a slow spell on the machine hits all of them)."""
    for i in range(runs):
        result.load.append(os.getloadavg()[0])
        for tool in result.tools:
            rss, seconds, cpu, status, own = _time_v(tool.argv, tool.env)
            if status not in (0, 1):
                raise RuntimeError(f"{tool.name} failed (exit {status}): {own}")
            tool.seconds.append(seconds)
            tool.rss_mb.append(rss)
            tool.cpu_seconds.append(cpu)
            pps = result.packets / seconds
            print(
                f"  round {i + 1}: {tool.name:<22} {seconds:6.2f} s {pps:>10,.0f} packets/s {rss:8.1f} MB",
                file=sys.stderr,
                flush=True,
            )


def table(result: Comparison) -> str:
    """The medians as a Markdown table; the ratio is pcapdiag's packets/s over the tool's."""
    pcapdiag = result.tools[0]
    rows = [
        "| tool | median s | packets/s | peak RSS MB | runs (s) | pcapdiag speed ratio |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for tool in result.tools:
        runs = ", ".join(f"{s:.2f}" for s in tool.seconds)
        ratio = tool.median_s / pcapdiag.median_s
        rows.append(
            f"| {tool.name} | {tool.median_s:.2f} | {result.packets / tool.median_s:,.0f} "
            f"| {tool.median_rss_mb:.1f} | {runs} | {ratio:.2f}x |"
        )
    return "\n".join(rows)


def report(result: Comparison) -> str:
    """Everything about one capture, printable."""
    lines = [f"{result.capture}: {result.packets:,} packets, {result.file_mb:,.0f} MB"]
    if result.labels_identical is not None:
        same = "identical" if result.labels_identical else "DIFFERENT"
        whole = "identical" if result.reports_identical else f"different ({result.difference})"
        lines.append(f"labels with and without the fast path: {same}; whole reports: {whole}")
        lines.append("labels: " + ", ".join(f"{k} {v}" for k, v in sorted(result.by_label.items())))
    loads = ", ".join(f"{x:.1f}" for x in result.load)
    lines.append(f"load average before each round: {loads}")
    lines.append(table(result))
    return "\n".join(lines)


def export_commit(commit: str, dest: Path) -> dict[str, str]:
    """analyzer/pcapdiag as it was at ``commit``, written under ``dest``: the PYTHONPATH to run it."""
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(HERE.parent), "archive", commit, "analyzer/pcapdiag"],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return {"PYTHONPATH": str(dest / "analyzer")}


def resolve(name: str, out_dir: Path) -> tuple[Path, int | None]:
    """A capture path, or a name from bench/memory.py's list (generated into ``out_dir`` if missing)."""
    if name in CAPTURES:
        path, meta = ensure_capture(name, CAPTURES[name], out_dir, regenerate=False)
        packets = meta.get("packets")
        return path, packets if isinstance(packets, int) else None
    return Path(name), None


def main(argv: list[str] | None = None) -> int:
    """Command line: python bench/compare.py [CAPTURE ...] [--runs 3] [--results F] [-- PCAPDIAG-ARGS]."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "captures",
        nargs="*",
        default=["mix-1M"],
        help="paths, or names from bench/memory.py (default mix-1M)",
    )
    ap.add_argument("--out", type=Path, default=HERE / "out", help="where named captures are (git-ignored)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each tool (default 3)")
    ap.add_argument("--no-verify", action="store_true", help="skip the with/without fast path label check")
    ap.add_argument("--no-tshark", action="store_true", help="time pcapdiag only")
    ap.add_argument("--no-fields", action="store_true", help="leave out tshark's field extraction")
    ap.add_argument("--live", action="store_true", help="run the installed pcapdiag, not a frozen copy")
    ap.add_argument(
        "--against",
        metavar="COMMIT",
        action="append",
        default=[],
        help="also time the analyzer as it was at COMMIT (git archive), interleaved (repeatable)",
    )
    ap.add_argument("--results", type=Path, help="also write the measurements here as JSON")
    ap.add_argument("--markdown", type=Path, help="also write the tables here")
    ap.add_argument("extra", nargs="*", help="pcapdiag analyze options after --")
    args = ap.parse_args(argv)
    if not Path("/usr/bin/time").exists():
        print("bench/compare.py needs GNU time as /usr/bin/time (apt-get install time)", file=sys.stderr)
        return 2
    tshark = shutil.which("tshark")
    if tshark is None and not args.no_tshark:
        print("bench/compare.py needs tshark (or --no-tshark)", file=sys.stderr)
        return 2
    frozen = Path(tempfile.mkdtemp(prefix="pcapdiag-compare-"))
    try:
        if args.live:
            installed = shutil.which("pcapdiag")
            pcapdiag = [installed] if installed else [sys.executable, "-m", "pcapdiag"]
            env: dict[str, str] = {}
        else:
            pcapdiag, env = freeze_analyzer(frozen)
        state = analyzer_state(pcapdiag, env)
        older = [(commit, export_commit(commit, frozen / commit)) for commit in args.against]
        results = []
        for name in args.captures:
            capture, packets = resolve(name, args.out)
            if args.no_verify:
                if packets is None:
                    print(f"{capture}: no .meta.json with its packet count; verify instead", file=sys.stderr)
                    return 2
                result = Comparison(str(capture), packets, capture.stat().st_size / 1e6, [])
            else:
                result = verify(capture, pcapdiag, env, args.extra)
            analyze = [*pcapdiag, "analyze", str(capture), "--format", "json", *args.extra, "-o", os.devnull]
            result.tools.append(Tool("pcapdiag", analyze, env))
            for commit, old_env in older:
                result.tools.append(Tool(f"pcapdiag at {commit}", analyze, old_env))
            if tshark is not None and not args.no_tshark:
                # tshark writes to stdout: a shell sends it to /dev/null, as the command line does.
                conv = f"{tshark} -r {capture} -q -z conv,tcp > /dev/null"
                fields = f"{tshark} -r {capture} {' '.join(TSHARK_FIELDS)} > /dev/null"
                result.tools.append(Tool("tshark -z conv,tcp", ["sh", "-c", conv]))
                if not args.no_fields:
                    result.tools.append(Tool("tshark -T fields", ["sh", "-c", fields]))
            print(f"timing {capture}: {args.runs} rounds", file=sys.stderr, flush=True)
            run_rounds(result, args.runs)
            results.append(result)
        stamp = time.strftime("%Y-%m-%d %H:%M %Z")
        head = (
            f"{stamp}, {os.cpu_count()} cores, Python {platform.python_version()}; analyzer at "
            f"{state['commit']} (uncommitted under analyzer/: {state['analyzer_uncommitted']})"
        )
        text = "\n\n".join([head, *(report(r) for r in results)]) + "\n"
        print("\n" + text)
        if args.markdown:
            args.markdown.write_text(text)
        if args.results:
            doc = {"date": stamp, "cores": os.cpu_count(), **state, "results": [asdict(r) for r in results]}
            args.results.write_text(json.dumps(doc, indent=2) + "\n")
        bad = [r for r in results if r.labels_identical is False]
        return 1 if bad else 0
    finally:
        shutil.rmtree(frozen)


if __name__ == "__main__":
    sys.exit(main())
