"""Pure renderers of one report model: text, JSON (and JSON lines)."""

from collections.abc import Callable

from pcapdiag.report.build import build_flow
from pcapdiag.report.model import (
    SCHEMA_VERSION,
    Address,
    CaptureReport,
    ClockOffset,
    EvidenceRow,
    FlowReport,
    Report,
    SideReport,
    Translated,
)
from pcapdiag.report.render_json import render_json, render_jsonl_flow
from pcapdiag.report.render_text import flow_line, render_text

RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": render_text,
    "json": render_json,
}
"""--format choices that render a whole report at once."""

__all__ = [
    "RENDERERS",
    "SCHEMA_VERSION",
    "Address",
    "CaptureReport",
    "ClockOffset",
    "EvidenceRow",
    "FlowReport",
    "Report",
    "SideReport",
    "Translated",
    "build_flow",
    "flow_line",
    "render_json",
    "render_jsonl_flow",
    "render_text",
]
