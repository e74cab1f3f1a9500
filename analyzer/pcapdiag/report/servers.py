"""The per-server roll-up: calls, failures by label, when they happened and what their pattern reads as."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from pcapdiag.classify import Label
from pcapdiag.report.model import Address, FlowReport, Pattern, ServerSummary
from pcapdiag.report.timefmt import clock

MAX_SERVERS = 10_000
"""Servers a report tallies; connections to later ones are counted in ``ServerTally.untallied``."""
MAX_ERRORS = 64
"""Distinct errors kept per server (an error that names the client's port differs per connection)."""
MAX_NAMES = 16
"""Distinct names (SNI, --k8s webhook or service) kept per server."""


def reading(s: ServerSummary) -> str:
    """The pattern in one line: 'intermittent: 12 of 40 calls failed, between 10:03:12.113 and ...'."""
    pattern = s.pattern
    calls = f"call{'s' * (s.calls != 1)}"
    if pattern is Pattern.NONE:
        return f"no failure in {s.calls} {calls}"
    first, last = clock(s.first_failure_ns), clock(s.last_failure_ns)
    window = f"at {first}" if first == last else f"between {first} and {last}"
    if pattern is Pattern.ALL:
        every = (
            "the only call failed"
            if s.calls == 1
            else f"every decided call failed ({s.failing} of {s.calls})"
        )
        return f"all failing: {every}, {window}"
    if pattern is Pattern.AT_START:
        return (
            f"only at the start of the capture: {s.failing} of {s.calls} {calls} failed, {window}; "
            f"every call from {clock(s.first_ok_ns)} on succeeded"
        )
    if pattern is Pattern.AT_END:
        return (
            f"only at the end of the capture: calls succeeded until {clock(s.last_ok_ns)}, then "
            f"{s.failing} of {s.calls} {calls} failed, {window}"
        )
    return f"intermittent: {s.failing} of {s.calls} {calls} failed, {window}, with successes around them"


def flow_name(f: FlowReport) -> str | None:
    """What a connection's server is called: its --k8s webhook (or service), else its SNI."""
    k = f.kubernetes
    if k is not None:
        if k.webhooks:
            return ", ".join(str(w) for w in k.webhooks)
        if k.service is not None:
            return str(k.service)
    return str(f.sni) if f.sni is not None else None


@dataclass(slots=True)
class _Server:
    """The running tally of one server."""

    server: Address
    calls: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    names: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    first_ns: int | None = None
    last_ns: int | None = None
    first_failure_ns: int | None = None
    last_failure_ns: int | None = None
    first_ok_ns: int | None = None
    last_ok_ns: int | None = None

    def add(self, f: FlowReport) -> None:
        t = f.start_ns
        self.calls += 1
        self.labels[f.label.value] += 1
        name = flow_name(f)
        if name is not None and (name in self.names or len(self.names) < MAX_NAMES):
            self.names[name] += 1
        self.first_ns, self.last_ns = _widen(self.first_ns, self.last_ns, t)
        if f.label.failing:
            self.first_failure_ns, self.last_failure_ns = _widen(
                self.first_failure_ns, self.last_failure_ns, t
            )
            error = f.kubernetes_error
            if error is not None and (error in self.errors or len(self.errors) < MAX_ERRORS):
                self.errors[error] += 1
        elif f.label is Label.OK:
            self.first_ok_ns, self.last_ok_ns = _widen(self.first_ok_ns, self.last_ok_ns, t)

    def summary(self) -> ServerSummary:
        order = {label.value: i for i, label in enumerate(Label)}
        by_label = dict(sorted(self.labels.items(), key=lambda x: order[x[0]]))
        errors = sorted(self.errors.items(), key=lambda x: (-x[1], x[0]))  # ties: by text, not arrival
        assert self.first_ns is not None and self.last_ns is not None
        return ServerSummary(
            server=self.server,
            name=min(self.names.items(), key=lambda x: (-x[1], x[0]))[0] if self.names else None,
            calls=self.calls,
            by_label=by_label,
            failing=sum(n for name, n in by_label.items() if Label(name).failing),
            ok=by_label.get(Label.OK.value, 0),
            first_ns=self.first_ns,
            last_ns=self.last_ns,
            first_failure_ns=self.first_failure_ns,
            last_failure_ns=self.last_failure_ns,
            first_ok_ns=self.first_ok_ns,
            last_ok_ns=self.last_ok_ns,
            error=errors[0][0] if errors else None,
            other_errors=len(errors) - 1 if errors else 0,
        )


def _widen(low: int | None, high: int | None, t: int) -> tuple[int, int]:
    return (t if low is None or t < low else low), (t if high is None or t > high else high)


@dataclass(slots=True)
class ServerTally:
    """The roll-up of every connection a report holds, one server at a time, bounded by MAX_SERVERS."""

    _servers: dict[tuple[str, int], _Server] = field(default_factory=dict)
    untallied: int = 0
    """Connections to servers past MAX_SERVERS (a scan): counted in the labels only."""

    def add(self, f: FlowReport) -> None:
        """Count one decided connection."""
        key = (f.server.ip, f.server.port)
        entry = self._servers.get(key)
        if entry is None:
            if len(self._servers) >= MAX_SERVERS:
                self.untallied += 1
                return
            entry = self._servers[key] = _Server(f.server)
        entry.add(f)

    def summaries(self) -> tuple[ServerSummary, ...]:
        """Every server, those with failures first (most failures first), then by calls."""
        return sort_servers(s.summary() for s in self._servers.values())


def sort_servers(servers: Iterable[ServerSummary]) -> tuple[ServerSummary, ...]:
    """Servers with failures first (most first), then the others by calls (most first), then by address."""
    return tuple(sorted(servers, key=lambda s: (-s.failing, -s.calls, s.endpoint)))


def servers_of(flows: Iterable[FlowReport]) -> tuple[ServerSummary, ...]:
    """The roll-up of connections held in memory (a report built with its flows)."""
    tally = ServerTally()
    for f in flows:
        tally.add(f)
    return tally.summaries()
