"""Render a Report as plain text for a terminal or a ticket: a line per connection, then the failures."""

from __future__ import annotations

from pcapdiag.capture import linktype_name
from pcapdiag.classify import Label
from pcapdiag.report.ladder import kube_notes, side_notes
from pcapdiag.report.model import FlowReport, Report
from pcapdiag.report.timefmt import rfc3339


def _endpoint(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


ANSI_RESET = "\x1b[0m"
ANSI_RED = "\x1b[1;31m"  # failing labels
ANSI_GREEN = "\x1b[32m"  # ok
ANSI_YELLOW = "\x1b[33m"  # incomplete, partial: the capture could not decide


def label_text(label: Label, width: int = 0, color: bool = False) -> str:
    """A label padded to ``width``, coloured by what it means when ``color``."""
    text = label.value.ljust(width)
    if not color:
        return text
    code = ANSI_RED if label.failing else ANSI_GREEN if label is Label.OK else ANSI_YELLOW
    return f"{code}{text}{ANSI_RESET}"


def flow_line(f: FlowReport, color: bool = False) -> str:
    """The one-line summary of a connection."""
    who = f"{_endpoint(f.client.ip, f.client.port)} -> {_endpoint(f.server.ip, f.server.port)}"
    sni = str(f.sni) if f.sni else "-"
    return (
        f"{rfc3339(f.start_ns)}  {who:<47} {sni:<32} {label_text(f.label, 22, color)} "
        f"{f.kubernetes_error or ''}".rstrip()
    )


def flow_detail(f: FlowReport, color: bool = False) -> list[str]:
    """The evidence and next steps of one connection."""
    lines = [
        f"#{f.id} {label_text(f.label, 0, color)}: {_endpoint(f.client.ip, f.client.port)} -> "
        f"{_endpoint(f.server.ip, f.server.port)}"
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
        lines.append(f"  {r.untracked_connections} connections not tracked (--max-flows reached)")
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
        out.append(f"Capture {c.path}: {c.format}, {kinds}, {c.packets} packets{extra}")
    return out


def render_text(r: Report) -> str:
    """The whole report as text."""
    warning = cut_line(r)
    out = ([warning] if warning else []) + capture_lines(r)
    out.append("")
    for f in r.flows:
        out.append(flow_line(f))
    failing = r.failing
    if failing:
        out.append("")
        for f in failing:
            out.extend(flow_detail(f))
            out.append("")
    else:
        out.append("")
    out.extend(render_summary(r))
    return "\n".join(out) + "\n"
