"""Which of kube-apiserver's webhook-client timers ended a failed call, inferred from timestamps alone.

A pure function of a connection, its observer, its verdict and (when known) the webhook's budget. It
follows shared/design/wire-facts.md: the Linux SYN schedules of §4.3 and the timer table of §4.4.

- The SYN schedule comes from the gaps between the client's SYNs: classic (RTO 1, 2, 4, ... s: SYNs at
  0, 1, 3, 7, 15, 31, 63 s, kernel give-up at 127 s) or Linux >= 6.5 linear (1, 1, 1, 1, 1, 2, 4, ... s:
  SYNs at 0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s, give-up at 131 s). Closing a SYN_SENT socket sends
  nothing, so a dial's give-up shows only as the *missing next* SYN: it lies between the last SYN and
  the one the schedule said was due, when the capture runs past that.
- Each timer has a known expiry: the webhook timeout (timeoutSeconds, or the URL's ?timeout=) from the
  call's start, the 30 s http.Client.Timeout from the same start, the 30 s dialer from the dial, the 10 s
  TLSHandshakeTimeout from the handshake's start, the kernel's SYN give-up. The give-up names the timer
  that expired then; two timers expiring together race, and the one armed first (the webhook context,
  then Client.Timeout, then the dialer, then the TLS handshake timer) is the likelier error.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from pcapdiag.classify.errors import (
    CLIENT_TIMEOUT,
    CONTEXT_DEADLINE,
    TLS_HANDSHAKE_TIMEOUT,
    dial_error,
    dial_timeout,
)
from pcapdiag.classify.facts import ConnectionFacts
from pcapdiag.classify.labels import Label
from pcapdiag.prose import HostPort, Text, text

NS = 1_000_000_000
TICK_NS = 10_000_000
"""One jiffy at HZ=100, the coarsest tick Linux is built with: a retransmission timer armed between two
ticks fires on a tick, so a SYN gap may come up to one tick short of its RTO (and capture timestamps of
two SYNs add no more than that)."""
WHEEL_SLACK_DIVISOR = 8
"""Linux's timer wheel (kernel/time/timer.c) files a timeout in the level whose granularity is at most
1/8 of it and fires it at that granularity: an RTO fires up to 12.5 % late. The measured run in
wire-facts §4.3 shows 2-5 % over (4.19 s for 4 s)."""
GIVE_UP_SLACK_NS = NS // 2
"""kube-apiserver's timers are whole seconds (timeoutSeconds 1-30, the URL's ?timeout= rounded up to
whole seconds, the 10 s TLS handshake timeout, the 30 s Client.Timeout and dialer): a give-up is put
down to a timer expiring within half a second of it, the widest window in which every instant has a
single nearest whole second."""
MIN_BUDGET_S = 1
MAX_BUDGET_S = 30
"""Admission webhook timeoutSeconds is 1..30 s (wire-facts §4.1)."""
TLS_HANDSHAKE_TIMEOUT_NS = 10 * NS
"""client-go Transport.TLSHandshakeTimeout, from the start of the TLS handshake."""
CLIENT_TIMEOUT_NS = 30 * NS
"""http.Client.Timeout that kube-apiserver's webhook client sets (setGlobalDefaults)."""
DIALER_TIMEOUT_NS = 30 * NS
"""The default net.Dialer timeout used for service-referenced webhooks."""
CLASSIC_WAITS_S = (1, 2, 4, 8, 16, 32, 64)
"""Classic Linux SYN RTOs (tcp_syn_retries=6): after each SYN, the wait before the next; after the
seventh SYN, the wait before the kernel gives up (127 s after the first)."""
LINEAR_WAITS_S = (1, 1, 1, 1, 1, 2, 4, 8, 16, 32, 64)
"""Linux >= 6.5 default (tcp_syn_linear_timeouts=4): four more 1 s RTOs, 11 SYNs, give-up at 131 s."""
SYN_PATH_SLACK_NS = NS // 2
"""How much later than the timer wheel allows a SYN may still reach the capture point (queueing on the
path between the client and a capture taken elsewhere): a connection that has sent only SYNs is held
this long past the latest time its next SYN could be sent, so that SYN is counted, not taken for a
straggler of a connection already decided."""
LONGEST_SYN_HOLD_NS = max(CLASSIC_WAITS_S[-1], LINEAR_WAITS_S[-1]) * (NS + NS // WHEEL_SLACK_DIVISOR) + (
    TICK_NS + SYN_PATH_SLACK_NS
)
"""The longest silence after a client's last SYN before its next step is overdue (72.51 s): the last
wait of both default schedules (tcp_syn_retries=6) is the 64 s before the kernel gives up, plus the
timer wheel's 1/8, a tick and the path slack. A dial that fits neither schedule, or has used up its
retries, is not held past --timeout at all."""


