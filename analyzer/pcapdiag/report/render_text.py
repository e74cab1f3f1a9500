"""Render a Report as text for a terminal or a ticket: the answer, a row per server, failures grouped."""

from __future__ import annotations

from collections.abc import Callable

from pcapdiag.capture import linktype_name
from pcapdiag.classify import Label
from pcapdiag.report.groups import Group, Line
from pcapdiag.report.ladder import headline, kube_notes, seconds, side_notes
from pcapdiag.report.model import FilteredOut, FlowReport, Report
from pcapdiag.report.servers import reading
from pcapdiag.report.timefmt import rfc3339

TOP_SERVERS = 5
"""Servers the opening lines name (the most failures first)."""
MAX_HEALTHY_ROWS = 20
"""Servers without a failure the text table shows; the rest are counted."""


Painter = Callable[[str, Label], str]
"""Colours a label's text for a terminal (the CLI's, through click): the renderer never writes escapes."""


def label_text(label: Label, width: int = 0, paint: Painter | None = None) -> str:
    """A label padded to ``width``, coloured by what it means when a painter is given."""
    text = label.value.ljust(width)
    return paint(text, label) if paint is not None else text


def flow_line(f: FlowReport, paint: Painter | None = None) -> str:
    """The one-line summary of a connection."""
    who = f"{f.client} -> {f.server}"
    sni = str(f.sni) if f.sni else "-"
    return (
        f"{rfc3339(f.start_ns)}  {who:<47} {sni:<32} {label_text(f.label, 22, paint)} "
        f"{f.kubernetes_error or ''}".rstrip()
    )


def flow_detail(f: FlowReport, paint: Painter | None = None) -> list[str]:
    """The evidence and next steps of one connection."""
    lines = [
        f"#{f.id} {label_text(f.label, 0, paint)}: {f.client} -> {f.server}"
        + (f" (SNI {f.sni})" if f.sni else "")
        + (f" {f.tls_version}" if f.tls_version else "")
        + f"  [{f.capture}]",
        f"  {f.explanation}",
    ]
    if f.kubernetes_error:
        lines.append(f"  error: {f.kubernetes_error}")
        lines.extend(f"    or, {a.when}: {a.error}" for a in f.alternatives)
    if f.timing is not None:
        lines.append(f"  timing: {f.timing.because}")
    lines.extend(f"  finding: {finding}" for finding in f.findings)
    if f.capture_limits:
        lines.append(f"  capture limits: {'; '.join(f.capture_limits)}")
    lines.extend(side_lines(f))
    lines.extend(f"  k8s: {note}" for note in kube_notes(f))
    if f.certificate is not None:
        c = f.certificate
        names = ", ".join(str(n) for n in (*c.dns_names, *c.ip_addresses)) or "-"
        lines.append(
            f"  certificate: subject {c.subject}, issuer {c.issuer}, names {names}, valid "
            f"{c.not_before:%Y-%m-%d} to {c.not_after:%Y-%m-%d}" + (", self-signed" if c.self_signed else "")
        )
    lines.append(f"  history: {f.history or '-'}  packets: {f.packets}  duration: {f.duration_s:.3f} s")
    lines.append("  evidence:")
    for e in f.evidence:
        mark = "*" if e.key else " "
        lines.append(f"   {mark}frame {e.frame:<7} {e.time:>11.6f}  {e.direction:<15} {e.summary}")
    if f.next_steps:
        lines.append("  next steps:")
        lines.extend(f"    {step}" for step in f.next_steps)
    return lines


def side_lines(f: FlowReport) -> list[str]:
    """Where the connection failed and what each capture point saw (several captures only)."""
    lines = []
    if f.where:
        lines.append(f"  where: {f.where}: {f.where_explanation}")
    lines.extend(f"  seen at {note}" for note in side_notes(f))
    return lines


def cut_line(r: Report) -> str | None:
    """The warning a cut capture opens its report with, or None when the snaplen decided nothing."""
    if not r.cut_undecided:
        return None
    n = r.cut_undecided
    snap = f" of {r.snaplen} bytes" if r.snaplen else ""
    return (
        f"Warning: {n} connection{'s' * (n != 1)} could not be decided because the capture's snapshot "
        f"length{snap} cut the bytes that decide {'them' if n != 1 else 'it'}: capture again with "
        "`tcpdump -s 0` (whole packets). Failures may be hidden among them."
    )


