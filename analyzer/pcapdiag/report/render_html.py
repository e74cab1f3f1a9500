"""Render a report as one self-contained HTML page (Jinja2 templates, escaping by default): inline CSS,
an SVG timeline and SVG ladders, nothing fetched, no script; and the timeline alone as an SVG document."""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pcapdiag import __version__
from pcapdiag.capture import linktype_name
from pcapdiag.classify import LABELS, Label
from pcapdiag.report.groups import MAX_DETAILED, Group, Grouping, Line
from pcapdiag.report.ladder import (
    CLIENT,
    NETWORK,
    SERVER,
    UNSAFE_COMMANDS,
    Ladder,
    Rung,
    capture_notes,
    capture_span,
    headline,
    hidden_note,
    kube_notes,
    label_counts,
    ladder,
    printable,
    seconds,
    side_notes,
    summary_notes,
    unsafe_commands,
    wireshark_filter,
)
from pcapdiag.report.model import FlowReport, Report
from pcapdiag.report.render_text import MAX_HEALTHY_ROWS, answer_lines, cut_line, filter_note, plural
from pcapdiag.report.renderer import DocumentStream, StreamRenderer
from pcapdiag.report.servers import reading
from pcapdiag.report.templates import render
from pcapdiag.report.timefmt import rfc3339
from pcapdiag.report.timeline import TimelineTally, layout

if TYPE_CHECKING:
    from markupsafe import Markup

LABEL_COLOURS: dict[Label, str] = {
    Label.OK: "#1a7f37",
    Label.REFUSED: "#cf222e",
    Label.SYN_TIMEOUT: "#bc4c00",
    Label.UNREACHABLE: "#a40e26",
    Label.TLS_HANDSHAKE_TIMEOUT: "#9a6700",
    Label.NOT_TLS: "#8250df",
    Label.CERT_REJECTED: "#bf3989",
    Label.TLS_FAILED: "#6639ba",
    Label.AWAITING_HEADERS: "#953800",
    Label.SERVER_CLOSED: "#0a6b8a",
    Label.HTTP_ERROR: "#b62324",
    Label.INCOMPLETE: "#57606a",
    Label.PARTIAL: "#6e7781",
}
"""Chip colour of each label (white text on it is readable: contrast at least 4.5:1)."""

# Ladder geometry (SVG user units; the drawing scales to the page width).
_W = 1000
_TIME_X, _FRAME_X, _STAR_X = 74, 122, 134
_LANE_X = {CLIENT: 270, NETWORK: 565, SERVER: 860}
_MID_X = (_LANE_X[CLIENT] + _LANE_X[SERVER]) / 2
_BOX_W, _NET_BOX_W = 230, 130
_HEAD_H, _ROW, _NOTE_H, _BAND = 72, 40, 14, 54
_CHAR_PX, _NOTE_CHAR_PX = 6.9, 6.2
"""Conservative average glyph widths of the 12 px and 11 px sans-serif labels, to shorten what won't fit."""


def _fit(text: str, width_px: float, char_px: float) -> str:
    limit = max(int(width_px / char_px), 4)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _f(v: float) -> float:
    return round(v, 1)


@dataclass(frozen=True, slots=True)
class LaneHead:
    x: float
    w: float
    role: str
    address: str


@dataclass(frozen=True, slots=True)
class LaneLine:
    cls: str
    x: float
    y1: float
    y2: float


@dataclass(frozen=True, slots=True)
class Silence:
    x: float
    y: float
    w: float
    mid: float
    text_y: float
    text: str


@dataclass(frozen=True, slots=True)
class RungDrawing:
    """One packet's arrow, with where its texts go."""

    cls: str
    frame: int
    summary: str
    key: bool
    band: tuple[float, float] | None
    text_y: float
    time: str
    shaft: tuple[float, float, float, float]
    head: str
    flags: str
    flags_x: float
    flags_y: float
    note: str
    note_x: float
    note_y: float


@dataclass(frozen=True, slots=True)
class LadderDrawing:
    """Everything ladder.svg.j2 draws of one connection."""

    id: str
    width: int
    height: int
    label: str
    has_network: bool
    heads: tuple[LaneHead, ...]
    lanes: tuple[LaneLine, ...]
    cuts: tuple[str, ...]
    silences: tuple[Silence, ...]
    rungs: tuple[RungDrawing, ...]
    time_x: int = _TIME_X
    frame_x: int = _FRAME_X
    star_x: int = _STAR_X
    head_y: int = _HEAD_H - 10


