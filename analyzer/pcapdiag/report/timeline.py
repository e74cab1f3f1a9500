"""The timeline: a row per server, connections counted by start time and label in buckets, laid out to draw.

``TimelineTally`` counts connections as they stream past in a fixed number of time bins whose
width doubles as the capture's span grows (memory does not grow with the connections);
``layout`` turns the counts into marks for the SVG template: one mark per bucket and label
(a bucket of one connection is that connection's mark), failures drawn over the others, and a
count of failures per coarser bucket above each row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pcapdiag.classify import Label
from pcapdiag.report.model import CaptureReport, FlowReport, ServerSummary
from pcapdiag.report.timefmt import NS, clock

FINE_BINS = 512
"""Time bins counted per server; the bin width doubles whenever the span would need more."""
MAX_ROWS = 30
"""Servers drawn a row each (failing ones first); the others share one last row."""
MAX_TALLIED = 10_000
"""Servers counted a row each; connections to later ones go to the shared row."""
OTHERS = "others"

WIDTH = 1000
LEFT = 250
"""Where the time axis starts: the server names are written to its left."""
RIGHT = 62
"""Room on the right for each row's failures/calls."""
PLOT = WIDTH - LEFT - RIGHT
TOP = 34
ROW_H = 34
COUNT_Y = 10
"""The failure counts' baseline within a row."""
BAND_TOP, BAND_H = 13, 17
"""Where a row's marks stand: their base is at BAND_TOP + BAND_H."""
MARK_PX = 3.0
"""The narrowest bucket drawn: finer buckets would make marks overlap."""
COUNT_PX = 26.0
"""The narrowest bucket whose failures are counted above the row (room for a number)."""
AXIS_H = 26
LEGEND_H = 26
_LABELS = tuple(Label)
_STEPS_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600,
            900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)  # fmt: skip