def render_summary(r: Report) -> list[str]:
    """The closing summary lines."""
    counts = ", ".join(f"{label} {n}" for label, n in sorted(r.by_label.items())) or "none"
    total = sum(r.by_label.values())
    lines = [f"Summary: {total} connection{'s' if total != 1 else ''}: {counts}"]
    if r.redacted:
        lines.append("  redacted: addresses and names are pseudonyms (consistent within this report)")
    if r.untracked_connections:
        lines.append(f"  {plural(r.untracked_connections, 'connection')} not tracked (--max-flows reached)")
    if r.by_where:
        lines.append(
            "  failing connections by where: " + ", ".join(f"{w} {n}" for w, n in sorted(r.by_where.items()))
        )
    lines.extend(offset_lines(r))
    if r.kubernetes_findings is not None:
        lines.append(f"  Kubernetes checks: {len(r.kubernetes_findings) or 'nothing found'}")
        lines.extend(f"    {finding}" for finding in r.kubernetes_findings)
    return lines


def offset_lines(r: Report) -> list[str]:
    """The measured clock offsets between captures."""
    lines = []
    for o in r.clock_offsets:
        delay = f", one-way delay {o.one_way_delay_s * 1000:.3f} ms" if o.one_way_delay_s is not None else ""
        lines.append(
            f"  clock of {o.capture} vs {o.reference}: {o.offset_s:+.6f} s "
            f"(from {o.connections} connection{'s' * (o.connections != 1)}, spread {o.spread_s:.6f} s{delay})"
        )
    return lines


def capture_lines(r: Report) -> list[str]:
    """One line per capture read: format, link types, packets, and anything that cut it short."""
    out: list[str] = []
    for c in r.captures:
        kinds = ", ".join(linktype_name(lt) for lt in c.link_types) or "no link type"
        extra = f", decoded by {c.engine}" if c.engine != "native" else ""
        extra += f", {c.malformed} malformed" if c.malformed else ""
        extra += f", cut off at byte {c.truncated_at}" if c.truncated_at is not None else ""
        extra += f", stopped: {c.stopped}" if c.stopped else ""
        extra += f", taken at the {c.capture_point} side" if c.capture_point else ""
        extra += f", snaplen {c.snaplen}" if c.snaplen else ""
        if c.side is not None:
            extra += f"; side {c.side!r}, the {c.role} end (by {c.role_basis})"
        out.append(f"Capture {c.path}: {c.format}, {kinds}, {plural(c.packets, 'packet')}{extra}")
    return out


def plural(n: int, word: str) -> str:
    """'1 packet', '2 packets'."""
    return f"{n} {word}{'s' * (n != 1)}"


def answer_lines(r: Report) -> list[str]:
    """What the report opens with: how many connections failed, by label, and at which servers."""
    lines = [headline(r)]
    failing = [s for s in r.servers if s.failing]
    if failing:
        named = [
            f"{s.endpoint}{' ' + s.name if s.name else ''} "
            f"({', '.join(f'{k} {n}' for k, n in s.failing_labels)})"
            for s in failing[:TOP_SERVERS]
        ]
        more = f", and {len(failing) - TOP_SERVERS} more" if len(failing) > TOP_SERVERS else ""
        lines.append(f"Failing servers, {len(failing)} of {len(r.servers)}: " + "; ".join(named) + more + ".")
    elif r.servers:
        lines.append(f"Servers: {len(r.servers)}, none with a failure.")
    return lines


def server_table(r: Report, paint: Painter | None = None) -> list[str]:
    """One row per server (the failing ones, then up to MAX_HEALTHY_ROWS others): calls, failures by
    label, first and last failure, then the error the API server saw and the pattern's reading."""
    if not r.servers:
        return []
    failing = [s for s in r.servers if s.failing]
    healthy = [s for s in r.servers if not s.failing]
    shown = failing + healthy[:MAX_HEALTHY_ROWS]
    names = [s.endpoint + (f" {s.name}" if s.name else "") for s in shown]
    labels = [", ".join(f"{k} {n}" for k, n in s.failing_labels) or "-" for s in shown]
    w_name = max(len("server"), *(len(n) for n in names))
    w_label = max(len("failures by label"), *(len(x) for x in labels))
    out = [
        f"Servers ({len(r.servers)}), failing first:",
        f"  {'server':<{w_name}}  {'calls':>6}  {'failed':>6}  {'failures by label':<{w_label}}  "
        f"{'first failure':<27}  last failure",
    ]
    for s, name, label in zip(shown, names, labels, strict=True):
        first = rfc3339(s.first_failure_ns) or "-"
        last = rfc3339(s.last_failure_ns) or "-"
        out.append(
            f"  {name:<{w_name}}  {s.calls:>6}  {s.failing:>6}  {label:<{w_label}}  {first:<27}  "
            f"{last}".rstrip()
        )
        if s.error:
            more = f" (and {plural(s.other_errors, 'other error')})" if s.other_errors else ""
            out.append(f"      error: {s.error}{more}")
        out.append(f"      pattern: {reading(s)}")
    rest = healthy[MAX_HEALTHY_ROWS:]
    if rest:
        calls = sum(s.calls for s in rest)
        out.append(
            f"  ... and {plural(len(rest), 'more server')} without a failure ({plural(calls, 'call')})"
        )
    return out