def _arrow(x1: float, y1: float, x2: float, y2: float) -> tuple[tuple[float, float, float, float], str]:
    """A shaft and a filled head's points (no marker: one element group per packet, printable everywhere)."""
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    bx, by = x2 - 11 * ux, y2 - 11 * uy
    nx, ny = -uy * 4.8, ux * 4.8
    points = f"{x2:.1f},{y2:.1f} {bx + nx:.1f},{by + ny:.1f} {bx - nx:.1f},{by - ny:.1f}"
    return (_f(x1), _f(y1), _f(bx), _f(by)), points


def ladder_drawing(lad: Ladder, pfx: str) -> LadderDrawing:
    """The connection as an SVG sequence diagram: one arrow per evidence row, key frames on a
    highlighted band, retransmissions dashed red, silences of SILENCE_S or more as a broken axis."""
    lanes = [CLIENT, SERVER] + ([NETWORK] if lad.has_network else [])
    rungs: list[RungDrawing] = []
    silences: list[Silence] = []
    breaks: list[tuple[float, float]] = []
    y = float(_HEAD_H)
    for rung in lad.rungs:
        if rung.silence_before is not None:
            text = f"{seconds(rung.silence_before)} of silence"
            box_w = len(text) * 7.6 + 160
            silences.append(
                Silence(_f(_MID_X - box_w / 2), _f(y + 13), _f(box_w), _f(_MID_X), _f(y + 32), text)
            )
            breaks.append((y + 6, y + _BAND - 6))
            y += _BAND
        note = " · ".join(n for n in rung.notes if "retransmission" not in n or rung.source == NETWORK)
        row_h = _ROW + (_NOTE_H if note else 0)
        rungs.append(_rung(rung, note, y, row_h))
        y += row_h
    end = y + 8
    lines: list[LaneLine] = []
    cuts: list[str] = []
    for lane in lanes:
        x = _LANE_X[lane]
        start = float(_HEAD_H - 14)
        cls = "lane net" if lane == NETWORK else "lane"
        for top, bottom in breaks:
            lines.append(LaneLine(cls, x, _f(start), _f(top)))
            cuts.append(
                f"M{x - 9} {top + 5:.1f} L{x + 9} {top - 3:.1f} "
                f"M{x - 9} {bottom + 3:.1f} L{x + 9} {bottom - 5:.1f}"
            )
            start = bottom
        lines.append(LaneLine(cls, x, _f(start), _f(end)))
    titles = {CLIENT: ("client", lad.client), SERVER: ("server", lad.server), NETWORK: ("network", "ICMP")}
    heads = []
    for lane in lanes:
        role, addr = titles[lane]
        w = _NET_BOX_W if lane == NETWORK else _BOX_W
        heads.append(LaneHead(_LANE_X[lane], w, role, _fit(addr, w - 12, 7.3)))
    return LadderDrawing(
        id=pfx,
        width=_W,
        height=round(end + 6),
        label=f"Ladder diagram of {lad.client} to {lad.server}: {plural(len(lad.rungs), 'packet')}",
        has_network=lad.has_network,
        heads=tuple(heads),
        lanes=tuple(lines),
        cuts=tuple(cuts),
        silences=tuple(silences),
        rungs=tuple(rungs),
    )


def _rung(rung: Rung, note: str, y: float, row_h: float) -> RungDrawing:
    """One packet: time, frame, the arrow between its lanes, flags above it and TLS/HTTP notes below."""
    ay = y + 26
    x1, x2 = _LANE_X[rung.source], _LANE_X[rung.target]
    kind = "net" if rung.source == NETWORK else "c2s" if rung.source == CLIENT else "s2c"
    cls = " ".join(["arrow", kind] + (["key"] * rung.key) + (["retx"] * rung.retransmission))
    span = abs(x2 - x1) - 30
    midx = (x1 + x2) / 2
    flags = rung.flags + ("  ⟲ retransmission" if rung.retransmission and rung.source != NETWORK else "")
    shaft, head = _arrow(x1, ay - 4, x2, ay + 4)
    # An ICMP error's text may use the whole width: nothing else is drawn on its row.
    note_x, note_span = (
        (midx, span) if rung.source != NETWORK else (_MID_X, _LANE_X[SERVER] - _LANE_X[CLIENT])
    )
    return RungDrawing(
        cls=cls,
        frame=rung.frame,
        summary=rung.summary,
        key=rung.key,
        band=(_f(y + 3), _f(row_h - 6)) if rung.key else None,
        text_y=_f(ay + 4),
        time=f"{rung.time:.6f}",
        shaft=shaft,
        head=head,
        flags=_fit(flags, span, _CHAR_PX),
        flags_x=_f(midx),
        flags_y=_f(ay - 9),
        note=_fit(note, note_span, _NOTE_CHAR_PX) if note else "",
        note_x=_f(note_x),
        note_y=_f(ay + 21),
    )


