"""Streaming renderers: text, JSON and JSON lines written a connection at a time as each is decided.

Each renderer turns one decided connection into the text to write now, and the finished report
(captures and summary) into the text that closes the output; none keeps every connection, so
memory stays flat however long the capture.
"""

from __future__ import annotations

import json
import textwrap

from pcapdiag.report.model import FlowReport, Report
from pcapdiag.report.render_html import HtmlStream
from pcapdiag.report.render_json import render_json_flow, render_jsonl_flow, report_dict
from pcapdiag.report.render_markdown import MarkdownStream
from pcapdiag.report.render_text import capture_lines, cut_line, flow_detail, flow_line, render_summary
from pcapdiag.report.renderer import MAX_DETAILED_FAILURES, StreamRenderer


class TextStream(StreamRenderer):
    """A line per connection as decided (or, reading a file, all at the end, after what the report
    must say first); evidence for failures and the summary at the end."""

    def __init__(self, color: bool = False, hold: bool = False) -> None:
        self.color = color
        """Colour labels with ANSI codes (the CLI sets it for a terminal without NO_COLOR)."""
        self.hold = hold
        """Keep the connection lines until the end (a file: the report can then open with a warning
        that only the end knows, such as connections a cut capture left undecided)."""
        self._lines: list[str] = []
        self._failures: list[FlowReport] = []
        self._more_failures = 0

    def flow(self, f: FlowReport) -> str:
        if f.label.failing:
            if len(self._failures) < MAX_DETAILED_FAILURES:
                self._failures.append(f)
            else:
                self._more_failures += 1
        line = flow_line(f, self.color) + "\n"
        if self.hold:
            self._lines.append(line)
            return ""
        return line

    def end(self, r: Report) -> str:
        warning = cut_line(r)
        head = "".join(([warning + "\n\n"] if warning else []) + self._lines)
        self._lines = []
        out = [""]
        for f in self._failures:
            out.extend(flow_detail(f, self.color))
            out.append("")
        if self._more_failures:
            out.append(
                f"... and {self._more_failures} more failing connections "
                "(their lines are above; --format json has the evidence of every one)"
            )
            out.append("")
        out.extend(capture_lines(r))
        out.extend(render_summary(r))
        return head + "\n".join(out) + "\n"


class JsonStream(StreamRenderer):
    """The --format json document, its flows array written one connection at a time, a line each."""

    def __init__(self) -> None:
        self._count = 0

    def _head(self) -> str:
        return '{\n  "schema_version": 1,\n  "flows": ['

    def flow(self, f: FlowReport) -> str:
        # One line per connection: JSON without indent runs CPython's C encoder, four times
        # faster than the indenting Python one, and a report of 100,000 connections stays greppable.
        head = self._head() + "\n    " if self._count == 0 else ",\n    "
        self._count += 1
        return head + render_json_flow(f)

    def end(self, r: Report) -> str:
        doc = report_dict(r)
        head = self._head() if self._count == 0 else "\n  "
        rest = [
            f'  "{key}": ' + textwrap.indent(json.dumps(value, indent=2), "  ").lstrip()
            for key, value in doc.items()
            if key not in ("schema_version", "flows")
        ]
        return f"{head}],\n" + ",\n".join(rest) + "\n}\n"


class JsonLinesStream(StreamRenderer):
    """One JSON object per connection per line, flushed as decided; a last line with the summary
    and the captures (the only line without a "label")."""

    def flow(self, f: FlowReport) -> str:
        return render_jsonl_flow(f)

    def end(self, r: Report) -> str:
        doc = report_dict(r)
        last = {key: doc[key] for key in ("summary", "captures", "clock_offsets", "kubernetes")}
        return json.dumps(last, separators=(",", ":")) + "\n"


STREAMS: dict[str, type[StreamRenderer]] = {
    "text": TextStream,
    "json": JsonStream,
    "jsonl": JsonLinesStream,
    "markdown": MarkdownStream,
    "html": HtmlStream,
}
"""--format choices, each a renderer that writes connections as they are decided."""


def make_renderer(
    fmt: str, *, color: bool = False, all_flows: bool = False, live: bool = True
) -> StreamRenderer:
    """The renderer for a --format choice: colour applies to text, --all to the documents; text read
    from files (not ``live``) is written at the end, so that it can open with what only the end knows."""
    if fmt == "text":
        return TextStream(color=color, hold=not live)
    if fmt == "html":
        return HtmlStream(all_flows=all_flows)
    if fmt == "markdown":
        return MarkdownStream(all_flows=all_flows)
    return STREAMS[fmt]()