class SynSchedule(enum.Enum):
    """The client's SYN retransmission schedule, from the gaps between its SYNs."""

    CLASSIC = "classic"  # RTO doubles from 1 s: SYNs at 0, 1, 3, 7, 15, 31, 63 s
    LINEAR = "linear"  # Linux >= 6.5: 1 s RTOs first: SYNs at 0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s
    UNKNOWN = "unknown"  # fewer than 3 SYNs, or gaps that fit neither


class Phase(enum.Enum):
    """The step of the webhook call that was waiting when the client gave up."""

    DIAL = "dial"  # SYNs unanswered
    TLS_HANDSHAKE = "tls-handshake"  # connected, no (complete) server handshake
    AWAITING_HEADERS = "awaiting-headers"  # request sent, no response


class Timer(enum.Enum):
    """A client timer that can end a webhook call, in the order the client arms them."""

    WEBHOOK = "webhook-timeout"  # context.WithTimeout(timeoutSeconds, or the parent's deadline)
    CLIENT_TIMEOUT = "client-timeout"  # http.Client.Timeout 30 s
    DIALER = "dialer"  # net.Dialer.Timeout 30 s
    TLS_HANDSHAKE = "tls-handshake-timeout"  # Transport.TLSHandshakeTimeout 10 s
    KERNEL = "kernel-syn-retries"  # the kernel's SYN retransmissions ran out


class BudgetSource(enum.Enum):
    """Where the webhook's timeout came from."""

    K8S = "k8s"  # the webhook configuration's timeoutSeconds, given by the caller
    URL = "url"  # the request line's ?timeout= (clear-text HTTP only)
    INFERRED = "inferred"  # the give-up's time, rounded to whole seconds


class Anchor(enum.Enum):
    """What the give-up times count from: the call's start as the capture shows it."""

    FIRST_SYN = "first-syn"  # a fresh connection: the call began just before its SYN
    SYN_ACK = "syn-ack"  # the client's SYN is not in the capture
    REQUEST = "request"  # a reused connection: the call began with its request


@dataclass(frozen=True, slots=True)
class Timing:
    """What the timestamps say about the client's attempt and the timer that ended it."""

    phase: Phase | None
    """The step that was waiting (None: the call did not end by a timer, e.g. a slow but answered dial)."""
    syn_schedule: SynSchedule
    syn_count: int
    syn_times_s: tuple[float, ...]
    """Each client SYN, in seconds since the first."""
    tried_s: float | None
    """First SYN to last SYN (None without a SYN)."""
    since: Anchor | None
    """What ``gave_up_s`` counts from."""
    gave_up_s: tuple[float, float] | None
    """When the client gave up, seconds since ``since``: equal ends when its FIN/RST/alert shows it, the
    last SYN and the next SYN due when only the missing SYN does; None when it is not in the capture."""
    budget_s: float | None
    """The webhook timeout used to judge (timeoutSeconds, ?timeout=, or inferred)."""
    budget_source: BudgetSource | None
    timer: Timer | None
    """The timer that most likely fired (None: not in the capture, or nothing fits, or no single one)."""
    go_error: Text | None
    """The inner Go error that timer produces."""
    race: tuple[Timer, ...]
    """Timers that fit the wire equally well (empty when one timer alone fits)."""
    because: Text
    """The timing that supports the answer, in one or two sentences."""
    waiting_since_s: float | None = None
    """When the wait that timed out began (the ClientHello, the request), seconds since ``since``."""


