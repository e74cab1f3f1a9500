"""Streaming renderers: text, JSON and JSON lines written a connection at a time as each is decided.

Each renderer turns one decided connection into the text to write now, and the finished report
(captures and summary) into the text that closes the output; none keeps every connection, so
memory stays flat however long the capture.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator, Mapping

from pcapdiag.report.groups import Grouping
from pcapdiag.report.model import FlowReport, Report
from pcapdiag.report.render_json import render_json_flow, render_jsonl_flow, report_dict
from pcapdiag.report.render_text import (
    Painter,
    answer_lines,
    capture_lines,
    cut_line,
    flow_line,
    groups_section,
    render_summary,
    server_table,
)
from pcapdiag.report.renderer import StreamRenderer


class TextStream(StreamRenderer):
    """Text: reading a live stream, a line per connection as decided (failing ones, or every one with
    --show all); at the end the answer, a row per server and the connections grouped by server and
    label. Read from files, only the end is written, so the report opens with the answer."""

    def __init__(self, paint: Painter | None = None, hold: bool = False, show: str = "failing") -> None:
        self.paint = paint
        """Colours labels for a terminal (the CLI gives one for a terminal without NO_COLOR)."""
        self.hold = hold
        """Write nothing until the end (files)."""
        self.show = show
        self._groups = Grouping(all_labels=show == "all")

    def flow(self, f: FlowReport) -> str:
        self._groups.add(f)
        if self.hold or not (f.label.failing or self.show == "all"):
            return ""
        return flow_line(f, self.paint) + "\n"

    def end(self, r: Report) -> str:
        warning = cut_line(r)
        out = [warning, ""] if warning else []
        if not self.hold:
            out.append("")
        out += answer_lines(r)
        out += capture_lines(r)
        out.append("")
        table = server_table(r, self.paint)
        if table:
            out += [*table, ""]
        out += groups_section(r, self._groups.ordered(r.servers), self.paint)
        out.extend(render_summary(r))
        return "\n".join(out) + "\n"


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


FORMATS = ("text", "json", "jsonl", "markdown", "html", "svg")
"""--format choices, each a renderer that writes connections as they are decided."""


def stream_class(fmt: str) -> type[StreamRenderer]:
    """The renderer class of a --format choice (the documents' modules, with their templates, are
    imported only when asked for: a text or JSON run does not pay for them at start-up)."""
    if fmt == "markdown":
        from pcapdiag.report.render_markdown import MarkdownStream

        return MarkdownStream
    if fmt in ("html", "svg"):
        from pcapdiag.report.render_html import HtmlStream, SvgStream

        return HtmlStream if fmt == "html" else SvgStream
    return {"text": TextStream, "json": JsonStream, "jsonl": JsonLinesStream}[fmt]


class _Streams(Mapping[str, "type[StreamRenderer]"]):
    """FORMATS to their renderer classes, each looked up when asked for (stream_class)."""

    def __getitem__(self, fmt: str) -> type[StreamRenderer]:
        if fmt not in FORMATS:
            raise KeyError(fmt)
        return stream_class(fmt)

    def __iter__(self) -> Iterator[str]:
        return iter(FORMATS)

    def __len__(self) -> int:
        return len(FORMATS)


STREAMS: Mapping[str, type[StreamRenderer]] = _Streams()
"""--format choices, each a renderer that writes connections as they are decided."""


def make_renderer(
    fmt: str, *, paint: Painter | None = None, show: str = "failing", live: bool = True
) -> StreamRenderer:
    """The renderer for a --format choice: the painter applies to text, --show to text and the
    documents; text read from files (not ``live``) is written at the end, so that it opens with the
    answer."""
    if fmt == "text":
        return TextStream(paint=paint, hold=not live, show=show)
    if fmt in ("html", "markdown"):
        return stream_class(fmt)(show=show)  # type: ignore[call-arg]
    return stream_class(fmt)()
