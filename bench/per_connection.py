"""What one decided connection costs, by label: deciding it (facts, classify, its flow) and its JSON."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import pcapdiag
from pcapdiag import pipeline
from pcapdiag.report.render_json import render_jsonl_flow


def measure(capture: Path, rounds: int) -> dict[str, tuple[int, float, float]]:
    """Per label: connections, median µs to decide one and to write its JSON line (best of ``rounds``)."""
    decide: dict[str, list[float]] = defaultdict(list)
    render: dict[str, list[float]] = defaultdict(list)
    original_facts, original_emit = pipeline.Engine._facts, pipeline.Engine._emit
    started: dict[int, float] = {}

    def facts(self: pipeline.Engine, conn: pipeline.Connection) -> pipeline.ConnectionFacts:
        started[conn.id] = time.perf_counter()  # the decision starts with the connection's facts
        return original_facts(self, conn)

    def emit(
        self: pipeline.Engine,
        conn: pipeline.Connection,
        facts: pipeline.ConnectionFacts,
        diagnosis: pipeline.Diagnosis,
        *args: object,
    ) -> None:
        original_emit(self, conn, facts, diagnosis, *args)  # type: ignore[arg-type]
        t0 = started.pop(conn.id, None)
        if t0 is not None:
            decide[str(diagnosis.label.value)].append(time.perf_counter() - t0)

    best: dict[str, tuple[int, float, float]] = {}
    for _ in range(rounds):
        decide.clear()
        render.clear()
        pipeline.Engine._facts, pipeline.Engine._emit = facts, emit  # type: ignore[method-assign]
        try:
            report = pcapdiag.analyze(str(capture))
        finally:
            pipeline.Engine._facts, pipeline.Engine._emit = original_facts, original_emit  # type: ignore[method-assign]
        for flow in report.flows:
            t0 = time.perf_counter()
            render_jsonl_flow(flow)
            render[str(flow.label.value)].append(time.perf_counter() - t0)
        for label, times in decide.items():
            row = (len(times), statistics.median(times) * 1e6, statistics.median(render[label]) * 1e6)
            if label not in best or row[1] + row[2] < best[label][1] + best[label][2]:
                best[label] = row
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "capture", type=Path, help="e.g. bench/out/mix-1M.pcap, or a smaller mix from bench/gen.py"
    )
    ap.add_argument("--rounds", type=int, default=3, help="whole runs; each label's best is kept (default 3)")
    args = ap.parse_args(argv)
    rows = measure(args.capture, args.rounds)
    print("| label | connections | decide (µs, median) | JSON line (µs, median) | total (µs) |")
    print("|---|---:|---:|---:|---:|")
    for label, (n, d, r) in sorted(rows.items(), key=lambda kv: -kv[1][0]):
        print(f"| {label} | {n:,} | {d:.0f} | {r:.0f} | {d + r:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
