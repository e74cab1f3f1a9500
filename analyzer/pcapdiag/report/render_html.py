"""Render a report as one self-contained HTML page: inline CSS and SVG ladders, nothing fetched, no script."""

from __future__ import annotations

import html
import math
import shlex

from pcapdiag import __version__
from pcapdiag.capture import linktype_name
from pcapdiag.classify import LABELS, Label
from pcapdiag.report.ladder import (
    CLIENT,
    NETWORK,
    SERVER,
    UNSAFE_COMMANDS,
    Kept,
    Ladder,
    Row,
    Rung,
    capture_notes,
    capture_span,
    endpoint,
    headline,
    hidden_note,
    in_order,
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
from pcapdiag.report.render_text import cut_line
from pcapdiag.report.renderer import DocumentStream
from pcapdiag.report.timefmt import rfc3339

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

_CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --key: #fff5d6; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0 auto; max-width: 1120px; padding: 28px 36px 48px; color: var(--fg); background: #fff;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans",
  sans-serif; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono",
  "Liberation Mono", monospace; font-size: 12.5px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 0 0 10px; display: flex; flex-wrap: wrap; gap: 4px 10px;
  align-items: baseline; }
h4 { font-size: 13px; margin: 18px 0 6px; text-transform: uppercase; letter-spacing: .04em;
  color: var(--muted); }
