"""The interface every streaming renderer implements, and the bound on detailed failures."""

from __future__ import annotations

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
