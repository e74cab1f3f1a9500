"""Which timer fired: SYN schedules, give-ups and kube-apiserver's timers on scapy-built connections.

Expectations come from wire-facts §4.3-4.4: classic SYNs at 0, 1, 3, 7, 15, 31, 63 s (kernel give-up
at 127 s), linear SYNs at 0, 1, 2, 3, 4, 5, 7, 11, ... s; the webhook timeout runs from the call's
start, Client.Timeout and the dialer are 30 s, the TLS handshake timeout 10 s from the ClientHello.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable

import pytest

from builders import Interface, Record, epb, idb, isb, shb, write_bytes, write_pcap
from conftest import analyse
from conversation import NS, START, Conversation, app_data, client_hello, tls13_server_flight
from pcapdiag.classify import Anchor, BudgetSource, Phase, SynSchedule, Timer, Timing
from pcapdiag.pipeline import Options
from pcapdiag.report import FlowReport, Report
from pcapdiag.report.redact import Pseudonyms
from pcapdiag.report.render_json import flow_dict, render_json
from pcapdiag.report.render_text import render_text

CLASSIC = (0.0, 1.006, 3.022, 7.118)  # as recorded: each RTO fires a little late (timer wheel)
LINEAR = (0.0, 1.022, 2.046, 3.070, 4.094, 5.118, 7.134)
DIAL_ERROR = "dial tcp 198.19.0.2:443: i/o timeout"
CONTEXT = "context deadline exceeded"
CLIENT_TIMEOUT = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"


def flows(
    tmp_path: pathlib.Path, *convs: Conversation, until: float | None = None, budget_s: float | None = None
) -> dict[int, FlowReport]:
    """Analyse the conversations; ``until`` adds another client's SYN then, so the capture runs on."""
    records = [r for c in convs for r in c.records]
    if until is not None:
        filler = Conversation(client=("198.18.0.9", 49999))
        filler.syn(until)
        records += filler.records
    records.sort(key=lambda r: r.ts_ns)
    path = write_pcap(tmp_path / "case.pcap", records)
    report, out = analyse(path, Options(budget_s=budget_s))
    assert report.error is None
    return {f.client.port: f for f in out}


def syns(times: tuple[float, ...]) -> Conversation:
    conv = Conversation()
    for t in times:
        conv.syn(t)
    return conv


def timing_of(f: FlowReport) -> Timing:
    assert f.timing is not None, f.explanation
    return f.timing


def alternatives(f: FlowReport) -> list[str]:
    """The other errors the wire could have produced."""
    return [str(a.error) for a in f.alternatives]


# -- SYN schedules ------------------------------------------------------------------------------


def test_classic_schedule_and_the_missing_fifth_syn(tmp_path: pathlib.Path) -> None:
    f = flows(tmp_path, syns(CLASSIC), until=16.6)[40000]
    t = f.timing
    assert t is not None and f.label.value == "syn-timeout"
    assert t.phase is Phase.DIAL
    assert t.syn_schedule is SynSchedule.CLASSIC
    assert (t.syn_count, t.syn_times_s, t.tried_s) == (4, CLASSIC, CLASSIC[-1])
    assert t.since is Anchor.FIRST_SYN
    # After the fourth SYN the classic RTO is 8 s: the SYN due at 7.118 + 8 never came.
    assert t.gave_up_s == pytest.approx((CLASSIC[-1], CLASSIC[-1] + 8))
    # Nothing but a webhook timeout expires in that window (the 30 s timers do not): 8..16 s, since
    # the 8 s RTO may fire up to 1/8 late (16.1 s after the first SYN).
    assert t.timer is Timer.WEBHOOK and t.race == ()
    assert (t.budget_s, t.budget_source) == (None, None)
    assert "8-16 s" in str(t.because)
    assert str(t.go_error) == CONTEXT
    assert f.kubernetes_error == CONTEXT, "one timer alone fits: its error is the headline"
    assert DIAL_ERROR in alternatives(f), "the dial's own timeout races the context inside Go"


def test_linear_schedule_and_the_missing_syn_at_11_s(tmp_path: pathlib.Path) -> None:
    t = timing_of(flows(tmp_path, syns(LINEAR), until=12.6)[40000])
    assert t.syn_schedule is SynSchedule.LINEAR
    assert t.syn_count == 7
    assert t.gave_up_s == pytest.approx((LINEAR[-1], LINEAR[-1] + 4))
    assert t.timer is Timer.WEBHOOK


