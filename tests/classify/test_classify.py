"""classify() fed facts directly, one rule at a time: no capture, no decoder, no flow table.

Each test writes down what the wire showed (per-side facts, TLS facts, ICMP errors, what other captures
saw) and checks the one decision: the label, the headline error and its alternatives, the timer, where,
and the next steps, which must never contradict each other. Times are capture nanoseconds; frames
Wireshark's numbers.
"""

from __future__ import annotations

import dataclasses

from pcapdiag.classify import (
    AppFacts,
    ConnectionFacts,
    Context,
    Diagnosis,
    H2Facts,
    IcmpFacts,
    Label,
    Pairing,
    SideFacts,
    SideView,
    SnapFacts,
    Timer,
    Undecided,
    View,
    classify,
)
from pcapdiag.flow import Direction
from pcapdiag.prose import HostPort, Ip
from pcapdiag.tls import AlertSeen, Message, Mode
from pcapdiag.tls.constants import ALERT
from pcapdiag.tls.h2 import Kind, Reading, Source

S = 1_000_000_000
MS = 1_000_000
T0 = 1_700_000_000 * S
CLIENT = HostPort("198.18.0.2", 40000)
SERVER = HostPort("198.19.0.2", 443)
DIAL = "dial tcp 198.19.0.2:443: i/o timeout"
CONTEXT = "context deadline exceeded"
del ALERT


def decide(facts: ConnectionFacts, now_s: float, *, final: bool = True, **ctx: object) -> Diagnosis:
    got = classify(facts, Context(now_ns=T0 + int(now_s * S), final=final, **ctx))  # type: ignore[arg-type]
    assert isinstance(got, Diagnosis), got
    return got


def errors(d: Diagnosis) -> list[str]:
    return [str(d.error.error)] if d.error else [] + [str(a.error) for a in d.alternatives]


def alternatives(d: Diagnosis) -> list[str]:
    return [str(a.error) for a in d.alternatives]


def steps(d: Diagnosis) -> list[str]:
    return [str(s.command) for s in d.steps]


def conn(**kw: object) -> ConnectionFacts:
    """A connection from 198.18.0.2:40000 to 198.19.0.2:443 whose first packet came at T0."""
    base = {"client": CLIENT, "server": SERVER, "first_ts": T0, "first_frame": 1}
    base.update(kw)
    return ConnectionFacts(**base)  # type: ignore[arg-type]


def syns(*at_s: float, **side: object) -> tuple[SideFacts, tuple[int, ...]]:
    times = tuple(T0 + int(t * S) for t in at_s)
    facts = SideFacts(
        packets=len(times),
        syn_count=len(times),
        syn_frame=1,
        syn_ts=times[0],
        last_ts=times[-1],
        isn=1,
        ttl=64,
    )
    return dataclasses.replace(facts, **side), times  # type: ignore[arg-type]


def at(seconds: float) -> int:
    return T0 + int(seconds * S)


# -- the dial --------------------------------------------------------------------------------------


def test_syn_answered_by_rst_is_refused() -> None:
    client, times = syns(0)
    server = SideFacts(packets=1, rst_frame=2, rst_ts=at(0.0001), last_ts=at(0.0001), ttl=63)
    d = decide(conn(client_side=client, server_side=server, syn_times=times, packets=2), 0.0001)
    assert d.label is Label.REFUSED
    assert str(d.error.error) == "dial tcp 198.19.0.2:443: connect: connection refused"  # type: ignore[union-attr]
    assert d.alternatives == () and d.key_frames == (1, 2)
    assert any("get endpoints" in s for s in steps(d))


def test_unanswered_syns_give_the_context_error_with_the_dial_timeout_as_alternative() -> None:
    client, times = syns(0, 1, 3, 7)
    d = decide(conn(client_side=client, syn_times=times, packets=4), 7.1)
    assert d.label is Label.SYN_TIMEOUT
    assert str(d.error.error) == CONTEXT  # type: ignore[union-attr]
    assert DIAL in alternatives(d)
    assert d.timing is not None and d.timing.timer is None, "the give-up is not in the capture"


