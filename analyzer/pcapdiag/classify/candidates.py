"""The errors a connection's wire can produce, ranked: what kube-apiserver most likely printed, then the rest.

kube-apiserver's webhook client runs several timers at once (wire-facts 4.1): the request context
(the webhook's timeoutSeconds, 1 to 30 s, default 10; or the parent request's shorter deadline),
the 30 s dialer, the 10 s TLS handshake timeout from the ClientHello, and the 30 s http.Client
timeout; it sets no ResponseHeaderTimeout. The timer inference (``timers``) says which timer fits the
give-up the capture shows. Here each candidate error gets the condition that would make it the one
printed; the headline is the timer the inference names, or, when the give-up is not in the capture,
the timer that fires first with kube-apiserver's settings (the request context: it is armed first
and is never longer than the 30 s timers). Custom clients' timers (a shorter http.Client.Timeout, a
ResponseHeaderTimeout) are never the headline, but are named as alternatives whenever the silence
they would end fits them too.
"""

from __future__ import annotations

from pcapdiag.classify.diagnosis import Candidate
from pcapdiag.classify.errors import (
    CLIENT_TIMEOUT,
    CLIENT_TIMEOUT_OLD,
    CONTEXT_DEADLINE,
    RESPONSE_HEADER_TIMEOUT,
    TLS_HANDSHAKE_TIMEOUT,
    dial_error,
    dial_timeout,
)
from pcapdiag.classify.facts import ConnectionFacts
from pcapdiag.classify.labels import Label
from pcapdiag.classify.rules import Verdict
from pcapdiag.classify.timers import (
    TLS_HANDSHAKE_TIMEOUT_NS,
    BudgetSource,
    Phase,
    Timer,
    Timing,
    go_error,
)
from pcapdiag.prose import Text, text

NS = 1_000_000_000
DEFAULT_BUDGET_S = 10
"""timeoutSeconds when nothing says otherwise (admissionregistration.k8s.io/v1's default)."""
TIMER_LABELS = frozenset({Label.SYN_TIMEOUT, Label.TLS_HANDSHAKE_TIMEOUT, Label.AWAITING_HEADERS})
"""Labels whose error depends on which client timer fired."""


def _budget_words(timing: Timing | None) -> str:
    """'timeoutSeconds 10 (from --k8s)' and the like, for conditions."""
    if timing is None or timing.budget_s is None or timing.budget_source is None:
        return f"timeoutSeconds (unknown here; {DEFAULT_BUDGET_S} s by default)"
    source = {
        BudgetSource.K8S: "from --k8s",
        BudgetSource.URL: "from the request's ?timeout=",
        BudgetSource.INFERRED: "inferred from when the client gave up",
    }[timing.budget_source]
    return f"timeoutSeconds {timing.budget_s:g} s ({source})"


def _why_timer(timer: Timer, timing: Timing | None) -> Text:
    if timer is Timer.WEBHOOK:
        return text(f"the request's context ({_budget_words(timing)}) expired first")
    names = {
        Timer.CLIENT_TIMEOUT: "the 30 s http.Client.Timeout expired first",
        Timer.DIALER: "the 30 s dialer timeout expired first",
        Timer.TLS_HANDSHAKE: "the 10 s TLS handshake timeout (from the ClientHello) expired first",
        Timer.KERNEL: "the kernel's SYN retries ran out before any timer of the client",
    }
    return text(names[timer])


def rank(
    facts: ConnectionFacts, verdict: Verdict, timing: Timing | None, *, client_timer: bool = False
) -> tuple[Candidate | None, tuple[Candidate, ...]]:
    """The headline error and its alternatives, consistent with the timing.

    ``client_timer``: the call's budget is an http.Client.Timeout, not a request context (the
    aggregator's availability check, --k8s's APIService); a wait for headers that it ends is worded so.
    """
    if verdict.error is None:
        return None, ()
    if verdict.label not in TIMER_LABELS or timing is None or timing.phase is None:
        return Candidate(verdict.error, text("what this wire produces")), verdict.alternatives
    phase = timing.phase
    if phase is Phase.DIAL:
        return _dial(facts, timing)
    if phase is Phase.TLS_HANDSHAKE:
        return _handshake(facts, timing)
    if client_timer and timing.timer in (Timer.WEBHOOK, Timer.CLIENT_TIMEOUT):
        return _aggregator(timing)
    return _awaiting(facts, timing)


