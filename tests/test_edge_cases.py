"""Edge cases built with scapy that a lab cannot easily record, each labelled through the whole pipeline."""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from scapy.layers.inet import ICMP, IP, TCP, IPerror, TCPerror
from scapy.layers.l2 import Ether

from builders import Record, write_pcap
from conftest import analyse
from conversation import (
    CCS,
    START,
    Conversation,
    alert,
    app_data,
    certificate,
    client_hello,
    server_hello,
    tls13_ok,
    tls13_server_flight,
)
from pcapdiag.report import FlowReport


def run(tmp_path: pathlib.Path, *convs: Conversation) -> list[FlowReport]:
    records = sorted((r for c in convs for r in c.records), key=lambda r: r.ts_ns)
    path = write_pcap(tmp_path / "case.pcap", records)
    report, flows = analyse(path)
    assert report.error is None
    return flows


def only(flows: list[FlowReport]) -> FlowReport:
    assert len(flows) == 1, [(f.client, f.server, f.label) for f in flows]
    return flows[0]


def test_tls13_exchange_is_ok(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    tls13_ok(conv)
    f = only(run(tmp_path, conv))
    assert f.label.value == "ok"
    assert str(f.sni) == "webhook.pcd-system.svc"
    assert f.tls_version == "TLS 1.3"
    assert f.alpn == ("http/1.1",)


def test_vlan_tagged_refusal(tmp_path: pathlib.Path) -> None:
    conv = Conversation(vlan=42)
    conv.syn(0)
    conv.rst(0.0001, to_server=False)
    f = only(run(tmp_path, conv))
    assert f.label.value == "refused"
    assert f.kubernetes_error == "dial tcp 198.19.0.2:443: connect: connection refused"


def test_ipv6_extension_headers_refusal_uses_brackets(tmp_path: pathlib.Path) -> None:
    conv = Conversation(client=("2001:db8::2", 40000), server=("2001:db8:1::2", 443), ipv6_ext=True)
    conv.syn(0)
    conv.rst(0.0001, to_server=False)
    f = only(run(tmp_path, conv))
    assert f.label.value == "refused"
    assert f.kubernetes_error == "dial tcp [2001:db8:1::2]:443: connect: connection refused"


def test_reused_five_tuple_is_two_connections(tmp_path: pathlib.Path) -> None:
    first = Conversation()
    first.syn(0)
    first.rst(0.0001, to_server=False)
    second = Conversation(client_isn=55_000_000)
    tls13_ok(second, t=1.0)
    flows = run(tmp_path, first, second)
    assert [f.label.value for f in flows] == ["refused", "ok"]


def test_packets_captured_twice_are_not_retransmissions(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    tls13_ok(conv)
    doubled = []
    for r in conv.records:
        doubled.append(r)
        doubled.append(Record(r.data, r.ts_ns + 20_000))  # the bridge copy, 20 µs later
    path = write_pcap(tmp_path / "dup.pcap", doubled)
    _, flows = analyse(path)
    f = only(flows)
    assert f.label.value == "ok"
    assert f.retransmissions == 0
    assert f.packets == len(conv.records)


def test_syn_retransmissions_are_syn_timeout(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    for t in (0, 1, 3, 7):  # classic Linux schedule until a 10 s give-up
        conv.syn(t)
    f = only(run(tmp_path, conv))
    assert f.label.value == "syn-timeout"
    # kube-apiserver's request context (10 s by default) ends the dial before its 30 s dialer; the dial's
    # own timeout can still reach the client first (they race at the deadline).
    assert f.kubernetes_error == "context deadline exceeded"
    assert "dial tcp 198.19.0.2:443: i/o timeout" in [str(a.error) for a in f.alternatives]
    assert f.retransmissions == 3


def test_single_fresh_syn_at_capture_end_is_incomplete(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    conv.syn(0)
    f = only(run(tmp_path, conv))
    assert f.label.value == "incomplete"


def test_single_syn_with_a_second_of_capture_after_is_syn_timeout(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    conv.syn(0)
    other = Conversation(client=("198.18.0.3", 40001))
    tls13_ok(other, t=1.5)
    flows = run(tmp_path, conv, other)
    assert [f.label.value for f in flows] == ["syn-timeout", "ok"]


def test_icmp_admin_prohibited_is_unreachable(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    syn = conv.packet(0, True, "S", conv.client_isn, 0)
    icmp = (
        Ether()
        / IP(src="198.18.0.1", dst="198.18.0.2")
        / ICMP(type=3, code=13)
        / IPerror(bytes(syn[IP])[:20])
        / TCPerror(bytes(syn[TCP])[:8])
    )
    conv.records.append(Record(bytes(icmp), START + 100_000))
    f = only(run(tmp_path, conv))
    assert f.label.value == "unreachable"
    assert f.kubernetes_error == "dial tcp 198.19.0.2:443: connect: no route to host"
    assert any("198.18.0.1" in str(e.summary) for e in f.evidence)


def test_retransmitted_client_hello_then_silence(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    conv.handshake(0)
    hello = client_hello()
    conv.send(0.001, True, hello, advance=False)
    conv.send(0.21, True, hello, advance=False)  # RTO retransmission
    conv.cseq += len(hello)
    conv.ack(0.211, to_server=False)
    conv.fin(10.001, to_server=True)
    f = only(run(tmp_path, conv))
    assert f.label.value == "tls-handshake-timeout"
    # Given up 10 s after the dial and the ClientHello: the webhook's default 10 s context (armed first)
    # and the 10 s TLS handshake timer race; the context is the likelier.
    assert f.kubernetes_error == "context deadline exceeded"
    assert "net/http: TLS handshake timeout" in [str(a.error) for a in f.alternatives]
    assert f.retransmissions == 1


def test_client_hello_answered_by_http(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    conv.handshake(0)
    conv.send(0.001, True, client_hello())
    conv.send(0.002, False, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    conv.fin(0.003, to_server=False)
    f = only(run(tmp_path, conv))
    assert f.label.value == "not-tls"
    assert "HTTP/1.1 400 Bad Request" in f.explanation


def test_server_alert_is_tls_failed(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    conv.handshake(0)
    conv.send(0.001, True, client_hello(tls13=False))
    conv.send(0.002, False, alert(70))
    conv.fin(0.003, to_server=False)
    f = only(run(tmp_path, conv))
    assert f.label.value == "tls-failed"
    assert f.kubernetes_error == "remote error: tls: protocol version not supported"


def test_tls13_short_record_instead_of_finished_is_cert_rejected(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    tls13_server_flight(conv)
    conv.send(0.003, True, CCS + app_data(19))  # Go: one 30-byte segment
    conv.fin(0.0031, to_server=True)
    f = only(run(tmp_path, conv))
    assert f.label.value == "cert-rejected"
    assert f.kubernetes_error and f.kubernetes_error.startswith("x509:")


def _cert(name: str, not_after: dt.datetime) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(not_after - dt.timedelta(days=365))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.DER)


@pytest.mark.parametrize(
    ("name", "expires_in_days", "expected"),
    [
        (
            "other.example.svc",
            30,
            "x509: certificate is valid for other.example.svc, not webhook.pcd-system.svc",
        ),
        ("webhook.pcd-system.svc", -1, "x509: certificate has expired or is not yet valid"),
        ("webhook.pcd-system.svc", 30, "x509: certificate signed by unknown authority"),
    ],
)
def test_tls12_certificate_reason(
    tmp_path: pathlib.Path, name: str, expires_in_days: int, expected: str
) -> None:
    capture_time = dt.datetime.fromtimestamp(START / 1e9, dt.UTC)
    der = _cert(name, capture_time + dt.timedelta(days=expires_in_days))
    conv = Conversation()
    conv.handshake(0)
    conv.send(0.001, True, client_hello(tls13=False))
    conv.send(0.002, False, server_hello(tls13=False) + certificate([der]))
    conv.send(0.003, True, alert(42))
    conv.fin(0.0031, to_server=True)
    f = only(run(tmp_path, conv))
    assert f.label.value == "cert-rejected"
    assert f.kubernetes_error is not None and f.kubernetes_error.startswith(expected)
    assert f.certificate is not None and f.certificate.self_signed


def test_midstream_request_answered_is_ok_and_roles_inferred(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    conv.send(0, True, app_data(900))
    conv.send(0.002, False, app_data(300))
    f = only(run(tmp_path, conv))
    assert f.label.value == "ok"
    assert f.client_inferred
    assert (f.client.port, f.server.port) == (40000, 443)


def test_midstream_request_unanswered_past_timeout_is_awaiting_headers(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    conv.send(0, True, app_data(900))
    conv.ack(0.001, to_server=False)
    conv.fin(10.0, to_server=True)
    f = only(run(tmp_path, conv))
    assert f.label.value == "awaiting-headers"


def test_midstream_teardown_only_is_partial(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    conv.fin(0, to_server=True)
    conv.fin(0.001, to_server=False)
    conv.ack(0.002, to_server=True)
    f = only(run(tmp_path, conv))
    assert f.label.value == "partial"


def test_lost_packets_never_prove_an_absence(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    conv.handshake(0)
    conv.send(0.001, True, client_hello())
    conv.send(0.002, False, server_hello() + CCS + app_data(1000), advance=False)
    conv.sseq += 1200  # the server flight was lost by the capture, yet the client ACKs it
    conv.ack(0.003, to_server=True)
    conv.fin(12.0, to_server=True)
    f = only(run(tmp_path, conv))
    assert f.label.value == "incomplete"
    assert "lost packets" in f.explanation


def test_plain_http_500_is_http_error(tmp_path: pathlib.Path) -> None:
    conv = Conversation(server=("198.19.0.2", 6080))
    conv.handshake(0)
    conv.send(0.001, True, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    conv.send(0.002, False, b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
    conv.fin(0.003, to_server=True)
    f = only(run(tmp_path, conv))
    assert f.label.value == "http-error"
    assert f.kubernetes_error == "HTTP probe failed with statuscode: 500"


def test_request_then_server_reset_is_server_closed(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    tls13_server_flight(conv)
    conv.send(0.003, True, CCS + app_data(53))
    conv.send(0.004, True, app_data(900))
    conv.rst(0.5, to_server=False)
    f = only(run(tmp_path, conv))
    assert f.label.value == "server-closed"
    assert f.kubernetes_error is not None and f.kubernetes_error.endswith("read: connection reset by peer")


def test_syn_ack_captured_before_its_syn_is_one_connection(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    conv.synack(0)
    conv.syn(0.00001)  # captured on another interface, time-stamped a little later
    conv.ack(0.0002, to_server=True)
    conv.send(0.001, True, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    conv.send(0.002, False, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    f = only(run(tmp_path, conv))
    assert f.label.value == "ok"
    assert not f.client_inferred and f.client.port == 40000


def test_stragglers_after_a_refusal_open_no_new_connection(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    conv.syn(0)
    conv.rst(0.0001, to_server=False)
    conv.syn(0.5)  # the same SYN again (same ISN): absorbed, not a second connection
    conv.rst(0.5001, to_server=False)
    f = only(run(tmp_path, conv))
    assert f.label.value == "refused"


def test_next_steps_never_carry_shell_syntax_from_the_capture() -> None:
    from pcapdiag.classify import Label
    from pcapdiag.classify.next_steps import Target, next_steps

    evil = Target("198.19.0.2", 443, "x|rm -rf ~.ns$(id).svc")
    assert evil.service is None
    for label in Label:
        assert not any("rm -rf" in str(step) or "$(id)" in str(step) for step in next_steps(label, evil))
    good = Target("198.19.0.2", 443, "webhook.pcd-system.svc")
    assert good.service == ("pcd-system", "webhook")


def test_response_in_equal_large_records_is_an_answer(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    tls13_server_flight(conv)
    conv.send(0.003, True, CCS + app_data(53))
    conv.send(0.004, True, app_data(900))
    conv.send(0.005, False, app_data(16401) + app_data(16401))  # two full records, not tickets
    conv.fin(2.0, to_server=True)
    f = only(run(tmp_path, conv))
    assert f.label.value == "ok"