@dataclass(frozen=True, slots=True)
class _Clock:
    """A timer that could have ended the call, and when it expires (ns since the anchor)."""

    timer: Timer
    expiry_ns: int


@dataclass(frozen=True, slots=True)
class _Budget:
    """The webhook timeout as known before looking at the give-up."""

    ns: int | None
    source: BudgetSource | None

    def window(self) -> tuple[int, int] | None:
        """Expiry range of the webhook context since the call's start; None when unknown.

        The URL's ?timeout= is the time left rounded up to a whole second, so the context expires
        up to a second before it.
        """
        if self.ns is None:
            return None
        if self.source is BudgetSource.URL:
            return max(self.ns - NS, 0), self.ns
        return self.ns, self.ns


_PHASES = {
    Label.SYN_TIMEOUT: Phase.DIAL,
    Label.TLS_HANDSHAKE_TIMEOUT: Phase.TLS_HANDSHAKE,
    Label.AWAITING_HEADERS: Phase.AWAITING_HEADERS,
}
_SCHEDULES: tuple[tuple[SynSchedule, tuple[int, ...]], ...] = (
    (SynSchedule.CLASSIC, CLASSIC_WAITS_S),
    (SynSchedule.LINEAR, LINEAR_WAITS_S),
)
_ARMING_ORDER = {timer: i for i, timer in enumerate(Timer)}
_NAMES = {
    Timer.CLIENT_TIMEOUT: "the 30 s http.Client.Timeout",
    Timer.DIALER: "the 30 s dialer timeout",
    Timer.TLS_HANDSHAKE: "the 10 s TLS handshake timeout",
    Timer.KERNEL: "the kernel's SYN retries",
}
_SOURCE_TEXT = {
    BudgetSource.K8S: "timeoutSeconds",
    BudgetSource.URL: "the URL's ?timeout=",
    BudgetSource.INFERRED: "inferred from the give-up",
}


def _s(ns: float) -> str:
    return f"{ns / NS:.2f} s"


# -- SYN schedule ------------------------------------------------------------------------------


def _gap_fits(gap_ns: int, wait_s: int) -> bool:
    """A SYN gap is one RTO of ``wait_s``: never more than a tick early, at most 1/8 (plus a tick) late."""
    rto = wait_s * NS
    return rto - TICK_NS <= gap_ns <= rto + rto // WHEEL_SLACK_DIVISOR + TICK_NS


def _late_limit(wait_s: int) -> int:
    """The latest a timer of ``wait_s`` fires after it was armed."""
    rto = wait_s * NS
    return rto + rto // WHEEL_SLACK_DIVISOR + TICK_NS


def _fitting(times: Sequence[int]) -> list[tuple[int, ...]]:
    """The RTO lists (``*_WAITS_S``) whose waits the gaps between ``times`` fit."""
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return [
        waits
        for _, waits in _SCHEDULES
        if len(times) <= len(waits) and all(_gap_fits(g, w) for g, w in zip(gaps, waits, strict=False))
    ]


def next_syn_deadline(times: Sequence[int]) -> int | None:
    """The capture time by which the client's next SYN (after its last, the kernel's give-up) is
    overdue, as the schedules its SYN ``times`` fit predict it, plus SYN_PATH_SLACK_NS; None when the
    times fit neither schedule. Never more than LONGEST_SYN_HOLD_NS after the last SYN.

    Until then a connection that has sent only SYNs may still send one, and the give-up the timing
    reads from the missing SYN (``_dial``) is not yet in the capture."""
    fits = _fitting(times)
    if not times or not fits:
        return None
    index = len(times) - 1
    return times[-1] + max(_late_limit(w[index]) for w in fits) + SYN_PATH_SLACK_NS


def fitting_schedules(times: Sequence[int]) -> list[SynSchedule]:
    """The schedules whose RTOs the gaps between ``times`` fit (both, with fewer than 3 SYNs)."""
    fits = _fitting(times)
    return [schedule for schedule, waits in _SCHEDULES if waits in fits]


def infer_schedule(times: Sequence[int]) -> SynSchedule:
    """Classic or linear from three or more SYN times (the first two gaps differ: 1, 2 vs 1, 1)."""
    return _schedule(times, _fitting(times))