def _aggregator(timing: Timing) -> tuple[Candidate, tuple[Candidate, ...]]:
    """The aggregator's discovery GET ended by its own 5 s http.Client.Timeout."""
    seconds = f"{timing.budget_s:g} s" if timing.budget_s is not None else "5 s"
    head = Candidate(
        text(CLIENT_TIMEOUT),
        text(
            f"the aggregator's availability check bounds its discovery GET with http.Client.Timeout "
            f"({seconds}, kube-aggregator's own setting; no request context), and the client gave up then"
        ),
    )
    return head, (
        Candidate(
            text(CLIENT_TIMEOUT_OLD),
            text("if the API server is built with an older Go, which words the Client.Timeout so"),
        ),
    )


def _unique(candidates: list[Candidate], headline: Candidate) -> tuple[Candidate, ...]:
    seen = {str(headline.error)}
    out = []
    for c in candidates:
        if str(c.error) not in seen:
            seen.add(str(c.error))
            out.append(c)
    return tuple(out)


def _dial(facts: ConnectionFacts, timing: Timing) -> tuple[Candidate, tuple[Candidate, ...]]:
    server = facts.dialled_server
    io_timeout = dial_timeout(server)
    timer = timing.timer
    if timer is Timer.KERNEL:
        head = Candidate(dial_error(server, "connection timed out"), _why_timer(timer, timing))
        return head, ()
    if timer is Timer.DIALER:
        head = Candidate(io_timeout, _why_timer(timer, timing))
        others = [
            Candidate(text(CONTEXT_DEADLINE), text("if the request's context expired at the same time"))
        ]
        return head, _unique(others, head)
    if timer is Timer.WEBHOOK:
        why = _why_timer(timer, timing)
    elif timing.gave_up_s is None:
        why = text(
            "the client's give-up is not in the capture; with kube-apiserver's settings the request's "
            f"context ({_budget_words(timing)}, at most 30 s) expires before or with the 30 s dialer"
        )
    else:
        why = text(
            "no timer of the client expires when its SYNs stopped (newer Go keeps dialing after the "
            "request's deadline); the request's context, which kube-apiserver's client reports, "
            "ended the call"
        )
    head = Candidate(text(CONTEXT_DEADLINE), why)
    others = [
        Candidate(
            io_timeout,
            text(
                "if the dial returned its own timeout before the request's context error reached the "
                "client (the two race inside Go's transport when the context expires during the dial), "
                "or if the 30 s dialer fired first"
            ),
        )
    ]
    if Timer.CLIENT_TIMEOUT in timing.race:
        others.append(
            Candidate(
                text(
                    "net/http: request canceled while waiting for connection "
                    "(Client.Timeout exceeded while awaiting headers)"
                ),
                text("if the 30 s http.Client.Timeout fired first (it expires at the same time)"),
            )
        )
    return head, _unique(others, head)