@dataclass(slots=True)
class TimelineTally:
    """Connections per server, time bin and label, as they stream past."""

    origin: int | None = None
    """Start of bin 0 (the first connection's start)."""
    width: int = 1_000_000
    """Bin width, ns (1 ms to begin with)."""
    low: int = 0
    high: int = 0
    rows: dict[str, dict[int, list[int]]] = field(default_factory=dict)
    """Server ('ip:port', or OTHERS) -> bin -> connections per label (in the vocabulary's order)."""

    def add(self, f: FlowReport) -> None:
        """Count one connection at its start."""
        t = f.start_ns
        if self.origin is None:
            self.origin = t
        i = (t - self.origin) // self.width
        while max(i, self.high) - min(i, self.low) >= FINE_BINS:
            self._coarsen()
            i = (t - self.origin) // self.width
        self.low, self.high = min(i, self.low), max(i, self.high)
        server = str(f.server)
        row = self.rows.get(server)
        if row is None:
            if len(self.rows) >= MAX_TALLIED:
                server = OTHERS
            row = self.rows.setdefault(server, {})
        cell = row.get(i)
        if cell is None:
            cell = row[i] = [0] * len(_LABELS)
        cell[_INDEX[f.label]] += 1

    def _coarsen(self) -> None:
        self.width *= 2
        self.low //= 2
        self.high //= 2
        for server, row in self.rows.items():
            merged: dict[int, list[int]] = {}
            for i, cell in row.items():
                into = merged.get(i // 2)
                if into is None:
                    merged[i // 2] = cell
                else:
                    merged[i // 2] = [a + b for a, b in zip(into, cell, strict=True)]
            self.rows[server] = merged

    def span(self) -> tuple[int, int] | None:
        """First and last bin's bounds, or None before any connection."""
        if self.origin is None:
            return None
        return self.origin + self.low * self.width, self.origin + (self.high + 1) * self.width


_INDEX = {label: i for i, label in enumerate(_LABELS)}


@dataclass(frozen=True, slots=True)
class Mark:
    """The connections of one label in one bucket of one row: a bar."""

    x: float
    y: float
    w: float
    h: float
    label: Label
    n: int
    title: str
    href: str | None
    """The group's anchor ('#g3') a failure mark links to."""


@dataclass(frozen=True, slots=True)
class Count:
    """The failures of one coarse bucket, written above the row."""

    x: float
    y: float
    text: str


@dataclass(frozen=True, slots=True)
class Row:
    """One server's row."""

    y: float
    server: str
    name: str
    calls: int
    failing: int
    marks: tuple[Mark, ...]
    counts: tuple[Count, ...]


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    text: str


@dataclass(frozen=True, slots=True)
class Swatch:
    x: float
    y: float
    label: Label
    n: int


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything the timeline template draws."""

    width: int
    height: int
    rows: tuple[Row, ...]
    ticks: tuple[Tick, ...]
    legend: tuple[Swatch, ...]
    axis_y: float
    plot_x: int
    plot_w: int
    connections: int
    title: str
    bucket: str
    """What one mark spans, in words ('one mark per 2.5 s')."""


def _fit(text: str, px: float, char_px: float = 6.4) -> str:
    limit = max(int(px / char_px), 4)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _count_text(n: int) -> str:
    return str(n) if n < 1000 else f"{n / 1000:.1f}k" if n < 100_000 else f"{n // 1000}k"


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    if seconds >= 1:
        return f"{seconds:g} s"
    return f"{seconds * 1000:g} ms"


def _height(n: int, top: int) -> float:
    return 4.0 + (BAND_H - 4.0) * math.log1p(n) / math.log1p(top)


def layout(
    tally: TimelineTally,
    servers: Sequence[ServerSummary],
    captures: Sequence[CaptureReport],
    anchors: Mapping[tuple[str, Label], str],
) -> Timeline | None:
    """The timeline of the tallied connections over the captures' span, rows in the order of
    ``servers`` (failing first); None when there is no connection to draw."""
    bins = tally.span()
    if bins is None or tally.origin is None:
        return None
    starts = [c.first_ns for c in captures if c.first_ns is not None]
    ends = [c.last_ns for c in captures if c.last_ns is not None]
    t0 = min([bins[0], *starts])
    t1 = max([bins[1], *ends])
    span = max(t1 - t0, 1)
    # Display buckets: whole fine bins, at least MARK_PX wide; count buckets: whole display buckets.
    per = max(1, math.ceil(span * MARK_PX / PLOT / tally.width))
    bucket = per * tally.width
    per_count = max(1, math.ceil(COUNT_PX * span / PLOT / bucket))
    scale = PLOT / span

    order = [s.endpoint for s in servers if s.endpoint in tally.rows]
    order += sorted(k for k in tally.rows if k not in set(order) and k != OTHERS)
    shown, rest = order[:MAX_ROWS], order[MAX_ROWS:]
    if len(rest) == 1 and OTHERS not in tally.rows:
        shown, rest = order, []
    by_endpoint = {s.endpoint: s for s in servers}

    # Each row's buckets: bucket index -> connections per label.
    rows_cells: list[tuple[str, str, dict[int, list[int]]]] = []
    for server in shown:
        s = by_endpoint.get(server)
        rows_cells.append(
            (server, (s.name or "") if s else "", _buckets(tally, tally.rows[server], t0, bucket))
        )
    if rest or OTHERS in tally.rows:
        merged: dict[int, list[int]] = {}
        for server in [*rest, *([OTHERS] if OTHERS in tally.rows else [])]:
            for k, cell in _buckets(tally, tally.rows[server], t0, bucket).items():
                into = merged.setdefault(k, [0] * len(_LABELS))
                for j, n in enumerate(cell):
                    into[j] += n
        count = len(rest) + (OTHERS in tally.rows)
        rows_cells.append((OTHERS, f"{count}{'+' if OTHERS in tally.rows else ''} other servers", merged))

    top = max((sum(cell) for _, _, cells in rows_cells for cell in cells.values()), default=1)
    rows: list[Row] = []
    totals = [0] * len(_LABELS)
    for r, (server, name, cells) in enumerate(rows_cells):
        y = TOP + r * ROW_H
        base = y + BAND_TOP + BAND_H
        marks: list[Mark] = []
        failing_marks: list[Mark] = []
        coarse: dict[int, int] = {}
        for k in sorted(cells):
            cell = cells[k]
            x = LEFT + (k * bucket + _offset(t0, tally)) * scale
            w = max(bucket * scale - 0.6, 1.2)
            when = clock(t0 + _offset(t0, tally) + k * bucket)
            for failing, dest in ((False, marks), (True, failing_marks)):
                part = [(j, n) for j, n in enumerate(cell) if n and _LABELS[j].failing == failing]
                if not part:
                    continue
                total = sum(n for _, n in part)
                h_total = _height(total, top)
                y_at: float = base
                for j, n in part:
                    h = h_total * n / total
                    y_at -= h
                    label = _LABELS[j]
                    totals[j] += n
                    href = anchors.get((server, label)) if failing else None
                    dest.append(
                        Mark(
                            x=x - (0.4 if failing else 0),
                            y=y_at,
                            w=w + (0.8 if failing else 0),
                            h=h,
                            label=label,
                            n=n,
                            title=f"{label.value}: {n} from {when} ({server})",
                            href=f"#{href}" if href else None,
                        )
                    )
                if failing:
                    coarse[k // per_count] = coarse.get(k // per_count, 0) + total
        counts = tuple(
            Count(
                x=LEFT + ((c + 0.5) * per_count * bucket + _offset(t0, tally)) * scale,
                y=y + COUNT_Y,
                text=_count_text(n),
            )
            for c, n in sorted(coarse.items())
        )
        s = by_endpoint.get(server)
        calls = s.calls if s else sum(sum(cell) for cell in cells.values())
        failing_n = (
            s.failing
            if s
            else sum(n for cell in cells.values() for j, n in enumerate(cell) if _LABELS[j].failing)
        )
        rows.append(
            Row(
                y=y,
                server=_fit(server if server != OTHERS else name, LEFT - 16, 6.6),
                name=_fit(name, LEFT - 16, 6.0) if server != OTHERS else "",
                calls=calls,
                failing=failing_n,
                marks=tuple(marks + failing_marks),
                counts=counts,
            )
        )
    axis_y = TOP + len(rows) * ROW_H + 4
    ticks = _ticks(t0, t1, scale)
    legend: list[Swatch] = []
    x, legend_y = 12.0, axis_y + AXIS_H + 14
    for j, n in enumerate(totals):
        if n:
            w = 34 + 6.6 * (len(_LABELS[j].value) + len(str(n)))
            if x + w > WIDTH:
                x, legend_y = 12.0, legend_y + 18
            legend.append(Swatch(x=x, y=legend_y, label=_LABELS[j], n=n))
            x += w
    connections = sum(totals)
    return Timeline(
        width=WIDTH,
        height=int((legend[-1].y if legend else axis_y + AXIS_H) + LEGEND_H - 12),
        rows=tuple(rows),
        ticks=ticks,
        legend=tuple(legend),
        axis_y=axis_y,
        plot_x=LEFT,
        plot_w=PLOT,
        connections=connections,
        title=f"Timeline of {connections} connection{'s' * (connections != 1)} to "
        f"{len(order) + (OTHERS in tally.rows)} server{'s' * (len(order) != 1)}, by start time (UTC)",
        bucket=f"one mark per label per {_duration(bucket / NS)}",
    )


def _offset(t0: int, tally: TimelineTally) -> int:
    """Where display bucket 0 starts, after ``t0`` (buckets are aligned on the tally's bins)."""
    assert tally.origin is not None
    return tally.origin + tally.low * tally.width - t0


def _buckets(tally: TimelineTally, row: dict[int, list[int]], t0: int, bucket: int) -> dict[int, list[int]]:
    """A row's fine bins gathered into display buckets (counted from the first bin)."""
    per = bucket // tally.width
    out: dict[int, list[int]] = {}
    for i, cell in row.items():
        k = (i - tally.low) // per
        into = out.get(k)
        if into is None:
            out[k] = list(cell)
        else:
            for j, n in enumerate(cell):
                into[j] += n
    return out


def _ticks(t0: int, t1: int, scale: float) -> tuple[Tick, ...]:
    span_s = (t1 - t0) / NS
    step_s = next((s for s in _STEPS_S if span_s / s <= 8), _STEPS_S[-1])
    step = int(step_s * NS)
    first = -(-t0 // step) * step
    out = []
    t = first
    while t <= t1:
        text = clock(t)
        out.append(Tick(x=LEFT + (t - t0) * scale, text=text[:8] if step_s >= 1 else text))
        t += step
    return tuple(out)