@dataclass(frozen=True, slots=True)
class EvidenceView:
    cls: str
    key: bool
    frame: int
    time: str
    direction: str
    summary: str


@dataclass(frozen=True, slots=True)
class FlowView:
    """What report.html.j2's flow macro writes of one connection (every text as the capture gave it:
    the template escapes)."""

    n: int
    id: int
    capture: str
    label: str
    client: str
    server: str
    sni: str | None
    explanation: str
    error: str | None
    alternatives: tuple[tuple[str, str], ...]
    where: str | None
    where_explanation: str
    side_notes: tuple[str, ...]
    kube_notes: tuple[str, ...]
    timing: str | None
    findings: tuple[str, ...]
    limits: str
    facts: tuple[str, ...]
    certificate: tuple[tuple[str, str], ...]
    hidden: str | None
    drawing: LadderDrawing
    evidence: tuple[EvidenceView, ...]
    filter: str
    commands: tuple[str, ...]
    redacted: bool
    steps: tuple[tuple[str, str], ...]
    unsafe: str | None


def _step(step: str) -> tuple[str, str]:
    """A next step as (command, '    # what it shows'); advice (a line starting with '#') is all comment."""
    text = printable(step)
    if text.startswith("#"):
        return "", text
    cmd, sep, comment = text.partition("    # ")
    return cmd, sep + comment


def flow_view(n: int, f: FlowReport, redacted: bool) -> FlowView:
    """The connection ``f`` as the n-th drawn in the report."""
    lad = ladder(f)
    facts = [
        f.tls_version or "no TLS version seen",
        f"history {f.history or '-'}",
        plural(f.packets, "packet"),
        seconds(f.duration_s),
        plural(f.retransmissions, "retransmission"),
        f"started {rfc3339(f.start_ns) or '?'}",
        f"connection {f.id} of {f.capture}",
    ]
    if f.client_inferred:
        facts.append("client side inferred (no SYN seen)")
    c = f.certificate
    cert: tuple[tuple[str, str], ...] = ()
    if c is not None:
        names = ", ".join(str(x) for x in (*c.dns_names, *c.ip_addresses)) or "-"
        cert = (
            ("subject", str(c.subject)),
            ("issuer", str(c.issuer) + (" (self-signed)" if c.self_signed else "")),
            ("names", names),
            ("valid", f"{c.not_before:%Y-%m-%d %H:%M} to {c.not_after:%Y-%m-%d %H:%M} UTC"),
            *(("problem", str(p)) for p in c.problems),
        )
    evidence = []
    for e in f.evidence:
        summary = str(e.summary)
        cls = " ".join((["key"] if e.key else []) + (["retx"] if "retransmission" in summary else []))
        evidence.append(
            EvidenceView(cls, e.key, e.frame, f"{e.time:.6f}", e.direction.replace("->", " → "), summary)
        )
    commands: tuple[str, ...] = ()
    if f.capture != "-":
        path = shlex.quote(printable(f.capture))
        flt = shlex.quote(wireshark_filter(f))
        commands = (f"wireshark -r {path} -Y {flt}", f"tshark -r {path} -Y {flt}")
    return FlowView(
        n=n,
        id=f.id,
        capture=f.capture,
        label=f.label.value,
        client=lad.client,
        server=lad.server,
        sni=str(f.sni) if f.sni else None,
        explanation=f.explanation,
        error=f.kubernetes_error,
        alternatives=tuple((str(a.when), str(a.error)) for a in f.alternatives),
        where=f.where,
        where_explanation=f.where_explanation or "",
        side_notes=tuple(side_notes(f)),
        kube_notes=tuple(kube_notes(f)) if f.kubernetes is not None else (),
        timing=str(f.timing.because) if f.timing is not None else None,
        findings=f.findings,
        limits="; ".join(f.capture_limits),
        facts=tuple(facts),
        certificate=cert,
        hidden=hidden_note(f, lad),
        drawing=ladder_drawing(lad, f"ladder-{n}"),
        evidence=tuple(evidence),
        filter=wireshark_filter(f),
        commands=commands,
        redacted=redacted,
        steps=tuple(_step(s) for s in f.next_steps),
        unsafe=UNSAFE_COMMANDS if unsafe_commands(f) else None,
    )