def test_the_measured_linear_run_of_wire_facts_fits() -> None:
    from pcapdiag.classify.timers import infer_schedule

    gaps = (1.03, 1.02, 1.02, 1.02, 1.02, 2.02, 4.19, 8.19, 16.13, 32.26)  # wire-facts §4.3
    times = [0]
    for g in gaps:
        times.append(times[-1] + round(g * 1e9))
    assert infer_schedule(times) is SynSchedule.LINEAR
    assert infer_schedule([0, 10**9, 3 * 10**9, 7 * 10**9]) is SynSchedule.CLASSIC
    # RTO timers never fire early (beyond one tick), nor more than 1/8 late.
    assert infer_schedule([0, 10**9, 2 * 10**9 - 20_000_000]) is SynSchedule.UNKNOWN
    assert infer_schedule([0, 10**9, 3 * 10**9 + 300_000_000]) is SynSchedule.UNKNOWN


def test_known_budget_is_named(tmp_path: pathlib.Path) -> None:
    t = timing_of(flows(tmp_path, syns(LINEAR), until=12.6, budget_s=10)[40000])
    assert (t.budget_s, t.budget_source, t.timer) == (10, BudgetSource.K8S, Timer.WEBHOOK)


def test_a_budget_the_window_excludes_names_no_timer(tmp_path: pathlib.Path) -> None:
    # SYNs went on past 10 s: a 5 s webhook timeout cannot have stopped them.
    f = flows(tmp_path, syns(LINEAR), until=12.6, budget_s=5)[40000]
    t = timing_of(f)
    assert t.timer is None and t.go_error is None
    # The context (5 s) ended the call; the dial went on (newer Go detaches it): the client printed the
    # context's error, or its dial's.
    assert f.kubernetes_error == CONTEXT
    assert DIAL_ERROR in alternatives(f)


def test_gaps_that_fit_neither_schedule(tmp_path: pathlib.Path) -> None:
    t = timing_of(flows(tmp_path, syns((0.0, 1.0, 2.5)), until=20)[40000])
    assert t.syn_schedule is SynSchedule.UNKNOWN
    assert t.gave_up_s is None and t.timer is None


def test_two_syns_leave_the_schedule_unknown_but_bound_the_give_up(tmp_path: pathlib.Path) -> None:
    # Both schedules send the second SYN at 1 s; the third is due at 2 s (linear) or 3 s (classic).
    t = timing_of(flows(tmp_path, syns((0.0, 1.01)), until=5)[40000])
    assert t.syn_schedule is SynSchedule.UNKNOWN
    assert t.gave_up_s == pytest.approx((1.01, 3.01))
    assert "2-3 s" in str(t.because)
    assert t.timer is Timer.WEBHOOK


def test_give_up_not_in_the_capture(tmp_path: pathlib.Path) -> None:
    f = flows(tmp_path, syns(CLASSIC))[40000]
    t = timing_of(f)
    assert t.syn_schedule is SynSchedule.CLASSIC
    assert t.gave_up_s is None and t.timer is None and t.race == ()
    assert "not in the capture" in str(t.because)
    # kube-apiserver's request context (10 s by default, at most 30 s) ends a dial before its 30 s
    # dialer: the headline is the context's error, the dial's own timeout the alternative.
    assert f.kubernetes_error == CONTEXT
    assert DIAL_ERROR in alternatives(f)


def test_the_kernel_gives_up_after_the_full_classic_schedule(tmp_path: pathlib.Path) -> None:
    full = (0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0)
    f = flows(tmp_path, syns(full), until=140)[40000]
    t = timing_of(f)
    assert t.syn_schedule is SynSchedule.CLASSIC and t.syn_count == 7
    assert t.gave_up_s == pytest.approx((63, 127))
    assert t.timer is Timer.KERNEL
    assert f.kubernetes_error == "dial tcp 198.19.0.2:443: connect: connection timed out"


def test_thirty_second_budget_races_the_dialer_and_client_timeout(tmp_path: pathlib.Path) -> None:
    five = (0.0, 1.0, 3.0, 7.0, 15.0)  # the sixth SYN, due at 31 s, never came
    f = flows(tmp_path, syns(five), until=34, budget_s=30)[40000]
    t = timing_of(f)
    assert t.race == (Timer.WEBHOOK, Timer.CLIENT_TIMEOUT, Timer.DIALER)
    assert t.timer is Timer.WEBHOOK and str(t.go_error) == CONTEXT
    assert "race" in str(t.because)
    assert f.kubernetes_error == CONTEXT, "the context is armed first"
    assert DIAL_ERROR in alternatives(f)
    unknown = timing_of(flows(tmp_path, syns(five), until=34)[40000])
    assert unknown.timer is Timer.WEBHOOK and unknown.race == ()
    assert "16-30 s" in str(unknown.because) and "race" in str(unknown.because)
    assert str(unknown.go_error) == CONTEXT


