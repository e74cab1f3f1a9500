"""Render a report as Markdown for a ticket or a wiki page, each failing connection with a text ladder."""

from __future__ import annotations

import re
import shlex

from pcapdiag.capture import linktype_name
from pcapdiag.classify import LABELS, Label
from pcapdiag.report.groups import Group
from pcapdiag.report.ladder import (
    CLIENT,
    NETWORK,
    UNSAFE_COMMANDS,
    Ladder,
    capture_notes,
    capture_span,
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
from pcapdiag.report.renderer import DocumentStream
from pcapdiag.report.servers import reading
from pcapdiag.report.timefmt import rfc3339

SPAN = 58
"""Characters between the client and server lanes of the text ladder."""
NOTE_WIDTH = 90
"""Characters of TLS/HTTP notes shown to the right of a rung (the evidence table has them all)."""
_MD_SPECIAL = frozenset("\\`*_[]<|~#&$")
_BACKTICKS = re.compile(r"`+")
_LINE_START = re.compile(r"^([-+=>]|\d+[.)])")


def md(text: str, line_start: bool = False) -> str:
    """Text from a capture made inert in Markdown prose or a table cell: one line, every character
    Markdown or HTML could read as markup backslash-escaped (and, at the start of a line, whatever
    would open a list, a quote or a heading)."""
    out = "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in printable(text))
    m = _LINE_START.match(out) if line_start else None
    if m:
        out = out[: m.end() - 1] + "\\" + out[m.end() - 1 :]
    return out


def fenced(lines: list[str], info: str = "text") -> list[str]:
    """A fenced code block its content cannot close: the fence is longer than any backtick run inside."""
    longest = max((len(m.group(0)) for line in lines for m in _BACKTICKS.finditer(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *lines, fence]


def _cell(text: str | None) -> str:
    return md(text) if text else "-"


def _table(head: list[str], rows: list[list[str]], right: frozenset[int] = frozenset()) -> list[str]:
    align = ["---:" if i in right else "---" for i in range(len(head))]
    return ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"] + [
        "| " + " | ".join(row) + " |" for row in rows
    ]


def _captures(r: Report) -> list[str]:
    rows = []
    for c in r.captures:
        rows.append(
            [
                md(c.path),
                md(c.format),
                md(", ".join(linktype_name(lt) for lt in c.link_types) or "none"),
                str(c.packets),
                str(c.tcp_packets),
                _cell(rfc3339(c.first_ns)),
                _cell(rfc3339(c.last_ns)),
                capture_span(c),
                _cell(capture_notes(c)),
            ]
        )
    return _table(
        [
            "capture",
            "format",
            "link types",
            "packets",
            "TCP packets",
            "first packet (UTC)",
            "last packet (UTC)",
            "span",
            "notes",
        ],
        rows,
        right=frozenset({3, 4}),
    )


def _error_text(label: Label) -> str | None:
    error = LABELS[label].error
    return None if error == "none" else error


def _summary(r: Report) -> list[str]:
    rows = [
        [f"`{label.value}`", str(n), md(LABELS[label].wire), _cell(_error_text(label))]
        for label, n in label_counts(r)
    ]
    lines = _table(["label", "connections", "what the wire shows", "error it produces"], rows, frozenset({1}))
    out = [*lines, "", md(summary_notes(r))]
    if r.kubernetes_findings:
        out += ["", "**Kubernetes checks:**", ""] + [f"- {md(str(x))}" for x in r.kubernetes_findings]
    return out


def text_ladder(lad: Ladder) -> list[str]:
    """The ladder as lines of plain text (for a fenced block): time, frame, client lane, arrow, server
    lane, notes; silences of SILENCE_S or more as a broken axis with their length."""
    gutter = 21
    lines = [
        f"{'time (s)':>10}  {'frame':>6}   {'client':<{SPAN + 1}}server",
        f"{'':>{gutter}}{lad.client:<{SPAN + 1}}{lad.server}",
    ]
    blank = " " * gutter + "|" + " " * SPAN + "|"
    lines.append(blank)
    for rung in lad.rungs:
        if rung.silence_before is not None:
            text = f" {seconds(rung.silence_before)} of silence "
            lines.append(" " * gutter + ":" + " " * SPAN + ":")
            lines.append(" " * gutter + "~" + text.center(SPAN, "~") + "~")
            lines.append(" " * gutter + ":" + " " * SPAN + ":")
        label = rung.flags
        if rung.source == NETWORK:
            half = SPAN // 2
            shaft = ("<~ " + label + " ").ljust(half - 1, "~") + "x"
            body = "|" + shaft + " " * (SPAN - len(shaft)) + "|"
        else:
            fill = "=" if rung.retransmission else "-"
            inner = SPAN - 1
            text = f" {label} "
            if rung.source == CLIENT:
                body = "|" + (fill * 2 + text).ljust(inner, fill)[:inner] + ">|"
            else:
                body = "|<" + (text + fill * 2).rjust(inner, fill)[-inner:] + "|"
        notes = "; ".join(rung.notes)
        if len(notes) > NOTE_WIDTH:
            notes = notes[: NOTE_WIDTH - 3] + "..."
        mark = "*" if rung.key else " "
        lines.append(f"{rung.time:>10.6f}  {mark}{rung.frame:>5}   {body}  {notes}".rstrip())
    lines.append(blank)
    return lines


def _flow(n: int, f: FlowReport, redacted: bool) -> list[str]:
    lad = ladder(f)
    title = f"#### {n}. `{f.label.value}` {md(lad.client)} → {md(lad.server)}"
    if f.sni:
        title += f" (SNI {md(str(f.sni))})"
    out = [title, "", f"**Verdict:** {md(f.explanation)}", ""]
    if f.kubernetes_error:
        out += ["**Kubernetes/Go error:**", "", *fenced([printable(f.kubernetes_error)]), ""]
        for a in f.alternatives:
            out += [f"or, {md(str(a.when))}:", "", *fenced([printable(str(a.error))]), ""]
    if f.timing is not None:
        out += [f"**Timing:** {md(str(f.timing.because))}", ""]
    if f.findings:
        out += ["**Findings:**", ""] + [f"- {md(finding, line_start=True)}" for finding in f.findings] + [""]
    if f.capture_limits:
        out += [f"**Capture limits:** {md('; '.join(f.capture_limits))}", ""]
    if f.where:
        out += [f"**Where:** `{f.where}`: {md(f.where_explanation or '')}", ""]
        out += [f"- {md(note)}" for note in side_notes(f)] + [""]
    if f.kubernetes is not None:
        out += ["**Kubernetes:**", ""] + [f"- {md(note)}" for note in kube_notes(f)] + [""]
    facts = [
        f.tls_version or "no TLS version seen",
        f"history {f.history or '-'}",
        plural(f.packets, "packet"),
        seconds(f.duration_s),
        f"{f.retransmissions} retransmission{'s' * (f.retransmissions != 1)}",
        f"started {rfc3339(f.start_ns) or '?'}",
        f"connection {f.id} of {f.capture}",
    ]
    if f.client_inferred:
        facts.append("client side inferred (no SYN seen)")
    out += [md(" · ".join(facts), line_start=True), ""]
    c = f.certificate
    if c is not None:
        names = ", ".join(str(n) for n in (*c.dns_names, *c.ip_addresses)) or "-"
        cert = (
            f"subject {c.subject}; issuer {c.issuer}; names {names}; valid {c.not_before:%Y-%m-%d %H:%M} to "
            f"{c.not_after:%Y-%m-%d %H:%M} UTC" + ("; self-signed" if c.self_signed else "")
        )
        out += [f"**Server certificate:** {md(cert)}", ""]
        out += [f"- {md(str(p), line_start=True)}" for p in c.problems]
        out += [""] if c.problems else []
    legend = "`*` proves the label; `=` marks a retransmission" + (
        "; `~` an ICMP error from the network (`x`)" if lad.has_network else ""
    )
    note = hidden_note(f, lad)
    out += [f"**Ladder** ({legend}):", ""] + ([md(note, line_start=True), ""] if note else [])
    out += [*fenced(text_ladder(lad)), ""]
    rows = [
        [
            f"**{e.frame}**" if e.key else str(e.frame),
            f"{e.time:.6f}",
            md(e.direction.replace("->", " → ")),
            md(str(e.summary)),
            "★" if e.key else "",
        ]
        for e in f.evidence
    ]
    out += ["**Evidence frames** (Wireshark numbering):", ""]
    out += _table(["frame", "time (s)", "direction", "packet", "key"], rows, frozenset({0, 1}))
    out += ["", "**Wireshark display filter** for this connection:", "", *fenced([wireshark_filter(f)])]
    if f.capture != "-":
        path = shlex.quote(printable(f.capture))
        flt = shlex.quote(wireshark_filter(f))
        out += ["", *fenced([f"wireshark -r {path} -Y {flt}", f"tshark -r {path} -Y {flt}"], "sh")]
    if redacted:
        out += [
            "",
            "Addresses are pseudonyms (--redact): map them back before filtering the original capture.",
        ]
    if f.next_steps:
        out += ["", "**Next checks:**", ""]
        if unsafe_commands(f):
            out += [f"**Warning:** {UNSAFE_COMMANDS}", ""]
        out += fenced([printable(s) for s in f.next_steps], "sh")
    return [*out, ""]


def _servers(r: Report, anchors: dict[tuple[str, Label], str]) -> list[str]:
    """The per-server table: the failing servers, then up to MAX_HEALTHY_ROWS others."""
    failing = [s for s in r.servers if s.failing]
    healthy = [s for s in r.servers if not s.failing]
    rows = []
    for s in failing + healthy[:MAX_HEALTHY_ROWS]:
        labels = ", ".join(
            f"`{k}` {n} ({anchors[(s.endpoint, Label(k))]})"
            if (s.endpoint, Label(k)) in anchors
            else f"`{k}` {n}"
            for k, n in s.failing_labels
        )
        error = (s.error or "-") + (
            f" (and {plural(s.other_errors, 'other error')})" if s.other_errors else ""
        )
        rows.append(
            [
                md(s.endpoint) + (f" {md(s.name)}" if s.name else ""),
                str(s.calls),
                str(s.failing),
                labels or "-",
                _cell(rfc3339(s.first_failure_ns)),
                _cell(rfc3339(s.last_failure_ns)),
                md(error),
                md(reading(s)),
            ]
        )
    head = ["server", "calls", "failed", "failures by label", "first failure (UTC)", "last failure (UTC)"]
    out = _table([*head, "error the API server saw", "pattern"], rows, frozenset({1, 2}))
    rest = healthy[MAX_HEALTHY_ROWS:]
    if rest:
        calls = sum(s.calls for s in rest)
        out += ["", f"{plural(len(rest), 'more server')} without a failure ({plural(calls, 'call')})."]
    return out


def _group(g: Group, drawn: int, captures: list[str], redacted: bool) -> list[str]:
    name = f" {md(g.name)}" if g.name else ""
    first, last = rfc3339(g.first_ns) or "-", rfc3339(g.last_ns) or "-"
    window = first if first == last else f"{first} to {last}"
    out = [
        f"### {g.anchor}. `{g.label.value}` at {md(g.server)}{name}"
        + (f" (where: `{g.where}`)" if g.where else "")
        + ": "
        f"{plural(g.count, 'connection')}, {md(window)}",
        "",
    ]
    if g.representative is not None:
        out += _flow(drawn, g.representative, redacted)
    lines = g.listed(captures)
    if lines:
        others = len(lines) + g.unlisted
        what = (
            f"The other {plural(others, 'connection')}" if g.representative is not None else "Its connections"
        )
        out += [f"**{what} of this group** (frames as Wireshark numbers them):", ""]
        several = len(captures) > 1
        head = ["frames", "start (UTC)", "duration", "client", "packets", "connection"] + (
            ["capture"] * several
        )
        rows = []
        for x in lines:
            frames = (
                str(x.first_frame) if x.first_frame == x.last_frame else f"{x.first_frame}-{x.last_frame}"
            )
            row = [
                frames,
                _cell(rfc3339(x.start_ns)),
                seconds(x.duration_s),
                md(x.client),
                str(x.packets),
                str(x.id),
            ]
            rows.append(row + ([md(x.capture)] if several else []))
        out += [*_table(head, rows, frozenset({2, 4, 5})), ""]
    if g.unlisted:
        out += [
            f"{g.unlisted} more connections of this group are not listed; --format json has every one.",
            "",
        ]
    return out


def document(r: Report, groups: list[Group]) -> str:
    """The whole Markdown document from the captures, summary and roll-up in ``r`` and the kept groups."""
    warning = cut_line(r)
    answer = answer_lines(r)
    out = ([f"**{md(warning)}**", ""] if warning else []) + [
        "# pcapdiag report",
        "",
        f"**{md(answer[0])}**",
        "",
    ]
    out += [md(line, line_start=True) for line in answer[1:]] + ([""] if answer[1:] else [])
    note = filter_note(r)
    if note:
        out += [md(note, line_start=True), ""]
    if r.redacted:
        out += ["Redacted: addresses and names are pseudonyms, consistent within this report.", ""]
    anchors: dict[tuple[str, Label], str] = {}
    for g in groups:
        anchors.setdefault((g.server, g.label), g.anchor)
    if r.servers:
        out += ["## Servers", "", *_servers(r, anchors), ""]
    captures = [c.path for c in r.captures]
    drawn = 0
    for failing, heading in (
        (True, "## Failing connections by server and label"),
        (False, "## Connections that did not fail, by server and label"),
    ):
        part = [g for g in groups if g.label.failing == failing]
        if not part:
            continue
        out += [heading, ""]
        for g in part:
            drawn += g.representative is not None
            out += _group(g, drawn, captures, r.redacted)
    out += ["## What was analysed", "", *_captures(r), "", "## Summary by label", "", *_summary(r), ""]
    return "\n".join(out).rstrip("\n") + "\n"


class MarkdownStream(DocumentStream):
    """The --format markdown report: nothing while connections stream, the whole document at the end."""

    def document(self, r: Report, groups: list[Group]) -> str:
        return document(r, groups)


def render_markdown(r: Report, show: str = "failing") -> str:
    """A report whose connections are all in ``r.flows`` as one Markdown document."""
    return MarkdownStream(show).render(r)
