"""The matcher and localiser on scapy-built pairs: one connection recorded at the client side and
the server side of a path that drops, resets or NATs, with the captures' clocks apart."""

from __future__ import annotations

import pathlib

import pytest

from builders import write_pcap
from conftest import analyse_paired
from conversation import CCS, alert, app_data, client_hello, tls13_ok, tls13_server_flight
from paired import CLIENT, POD, SERVICE, TwoPoints
from pcapdiag.pipeline import Paired
from pcapdiag.report import FlowReport

NS = 1_000_000_000


def run(
    tmp_path: pathlib.Path, *points: TwoPoints, names: list[str] | None = None, swap: bool = False
) -> Paired:
    """Write both points' captures and analyse them together."""
    c_records = sorted((r for p in points for r in p.client_records), key=lambda r: r.ts_ns)
    s_records = sorted((r for p in points for r in p.server_records), key=lambda r: r.ts_ns)
    c = write_pcap(tmp_path / "a.pcap", c_records)
    s = write_pcap(tmp_path / "b.pcap", s_records)
    return analyse_paired([s, c] if swap else [c, s], names)


def by_port(flows: list[FlowReport]) -> dict[int, FlowReport]:
    return {f.client.port: f for f in flows}


def healthy(port: int, t: float, offset_s: float) -> TwoPoints:
    """A DNAT'd TLS call that crosses the path untouched (it proves the server side was capturing)."""
    tp = TwoPoints(client=(CLIENT[0], port), offset_s=offset_s, client_isn=7_000_000 + port)
    end = tls13_ok(tp, t)  # type: ignore[arg-type]
    tp.fin(end + 0.001, to_server=True)
    tp.fin(end + 0.0015, to_server=False)
    tp.ack(end + 0.002, to_server=True)
    return tp


@pytest.mark.parametrize("offset_s", [0.0, 37.25, -3600.5])
def test_dnat_and_clock_offset_healthy_call(tmp_path: pathlib.Path, offset_s: float) -> None:
    paired = run(tmp_path, healthy(40001, 0.0, offset_s), healthy(40002, 2.0, offset_s))
    flows = by_port(paired.flows)
    assert set(flows) == {40001, 40002}
    f = flows[40001]
    assert f.label.value == "ok" and f.where == "none" and f.match == "isn"
    client_side, server_side = f.sides
    assert (client_side.role, server_side.role) == ("client", "server")
    assert (client_side.server.ip, client_side.server.port) == SERVICE  # type: ignore[union-attr]
    assert (server_side.server.ip, server_side.server.port) == POD  # type: ignore[union-attr]
    assert client_side.packets == server_side.packets > 0
    (offset,) = paired.offsets
    assert offset.offset_s == pytest.approx(offset_s, abs=1e-6)
    assert offset.one_way_delay_s == pytest.approx(0.0005, abs=1e-6)
    assert offset.connections == 2
    clock_notes = [x for x in f.capture_limits if "clock" in x]
    assert bool(clock_notes) == (offset_s != 0.0)


def test_syn_dropped_in_between(tmp_path: pathlib.Path) -> None:
    lost = TwoPoints(client=(CLIENT[0], 40010), drop=lambda to_server, t: to_server, offset_s=5.0)
    for t in (1.0, 2.0, 3.0, 4.0):
        lost.syn(t)
    flows = by_port(run(tmp_path, healthy(40001, 0.0, 5.0), lost, healthy(40002, 6.0, 5.0)).flows)
    f = flows[40010]
    assert f.label.value == "syn-timeout"
    assert f.where == "in-between"
    assert "never reached" in (f.where_explanation or "") or "no packet" in (f.where_explanation or "")
    assert [s.seen for s in f.sides] == [True, False]


def test_no_shared_connection_means_no_clock_comparison(tmp_path: pathlib.Path) -> None:
    lost = TwoPoints(client=(CLIENT[0], 40011), drop=lambda to_server, t: to_server)
    for t in (0.0, 1.0, 3.0):
        lost.syn(t)
    other = TwoPoints(client=(CLIENT[0], 40012), drop=lambda to_server, t: not to_server, client_isn=77)
    other.at_server.syn(0.5)  # something else reached the server side meanwhile (no SYN at the client side)
    other.at_client.records.clear()
    paired = run(tmp_path, lost, other)
    assert not paired.offsets
    f = by_port(paired.flows)[40011]
    assert f.where == "in-between"
    assert any("could not be compared" in x for x in f.capture_limits)