def test_a_dial_whose_next_syn_may_still_come_is_undecided_until_it_is_overdue() -> None:
    client, times = syns(0, 1, 3, 7)
    got = classify(conn(client_side=client, syn_times=times, packets=4), Context(now_ns=at(12), final=False))
    assert isinstance(got, Undecided) and got.recheck_at is not None
    # The SYN due at 15 s (an 8 s RTO, up to 1/8 and a tick late, plus half a second on the path).
    assert at(15) < got.recheck_at <= at(7 + 9 + 0.01 + 0.5)
    later = classify(
        conn(client_side=client, syn_times=times, packets=4), Context(now_ns=got.recheck_at, final=False)
    )
    assert isinstance(later, Diagnosis) and later.label is Label.SYN_TIMEOUT
    assert later.timing is not None and later.timing.timer is Timer.WEBHOOK


def test_one_syn_seen_briefly_is_incomplete_at_the_end() -> None:
    client, times = syns(0)
    d = decide(conn(client_side=client, syn_times=times, packets=1), 0.3)
    assert d.label is Label.INCOMPLETE and d.error is None and d.steps == ()


def test_a_syn_ack_the_client_never_acknowledged_was_lost_on_the_way_back() -> None:
    client, times = syns(0, 1, 3)
    server = SideFacts(packets=3, synack_frame=2, synack_ts=at(0.0005), last_ts=at(3.0005), isn=9, ttl=64)
    d = decide(conn(client_side=client, server_side=server, syn_times=times, packets=6), 4)
    assert d.label is Label.SYN_TIMEOUT and "never reached the client" in str(d.explanation)


def _icmp(reporter: str, frame: int = 2) -> IcmpFacts:
    return IcmpFacts(frame=frame, ts_ns=at(0.0002), family=4, icmp_type=3, icmp_code=3, reporter=Ip(reporter))


def test_port_unreachable_names_who_sent_it() -> None:
    client, times = syns(0)
    from_server = decide(
        conn(client_side=client, syn_times=times, packets=1, icmp=(_icmp("198.19.0.2"),)), 0.1
    )
    assert from_server.label is Label.UNREACHABLE
    assert str(from_server.error.error).endswith("connect: connection refused")  # type: ignore[union-attr]
    assert "server host itself" in str(from_server.explanation)
    assert any("nft list ruleset" in s for s in steps(from_server))
    from_router = decide(
        conn(client_side=client, syn_times=times, packets=1, icmp=(_icmp("198.18.0.1"),)), 0.1
    )
    assert "router or firewall on the path" in str(from_router.explanation)
    assert any(s.startswith("ip route get") for s in steps(from_router))


def test_a_reject_on_the_clients_own_node_is_known_from_the_icmp_error_alone() -> None:
    """kube-proxy's REJECT for a Service without endpoints: the SYN never reaches the capture point."""
    facts = conn(
        client=HostPort("198.18.0.2", 40000),
        server=HostPort("198.18.100.1", 443),
        icmp=(_icmp("198.18.0.2", 5),),
    )
    d = decide(facts, 0.1, server_is_service=True)
    assert d.label is Label.UNREACHABLE and d.key_frames == (5,)
    assert "kube-proxy" in str(d.explanation) and "no ready endpoints" in str(d.explanation)
    assert any("endpointslices" in s for s in steps(d))


# -- TLS -------------------------------------------------------------------------------------------


def _connected(**client: object) -> tuple[SideFacts, SideFacts]:
    c = SideFacts(
        packets=3,
        syn_count=1,
        syn_frame=1,
        syn_ts=T0,
        first_data_frame=4,
        first_data_ts=at(0.001),
        bytes=300,
        captured_end=300,
        acked=0,
        isn=1,
        ttl=64,
    )
    s = SideFacts(packets=2, synack_frame=2, synack_ts=at(0.0005), acked=300, isn=9, ttl=63)
    return dataclasses.replace(c, **client), s  # type: ignore[arg-type]


TLS_HELLO = AppFacts(
    mode=Mode.TLS, client_hello_frame=4, client_hello_ts=at(0.001), sni="webhook.pcd-system.svc"
)


