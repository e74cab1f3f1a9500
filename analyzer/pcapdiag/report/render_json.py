"""Render a Report as JSON (the documented, stable schema) or one JSON object per connection."""

from __future__ import annotations

import json
from typing import Any

from pcapdiag.capture import linktype_name
from pcapdiag.classify import Timing
from pcapdiag.k8s import Finding
from pcapdiag.report.model import (
    SCHEMA_VERSION,
    Address,
    CaptureReport,
    FilteredOut,
    FlowReport,
    KubeContext,
    Report,
    ServerSummary,
    SideReport,
)
from pcapdiag.report.servers import reading
from pcapdiag.report.timefmt import rfc3339

_encode_line = json.JSONEncoder(check_circular=False).encode
"""json.dumps() without its check for cycles: a flow's dict is a tree built afresh for each flow,
and the check costs a fifth of the encoding (the text is the same)."""
TOP_FILTERED = 5
"""Servers summary.filtered_out names (those the filters left most connections out of)."""
_encode_compact = json.JSONEncoder(check_circular=False, separators=(",", ":")).encode


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


def _address(a: Address | None) -> dict[str, Any] | None:
    return None if a is None else {"ip": a.ip, "port": a.port}


def side_dict(s: SideReport) -> dict[str, Any]:
    """One capture's view of a connection."""
    return {
        "capture": s.capture,
        "name": s.name,
        "role": s.role,
        "seen": s.seen,
        "client": _address(s.client),
        "server": _address(s.server),
        "packets": s.packets,
        "label": s.label.value if s.label is not None else None,
        "flow_id": s.flow_id,
        "first_frame": s.first_frame,
        "last_frame": s.last_frame,
    }


def finding_dict(f: Finding) -> dict[str, Any]:
    """One Kubernetes cross-check."""
    return {"severity": f.severity.value, "subject": str(f.subject), "text": str(f.text)}


def kube_dict(k: KubeContext | None) -> dict[str, Any] | None:
    """What the --k8s data says about one connection."""
    if k is None:
        return None
    return {
        "client": _str(k.client),
        "server": _str(k.server),
        "webhooks": [str(w) for w in k.webhooks],
        "configuration": _str(k.configuration),
        "service": _str(k.service),
        "service_port": k.service_port,
        "target_port": k.target_port,
        "timeout_s": k.timeout_s,
        "failure_policy": k.failure_policy,
        "path": k.path,
        "pods": [str(p) for p in k.pods],
        "matched_by": k.matched_by,
        "findings": [finding_dict(x) for x in k.findings],
    }


def timing_dict(t: Timing) -> dict[str, Any]:
    """A connection's timer inference as the JSON schema's timing object."""
    return {
        "phase": t.phase.value if t.phase else None,
        "syn_schedule": t.syn_schedule.value,
        "syn_count": t.syn_count,
        "syn_times_s": list(t.syn_times_s),
        "tried_s": t.tried_s,
        "since": t.since.value if t.since else None,
        "gave_up_s": list(t.gave_up_s) if t.gave_up_s else None,
        "budget_s": t.budget_s,
        "budget_source": t.budget_source.value if t.budget_source else None,
        "timer": t.timer.value if t.timer else None,
        "go_error": _str(t.go_error),
        "race": [r.value for r in t.race],
        "because": str(t.because),
    }


def flow_dict(f: FlowReport) -> dict[str, Any]:
    """One connection as the JSON schema's flow object."""
    cert = f.certificate
    return {
        "id": f.id,
        "capture": f.capture,
        "client": {"ip": f.client.ip, "port": f.client.port},
        "server": {"ip": f.server.ip, "port": f.server.port},
        "client_inferred": f.client_inferred,
        "label": f.label.value,
        "failing": f.label.failing,
        "kubernetes_error": f.kubernetes_error,
        "kubernetes_error_alternatives": [
            {"error": str(a.error), "when": str(a.when)} for a in f.alternatives
        ],
        "explanation": f.explanation,
        "findings": list(f.findings),
        "next_steps": list(f.next_steps),
        "sni": _str(f.sni),
        "alpn": list(f.alpn),
        "tls_version": f.tls_version,
        "start": rfc3339(f.start_ns),
        "duration_s": f.duration_s,
        "packets": f.packets,
        "bytes": {"client_to_server": f.bytes_to_server, "server_to_client": f.bytes_to_client},
        "retransmissions": f.retransmissions,
        "history": f.history,
        "first_frame": f.first_frame,
        "last_frame": f.last_frame,
        "evidence": [
            {
                "frame": e.frame,
                "time": e.time,
                "direction": e.direction,
                "summary": str(e.summary),
                "key": e.key,
            }
            for e in f.evidence
        ],
        "certificate": None
        if cert is None
        else {
            "subject": str(cert.subject),
            "issuer": str(cert.issuer),
            "dns_names": [str(n) for n in cert.dns_names],
            "ip_addresses": [str(a) for a in cert.ip_addresses],
            "not_before": cert.not_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "not_after": cert.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "self_signed": cert.self_signed,
            "problems": [str(p) for p in cert.problems],
        },
        "sides": [side_dict(s) for s in f.sides],
        "match": f.match,
        "where": f.where,
        "where_explanation": f.where_explanation,
        "kubernetes": kube_dict(f.kubernetes),
        "timing": timing_dict(f.timing) if f.timing is not None else None,
        "capture_limits": list(f.capture_limits),
        "translated": None
        if f.translated is None
        else {
            "flow_id": f.translated.flow_id,
            "client": _address(f.translated.client),
            "server": _address(f.translated.server),
            "view": f.translated.view,
        },
    }


