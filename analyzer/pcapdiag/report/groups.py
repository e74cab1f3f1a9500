"""Connections grouped by server and label as they stream past: one kept whole, the others a line each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pcapdiag.classify import Label
from pcapdiag.report.model import FlowReport, ServerSummary

MAX_DETAILED = 200
"""Groups whose representative a report keeps in full (evidence, ladder, next steps)."""
MAX_LINES = 1000
"""Connections listed one line each per group; later ones are counted with their span."""
SHOW = ("failing", "all")
"""--show choices: the failing connections only (healthy ones are counted), or every connection."""


@dataclass(frozen=True, slots=True)
class Line:
    """A connection in one line: enough to find it in Wireshark."""

    id: int
    capture: str
    client: str
    start_ns: int
    duration_s: float
    first_frame: int
    last_frame: int
    packets: int

    @classmethod
    def of(cls, f: FlowReport) -> Line:
        return cls(
            f.id, f.capture, str(f.client), f.start_ns, f.duration_s, f.first_frame, f.last_frame, f.packets
        )


@dataclass(slots=True)
class Group:
    """The connections to one server that got one label."""

    server: str
    """'198.19.0.10:443'."""
    label: Label
    where: str | None = None
    """Where its connections failed (several captures of the same traffic); a group each."""
    count: int = 0
    first_ns: int = 0
    """Start of its first connection."""
    last_ns: int = 0
    representative: FlowReport | None = None
    """The group's first connection (by start time), kept whole; None past MAX_DETAILED groups."""
    lines: list[Line] = field(default_factory=list)
    """The other connections (up to MAX_LINES), in no order: ``listed()`` sorts them."""
    unlisted: int = 0
    """Connections past MAX_LINES."""
    number: int = 0
    """Its place in the report (1, 2, ...), set by ``ordered()``; anchors and timeline links use it."""
    name: str | None = None
    """The server's name (SNI or --k8s), set by ``ordered()``."""

    @property
    def anchor(self) -> str:
        return f"g{self.number}"

    def listed(self, captures: Sequence[str]) -> list[Line]:
        """The one-line connections by capture (in the report's order), start time and id."""
        rank = {path: i for i, path in enumerate(captures)}
        return sorted(self.lines, key=lambda x: (rank.get(x.capture, len(rank)), x.start_ns, x.id))


@dataclass(slots=True)
class Grouping:
    """Every connection a report lists, grouped by server and label (and, several captures of the
    same traffic, by where it failed) as they stream past (failing ones only, unless ``all_labels``);
    bounded by MAX_DETAILED representatives and MAX_LINES lines."""

    all_labels: bool = False
    max_detailed: int = MAX_DETAILED
    max_lines: int = MAX_LINES
    _groups: dict[tuple[str, Label, str | None], Group] = field(default_factory=dict)
    detailed: int = 0

    def add(self, f: FlowReport) -> None:
        """Keep what the report needs of ``f``."""
        if not (self.all_labels or f.label.failing):
            return
        server = str(f.server)
        key = (server, f.label, f.where)
        group = self._groups.get(key)
        if group is None:
            group = Group(server, f.label, f.where, first_ns=f.start_ns, last_ns=f.start_ns)
            self._groups[key] = group
        group.count += 1
        group.first_ns = min(group.first_ns, f.start_ns)
        group.last_ns = max(group.last_ns, f.start_ns)
        rep = group.representative
        if rep is None and (group.count == 1 and self.detailed < self.max_detailed):
            group.representative = f
            self.detailed += 1
            return
        if rep is not None and (f.start_ns, f.id, f.capture) < (rep.start_ns, rep.id, rep.capture):
            group.representative, f = f, rep
        if len(group.lines) < self.max_lines:
            group.lines.append(Line.of(f))
        else:
            group.unlisted += 1

    def ordered(self, servers: Iterable[ServerSummary]) -> list[Group]:
        """The groups in the report's order: servers as the roll-up orders them (failing first), then
        failing labels before the others, each in the vocabulary's order; numbered from 1."""
        rank: dict[str, int] = {}
        names: dict[str, str | None] = {}
        for i, s in enumerate(servers):
            rank[s.endpoint] = i
            names[s.endpoint] = s.name
        labels = {label: i for i, label in enumerate(Label)}
        groups = sorted(
            self._groups.values(),
            key=lambda g: (
                not g.label.failing,
                rank.get(g.server, len(rank)),
                g.server if g.server not in rank else "",
                labels[g.label],
                g.where or "",
            ),
        )
        for n, g in enumerate(groups, 1):
            g.number = n
            g.name = names.get(g.server)
        return groups