def test_a_clienthello_never_answered_races_two_ten_second_timers() -> None:
    c, s = _connected(fin_frame=9, fin_ts=at(10.001))
    d = decide(conn(client_side=c, server_side=s, app=TLS_HELLO, syn_times=(T0,), packets=6), 10.001)
    assert d.label is Label.TLS_HANDSHAKE_TIMEOUT
    assert str(d.error.error) == CONTEXT  # type: ignore[union-attr]
    assert alternatives(d) == ["net/http: TLS handshake timeout"]
    assert d.timing is not None and set(d.timing.race) == {Timer.WEBHOOK, Timer.TLS_HANDSHAKE}


def test_a_longer_known_timeout_makes_the_handshake_timer_the_headline() -> None:
    c, s = _connected(fin_frame=9, fin_ts=at(10.002))
    d = decide(
        conn(client_side=c, server_side=s, app=TLS_HELLO, syn_times=(T0,), packets=6), 10.002, budget_s=15
    )
    assert str(d.error.error) == "net/http: TLS handshake timeout" and alternatives(d) == []  # type: ignore[union-attr]


def test_server_bytes_after_the_client_gave_up_answer_nothing() -> None:
    c, s = _connected(fin_frame=9, fin_ts=at(10.001))
    s = dataclasses.replace(
        s, first_data_frame=10, first_data_ts=at(11), bytes=1400, captured_end=1400, last_data_ts=at(11)
    )
    d = decide(conn(client_side=c, server_side=s, app=TLS_HELLO, syn_times=(T0,), packets=8), 11)
    assert d.label is Label.TLS_HANDSHAKE_TIMEOUT
    assert any("after the client gave up" in str(f) for f in d.findings)


def test_an_encrypted_alert_instead_of_finished_names_one_reason_and_the_others_as_alternatives() -> None:
    c, s = _connected(fin_frame=8, fin_ts=at(0.004))
    s = dataclasses.replace(
        s, first_data_frame=5, first_data_ts=at(0.002), bytes=2000, last_data_ts=at(0.002)
    )
    app = dataclasses.replace(
        TLS_HELLO,
        server_hello_frame=5,
        server_hello_ts=at(0.002),
        version=0x0304,
        server_flight_last_frame=5,
        server_flight_last_ts=at(0.002),
        client_abort=AlertSeen(Direction.TO_SERVER, 7, at(0.0039), None, None),
    )
    d = decide(conn(client_side=c, server_side=s, app=app, syn_times=(T0,), packets=8), 0.004)
    assert d.label is Label.CERT_REJECTED
    assert str(d.error.error) == "x509: certificate signed by unknown authority"  # type: ignore[union-attr]
    assert " / " not in str(d.error.error)  # type: ignore[union-attr]
    assert alternatives(d) == [
        "x509: certificate is valid for ..., not webhook.pcd-system.svc",
        "x509: certificate has expired or is not yet valid",
    ]


# -- requests --------------------------------------------------------------------------------------


def _established(app: AppFacts, **client: object) -> ConnectionFacts:
    """Handshake done, the client's 700 bytes (hello, Finished, request) and the server's 2000 seen and
    acknowledged."""
    c, s = _connected(**client)
    c = dataclasses.replace(c, bytes=700, captured_end=700 + bool(c.fin_ts), acked=2000)
    s = dataclasses.replace(
        s,
        first_data_frame=5,
        first_data_ts=at(0.002),
        bytes=2000,
        captured_end=2000,
        last_data_ts=at(0.002),
        acked=700,
    )
    return conn(client_side=c, server_side=s, app=app, syn_times=(T0,), packets=12)


REQUEST = Message(frame=8, ts_ns=at(0.004), start=100, line=None)
DONE = dataclasses.replace(
    TLS_HELLO, version=0x0304, handshake_done_frame=7, handshake_done_ts=at(0.003), client_data_records=1
)


def test_a_request_without_an_answer_until_the_client_gave_up_is_awaiting_headers() -> None:
    app = dataclasses.replace(
        DONE,
        pending=REQUEST,
        pending_end=700,
        requests=1,
        last_request=REQUEST,
        closing_ts=(at(5.004), 0),
        closing_frame=(20, 0),
    )
    d = decide(_established(app, fin_frame=21, fin_ts=at(5.0041)), 5.1)
    assert d.label is Label.AWAITING_HEADERS
    assert str(d.error.error) == CONTEXT  # type: ignore[union-attr]
    # Given up 5 s after the call began: a 5 s context, or a client's own 5 s timers.
    assert "net/http: timeout awaiting response headers" in alternatives(d)
    assert "context deadline exceeded (Client.Timeout exceeded while awaiting headers)" in alternatives(d)
    assert d.timing is not None and d.timing.budget_s == 5