def _schedule(times: Sequence[int], fits: list[tuple[int, ...]]) -> SynSchedule:
    if len(times) < 3 or len(fits) != 1:
        return SynSchedule.UNKNOWN
    return next(schedule for schedule, waits in _SCHEDULES if waits is fits[0])


# -- the budget ---------------------------------------------------------------------------------


def _known_budget(facts: ConnectionFacts, budget_s: float | None) -> _Budget:
    """The URL's ?timeout= (this call's own deadline) when in clear, else the caller's timeoutSeconds."""
    if facts.app.request_timeout_ns:
        return _Budget(facts.app.request_timeout_ns, BudgetSource.URL)
    if budget_s is not None and budget_s > 0:
        return _Budget(round(budget_s * NS), BudgetSource.K8S)
    return _Budget(None, None)


def _whole_seconds(lo_ns: int, hi_ns: int) -> list[int]:
    """Whole-second webhook budgets D (1..30) with lo < D <= hi, in ns."""
    first = max(MIN_BUDGET_S, lo_ns // NS + 1)
    last = min(MAX_BUDGET_S, hi_ns // NS)
    return [d * NS for d in range(first, last + 1)]


# -- deciding ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Decision:
    timer: Timer | None
    race: tuple[Timer, ...]
    budget_ns: int | None
    budget_source: BudgetSource | None
    why: str


def _budget_text(ns: int | None, source: BudgetSource | None, choices: Sequence[int] = ()) -> str:
    if ns is not None and source is not None:
        return f"the webhook timeout ({ns / NS:g} s, {_SOURCE_TEXT[source]})"
    if choices:
        lo, hi = choices[0] // NS, choices[-1] // NS
        default = "; the default 10 s fits" if lo <= 10 <= hi else ""
        return f"the webhook timeout ({lo}-{hi} s: timeoutSeconds unknown{default})"
    return "the webhook timeout"


def _name(timer: Timer, decision_budget: str) -> str:
    return decision_budget if timer is Timer.WEBHOOK else _NAMES[timer]


def _decide_point(t_ns: int, fixed: list[_Clock], budget: _Budget) -> _Decision:
    """The timer behind a give-up seen at ``t_ns`` (FIN, RST or closing alert)."""
    hits = [c for c in fixed if abs(t_ns - c.expiry_ns) <= GIVE_UP_SLACK_NS]
    window = budget.window()
    if window is None:
        d = (t_ns + NS // 2) // NS  # the nearest whole second
        if MIN_BUDGET_S <= d <= MAX_BUDGET_S:
            said = _budget_text(d * NS, BudgetSource.INFERRED)
            if hits:
                # The wire cannot tell a webhook timeout equal to a fixed timer from that timer; the
                # context is armed first, so with equal durations it expires first.
                others = " and ".join(_NAMES[c.timer] for c in hits)
                return _Decision(
                    Timer.WEBHOOK,
                    (Timer.WEBHOOK, *(c.timer for c in hits)),
                    d * NS,
                    BudgetSource.INFERRED,
                    f"{others} expires then too, and so would a webhook timeout of {d} s: the two race",
                )
            return _Decision(Timer.WEBHOOK, (), d * NS, BudgetSource.INFERRED, f"{said} expired then")
        if hits:
            return _one_of(hits, None, None)
        return _Decision(
            None, (), None, None, "no timer of kube-apiserver's webhook client expires then (at most 30 s)"
        )
    lo, hi = window
    if lo - GIVE_UP_SLACK_NS <= t_ns <= hi + GIVE_UP_SLACK_NS:
        hits.append(_Clock(Timer.WEBHOOK, hi))
    if hits:
        return _one_of(hits, budget.ns, budget.source)
    said = _budget_text(budget.ns, budget.source)
    if t_ns < lo:
        return _Decision(
            Timer.WEBHOOK,
            (),
            budget.ns,
            budget.source,
            f"that is before {said}: most likely the parent request's shorter deadline (the API server "
            "then writes the smaller ?timeout= into the URL)",
        )
    later = f"that is later than {said} and than any other timer of its client"
    return _Decision(None, (), budget.ns, budget.source, later)


def _one_of(hits: list[_Clock], budget_ns: int | None, source: BudgetSource | None) -> _Decision:
    """The first of the matching timers to expire; those expiring within GIVE_UP_SLACK_NS of it race
    (the wire cannot separate them), and among equals the one armed first wins."""
    hits.sort(key=lambda c: (c.expiry_ns, _ARMING_ORDER[c.timer]))
    said = _budget_text(budget_ns, source)
    first = hits[0]
    racing = [c for c in hits if c.expiry_ns - first.expiry_ns <= GIVE_UP_SLACK_NS]
    if len(racing) == 1:
        return _Decision(first.timer, (), budget_ns, source, f"{_name(first.timer, said)} expired first")
    names = " and ".join(_name(c.timer, said) for c in racing)
    return _Decision(
        first.timer,
        tuple(c.timer for c in racing),
        budget_ns,
        source,
        f"{names} expire together and race; {_name(first.timer, said)} is armed first",
    )


def _decide_window(lo_ns: int, hi_ns: int, fixed: list[_Clock], budget: _Budget) -> _Decision:
    """The timer behind a dial given up in (lo, hi]: after the last SYN, before the next one was due.

    Every timer runs from the call's start, so the first to expire in the window ended the call. With
    the budget unknown, any whole-second webhook timeout (1..30 s) in the window fits; it is armed
    first and never longer than the 30 s timers, so it ends the call (at 30 s, racing them).
    """
    hits = [c for c in fixed if lo_ns < c.expiry_ns <= hi_ns]
    window = budget.window()
    if window is not None:
        if lo_ns < window[1] and window[0] <= hi_ns:
            hits.append(_Clock(Timer.WEBHOOK, window[1]))
        if hits:
            return _one_of(hits, budget.ns, budget.source)
        said = _budget_text(budget.ns, budget.source)
        return _Decision(
            None,
            (),
            budget.ns,
            budget.source,
            f"neither {said} nor any other timer of its client expires in that window (newer Go may "
            "keep dialing after the request's deadline, up to the 30 s dialer)",
        )
    choices = _whole_seconds(lo_ns, hi_ns)
    if len(choices) == 1 and hits:
        return _one_of([_Clock(Timer.WEBHOOK, choices[0]), *hits], choices[0], BudgetSource.INFERRED)
    if choices:
        inferred = choices[0] if len(choices) == 1 else None
        said = _budget_text(inferred, BudgetSource.INFERRED, choices)
        tie = (
            f" (at 30 s it would race {' and '.join(_NAMES[c.timer] for c in hits)})"
            if hits
            else " (the 30 s dialer and Client.Timeout do not)"
        )
        return _Decision(
            Timer.WEBHOOK,
            (),
            inferred,
            BudgetSource.INFERRED if inferred else None,
            f"{said} expires in that window{tie}",
        )
    if hits:
        return _one_of(hits, None, None)
    nothing = "no timer of kube-apiserver's webhook client expires in that window"
    return _Decision(None, (), None, None, nothing)


_CLIENT_TIMEOUT_CLOCK = _Clock(Timer.CLIENT_TIMEOUT, CLIENT_TIMEOUT_NS)
_DIALER_CLOCK = _Clock(Timer.DIALER, DIALER_TIMEOUT_NS)


def _no_timer(budget: _Budget) -> _Decision:
    """No give-up in the capture: nothing to decide."""
    return _Decision(None, (), budget.ns, budget.source, "")


def go_error(timer: Timer, server: HostPort) -> Text:
    """The inner error string each timer produces (wire-facts 4.2)."""
    if timer is Timer.WEBHOOK:
        return text(CONTEXT_DEADLINE)
    if timer is Timer.CLIENT_TIMEOUT:
        return text(CLIENT_TIMEOUT)
    if timer is Timer.DIALER:
        return dial_timeout(server)
    if timer is Timer.TLS_HANDSHAKE:
        return text(TLS_HANDSHAKE_TIMEOUT)
    return dial_error(server, "connection timed out")


# -- the phases ------------------------------------------------------------------------------------


def infer_timing(
    facts: ConnectionFacts,
    label: Label,
    *,
    now_ns: int,
    budget_s: float | None = None,
) -> Timing | None:
    """The timing of a connection that timed out (or retransmitted its SYN); None if there is nothing to say.

    ``now_ns`` is the capture time the connection was judged at (the end of the capture, or the live
    clock); ``budget_s`` the webhook's timeoutSeconds when known (a clear-text ?timeout= wins over it).
    """
    phase = _PHASES.get(label)
    syns = facts.syn_times
    if phase is None and len(syns) < 2:
        return None
    fits = _fitting(syns)
    schedule = _schedule(syns, fits)
    times = tuple(round((t - syns[0]) / NS, 6) for t in syns)
    tried = times[-1] if syns else None
    budget = _known_budget(facts, budget_s)
    sched_text = _schedule_text(syns, schedule)
    if phase is None:
        answered = " before the server answered" if facts.server_side.synack_frame else ""
        return Timing(
            phase=None,
            syn_schedule=schedule,
            syn_count=len(syns),
            syn_times_s=times,
            tried_s=tried,
            since=None,
            gave_up_s=None,
            budget_s=budget.ns / NS if budget.ns is not None else None,
            budget_source=budget.source,
            timer=None,
            go_error=None,
            race=(),
            because=text(f"{sched_text}{answered}."),
        )
    waiting: float | None = None
    if phase is Phase.DIAL:
        anchor: Anchor | None = Anchor.FIRST_SYN
        gave_up, wire, decision = _dial(facts, fits, now_ns, budget, sched_text)
    else:
        anchor, gave_up, wire, decision, waiting = _connected(facts, phase, now_ns, budget)
        if syns and len(syns) > 1:
            wire = f"{sched_text}; {wire}"
    error = go_error(decision.timer, facts.dialled_server) if decision.timer is not None else None
    because = f"{wire}; {decision.why}" if decision.why else wire
    return Timing(
        phase=phase,
        syn_schedule=schedule,
        syn_count=len(syns),
        syn_times_s=times,
        tried_s=tried,
        since=anchor,
        gave_up_s=gave_up,
        budget_s=decision.budget_ns / NS if decision.budget_ns is not None else None,
        budget_source=decision.budget_source,
        timer=decision.timer,
        go_error=error,
        race=decision.race,
        because=text(because + "."),
        waiting_since_s=waiting,
    )


def _schedule_text(syns: Sequence[int], schedule: SynSchedule) -> str:
    if not syns:
        return "no SYN in the capture"
    n = len(syns)
    if n == 1:
        return "1 SYN"
    kind = f"{schedule.value} schedule" if schedule is not SynSchedule.UNKNOWN else "schedule unknown"
    return f"{n} SYNs over {_s(syns[-1] - syns[0])} ({kind})"


def _dial(
    facts: ConnectionFacts,
    fits: list[tuple[int, ...]],
    now_ns: int,
    budget: _Budget,
    sched_text: str,
) -> tuple[tuple[float, float] | None, str, _Decision]:
    """SYNs unanswered: the give-up is a FIN/RST if any, else the missing next SYN."""
    c = facts.client_side
    syns = facts.syn_times
    if not syns:
        return None, "no SYN of this connection is in the capture", _no_timer(budget)
    t0, last = syns[0], syns[-1]
    fixed = [_CLIENT_TIMEOUT_CLOCK, _DIALER_CLOCK]
    close = c.close_ts
    if close:
        t = close - t0
        kind = "RST" if close == c.rst_ts else "FIN"
        decision = _decide_point(t, fixed, budget)
        wire = f"{sched_text}; the client sent a {kind} {_s(t)} after its first SYN"
        return (t / NS, t / NS), wire, decision
    if not fits:
        return (
            None,
            (
                f"{sched_text}: the SYN gaps fit neither Linux schedule, so the missing next SYN cannot be "
                "timed and the client's give-up is not in the capture"
            ),
            _no_timer(budget),
        )
    index = len(syns) - 1
    waits = [w[index] for w in fits]
    due = last + max(waits) * NS
    limit = last + max(_late_limit(w) for w in waits)
    final = all(index == len(w) - 1 for w in fits)
    if now_ns < limit:
        return (
            None,
            (
                f"{sched_text}; the capture ends {_s(now_ns - last)} after the last SYN, before the next "
                f"{'give-up' if final else 'SYN'} was due ({_s(due - t0)} after the first): the client's "
                "give-up is not in the capture"
            ),
            _no_timer(budget),
        )
    if final:
        fixed.append(_Clock(Timer.KERNEL, due - t0))
    decision = _decide_window(last - t0, limit - t0, fixed, budget)
    missing = (
        "the kernel's final timeout passed"
        if final
        else f"the SYN due {_s(due - t0)} after the first never came"
    )
    wire = (
        f"{sched_text}; {missing}: the client gave up between {_s(last - t0)} and {_s(due - t0)} after "
        "its first SYN"
    )
    return ((last - t0) / NS, (due - t0) / NS), wire, decision


def request_anchor(facts: ConnectionFacts) -> bool:
    """True when the call began with its request (a reused connection: no SYN, or not its first request)."""
    c, s = facts.client_side, facts.server_side
    return facts.midstream or facts.app.requests > 1 or not (c.syn_count or s.synack_frame)


def _connected(
    facts: ConnectionFacts, phase: Phase, now_ns: int, budget: _Budget
) -> tuple[Anchor | None, tuple[float, float] | None, str, _Decision, float | None]:
    """Connected, then silence: the handshake or the response never came."""
    c, s, app = facts.client_side, facts.server_side, facts.app
    request = app.pending or app.last_request
    if phase is Phase.AWAITING_HEADERS:
        if request is None:
            return None, None, "no request is pending", _no_timer(budget), None
        waiting_since, what = request.ts_ns, "the request"
        reused = request_anchor(facts)
        close = facts.client_closing[0]
        if close < request.ts_ns:
            close = 0
    else:
        waiting_since = app.client_hello_ts or c.first_data_ts
        what = "the ClientHello"
        reused = False
        close = c.close_ts
    if reused:
        anchor, t0 = Anchor.REQUEST, waiting_since
    elif c.syn_count:
        anchor, t0 = Anchor.FIRST_SYN, c.syn_ts
    else:
        anchor, t0 = Anchor.SYN_ACK, s.synack_ts
    waiting = round((waiting_since - t0) / NS, 6)
    since = {Anchor.FIRST_SYN: "its first SYN", Anchor.SYN_ACK: "the SYN-ACK", Anchor.REQUEST: "the request"}
    if not close:
        return (
            anchor,
            None,
            (
                f"the capture ends {_s(now_ns - waiting_since)} after {what} with the client still waiting: "
                "its give-up is not in the capture, so no timer can be named"
            ),
            _no_timer(budget),
            waiting,
        )
    t = close - t0
    fixed = [_CLIENT_TIMEOUT_CLOCK]
    if phase is Phase.TLS_HANDSHAKE:
        fixed.append(_Clock(Timer.TLS_HANDSHAKE, waiting_since - t0 + TLS_HANDSHAKE_TIMEOUT_NS))
    decision = _decide_point(t, fixed, budget)
    wire = f"the client gave up {_s(t)} after {since[anchor]}"
    if anchor is not Anchor.REQUEST:
        wire += f" ({_s(close - waiting_since)} after {what})"
    return anchor, (t / NS, t / NS), wire, decision, waiting


def as_client_timeout(timing: Timing | None, server: HostPort) -> Timing | None:
    """The timing of a call whose budget is an http.Client.Timeout, not a request context (the
    aggregator's availability check): the timer that fired at the budget is that Client.Timeout."""
    if timing is None or timing.timer is not Timer.WEBHOOK or timing.budget_s is None:
        return timing
    said = _budget_text(round(timing.budget_s * NS), timing.budget_source)
    now = f"the caller's http.Client.Timeout ({timing.budget_s:g} s: the aggregator's availability check)"
    because = Text(tuple(p.replace(said, now) if isinstance(p, str) else p for p in timing.because.parts))
    return dataclasses.replace(
        timing, timer=Timer.CLIENT_TIMEOUT, go_error=go_error(Timer.CLIENT_TIMEOUT, server), because=because
    )