def test_syn_ack_lost_on_the_way_back(tmp_path: pathlib.Path) -> None:
    tp = TwoPoints(client=(CLIENT[0], 40020), drop=lambda to_server, t: not to_server)
    for t in (0.0, 1.0, 2.0, 3.0):
        tp.syn(t)
        tp.synack(t + tp.delay_s)
    f = by_port(run(tmp_path, tp).flows)[40020]
    assert f.label.value == "syn-timeout"
    assert f.where == "return-path"
    assert "SYN-ACK" in (f.where_explanation or "")
    assert f.sides[1].label is not None  # the server side saw the SYNs and its own answers


def test_pod_refuses(tmp_path: pathlib.Path) -> None:
    tp = TwoPoints(client=(CLIENT[0], 40030))
    tp.syn(0.0)
    tp.rst(0.0005, to_server=False)
    f = by_port(run(tmp_path, tp).flows)[40030]
    assert f.label.value == "refused"
    assert f.where == "server"
    assert "nothing listens" in (f.where_explanation or "")


def test_reset_by_a_hop_in_between(tmp_path: pathlib.Path) -> None:
    """The SYN crossed; the RST the client got was never sent by the server host."""
    tp = TwoPoints(client=(CLIENT[0], 40040))
    tp.syn(0.0)
    tp.at_client.rst(0.0003, to_server=False)
    f = by_port(run(tmp_path, tp).flows)[40040]
    assert f.label.value == "refused"
    assert f.where == "in-between"


def test_reset_before_the_server_side(tmp_path: pathlib.Path) -> None:
    """Nothing reached the server side, and a RST came back: a firewall between rejects with resets."""
    tp = TwoPoints(client=(CLIENT[0], 40050), drop=lambda to_server, t: to_server)
    tp.syn(1.0)
    tp.at_client.rst(1.0003, to_server=False)
    flows = by_port(run(tmp_path, healthy(40001, 0.0, 0.0), tp).flows)
    f = flows[40050]
    assert f.label.value == "refused"
    assert f.where == "in-between"
    assert not f.sides[1].seen


def test_server_flight_lost_on_the_way_back(tmp_path: pathlib.Path) -> None:
    """TCP is up, the ClientHello crossed, the server's flight never came back: return path."""
    tp = TwoPoints(client=(CLIENT[0], 40060))
    tp.handshake(0.0)
    tp.drop = lambda to_server, t: not to_server and t > 0.01
    tp.send(0.002, True, client_hello())
    for t in (0.02, 0.5, 1.5, 3.5, 7.5):
        tp.send(t, False, b"\x16\x03\x03\x00\x10" + bytes(16), advance=False)
    tp.fin(12.0, to_server=True)
    f = by_port(run(tmp_path, tp).flows)[40060]
    assert f.label.value == "tls-handshake-timeout"
    assert f.where == "return-path"


def test_client_rejects_the_certificate(tmp_path: pathlib.Path) -> None:
    tp = TwoPoints(client=(CLIENT[0], 40070))
    tls13_server_flight(tp)  # type: ignore[arg-type]
    tp.send(0.003, True, CCS + app_data(19))
    tp.fin(0.0031, to_server=True)
    f = by_port(run(tmp_path, tp).flows)[40070]
    assert f.label.value == "cert-rejected"
    assert f.where == "client"


def test_server_alert_is_the_server(tmp_path: pathlib.Path) -> None:
    tp = TwoPoints(client=(CLIENT[0], 40080))
    tp.handshake(0.0)
    tp.send(0.002, True, client_hello(tls13=False))
    tp.send(0.003, False, alert(40))
    tp.fin(0.004, to_server=False)
    f = by_port(run(tmp_path, tp).flows)[40080]
    assert f.label.value == "tls-failed"
    assert f.where == "server"


