"""The interface every streaming renderer implements, and the document renderers' common part."""

from __future__ import annotations

from pcapdiag.report.groups import Group, Grouping
from pcapdiag.report.model import FlowReport, Report


class StreamRenderer:
    """Text for each decided connection, then text that ends the report."""

    def flow(self, f: FlowReport) -> str:
        """Text to write as soon as ``f`` is decided."""
        raise NotImplementedError

    def end(self, r: Report) -> str:
        """Text that closes the output (``r.flows`` may be empty: they were streamed)."""
        raise NotImplementedError

    def render(self, r: Report) -> str:
        """The whole output of a report whose connections are all in ``r.flows``."""
        return "".join(self.flow(f) for f in r.flows) + self.end(r)


class DocumentStream(StreamRenderer):
    """A whole-document report (HTML, Markdown): nothing while connections stream, all at the end.

    It keeps what the document shows, bounded: the failing connections (every connection with
    --show all) grouped by server and label, a representative of each group whole, the others a
    line each (see groups.Grouping), and hands the groups to ``document``.
    """

    def __init__(self, show: str = "failing") -> None:
        self._groups = Grouping(all_labels=show == "all")

    def flow(self, f: FlowReport) -> str:
        self._groups.add(f)
        return ""

    def end(self, r: Report) -> str:
        return self.document(r, self._groups.ordered(r.servers))

    def document(self, r: Report, groups: list[Group]) -> str:
        """The whole document."""
        raise NotImplementedError
