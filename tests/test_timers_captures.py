"""Which timer fired, on the real recordings: expectations come from each case's truth.json and README.

captures/README.md: the Go client has a 10 s webhook context (15 s for port 40082), a 10 s TLS
handshake timeout and 30 s Client.Timeout/dialer; the Python client one 10 s deadline. truth.json
names each connection's SYN schedule, the client's own error, its URL (?timeout=) and how long it
waited. Classic pcap records no stop time, so a dial's missing next SYN is provable only in pcapng
(its statistics block says when the capture stopped).
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import pytest

from conftest import CAPTURES, analyse
from pcapdiag.classify import Anchor, BudgetSource, Phase, SynSchedule, Timer
from pcapdiag.pipeline import Options
from pcapdiag.report import FlowReport

SCHEDULE_TIMES = {  # wire-facts §4.3: SYN send times since the first
    "linear": (0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67),
    "classic": (0, 1, 3, 7, 15, 31, 63),
}
CALL_START_LEAD_S = 0.5
"""The client starts its clock just before the SYN (or the request): its elapsed time and the give-up
seen on the wire differ by far less than half a second (the whole-second timers' attribution slack)."""


def _cases(*names: str) -> list[Any]:
    out = []
    for name in names:
        truth = json.loads((CAPTURES / name / "truth.json").read_text())
        for cap in truth["captures"]:
            out.append(pytest.param(CAPTURES / name / cap["file"], cap, truth, id=f"{name}/{cap['file']}"))
    return out


def _visible(truth: dict[str, Any], cap: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in truth["connections"] if cap["point"] in c.get("points", ["client", "server"])]


def _failure(conn: dict[str, Any]) -> dict[str, Any]:
    """The client's result for the call that failed (the last one on a reused connection)."""
    return [r for r in conn["client_result"] if r.get("error")][-1]


def _go_error(result: dict[str, Any]) -> str | None:
    """The inner Go error of `Post "URL": <inner>`; None for the Python client."""
    m = re.match(r'Post "[^"]*": (.*)$', result["error"])
    return m.group(1) if m else None


def _url_budget(result: dict[str, Any]) -> float | None:
    m = re.search(r"[?&]timeout=(\d+)s\b", result.get("url") or "")
    return float(m.group(1)) if m else None


def _by_port(path: pathlib.Path, budget_s: float | None = None) -> dict[int, FlowReport]:
    report, flows = analyse(path, Options(budget_s=budget_s))
    assert report.error is None
    return {f.client.port: f for f in flows}


@pytest.mark.parametrize(("path", "cap", "truth"), _cases("syn-timeout", "syn-timeout-classic"))
def test_dial_schedule_and_timer(path: pathlib.Path, cap: dict[str, Any], truth: dict[str, Any]) -> None:
    flows = _by_port(path)
    for conn in _visible(truth, cap):
        schedule = re.search(r"SYN schedule (linear|classic)", conn["what"])
        assert schedule, conn["what"]
        result = _failure(conn)
        waited = result["elapsed_ms"] / 1000
        f = flows[conn["client_port"]]
        t = f.timing
        assert t is not None and t.phase is Phase.DIAL
        assert t.syn_schedule is SynSchedule(schedule.group(1))
        assert t.syn_count == sum(1 for s in SCHEDULE_TIMES[schedule.group(1)] if s < waited)
        if cap["encoding"].startswith("pcapng"):
            assert t.gave_up_s is not None
            assert t.gave_up_s[0] < waited <= t.gave_up_s[1] + CALL_START_LEAD_S
            assert t.timer is Timer.WEBHOOK and t.race == ()
            # The webhook context ending a dial reaches the caller as either string, whichever of
            # Go's transport and its dialer returns first (recordings show both): the most likely one
            # is the headline, the other an alternative. Our client binds its port, kube-apiserver's
            # does not, so Go's "local->remote" form is compared as "remote".
            said = re.sub(r"^dial tcp \S+->", "dial tcp ", _go_error(result) or "")
            assert said in [f.kubernetes_error, *(str(a.error) for a in f.alternatives)]
            assert f.kubernetes_error == str(t.go_error)
        else:
            assert t.gave_up_s is None and t.timer is None, "pcap cannot show the capture ran on"


@pytest.mark.parametrize(("path", "cap", "truth"), _cases("tls-handshake-timeout"))
def test_tls_handshake_timer(path: pathlib.Path, cap: dict[str, Any], truth: dict[str, Any]) -> None:
    unknown = _by_port(path)
    for conn in _visible(truth, cap):
        result = _failure(conn)
        t = unknown[conn["client_port"]].timing
        assert t is not None and t.phase is Phase.TLS_HANDSHAKE
        assert t.gave_up_s is not None
        assert abs(t.gave_up_s[0] - result["elapsed_ms"] / 1000) < CALL_START_LEAD_S
        # Without timeoutSeconds the wire cannot tell a 10 s webhook timeout from the 10 s handshake
        # timeout that every give-up here coincides with.
        assert set(t.race) == {Timer.WEBHOOK, Timer.TLS_HANDSHAKE}
        budget = _url_budget(result)
        expected = _go_error(result)
        if budget is None or expected is None:
            continue  # the Python client: one 10 s deadline, no Go error
        known = _by_port(path, budget_s=budget)[conn["client_port"]]
        assert known.timing is not None and str(known.timing.go_error) == expected
        assert known.timing.budget_source is BudgetSource.K8S
        if budget > 10:
            assert known.timing.timer is Timer.TLS_HANDSHAKE and known.timing.race == ()
            assert known.kubernetes_error == expected


@pytest.mark.parametrize(("path", "cap", "truth"), _cases("awaiting-headers", "keepalive"))
def test_awaiting_headers_timer(path: pathlib.Path, cap: dict[str, Any], truth: dict[str, Any]) -> None:
    flows = _by_port(path)
    for conn in _visible(truth, cap):
        if conn["label"] != "awaiting-headers":
            continue
        result = _failure(conn)
        f = flows[conn["client_port"]]
        t = f.timing
        assert t is not None and t.phase is Phase.AWAITING_HEADERS
        assert t.since is (Anchor.REQUEST if len(conn["client_result"]) > 1 else Anchor.FIRST_SYN)
        assert t.gave_up_s is not None
        assert abs(t.gave_up_s[0] - result["elapsed_ms"] / 1000) < CALL_START_LEAD_S
        # Both clients give up at 10 s: the Go context (its URL says so) and the Python deadline.
        assert (t.timer, t.race, t.budget_source) == (Timer.WEBHOOK, (), BudgetSource.INFERRED)
        assert t.budget_s == (_url_budget(result) or 10)
        expected = _go_error(result)
        if expected is not None:
            assert str(t.go_error) == expected and f.kubernetes_error == expected