def _handshake(facts: ConnectionFacts, timing: Timing) -> tuple[Candidate, tuple[Candidate, ...]]:
    tls_timeout = Candidate(
        text(TLS_HANDSHAKE_TIMEOUT),
        text(
            "if timeoutSeconds is longer than the time to connect plus 10 s "
            "(the TLS handshake timer then fires first)"
        ),
    )
    context = Candidate(
        text(CONTEXT_DEADLINE),
        text(f"if the request's context ({_budget_words(timing)}) expired before the TLS handshake timer"),
    )
    timer = timing.timer
    if timer is Timer.TLS_HANDSHAKE:
        head = Candidate(text(TLS_HANDSHAKE_TIMEOUT), _why_timer(timer, timing))
        others = (
            [context] if Timer.WEBHOOK in timing.race or timing.budget_source is not BudgetSource.K8S else []
        )
        return head, _unique(others, head)
    if timer is Timer.WEBHOOK:
        head = Candidate(text(CONTEXT_DEADLINE), _why_timer(timer, timing))
        fits_tls = Timer.TLS_HANDSHAKE in timing.race
        return head, _unique([tls_timeout] if fits_tls else [], head)
    if timer is not None:
        head = Candidate(go_error(timer, facts.dialled_server), _why_timer(timer, timing))
        return head, _unique([context, tls_timeout], head)
    # The give-up is not in the capture: the timer that fires first with the budget known (or the
    # default), counting from the first SYN for the context and from the ClientHello for the TLS timer.
    budget = timing.budget_s if timing.budget_s is not None else DEFAULT_BUDGET_S
    waiting = timing.waiting_since_s or 0.0
    if budget * NS <= waiting * NS + TLS_HANDSHAKE_TIMEOUT_NS:
        head = Candidate(
            text(CONTEXT_DEADLINE),
            text(
                "the client's give-up is not in the capture; the request's context "
                f"({_budget_words(timing)}) expires before the 10 s TLS handshake timer"
            ),
        )
        known = timing.budget_source is BudgetSource.K8S or timing.budget_source is BudgetSource.URL
        return head, _unique([] if known else [tls_timeout], head)
    head = Candidate(
        text(TLS_HANDSHAKE_TIMEOUT),
        text(
            "the client's give-up is not in the capture; the 10 s TLS handshake timer expires before the "
            f"request's context ({_budget_words(timing)})"
        ),
    )
    return head, ()


def _awaiting(facts: ConnectionFacts, timing: Timing) -> tuple[Candidate, tuple[Candidate, ...]]:
    timer = timing.timer
    seconds = f"{timing.budget_s:g} s" if timing.budget_s is not None else "that long"
    custom = [
        Candidate(
            text(CLIENT_TIMEOUT),
            text(
                f"if the client's http.Client.Timeout ({seconds}) fired rather than its request context "
                "(kube-apiserver's webhook client uses 30 s; older Go words it 'net/http: request canceled "
                "(Client.Timeout exceeded while awaiting headers)')"
            ),
        ),
        Candidate(
            text(RESPONSE_HEADER_TIMEOUT),
            text(
                f"if the client sets Transport.ResponseHeaderTimeout ({seconds}, counted from the end of the "
                "request; kube-apiserver sets none)"
            ),
        ),
    ]
    if timer is Timer.CLIENT_TIMEOUT:
        head = Candidate(text(CLIENT_TIMEOUT), _why_timer(timer, timing))
        return head, _unique(
            [Candidate(text(CONTEXT_DEADLINE), text("if the request's context expired at the same time"))],
            head,
        )
    if timer is Timer.WEBHOOK:
        head = Candidate(text(CONTEXT_DEADLINE), _why_timer(timer, timing))
        others: list[Candidate] = []
        if Timer.CLIENT_TIMEOUT in timing.race:
            others.append(
                Candidate(
                    text(CLIENT_TIMEOUT),
                    text("if the 30 s http.Client.Timeout fired first (it expires at the same time)"),
                )
            )
        if timing.budget_source is not BudgetSource.URL:
            # The same silence fits a client whose other timers have that length.
            others.extend(custom)
        return head, _unique(others, head)
    if timer is not None:
        head = Candidate(go_error(timer, facts.dialled_server), _why_timer(timer, timing))
        return head, _unique(
            [Candidate(text(CONTEXT_DEADLINE), text("if the request's context expired first"))], head
        )
    head = Candidate(
        text(CONTEXT_DEADLINE),
        text(
            "the client's give-up is not in the capture; with kube-apiserver's settings the request's "
            f"context ({_budget_words(timing)}) expires first"
        ),
    )
    others = []
    if timing.budget_source not in (BudgetSource.K8S, BudgetSource.URL) or timing.budget_s == 30:
        others.append(
            Candidate(
                text(CLIENT_TIMEOUT),
                text(
                    "if timeoutSeconds is 30: the 30 s http.Client.Timeout expires at the same time "
                    "and may fire first"
                ),
            )
        )
    return head, _unique(others, head)