def test_an_answer_after_the_client_gave_up_is_a_timeout_with_a_finding() -> None:
    answer = Message(frame=30, ts_ns=at(11), start=2000, line=None)
    app = dataclasses.replace(
        DONE,
        requests=1,
        answered=1,
        last_request=REQUEST,
        last_answer=answer,
        closing_ts=(at(10.004), 0),
        closing_frame=(20, 0),
    )
    d = decide(_established(app, fin_frame=21, fin_ts=at(10.0041)), 11.1)
    assert d.label is Label.AWAITING_HEADERS and str(d.error.error) == CONTEXT  # type: ignore[union-attr]
    assert any("after the client gave up" in str(f) for f in d.findings)


def test_the_server_closing_after_the_request_is_server_closed() -> None:
    app = dataclasses.replace(DONE, pending=REQUEST, pending_end=700, requests=1, last_request=REQUEST)
    facts = _established(app)
    s = dataclasses.replace(facts.server_side, fin_frame=9, fin_ts=at(0.5), captured_end=2001)
    d = decide(dataclasses.replace(facts, server_side=s), 0.6)
    assert d.label is Label.SERVER_CLOSED and str(d.error.error) == "EOF"  # type: ignore[union-attr]


H2_HOW = "the ServerHello's ALPN extension chose h2 (in clear, TLS 1.2)"


def _h2(*readings: Reading, goaway: Reading | None = None, overlaps: tuple[int, ...] = ()) -> H2Facts:
    return H2Facts(source=Source.ALPN, how=H2_HOW, readings=readings, goaway=goaway, overlaps=overlaps)


def test_http2_control_frames_after_the_request_are_named_in_the_explanation() -> None:
    """HTTP/2's reading of the records says the request is pending; the explanation names the records
    it took as control frames and says how HTTP/2 was known."""
    wu = Reading(9, at(0.005), Direction.TO_CLIENT, 13, 37, Kind.CONTROL, "WINDOW_UPDATE/RST_STREAM")
    app = dataclasses.replace(
        DONE,
        pending=REQUEST,
        pending_end=700,
        requests=1,
        last_request=REQUEST,
        closing_ts=(at(10.004), 0),
        closing_frame=(20, 0),
        h2=_h2(wu),
    )
    d = decide(_established(app, fin_frame=21, fin_ts=at(10.0041)), 10.2)
    assert d.label is Label.AWAITING_HEADERS and str(d.error.error) == CONTEXT  # type: ignore[union-attr]
    assert H2_HOW in str(d.explanation)
    assert "frame 9 (37 bytes, 13 of plaintext: WINDOW_UPDATE/RST_STREAM)" in str(d.explanation)
    assert any("Failed to make webhook authenticator request" in str(f) for f in d.findings)


def test_http2_goaway_then_fin_is_server_closed_with_gos_goaway_error() -> None:
    goaway = Reading(10, at(0.3), Direction.TO_CLIENT, 17, 41, Kind.CONTROL, "PING/GOAWAY")
    app = dataclasses.replace(
        DONE,
        pending=REQUEST,
        pending_end=700,
        requests=1,
        last_request=REQUEST,
        h2=_h2(goaway, goaway=goaway),
    )
    facts = _established(app)
    s = dataclasses.replace(facts.server_side, fin_frame=11, fin_ts=at(0.5), captured_end=2001)
    d = decide(dataclasses.replace(facts, server_side=s), 0.6)
    assert d.label is Label.SERVER_CLOSED
    assert str(d.error.error).startswith("http2: server sent GOAWAY and closed the connection")  # type: ignore[union-attr]
    assert alternatives(d) == ["unexpected EOF"]
    assert 10 in d.key_frames


def test_http2_overlapping_requests_are_a_capture_limit() -> None:
    answer = Message(frame=12, ts_ns=at(0.006), start=2000, line=None)
    app = dataclasses.replace(
        DONE, requests=2, answered=1, last_request=REQUEST, last_answer=answer, h2=_h2(overlaps=(8,))
    )
    d = decide(_established(app), 1)
    assert d.label is Label.OK
    assert any("requests overlap" in str(limit) for limit in d.limits)
    assert "the HTTP status is encrypted" in str(d.explanation)