def test_retransmitted_then_answered_syn_has_a_schedule_and_no_timer(tmp_path: pathlib.Path) -> None:
    conv = syns((0.0, 1.01, 2.03))
    conv.synack(2.0301)
    conv.ack(2.0302, to_server=True)
    conv.fin(2.5, to_server=True)
    f = flows(tmp_path, conv)[40000]
    t = timing_of(f)
    assert t.phase is None and t.timer is None
    assert t.syn_schedule is SynSchedule.LINEAR and t.syn_count == 3
    assert flows(tmp_path, _tls_stall(None), until=12)[40000].timing is not None  # a timeout has timing
    one_syn = Conversation()
    one_syn.handshake(0)
    one_syn.fin(1, to_server=True)
    assert flows(tmp_path, one_syn)[40000].timing is None


# -- TLS handshake ------------------------------------------------------------------------------


def _tls_stall(close_at: float | None) -> Conversation:
    conv = Conversation()
    conv.handshake(0)
    conv.send(0.001, True, client_hello())
    conv.ack(0.0011, to_server=False)
    if close_at is not None:
        conv.fin(close_at, to_server=True)
    return conv


def test_tls_handshake_timeout_and_a_10s_webhook_timeout_race(tmp_path: pathlib.Path) -> None:
    f = flows(tmp_path, _tls_stall(10.001))[40000]
    t = timing_of(f)
    assert t.phase is Phase.TLS_HANDSHAKE
    assert t.gave_up_s == pytest.approx((10.001, 10.001))
    assert (t.budget_s, t.budget_source) == (10, BudgetSource.INFERRED)
    assert t.race == (Timer.WEBHOOK, Timer.TLS_HANDSHAKE)
    assert str(t.go_error) == CONTEXT, "the webhook context is armed before the handshake"
    assert f.kubernetes_error == CONTEXT
    assert "net/http: TLS handshake timeout" in alternatives(f)
    same = timing_of(flows(tmp_path, _tls_stall(10.001), budget_s=10)[40000])
    assert same.race == (Timer.WEBHOOK, Timer.TLS_HANDSHAKE) and same.budget_source is BudgetSource.K8S


def test_tls_handshake_timeout_before_a_longer_webhook_timeout(tmp_path: pathlib.Path) -> None:
    f = flows(tmp_path, _tls_stall(10.009), budget_s=15)[40000]
    t = timing_of(f)
    assert (t.timer, t.race) == (Timer.TLS_HANDSHAKE, ())
    assert f.kubernetes_error == "net/http: TLS handshake timeout"


def test_context_deadline_before_the_handshake_timeout(tmp_path: pathlib.Path) -> None:
    f = flows(tmp_path, _tls_stall(5.002))[40000]
    t = timing_of(f)
    assert (t.timer, t.race, t.budget_s) == (Timer.WEBHOOK, (), 5)
    assert f.kubernetes_error == CONTEXT, "the 10 s handshake timer cannot fire at 5 s"
    known = flows(tmp_path, _tls_stall(5.002), budget_s=5)[40000]
    assert known.kubernetes_error == CONTEXT


def test_handshake_timer_counts_from_the_client_hello(tmp_path: pathlib.Path) -> None:
    # A slow dial: SYNs at 0 and 1 s, connected at 1 s; the TLS timer fires 10 s after the ClientHello.
    conv = Conversation()
    conv.syn(0)
    conv.handshake(1.01)
    conv.send(1.012, True, client_hello())
    conv.fin(11.013, to_server=True)
    t = timing_of(flows(tmp_path, conv, budget_s=15)[40000])
    assert t.timer is Timer.TLS_HANDSHAKE and t.race == ()
    assert t.syn_count == 2


def test_no_close_in_the_capture_names_no_timer(tmp_path: pathlib.Path) -> None:
    f = flows(tmp_path, _tls_stall(None), until=12)[40000]
    assert f.label.value == "tls-handshake-timeout"
    t = timing_of(f)
    assert t.gave_up_s is None and t.timer is None
    assert "not in the capture" in str(t.because)


# -- awaiting headers -----------------------------------------------------------------------------


def _unanswered(close_at: float) -> Conversation:
    conv = Conversation()
    tls13_server_flight(conv)
    conv.send(0.003, True, app_data(53))  # client Finished (CCS omitted: not needed to finish)
    conv.send(0.004, True, app_data(600))
    conv.ack(0.0041, to_server=False)
    conv.send(close_at, True, app_data(19))  # close_notify
    conv.fin(close_at + 0.0003, to_server=True)
    return conv