def test_snat_changes_the_client_port(tmp_path: pathlib.Path) -> None:
    """A CNI's SNAT rewrites the client's address and port; the ISNs still name the connection."""
    tp = TwoPoints(client=(CLIENT[0], 40090), client_at_server=("198.19.0.1", 61000), offset_s=-2.0)
    end = tls13_ok(tp)  # type: ignore[arg-type]
    tp.fin(end + 0.001, to_server=True)
    tp.fin(end + 0.002, to_server=False)
    paired = run(tmp_path, tp)
    (f,) = paired.flows
    assert f.match == "isn+synack"
    assert f.sides[1].client is not None and f.sides[1].client.port == 61000
    assert paired.offsets[0].offset_s == pytest.approx(-2.0, abs=1e-6)


def test_snat_and_the_syn_ack_lost_on_the_way_back(tmp_path: pathlib.Path) -> None:
    """SNAT changed the port and no SYN-ACK reached the client side: the ISN and the time match it."""
    tp = TwoPoints(
        client=(CLIENT[0], 40095),
        client_at_server=("198.19.0.1", 61001),
        drop=lambda to_server, t: not to_server,
        offset_s=3.0,
    )
    for t in (1.0, 2.0, 3.0, 4.0):
        tp.syn(t)
        tp.synack(t + tp.delay_s)
    paired = run(tmp_path, healthy(40001, 0.0, 3.0), tp)
    f = by_port(paired.flows)[40095]
    assert f.match == "isn+time"
    assert f.where == "return-path"
    assert f.sides[1].client is not None and f.sides[1].client.port == 61001


def test_same_isn_on_unrelated_connections_is_no_match(tmp_path: pathlib.Path) -> None:
    """Two different connections that happen to share an ISN (no SYN-ACK, different ports, 30 s apart),
    in captures that overlap (healthy calls before and after prove both points were capturing)."""
    a = TwoPoints(client=(CLIENT[0], 40100), client_isn=12345, drop=lambda to_server, t: to_server)
    a.syn(1.0)
    b = TwoPoints(client=(CLIENT[0], 40101), client_isn=12345)
    b.syn(30.0)
    b.at_client.records.clear()  # b was only seen at the server side
    paired = run(tmp_path, healthy(40001, 0.0, 0.0), a, b, healthy(40002, 31.0, 0.0))
    flows = by_port(paired.flows)
    assert flows[40100].match == flows[40101].match == "single"
    assert flows[40100].where == "in-between"
    assert paired.offsets[0].connections == 2


def test_capture_started_after_the_syn_matches_by_ports_and_time(tmp_path: pathlib.Path) -> None:
    tp = TwoPoints(client=(CLIENT[0], 40110), offset_s=1.5)
    end = tls13_ok(tp)  # type: ignore[arg-type]
    tp.send(end + 0.5, True, app_data(700))
    tp.send(end + 0.6, False, app_data(300))
    del tp.at_server.records[:6]  # the server-side capture started after the handshake
    paired = run(tmp_path, healthy(40001, 0.0, 1.5), tp)
    f = by_port(paired.flows)[40110]
    assert f.match == "ports+time"
    assert all(s.seen for s in f.sides)


def test_roles_come_from_ttls_not_from_the_order(tmp_path: pathlib.Path) -> None:
    lost = TwoPoints(client=(CLIENT[0], 40120), drop=lambda to_server, t: to_server)
    lost.syn(1.0)
    lost.syn(2.0)
    paired = run(tmp_path, healthy(40001, 0.0, 0.0), lost, swap=True)
    assert [c.role for c in paired.captures] == ["server", "client"]
    f = by_port(paired.flows)[40120]
    assert f.where == "in-between"
    assert f.capture.endswith("a.pcap")  # the client side's view leads


def test_named_sides(tmp_path: pathlib.Path) -> None:
    tp = TwoPoints(client=(CLIENT[0], 40130))
    tp.syn(0.0)
    tp.rst(0.0005, to_server=False)
    paired = run(tmp_path, tp, names=["apiserver", "webhook"])
    assert [s.name for s in paired.flows[0].sides] == ["apiserver", "webhook"]