def test_answered_requests_are_ok_and_open_ones_wait_while_the_capture_goes_on() -> None:
    answer = Message(frame=9, ts_ns=at(0.005), start=2000, line=None)
    app = dataclasses.replace(DONE, requests=1, answered=1, last_request=REQUEST, last_answer=answer)
    facts = _established(app)
    assert decide(facts, 1).label is Label.OK
    assert classify(facts, Context(now_ns=at(1), final=False)) == Undecided(None)


def test_bytes_the_receiver_never_acknowledged_past_are_loss_on_the_path_not_in_the_capture() -> None:
    c, s = _connected(fin_frame=9, fin_ts=at(10.001), acked=0)
    s = dataclasses.replace(s, first_data_frame=6, first_data_ts=at(0.0021), held=561, captured_end=0)
    d = decide(conn(client_side=c, server_side=s, app=TLS_HELLO, syn_times=(T0,), packets=9), 10.1)
    assert d.label is Label.TLS_HANDSHAKE_TIMEOUT, d.explanation
    assert any("lost on the path" in str(f) and "561 bytes" in str(f) for f in d.findings)
    captured_less = dataclasses.replace(c, acked=2000)  # the client acknowledged bytes never captured
    d = decide(
        conn(client_side=captured_less, server_side=s, app=TLS_HELLO, syn_times=(T0,), packets=9), 10.1
    )
    assert d.label is Label.INCOMPLETE


def test_a_cut_capture_that_hides_the_records_is_incomplete_and_says_so() -> None:
    c, s = _connected()
    app = AppFacts(mode=Mode.TLS, snap=SnapFacts(client_lost_first=True))
    d = decide(
        conn(client_side=c, server_side=s, app=app, syn_times=(T0,), packets=6, snapped=3), 20, snaplen=96
    )
    assert d.label is Label.INCOMPLETE and d.cut
    assert "96 bytes" in str(d.explanation) and "tcpdump -s 0" in str(d.explanation)
    assert any("snaplen at 96 bytes" in str(limit) for limit in d.limits)


# -- where, from a second capture ---------------------------------------------------------------------


def _view(capture: int, label: Label, *, client_syns: int, server_syn: bool) -> View:
    return View(
        capture=capture,
        flow_id=1,
        client_ip="198.18.0.2",
        client_port=40000,
        server_ip="198.19.0.2",
        server_port=443,
        client_isn=1,
        server_isn=9 if server_syn else None,
        first_ns=T0,
        last_ns=at(7),
        syn_ns=T0,
        synack_ns=at(0.0005) if server_syn else None,
        ack_ns=None,
        client=SideView(
            syn=True, syns=client_syns, data_bytes=0, fin=False, rst=False, packets=client_syns, ttl=64
        ),
        server=SideView(
            syn=server_syn, syns=0, data_bytes=0, fin=False, rst=False, packets=int(server_syn), ttl=64
        ),
        icmp_from=(),
        label=label,
    )


def _syn_timeout(pairing: Pairing) -> Diagnosis:
    client, times = syns(0, 1, 3, 7)
    got = classify(
        conn(client_side=client, syn_times=times, packets=4), Context(now_ns=at(8)), pairing=pairing
    )
    assert isinstance(got, Diagnosis)
    return got


def test_where_a_lost_syn_was_dropped_and_the_steps_that_follow() -> None:
    c = _view(0, Label.SYN_TIMEOUT, client_syns=4, server_syn=False)
    d = _syn_timeout(Pairing(client=c, server=None, client_name="apiserver", server_name="webhook"))
    assert d.location is not None and d.location.where.value == "in-between"
    commands = steps(d)
    assert commands[0] == "kubectl get networkpolicy -A", "the place it failed comes first"
    assert len(commands) == len(set(commands)), "no step twice"
    assert not any("tcpdump" in s for s in commands), "the second capture already answered where the SYN went"