def test_awaiting_headers_webhook_timeout(tmp_path: pathlib.Path) -> None:
    f = flows(tmp_path, _unanswered(10.0))[40000]
    assert f.label.value == "awaiting-headers"
    t = timing_of(f)
    assert t.phase is Phase.AWAITING_HEADERS
    assert (t.timer, t.race, t.budget_s) == (Timer.WEBHOOK, (), 10)
    assert f.kubernetes_error == CONTEXT


def test_thirty_second_webhook_timeout_races_client_timeout(tmp_path: pathlib.Path) -> None:
    f = flows(tmp_path, _unanswered(30.0))[40000]
    t = timing_of(f)
    assert t.race == (Timer.WEBHOOK, Timer.CLIENT_TIMEOUT)
    assert str(t.go_error) == CONTEXT and f.kubernetes_error == CONTEXT
    assert CLIENT_TIMEOUT in alternatives(f)


def test_give_up_before_timeout_seconds_is_the_parent_deadline(tmp_path: pathlib.Path) -> None:
    t = timing_of(flows(tmp_path, _unanswered(6.0), budget_s=10)[40000])
    assert t.timer is Timer.WEBHOOK and "parent request" in str(t.because)


def test_give_up_past_every_timer_names_none(tmp_path: pathlib.Path) -> None:
    t = timing_of(flows(tmp_path, _unanswered(45.0))[40000])
    assert t.timer is None and t.go_error is None