def capture_dict(c: CaptureReport) -> dict[str, Any]:
    """One capture as the JSON schema's capture object."""
    return {
        "path": c.path,
        "format": c.format,
        "engine": c.engine,
        "link_types": [linktype_name(lt) for lt in c.link_types],
        "link_type_values": list(c.link_types),
        "packets": c.packets,
        "tcp_packets": c.tcp_packets,
        "malformed_packets": c.malformed,
        "first": rfc3339(c.first_ns),
        "last": rfc3339(c.last_ns),
        "truncated_at_offset": c.truncated_at,
        "error": c.error,
        "kernel_drops": c.drops,
        "stopped": c.stopped,
        "capture_point": c.capture_point,
        "snaplen": c.snaplen,
        "side": c.side,
        "role": c.role,
        "role_basis": c.role_basis,
        "skipped_frames": dict(c.skipped),
        "undecoded_link_types": [
            {"link_type": lt, "name": linktype_name(lt), "frames": n}
            for lt, n in c.undecoded_link_types.items()
        ],
    }


def report_dict(r: Report) -> dict[str, Any]:
    """The whole report as the JSON schema's top-level object."""
    return {
        "schema_version": SCHEMA_VERSION,
        "redacted": r.redacted,
        "flows": [flow_dict(f) for f in r.flows],
        "summary": {
            "connections": sum(r.by_label.values()),
            "failing": r.failing_count,
            "by_label": dict(r.by_label),
            "untracked_connections": r.untracked_connections,
            "duplicate_packets": r.duplicates,
            "timeout_s": r.timeout_s,
            "by_where": dict(r.by_where),
            "undecided_cut_by_snaplen": r.cut_undecided,
            "filtered_out": filtered_dict(r.filtered),
        },
        "captures": [capture_dict(c) for c in r.captures],
        "clock_offsets": [
            {
                "capture": o.capture,
                "reference": o.reference,
                "offset_s": o.offset_s,
                "one_way_delay_s": o.one_way_delay_s,
                "spread_s": o.spread_s,
                "connections": o.connections,
            }
            for o in r.clock_offsets
        ],
        "kubernetes": None
        if r.kubernetes_findings is None
        else {"findings": [finding_dict(x) for x in r.kubernetes_findings]},
        "servers": [server_dict(x) for x in r.servers],
    }


def server_dict(s: ServerSummary) -> dict[str, Any]:
    """One server's roll-up: its calls, failures by label, when they happened and their pattern."""
    return {
        "server": {"ip": s.server.ip, "port": s.server.port},
        "name": s.name,
        "calls": s.calls,
        "failing": s.failing,
        "by_label": dict(s.by_label),
        "first_call": rfc3339(s.first_ns),
        "last_call": rfc3339(s.last_ns),
        "first_failure": rfc3339(s.first_failure_ns),
        "last_failure": rfc3339(s.last_failure_ns),
        "error": s.error,
        "other_errors": s.other_errors,
        "pattern": s.pattern.value,
        "reading": reading(s),
    }


def filtered_dict(f: FilteredOut | None) -> dict[str, Any] | None:
    """What --port/--server left out (None when no filter was given)."""
    if f is None:
        return None
    return {
        "filters": f.by,
        "tcp_packets": f.packets,
        "connections": f.connections,
        "servers": f.server_count,
        "top_servers": [{"ip": a.ip, "port": a.port, "connections": n} for a, n in f.servers[:TOP_FILTERED]],
    }


def render_json(r: Report) -> str:
    """The report as indented JSON text."""
    return json.dumps(report_dict(r), indent=2) + "\n"


def render_json_flow(f: FlowReport) -> str:
    """One connection as one line of JSON, as in the flows array of --format json."""
    return _encode_line(flow_dict(f))


def render_jsonl_flow(f: FlowReport) -> str:
    """One connection as one line of JSON."""
    return _encode_compact(flow_dict(f)) + "\n"