def test_a_client_that_gave_up_on_a_silent_server_is_not_a_server_that_closed() -> None:
    c = _view(0, Label.SYN_TIMEOUT, client_syns=4, server_syn=False)
    s = _view(1, Label.SYN_TIMEOUT, client_syns=4, server_syn=False)
    d = _syn_timeout(Pairing(client=c, server=s, client_name="apiserver", server_name="webhook"))
    assert d.location is not None and d.location.where.value == "server"
    assert "never answered it" in str(d.location.explanation) and "closed" not in str(d.location.explanation)
    assert any("ss -ltn" in s for s in steps(d))


def test_unknown_roles_give_where_unknown_with_the_fix() -> None:
    c = _view(0, Label.SYN_TIMEOUT, client_syns=4, server_syn=False)
    d = _syn_timeout(Pairing(client=c, server=None, client_name="a.pcap", server_name="", roles_known=False))
    assert d.location is not None and d.location.where.value == "unknown"
    assert "--side" in str(d.location.explanation)


def test_bytes_that_are_not_tls_answer_the_clienthello_with_not_tls() -> None:
    c, s = _connected()
    s = dataclasses.replace(s, first_data_frame=5, first_data_ts=at(0.002), bytes=40, captured_end=40)
    app = dataclasses.replace(TLS_HELLO, not_tls=(None, "HTTP/1.1 400 Bad Request"), not_tls_frame=(0, 5))
    d = decide(conn(client_side=c, server_side=s, app=app, syn_times=(T0,), packets=7), 1)
    assert d.label is Label.NOT_TLS
    assert str(d.error.error) == "http: server gave HTTP response to HTTPS client"  # type: ignore[union-attr]
    assert "HTTP/1.1 400" in str(d.explanation)


def test_a_server_alert_during_the_handshake_is_tls_failed() -> None:
    c, s = _connected()
    s = dataclasses.replace(s, first_data_frame=5, first_data_ts=at(0.002), bytes=7, captured_end=7)
    alert = AlertSeen(Direction.TO_CLIENT, 5, at(0.002), 2, 70)
    app = dataclasses.replace(TLS_HELLO, server_alert=alert)
    d = decide(conn(client_side=c, server_side=s, app=app, syn_times=(T0,), packets=7), 1)
    assert d.label is Label.TLS_FAILED
    assert str(d.error.error) == "remote error: tls: protocol version not supported"  # type: ignore[union-attr]


def test_a_plain_probe_answered_500_is_http_error() -> None:
    request = Message(frame=4, ts_ns=at(0.001), start=0, line="GET /healthz HTTP/1.1")
    answer = Message(frame=6, ts_ns=at(0.002), start=0, line="HTTP/1.1 500 Internal Server Error", status=500)
    app = AppFacts(
        mode=Mode.PLAIN, requests=1, answered=1, last_request=request, last_answer=answer, worst_status=500
    )
    d = decide(_established(app), 1)
    assert d.label is Label.HTTP_ERROR
    assert str(d.error.error) == "HTTP probe failed with statuscode: 500"  # type: ignore[union-attr]


def test_a_connection_seen_only_mid_stream_that_proves_nothing_is_partial() -> None:
    c = SideFacts(packets=2, acked=0)
    s = SideFacts(packets=2, acked=0)
    facts = conn(client_side=c, server_side=s, midstream=True, client_inferred=True, history="Aa", packets=4)
    d = decide(facts, 1)
    assert d.label is Label.PARTIAL and "guessed from the ports" in str(d.explanation)
    assert classify(facts, Context(now_ns=at(1), final=False)) == Undecided(None)


def test_every_step_says_what_it_shows_and_none_comes_twice() -> None:
    from pcapdiag.classify import Where
    from pcapdiag.classify.next_steps import IcmpSender, Target, next_steps

    targets = [Target("198.19.0.2", 443, "webhook.pcd-system.svc"), Target("198.19.0.2", 443)]
    targets += [
        Target("198.19.0.2", 443, client_ip="198.18.0.2", where=w, server_side_seen=True) for w in Where
    ]
    targets += [Target("198.19.0.2", 443, icmp_sender=s) for s in IcmpSender]
    for label in Label:
        for target in targets:
            steps = next_steps(label, target)
            assert bool(steps) == label.failing, (label, target)
            commands = [str(s.command) for s in steps]
            assert len(commands) == len(set(commands)), (label, target, commands)
            for s in steps:
                assert str(s.command).startswith("#") or str(s.shows), (label, str(s.command))