p { margin: 6px 0; }
.headline { font-size: 17px; font-weight: 600; margin: 6px 0 10px; }
.muted, .facts { color: var(--muted); }
.facts { font-size: 13px; }
.chip { display: inline-block; padding: 1px 9px; border-radius: 11px; color: #fff;
  background: var(--c, #57606a);
  font-size: 12px; font-weight: 600; line-height: 18px; white-space: nowrap; }
.chips .chip { margin: 0 6px 6px 0; }
.chip .n { font-weight: 400; opacity: .9; margin-left: 5px; }
LABEL_RULES
.banner { border: 1px solid var(--line); border-left: 5px solid var(--c, #57606a); border-radius: 6px;
  padding: 10px 14px; margin: 10px 0 0; background: #fff; }
.redacted { border-left-color: #0969da; background: #ddf4ff; }
table { border-collapse: collapse; width: 100%; margin: 4px 0; font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.wrap { overflow-wrap: anywhere; }
td.dir { white-space: nowrap; }
td.path { overflow-wrap: anywhere; min-width: 12em; }
tr.key td { background: var(--key); }
tr.key td.frame { font-weight: 700; }
tr.retx td.pkt { color: #a40e26; }
pre { margin: 4px 0; padding: 8px 12px; background: var(--soft); border: 1px solid var(--line);
  border-radius: 6px;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.warn { border-left: 4px solid #bf8700; background: #fff8c5; padding: 6px 12px; border-radius: 0 6px 6px 0; }
pre.error { background: #ffebe9; border-color: #ffcecb; color: #82071e; font-weight: 600; }
pre .cmt { color: var(--muted); }
nav.toc ol { margin: 6px 0; padding-left: 22px; }
nav.toc a { color: inherit; text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
article.flow { border: 1px solid var(--line); border-radius: 10px; padding: 18px 22px 14px;
  margin: 18px 0 26px; }
article.flow .verdict { border-left: 4px solid var(--c, #57606a); background: var(--soft);
  padding: 8px 12px;
  border-radius: 0 6px 6px 0; font-size: 15px; margin: 8px 0; }
.endpoints { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 14px; }
.sni { font-weight: 400; color: var(--muted); font-size: 14px; }
figure.ladder { margin: 4px 0; }
svg.ladder { display: block; width: 100%; height: auto; }
svg.ladder text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Liberation Sans", sans-serif; }
svg.ladder .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono",
  monospace; }
svg.ladder .halo { paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
svg.ladder .muted { fill: var(--muted); }
svg.ladder .lanehead { fill: var(--soft); stroke: #8c959f; }
svg.ladder .lane { stroke: #8c959f; stroke-width: 2; }
svg.ladder .lane.net { stroke-dasharray: 3 4; }
svg.ladder .cut { stroke: #57606a; stroke-width: 2; fill: none; }
svg.ladder .silence rect { fill: var(--soft); stroke: #afb8c1; stroke-dasharray: 4 3; }
svg.ladder .band { fill: var(--key); stroke: #f2cc60; }
svg.ladder .star { fill: #bf8700; }
svg.ladder .shaft { stroke-width: 1.8; fill: none; }
svg.ladder .key .shaft { stroke-width: 2.8; }
svg.ladder .note { fill: #424a53; }
svg.ladder .c2s .shaft { stroke: #0969da; } svg.ladder .c2s .head { fill: #0969da; }
svg.ladder .s2c .shaft { stroke: #1a7f37; } svg.ladder .s2c .head { fill: #1a7f37; }
svg.ladder .net .shaft { stroke: #8250df; stroke-dasharray: 7 4; } svg.ladder .net .head { fill: #8250df; }
svg.ladder .retx .shaft { stroke: #cf222e; stroke-dasharray: 7 4; } svg.ladder .retx .head { fill: #cf222e; }
svg.ladder .retx .flags { fill: #a40e26; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 4px; }
.sw { display: inline-block; width: 22px; height: 0; border-top: 2px solid; vertical-align: middle;
  margin: 0 4px 0 12px; }
.sw.c2s { border-color: #0969da; } .sw.s2c { border-color: #1a7f37;
  } .sw.retx { border-top: 2px dashed #cf222e; }
.sw.net { border-top: 2px dashed #8250df; } .sw.key { border: 0; height: 12px; background: var(--key);
  border-radius: 2px; }
footer { margin-top: 36px; padding-top: 8px; border-top: 1px solid var(--line); color: var(--muted);
  font-size: 12px; }
@page { margin: 14mm 12mm; }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav.toc { display: none; }
  h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  figure.ladder, pre, tr, .verdict, .banner { break-inside: avoid; page-break-inside: avoid; }
  article.flow { border: 0; padding: 0; margin: 0 0 18px; }
  article.flow + article.flow { border-top: 1px solid var(--line); padding-top: 12px; }
  a { color: inherit; text-decoration: none; }
}
"""


def h(text: str) -> str:
    """Text from anywhere (a capture above all) as HTML text or an attribute value: one line, escaped."""
    return html.escape(printable(text), quote=True)


def _chip(label: Label, count: int | None = None) -> str:
    n = f'<span class="n">{count}</span>' if count is not None else ""
    return f'<span class="chip l-{label.value}">{h(label.value)}{n}</span>'


def _css() -> str:
    rules = "\n".join(f".l-{label.value} {{ --c: {colour}; }}" for label, colour in LABEL_COLOURS.items())
    return _CSS.replace("LABEL_RULES", rules)


def _fit(text: str, width_px: float, char_px: float) -> str:
    limit = max(int(width_px / char_px), 4)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    """A shaft and a filled head (no marker: one element group per packet, printable everywhere)."""
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    bx, by = x2 - 11 * ux, y2 - 11 * uy
    nx, ny = -uy * 4.8, ux * 4.8
    points = f"{x2:.1f},{y2:.1f} {bx + nx:.1f},{by + ny:.1f} {bx - nx:.1f},{by - ny:.1f}"
    return (
        f'<line class="shaft" x1="{x1:.1f}" y1="{y1:.1f}" x2="{bx:.1f}" y2="{by:.1f}"/>'
        f'<polygon class="head" points="{points}"/>'
    )


def svg_ladder(lad: Ladder, pfx: str) -> str:
    """The connection as an SVG sequence diagram: one ``<g class="arrow">`` per evidence row, key frames on
    a highlighted band, retransmissions dashed red, silences of SILENCE_S or more as a broken axis."""
    lanes = [CLIENT, SERVER] + ([NETWORK] if lad.has_network else [])
    body: list[str] = []
    breaks: list[tuple[float, float]] = []
    y = float(_HEAD_H)
    for rung in lad.rungs:
        if rung.silence_before is not None:
            body.append(_silence(y, rung.silence_before))
            breaks.append((y + 6, y + _BAND - 6))
            y += _BAND
        note = " · ".join(n for n in rung.notes if "retransmission" not in n or rung.source == NETWORK)
        row_h = _ROW + (_NOTE_H if note else 0)
        body.append(_rung(rung, note, y, row_h))
        y += row_h
    end = y + 8
    lines: list[str] = []
    for lane in lanes:
        x = _LANE_X[lane]
        start = float(_HEAD_H - 14)
        cls = "lane net" if lane == NETWORK else "lane"
        for top, bottom in breaks:
            lines.append(f'<line class="{cls}" x1="{x}" y1="{start:.1f}" x2="{x}" y2="{top:.1f}"/>')
            lines.append(
                f'<path class="cut" d="M{x - 9} {top + 5:.1f} L{x + 9} {top - 3:.1f} '
                f'M{x - 9} {bottom + 3:.1f} L{x + 9} {bottom - 5:.1f}"/>'
            )
            start = bottom
        lines.append(f'<line class="{cls}" x1="{x}" y1="{start:.1f}" x2="{x}" y2="{end:.1f}"/>')
    titles = {CLIENT: ("client", lad.client), SERVER: ("server", lad.server), NETWORK: ("network", "ICMP")}
    heads: list[str] = []
    for lane in lanes:
        x = _LANE_X[lane]
        role, addr = titles[lane]
        w = _NET_BOX_W if lane == NETWORK else _BOX_W
        heads.append(
            f'<rect class="lanehead" x="{x - w / 2}" y="4" width="{w}" height="44" rx="7"/>'
            f'<text x="{x}" y="22" text-anchor="middle" font-size="13" font-weight="700">{role}</text>'
            f'<text class="mono" x="{x}" y="40" text-anchor="middle" font-size="12">'
            f"{h(_fit(addr, w - 12, 7.3))}</text>"
        )
    heads.append(
        f'<text class="muted" x="{_TIME_X}" y="{_HEAD_H - 10}" text-anchor="end" font-size="11">'
        "time (s)</text>"
        f'<text class="muted" x="{_FRAME_X}" y="{_HEAD_H - 10}" text-anchor="end" font-size="11">frame</text>'
    )
    height = end + 6
    label = f"Ladder diagram of {lad.client} to {lad.server}: {len(lad.rungs)} packets"
    return (
        f'<svg class="ladder" id="{pfx}" viewBox="0 0 {_W} {height:.0f}" width="{_W}" height="{height:.0f}" '
        f'role="img" aria-label="{h(label)}" font-size="12" fill="#1f2328">'
        + "".join(heads)
        + "".join(lines)
        + "".join(body)
        + "</svg>"
    )


def _silence(y: float, gap: float) -> str:
    mid = _MID_X
    text = f"{seconds(gap)} of silence"
    box_w = len(text) * 7.6 + 160
    return (
        f'<g class="silence"><rect x="{mid - box_w / 2:.1f}" y="{y + 13:.1f}" width="{box_w:.1f}" '
        'height="28" '
        f'rx="14"/><text x="{mid:.1f}" y="{y + 32:.1f}" text-anchor="middle" font-size="13">'
        f'<tspan font-weight="700">{h(text)}</tspan>'
        '<tspan class="muted" font-size="11"> (axis broken)</tspan></text></g>'
    )


def _rung(rung: Rung, note: str, y: float, row_h: float) -> str:
    """One packet: time, frame, the arrow between its lanes, flags above it and TLS/HTTP notes below."""
    ay = y + 26
    x1, x2 = _LANE_X[rung.source], _LANE_X[rung.target]
    kind = "net" if rung.source == NETWORK else "c2s" if rung.source == CLIENT else "s2c"
    cls = " ".join(["arrow", kind] + (["key"] * rung.key) + (["retx"] * rung.retransmission))
    span = abs(x2 - x1) - 30
    midx = (x1 + x2) / 2
    flags = rung.flags + ("  ⟲ retransmission" if rung.retransmission and rung.source != NETWORK else "")
    bold = ' font-weight="700"' if rung.key else ""
    parts = [
        f'<g class="{cls}" data-frame="{rung.frame}">',
        f"<title>frame {rung.frame}: {h(rung.summary)}</title>",
    ]
    if rung.key:
        parts.append(
            f'<rect class="band" x="3" y="{y + 3:.1f}" width="{_W - 6}" height="{row_h - 6:.1f}" rx="5"/>'
        )
    parts.append(
        f'<text class="mono" x="{_TIME_X}" y="{ay + 4:.1f}" text-anchor="end" font-size="11.5">'
        f"{rung.time:.6f}</text>"
        f'<text class="mono" x="{_FRAME_X}" y="{ay + 4:.1f}" text-anchor="end" font-size="11.5"{bold}>'
        f"{rung.frame}</text>"
    )
    if rung.key:
        parts.append(f'<text class="star" x="{_STAR_X}" y="{ay + 4:.1f}" font-size="13">★</text>')
    parts.append(_arrow(x1, ay - 4, x2, ay + 4))
    parts.append(
        f'<text class="halo flags" x="{midx:.1f}" y="{ay - 9:.1f}" text-anchor="middle" font-size="12"'
        f' font-weight="{700 if rung.key else 600}">{h(_fit(flags, span, _CHAR_PX))}</text>'
    )
    if note:
        # An ICMP error's text may use the whole width: nothing else is drawn on its row.
        note_x, note_span = (
            (midx, span) if rung.source != NETWORK else (_MID_X, _LANE_X[SERVER] - _LANE_X[CLIENT])
        )
        parts.append(
            f'<text class="halo note" x="{note_x:.1f}" y="{ay + 21:.1f}" text-anchor="middle" font-size="11">'
            f"{h(_fit(note, note_span, _NOTE_CHAR_PX))}</text>"
        )
    return "".join(parts) + "</g>"


def _pre(lines: list[str], cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<pre{attr}>" + "\n".join(lines) + "</pre>"


def _command(step: str) -> str:
    text = printable(step)
    if text.startswith("#"):
        return f'<span class="cmt">{html.escape(text)}</span>'
    cmd, sep, comment = text.partition("    # ")
    return html.escape(cmd) + (f'<span class="cmt">{html.escape(sep + comment)}</span>' if sep else "")


def _flow(n: int, f: FlowReport, redacted: bool) -> str:
    lad = ladder(f)
    pfx = f"ladder-{n}"
    out = [
        f'<article class="flow l-{f.label.value}" id="c{n}" data-capture="{h(f.capture)}" data-flow="{f.id}">'
    ]
    sni = f' <span class="sni">SNI {h(str(f.sni))}</span>' if f.sni else ""
    out.append(
        f'<h3><span>{n}.</span> {_chip(f.label)} <span class="endpoints">{h(lad.client)} → {h(lad.server)}'
        f"</span>{sni}</h3>"
    )
    out.append(f'<p class="verdict">{h(f.explanation)}</p>')
    if f.kubernetes_error:
        out.append("<h4>Kubernetes/Go error</h4>" + _pre([h(f.kubernetes_error)], "error"))
        for a in f.alternatives:
            out.append(f'<p class="alt">or, {h(str(a.when))}:</p>' + _pre([h(str(a.error))], "error"))
    if f.where:
        out.append(
            f'<h4>Where</h4><p class="where"><b>{h(f.where)}</b>: {h(f.where_explanation or "")}</p>'
            + "<ul>"
            + "".join(f"<li>{h(note)}</li>" for note in side_notes(f))
            + "</ul>"
        )
    if f.kubernetes is not None:
        out.append("<h4>Kubernetes</h4><ul>" + "".join(f"<li>{h(n)}</li>" for n in kube_notes(f)) + "</ul>")
    if f.timing is not None:
        out.append(f'<p class="timing"><b>Timing:</b> {h(str(f.timing.because))}</p>')
    if f.findings:
        out.append("<h4>Findings</h4><ul>" + "".join(f"<li>{h(x)}</li>" for x in f.findings) + "</ul>")
    if f.capture_limits:
        out.append(f'<p class="warn"><b>Capture limits:</b> {h("; ".join(f.capture_limits))}</p>')
    facts = [
        f.tls_version or "no TLS version seen",
        f"history {f.history or '-'}",
        f"{f.packets} packet{'s' * (f.packets != 1)}",
        seconds(f.duration_s),
        f"{f.retransmissions} retransmission{'s' * (f.retransmissions != 1)}",
        f"started {rfc3339(f.start_ns) or '?'}",
        f"connection {f.id} of {f.capture}",
    ]
    if f.client_inferred:
        facts.append("client side inferred (no SYN seen)")
    out.append(f'<p class="facts">{" · ".join(h(x) for x in facts)}</p>')
    c = f.certificate
    if c is not None:
        names = ", ".join(str(n) for n in (*c.dns_names, *c.ip_addresses)) or "-"
        cert_rows = [
            ("subject", str(c.subject)),
            ("issuer", str(c.issuer) + (" (self-signed)" if c.self_signed else "")),
            ("names", names),
            ("valid", f"{c.not_before:%Y-%m-%d %H:%M} to {c.not_after:%Y-%m-%d %H:%M} UTC"),
            *(("problem", str(p)) for p in c.problems),
        ]
        out.append(
            '<h4>Server certificate</h4><table class="cert">'
            + "".join(f'<tr><th>{k}</th><td class="wrap">{h(v)}</td></tr>' for k, v in cert_rows)
            + "</table>"
        )
    out.append("<h4>Ladder</h4>")
    legend = (
        '<span class="sw c2s"></span>client → server<span class="sw s2c"></span>server → client'
        '<span class="sw key"></span>★ key frame (proves the label)'
        '<span class="sw retx"></span>retransmission'
        + ('<span class="sw net"></span>ICMP error from the network' if lad.has_network else "")
    )
    note = hidden_note(f, lad)
    if note:
        out.append(f'<p class="warn">{h(note)}</p>')
    out.append(
        f'<figure class="ladder">{svg_ladder(lad, pfx)}<figcaption>Times are seconds since the connection\'s '
        f"first packet; frames are numbered as in Wireshark.{legend}</figcaption></figure>"
    )
    rows = []
    for e in f.evidence:
        summary = str(e.summary)
        cls = " ".join((["key"] if e.key else []) + (["retx"] if "retransmission" in summary else []))
        tr = f'<tr class="{cls}">' if cls else "<tr>"
        rows.append(
            f'{tr}<td class="num frame">{"★ " if e.key else ""}'
            f'{e.frame}</td><td class="num">{e.time:.6f}</td>'
            f'<td class="dir">{h(e.direction.replace("->", " → "))}</td>'
            f'<td class="pkt wrap mono">{h(summary)}</td></tr>'
        )
    out.append(
        '<h4>Evidence frames</h4><table class="evidence"><thead><tr><th class="num">frame</th>'
        '<th class="num">time (s)</th><th>direction</th><th>packet</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )
    out.append("<h4>Wireshark display filter</h4>" + _pre([h(wireshark_filter(f))]))
    if f.capture != "-":
        path = shlex.quote(printable(f.capture))
        flt = shlex.quote(wireshark_filter(f))
        out.append(_pre([h(f"wireshark -r {path} -Y {flt}"), h(f"tshark -r {path} -Y {flt}")], "cmds"))
    if redacted:
        out.append(
            '<p class="muted">Addresses are pseudonyms (--redact): map them back before filtering the '
            "original capture.</p>"
        )
    if f.next_steps:
        warn = f'<p class="warn">{h(UNSAFE_COMMANDS)}</p>' if unsafe_commands(f) else ""
        out.append("<h4>Next checks</h4>" + warn + _pre([_command(s) for s in f.next_steps], "cmds"))
    out.append("</article>")
    return "\n".join(out)


def _path(path: str) -> str:
    """A file path that may break after each '/' (and anywhere, if a part is still too long)."""
    return "/<wbr>".join(h(part) for part in path.split("/"))


def _captures(r: Report) -> str:
    notes = any(capture_notes(c) for c in r.captures)
    rows = []
    for c in r.captures:
        kinds = ", ".join(f"{linktype_name(lt)} ({lt})" for lt in c.link_types) or "no link type"
        first, last = ((rfc3339(t) or "-").replace("T", " ") for t in (c.first_ns, c.last_ns))
        rows.append(
            f'<tr><td class="mono path">{_path(c.path)}</td><td>{h(c.format)}<br>{h(kinds)}</td>'
            f'<td class="num">{c.packets}<br>{c.tcp_packets} TCP</td><td>{h(first)}<br>{h(last)}</td>'
            f'<td class="num">{h(capture_span(c))}</td>'
            + (f'<td class="wrap">{h(capture_notes(c) or "-")}</td>' if notes else "")
            + "</tr>"
        )
    return (
        '<table class="captures"><thead><tr><th>capture</th><th>format, link types</th>'
        '<th class="num">packets</th><th>first / last packet (UTC)</th><th class="num">span</th>'
        + ("<th>notes</th>" if notes else "")
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _summary(r: Report) -> str:
    rows = []
    for label, n in label_counts(r):
        info = LABELS[label]
        err = info.error if info.error != "none" else "-"
        rows.append(
            f'<tr><td>{_chip(label)}</td><td class="num">{n}</td><td>{h(info.wire)}</td>'
            f'<td class="mono">{h(err)}</td></tr>'
        )
    return (
        '<table class="labels"><thead><tr><th>label</th><th class="num">connections</th>'
        "<th>what the wire shows"
        "</th><th>error it produces</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        f'<p class="muted">{h(summary_notes(r))}</p>'
        + (
            "<h3>Kubernetes checks</h3><ul>"
            + "".join(f"<li>{h(str(x))}</li>" for x in r.kubernetes_findings)
            + "</ul>"
            if r.kubernetes_findings
            else ""
        )
    )


def _rows(rows: list[Row], with_error: bool) -> str:
    head = (
        '<tr><th class="num">#</th><th>start (UTC)</th><th>client → server</th><th>SNI</th><th>label</th>'
        '<th class="num">packets</th><th class="num">duration</th><th>history</th>'
        + ("<th>error</th>" if with_error else "")
        + "</tr>"
    )
    body = []
    for row in sorted(rows, key=lambda x: (x.capture, x.start_ns, x.id)):
        body.append(
            f'<tr><td class="num">{row.id}</td><td class="mono">{h(rfc3339(row.start_ns) or "-")}</td>'
            f'<td class="mono">{h(row.client)} → {h(row.server)}</td>'
            f'<td class="wrap">{h(row.sni or "-")}</td>'
            f'<td>{_chip(row.label)}</td><td class="num">{row.packets}</td>'
            f'<td class="num">{h(seconds(row.duration_s))}</td><td class="mono">{h(row.history or "-")}</td>'
            + (f'<td class="mono wrap">{h(row.kubernetes_error or "-")}</td>' if with_error else "")
            + "</tr>"
        )
    return f'<table class="compact"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def document(r: Report, kept: Kept) -> str:
    """The whole HTML page from the captures and summary in ``r`` and the kept connections."""
    title = headline(r)
    counts = label_counts(r)
    worst = next((label for label, _ in counts if label.failing), None)
    banner_cls = (
        f"banner l-{worst.value}" if worst else "banner l-incomplete" if r.cut_undecided else "banner l-ok"
    )
    warning = cut_line(r)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="color-scheme" content="light">',
        f"<title>pcapdiag report: {h(title)}</title>",
        f"<style>{_css()}</style>",
        "</head>",
        "<body>",
        *([f'<p class="banner cut">{h(warning)}</p>'] if warning else []),
        "<header>",
        "<h1>pcapdiag report</h1>",
        f'<div class="{banner_cls}"><p class="headline">{h(title)}</p>'
        f'<p class="chips">{"".join(_chip(label, n) for label, n in counts) or "no connections"}</p></div>',
    ]
    if r.redacted:
        out.append(
            '<p class="banner redacted">Redacted: addresses and names are pseudonyms, consistent within '
            "this report.</p>"
        )
    out.append("</header>")
    failures = in_order(kept.detailed)
    others = in_order(kept.detailed_others)
    out.append(f'<section id="analysed"><h2>What was analysed</h2>{_captures(r)}</section>')
    out.append(f'<section id="summary"><h2>Summary by label</h2>{_summary(r)}</section>')
    if failures:
        out.append('<section id="failing"><h2>Failing connections</h2>')
        if len(failures) > 1:
            items = [
                f'<li><a href="#c{n}">{_chip(f.label)} <span class="mono">{h(ladder_endpoints(f))}</span>'
                f"{' · SNI ' + h(str(f.sni)) if f.sni else ''}</a></li>"
                for n, f in enumerate(failures, 1)
            ]
            out.append('<nav class="toc"><ol>' + "".join(items) + "</ol></nav>")
        out.extend(_flow(n, f, r.redacted) for n, f in enumerate(failures, 1))
        out.append("</section>")
    if kept.failing_rows:
        out.append(
            f'<section id="more-failing"><h2>{len(kept.failing_rows)} more failing connections</h2>'
            f'<p class="muted">Not drawn: the report details the first {len(kept.detailed)}.</p>'
            f"{_rows(kept.failing_rows, with_error=True)}</section>"
        )
    if others:
        out.append('<section id="others"><h2>Connections that did not fail</h2>')
        out.extend(_flow(n, f, r.redacted) for n, f in enumerate(others, len(failures) + 1))
        out.append("</section>")
    if kept.other_rows:
        n_other = sum(n for label, n in counts if not label.failing)
        out.append(
            f'<section id="healthy"><h2>Healthy and undecided connections ({n_other})</h2>'
            f"{_rows(kept.other_rows, with_error=False)}</section>"
        )
    if kept.rows_dropped:
        out.append(
            f'<p class="muted">{kept.rows_dropped} further connections are counted in the summary only.</p>'
        )
    out.append(
        f"<footer>pcapdiag {h(__version__)} · every packet, name and text above comes from the capture files "
        "listed; frame numbers are Wireshark's.</footer>"
    )
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def ladder_endpoints(f: FlowReport) -> str:
    """'client → server' as the ladder titles them."""
    return f"{endpoint(f.client.ip, f.client.port)} → {endpoint(f.server.ip, f.server.port)}"


class HtmlStream(DocumentStream):
    """The --format html report: nothing while connections stream, one self-contained page at the end."""

    def document(self, r: Report, kept: Kept) -> str:
        return document(r, kept)


def render_html(r: Report, all_flows: bool = False) -> str:
    """A report whose connections are all in ``r.flows`` as one HTML page."""
    return HtmlStream(all_flows).render(r)