@dataclass(frozen=True, slots=True)
class LineView:
    frames: str
    start: str
    duration: str
    client: str
    packets: int
    id: int
    capture: str


@dataclass(frozen=True, slots=True)
class GroupView:
    anchor: str
    label: str
    server: str
    name: str | None
    where: str | None
    count: str
    window: str
    flow: FlowView | None
    lines: tuple[LineView, ...]
    lines_heading: str
    unlisted: int


def _line(x: Line) -> LineView:
    frames = str(x.first_frame) if x.first_frame == x.last_frame else f"{x.first_frame}-{x.last_frame}"
    return LineView(
        frames, rfc3339(x.start_ns) or "-", seconds(x.duration_s), x.client, x.packets, x.id, x.capture
    )


def group_view(g: Group, drawn: int, captures: list[str], redacted: bool) -> GroupView:
    """A group as report.html.j2 writes it; its representative is the ``drawn``-th connection drawn."""
    lines = tuple(_line(x) for x in g.listed(captures))
    others = len(lines) + g.unlisted
    first, last = rfc3339(g.first_ns) or "-", rfc3339(g.last_ns) or "-"
    return GroupView(
        anchor=g.anchor,
        label=g.label.value,
        server=g.server,
        name=g.name,
        where=g.where,
        count=plural(g.count, "connection"),
        window=first if first == last else f"{first} to {last}",
        flow=flow_view(drawn, g.representative, redacted) if g.representative is not None else None,
        lines=lines,
        lines_heading=(
            f"The other {plural(others, 'connection')} of this group"
            if g.representative is not None
            else f"Its {plural(others, 'connection')} (not drawn: the report draws {MAX_DETAILED} groups)"
        ),
        unlisted=g.unlisted,
    )


@dataclass(frozen=True, slots=True)
class ServerView:
    endpoint: str
    name: str | None
    calls: int
    failing: int
    labels: tuple[tuple[str, int, str | None], ...]
    first: str
    last: str
    error: str
    reading: str


@dataclass(frozen=True, slots=True)
class Part:
    id: str
    heading: str
    groups: tuple[GroupView, ...]


@dataclass(frozen=True, slots=True)
class CaptureView:
    path: tuple[str, ...]
    format: str
    kinds: str
    packets: int
    tcp: int
    first: str
    last: str
    span: str
    notes: str


def css() -> Markup:
    """The page's style sheet (the label colours, the report's rules and the timeline's)."""
    from markupsafe import Markup

    colours = [(label.value, colour) for label, colour in LABEL_COLOURS.items()]
    return Markup(render("report.css.j2", colours=colours))


def timeline_css() -> Markup:
    """The standalone timeline's style sheet."""
    from markupsafe import Markup

    rules = "".join(f".l-{label.value} {{ --c: {colour}; }}\n" for label, colour in LABEL_COLOURS.items())
    return Markup(rules + render("timeline.css.j2"))


def anchors(groups: list[Group]) -> dict[tuple[str, Label], str]:
    """(server, label) -> the group's anchor, for the timeline's links."""
    out: dict[tuple[str, Label], str] = {}
    for g in groups:
        out.setdefault((g.server, g.label), g.anchor)  # several captures: its first group by where
    return out


