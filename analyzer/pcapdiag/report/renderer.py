"""The interface every streaming renderer implements, and the bound on detailed failures."""

from __future__ import annotations

from pcapdiag.report.ladder import Kept
from pcapdiag.report.model import FlowReport, Report

MAX_DETAILED_FAILURES = 200
"""Failing connections whose evidence a report shows in full; later ones are counted."""


class StreamRenderer:
    """Text for each decided connection, then text that ends the report."""

    def flow(self, f: FlowReport) -> str:
        """Text to write as soon as ``f`` is decided."""
        raise NotImplementedError

    def end(self, r: Report) -> str:
        """Text that closes the output (``r.flows`` may be empty: they were streamed)."""
        raise NotImplementedError


class DocumentStream(StreamRenderer):
    """A whole-document report (HTML, Markdown): nothing while connections stream, all at the end.

    It keeps what the document shows (the failing connections up to MAX_DETAILED_FAILURES, compact
    rows of the others, bounded) and hands it to ``document``.
    """

    def __init__(self, all_flows: bool = False) -> None:
        self._kept = Kept(all_flows=all_flows, max_detailed=MAX_DETAILED_FAILURES)

    def flow(self, f: FlowReport) -> str:
        self._kept.add(f)
        return ""

    def end(self, r: Report) -> str:
        return self.document(r, self._kept)

    def document(self, r: Report, kept: Kept) -> str:
        """The whole document."""
        raise NotImplementedError

    def render(self, r: Report) -> str:
        """The document of a report whose connections are all in ``r.flows``."""
        for f in r.flows:
            self.flow(f)
        return self.end(r)