def test_reused_connection_counts_from_the_request(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    conv.send(0.0, True, app_data(600))  # mid-stream: an idle keep-alive connection's next request
    conv.ack(0.04, to_server=False)
    conv.send(10.009, True, app_data(19))
    conv.fin(10.0095, to_server=True)
    f = flows(tmp_path, conv)[40000]
    t = timing_of(f)
    assert t.since is Anchor.REQUEST and t.syn_count == 0
    assert (t.timer, t.budget_s) == (Timer.WEBHOOK, 10)
    assert any("began after the client's SYN" in limit for limit in f.capture_limits)


# -- ?timeout= in clear HTTP ------------------------------------------------------------------------


def _plain_post(target: str, close_at: float) -> Conversation:
    conv = Conversation(server=("198.19.0.2", 8080))
    conv.handshake(0)
    conv.send(0.001, True, f"POST {target} HTTP/1.1\r\nHost: w\r\nContent-Length: 2\r\n\r\n{{}}".encode())
    conv.ack(0.0012, to_server=False)
    conv.fin(close_at, to_server=True)
    return conv


def test_url_timeout_is_the_budget(tmp_path: pathlib.Path) -> None:
    f = flows(tmp_path, _plain_post("/validate?timeout=7s", 7.001), budget_s=10)[40000]
    t = timing_of(f)
    assert (t.budget_s, t.budget_source, t.timer, t.race) == (7, BudgetSource.URL, Timer.WEBHOOK, ())
    assert f.kubernetes_error == CONTEXT


def test_url_timeout_is_rounded_up(tmp_path: pathlib.Path) -> None:
    # The parent request had 9.3 s left: the URL says 10s and the context ends at 9.3 s.
    t = timing_of(flows(tmp_path, _plain_post("/validate?timeout=10s", 9.3))[40000])
    assert (t.budget_s, t.budget_source, t.timer) == (10, BudgetSource.URL, Timer.WEBHOOK)
    later = timing_of(flows(tmp_path, _plain_post("/validate?timeout=5s", 9.3))[40000])
    assert later.timer is None


# -- capture limits -----------------------------------------------------------------------------------


def test_one_direction_only(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    conv.syn(0)
    conv.ack(0.0002, to_server=True)  # the client went on: the SYN-ACK was not captured
    conv.send(0.001, True, client_hello())
    f = flows(tmp_path, conv)[40000]
    assert any("only the client's packets" in limit for limit in f.capture_limits)


def test_snaplen_cut_payload(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    conv.handshake(0)
    conv.send(0.001, True, client_hello())
    cut = conv.records[-1]
    conv.records[-1] = Record(cut.data[:80], cut.ts_ns, orig_len=len(cut.data))
    f = flows(tmp_path, conv)[40000]
    assert any("1 packet cut by the snaplen" in limit for limit in f.capture_limits)
    clean = Conversation()
    clean.handshake(0)
    assert flows(tmp_path, clean)[40000].capture_limits == ()


def test_kernel_drops_reach_the_connections_decided_at_the_end(tmp_path: pathlib.Path) -> None:
    conv = syns(CLASSIC)
    iface = Interface()
    data = shb() + idb(iface) + b"".join(epb(r, iface) for r in conv.records)
    data += isb(0, 3, units=(START + 16_600_000_000) // 1000)
    path = write_bytes(tmp_path / "drops.pcapng", data)
    report, out = analyse(path)
    assert report.drops == 3
    f = out[0]
    assert any("3 packets dropped by the kernel" in limit for limit in f.capture_limits)
    # The statistics block also says the capture ran to 16.6 s: the fifth SYN (15.1 s) is missing.
    t = timing_of(f)
    assert t.timer is Timer.WEBHOOK


def _stopped_late(tmp_path: pathlib.Path, conv: Conversation, endtime: bool) -> pathlib.Path:
    """``conv`` and another connection whose last packet is at 2 s, in a pcapng whose statistics
    block says the capture stopped at 32 s (as the block's time, or only as its isb_endtime)."""
    other = Conversation(client=("198.18.0.9", 49999), server=("198.19.0.9", 8080))
    other.handshake(0.5)
    other.ack(2.0, to_server=True)
    iface = Interface()
    records = sorted(conv.records + other.records, key=lambda r: r.ts_ns)
    data = shb() + idb(iface) + b"".join(epb(r, iface) for r in records)
    stop_us = (START + 32_000_000_000) // 1000
    data += isb(0, 0, endtime=stop_us) if endtime else isb(0, 0, units=stop_us)
    return write_bytes(tmp_path / "stopped.pcapng", data)


def _late_syn() -> Conversation:
    conv = Conversation()
    conv.syn(1.5)
    return conv


@pytest.mark.parametrize("endtime", [False, True], ids=["block-time", "isb_endtime"])
@pytest.mark.parametrize(
    ("conv", "label", "waited"),
    [
        (lambda: _tls_stall(None), "tls-handshake-timeout", "ran on 31.999 s after the ClientHello"),
        (_late_syn, "syn-timeout", "no SYN-ACK, RST or ICMP for 30.500 s"),
    ],
    ids=["client-hello", "syn"],
)
def test_the_recorded_stop_time_proves_the_silence(
    tmp_path: pathlib.Path, conv: Callable[[], Conversation], label: str, waited: str, endtime: bool
) -> None:
    # The last packet of the file is 2 s in, so the connection looks cut off by the capture's end
    # (`incomplete`); the statistics block says the capture ran to 32 s: the silence is a timeout.
    report, out = analyse(_stopped_late(tmp_path, conv(), endtime))
    assert report.last_ns == START + 2 * NS
    f = next(f for f in out if f.client.port == 40000)
    assert f.label.value == label, f.explanation
    assert waited in f.explanation
    # The same packets without a stop time: cut off by the end of the capture.
    cut = next(f for f in flows(tmp_path, conv(), until=2.0).values() if f.client.port == 40000)
    assert cut.label.value == "incomplete"


# -- reports ------------------------------------------------------------------------------------------


def test_json_text_and_redaction(tmp_path: pathlib.Path) -> None:
    f = flows(tmp_path, syns(LINEAR), until=12.6)[40000]
    d = flow_dict(f)
    assert {"timing", "capture_limits"} <= set(d)
    timing = d["timing"]
    assert timing["syn_schedule"] == "linear" and timing["syn_count"] == 7
    assert timing["timer"] == "webhook-timeout" and timing["race"] == []
    assert timing["budget_source"] is None and timing["since"] == "first-syn"
    assert set(timing) >= {"syn_times_s", "tried_s", "gave_up_s", "budget_s", "go_error", "because"}
    report = Report(captures=(), flows=(f,), by_label={"syn-timeout": 1})
    assert json.loads(render_json(report))["flows"][0]["timing"] == timing
    assert f"  timing: {timing_of(f).because}" in render_text(report)
    assert "198.19.0.2:443" in alternatives(f)[0]
    hidden = Pseudonyms().apply(f)
    assert hidden.timing is not None and "198.19.0.2" not in str(hidden.timing.because)
    assert "198.19.0.2" not in alternatives(hidden)[0]
    assert hidden.server.ip in alternatives(hidden)[0]


def test_redaction_hides_an_address_followed_by_its_port(tmp_path: pathlib.Path) -> None:
    f = flows(tmp_path, syns(CLASSIC))[40000]
    assert DIAL_ERROR in alternatives(f)
    hidden = Pseudonyms().apply(f)
    assert f"dial tcp {hidden.server.ip}:443: i/o timeout" in alternatives(hidden)
    assert hidden.kubernetes_error == f.kubernetes_error.replace("198.19.0.2", hidden.server.ip)