def document(r: Report, groups: list[Group], tally: TimelineTally) -> str:
    """The whole HTML page from the captures, summary and roll-up in ``r`` and the kept groups."""
    counts = label_counts(r)
    worst = next((label for label, _ in counts if label.failing), None)
    banner = (
        f"banner l-{worst.value}" if worst else "banner l-incomplete" if r.cut_undecided else "banner l-ok"
    )
    captures = [c.path for c in r.captures]
    parts = []
    drawn = 0
    for failing, pid, heading in (
        (True, "failing", "Failing connections by server and label"),
        (False, "others", "Connections that did not fail, by server and label"),
    ):
        views = []
        for g in groups:
            if g.label.failing != failing:
                continue
            drawn += g.representative is not None
            views.append(group_view(g, drawn, captures, r.redacted))
        if views:
            parts.append(Part(pid, heading, tuple(views)))
    group_of = anchors(groups)
    failing_servers = [s for s in r.servers if s.failing]
    shown = failing_servers + [s for s in r.servers if not s.failing][:MAX_HEALTHY_ROWS]
    rest = r.servers[len(shown) :]
    server_views = [
        ServerView(
            endpoint=s.endpoint,
            name=s.name,
            calls=s.calls,
            failing=s.failing,
            labels=tuple(
                (k, n, f"#{group_of[(s.endpoint, Label(k))]}" if (s.endpoint, Label(k)) in group_of else None)
                for k, n in s.failing_labels
            ),
            first=rfc3339(s.first_failure_ns) or "-",
            last=rfc3339(s.last_failure_ns) or "-",
            error=(s.error or "-")
            + (f" (and {plural(s.other_errors, 'other error')})" if s.other_errors else ""),
            reading=reading(s),
        )
        for s in shown
    ]
    capture_views = [
        CaptureView(
            path=tuple(c.path.split("/")),
            format=c.format,
            kinds=", ".join(f"{linktype_name(lt)} ({lt})" for lt in c.link_types) or "no link type",
            packets=c.packets,
            tcp=c.tcp_packets,
            first=(rfc3339(c.first_ns) or "-").replace("T", " "),
            last=(rfc3339(c.last_ns) or "-").replace("T", " "),
            span=capture_span(c),
            notes=capture_notes(c) or "-",
        )
        for c in r.captures
    ]
    label_rows = [
        (label.value, n, LABELS[label].wire, LABELS[label].error if LABELS[label].error != "none" else "-")
        for label, n in counts
    ]
    answer = answer_lines(r)
    return render(
        "report.html.j2",
        title=headline(r),
        css=css(),
        warning=cut_line(r),
        banner=banner,
        counts=[(label.value, n) for label, n in counts],
        failing_servers=answer[1] if len(answer) > 1 else None,
        filtered=filter_note(r),
        redacted=r.redacted,
        timeline=layout(tally, r.servers, r.captures, group_of),
        servers=server_views,
        servers_more=(
            f"{plural(len(rest), 'more server')} without a failure "
            f"({plural(sum(s.calls for s in rest), 'call')})."
            if rest
            else None
        ),
        parts=parts,
        several=len(r.captures) > 1,
        captures=capture_views,
        capture_notes=any(capture_notes(c) for c in r.captures),
        label_rows=label_rows,
        notes=summary_notes(r),
        findings=[str(x) for x in r.kubernetes_findings or ()],
        version=__version__,
    )


class HtmlStream(DocumentStream):
    """The --format html report: nothing while connections stream, one self-contained page at the end."""

    def __init__(self, show: str = "failing") -> None:
        super().__init__(show)
        self._timeline = TimelineTally()

    def flow(self, f: FlowReport) -> str:
        self._timeline.add(f)
        return super().flow(f)

    def document(self, r: Report, groups: list[Group]) -> str:
        return document(r, groups, self._timeline)


class SvgStream(StreamRenderer):
    """--format svg: the timeline alone, one standalone SVG document (no script, nothing fetched)."""

    def __init__(self) -> None:
        self._timeline = TimelineTally()
        self._groups = Grouping()

    def flow(self, f: FlowReport) -> str:
        self._timeline.add(f)
        return ""

    def end(self, r: Report) -> str:
        t = layout(self._timeline, r.servers, r.captures, {})
        if t is None:
            return render("empty.svg.j2", title=headline(r))
        return render("timeline-page.svg.j2", t=t, css=timeline_css())


def render_html(r: Report, show: str = "failing") -> str:
    """A report whose connections are all in ``r.flows`` as one HTML page."""
    return HtmlStream(show).render(r)


def render_svg(r: Report) -> str:
    """The timeline of a report whose connections are all in ``r.flows``, as a standalone SVG."""
    stream = SvgStream()
    for f in r.flows:
        stream.flow(f)
    return stream.end(r)