def group_lines(g: Group, captures: list[str], paint: Painter | None = None) -> list[str]:
    """A group: its heading, its representative in full, then every other connection in one line."""
    name = f" {g.name}" if g.name else ""
    span = (
        rfc3339(g.first_ns) if g.first_ns == g.last_ns else f"{rfc3339(g.first_ns)} to {rfc3339(g.last_ns)}"
    )
    out = [
        f"[{g.anchor}] {label_text(g.label, 0, paint)} at {g.server}{name}"
        + (f" (where: {g.where})" if g.where else "")
        + ": "
        f"{plural(g.count, 'connection')}, {span}"
    ]
    if g.representative is not None:
        out.extend(flow_detail(g.representative, paint))
    lines = g.listed(captures)
    if lines:
        n = len(lines) + g.unlisted
        if g.representative is None:
            out.append(f"  its {plural(n, 'connection')}:")
        else:
            out.append(
                f"  the other {plural(n, 'connection')} of this group:"
                if n > 1
                else "  the other connection:"
            )
        several = len(captures) > 1
        out.extend(f"    {one_line(x, several)}" for x in lines)
    if g.unlisted:
        out.append(f"    ... and {g.unlisted} more not listed (--format json has every connection)")
    return out


def one_line(x: Line, capture: bool = False) -> str:
    """'frames 1201-1202  2026-09-21T14:13:21.002345Z  148 µs  198.18.0.3:40060  #57'."""
    frames = (
        f"frame {x.first_frame}"
        if x.first_frame == x.last_frame
        else f"frames {x.first_frame}-{x.last_frame}"
    )
    where = f"  [{x.capture}]" if capture else ""
    return f"{frames:<20} {rfc3339(x.start_ns)}  {seconds(x.duration_s):>10}  {x.client:<24} #{x.id}{where}"


def groups_section(r: Report, groups: list[Group], paint: Painter | None = None) -> list[str]:
    """The failing groups (and, with --show all, the others), each as group_lines gives it."""
    captures = [c.path for c in r.captures]
    out: list[str] = []
    for failing in (True, False):
        part = [g for g in groups if g.label.failing == failing]
        if not part:
            continue
        n = sum(g.count for g in part)
        what = "Failing connections" if failing else "Connections that did not fail"
        out += [
            f"{what}, by server and label ({plural(n, 'connection')} in {plural(len(part), 'group')}):",
            "",
        ]
        for g in part:
            out.extend(group_lines(g, captures, paint))
            out.append("")
    return out


def filter_note(r: Report) -> str | None:
    """What the filters left out, in a sentence, or None when they left out nothing (or none was given)."""
    return filter_line(r.filtered) if r.filtered is not None else None


def filter_line(f: FilteredOut) -> str | None:
    """'--port 9999 left out 3412 TCP connections (48211 TCP packets) to 24 servers: A (812), ...'."""
    if not f.packets and not f.connections:
        return None
    filters = f.by or "the filters"
    if not f.connections:
        return (
            f"{filters} left out {plural(f.packets, 'TCP packet')} (no connection's opening SYN among them)"
        )
    top = ", ".join(f"{server} ({n})" for server, n in f.servers[:TOP_SERVERS])
    more = f", and {f.server_count - TOP_SERVERS} more" if f.server_count > TOP_SERVERS else ""
    return (
        f"{filters} left out {plural(f.connections, 'TCP connection')} ({plural(f.packets, 'TCP packet')}) "
        f"to {plural(f.server_count, 'server')}: {top}{more}"
    )


def render_text(r: Report, show: str = "failing") -> str:
    """The whole report as text (its connections all in ``r.flows``)."""
    from pcapdiag.report.stream import TextStream

    return TextStream(hold=True, show=show).render(r)
