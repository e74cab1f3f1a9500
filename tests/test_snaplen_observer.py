"""What a short snaplen lets the TLS/HTTP observer prove, and the verdicts it gives, on built conversations.

Each conversation is built whole (conversation.py), then every packet is cut to ``54 + visible``
bytes (Ethernet, IPv4 and a 20-byte TCP header, then ``visible`` payload bytes), as tcpdump -s
would: the record keeps its wire length. The same conversation analysed whole is the reference.
"""

from __future__ import annotations

import pathlib
import struct

from builders import Record, write_pcap
from conftest import analyse
from conversation import (
    CCS,
    Conversation,
    alert,
    app_data,
    client_hello,
    handshake,
    record,
    server_hello,
    tls13_ok,
    tls13_server_flight,
)
from pcapdiag.classify import Context, Diagnosis, classify, facts_of
from pcapdiag.decode import decode
from pcapdiag.decode.packet import TcpSegment
from pcapdiag.flow import Connection, Direction
from pcapdiag.pipeline import Options
from pcapdiag.report import FlowReport
from pcapdiag.tls import AppObserver
from pcapdiag.tls.constants import HRR_RANDOM

HEADERS = 54
"""Ethernet (14) + IPv4 (20) + TCP without options (20): what the conversations' packets carry."""
NS = 1_000_000_000


def cut(conv: Conversation, visible: int) -> list[Record]:
    """The conversation's packets as a capture with snaplen HEADERS + visible would hold them."""
    n = HEADERS + visible
    return [Record(r.data[:n], r.ts_ns, orig_len=len(r.data)) for r in conv.records]


def observe(records: list[Record]) -> tuple[Connection, AppObserver]:
    """Feed the packets (one connection) straight to a Connection with a real AppObserver."""
    conn: Connection | None = None
    for frame, rec in enumerate(records, start=1):
        seg = decode(1, rec.data)
        assert isinstance(seg, TcpSegment)
        if conn is None:
            conn = Connection(
                1,
                (seg.src, seg.sport),
                (seg.dst, seg.dport),
                inferred=False,
                observer_factory=lambda c: AppObserver(midstream=c.midstream),
            )
        direction = Direction.TO_SERVER if (seg.src, seg.sport) == conn.client else Direction.TO_CLIENT
        conn.receive(frame, rec.ts_ns, seg, direction)
    assert conn is not None and isinstance(conn.observer, AppObserver)
    return conn, conn.observer


def verdict_of(records: list[Record], until: float | None = None) -> tuple[str, str | None, str]:
    """(label, every error it names: the headline then the alternatives, ' / '-joined; explanation)."""
    conn, _ = observe(records)
    now = conn.last_ts if until is None else records[0].ts_ns + round(until * NS)
    v = classify(facts_of(conn), Context(now_ns=now))
    assert isinstance(v, Diagnosis)
    errors = [str(c.error) for c in ((v.error,) if v.error else ()) + v.alternatives]
    return v.label.value, " / ".join(errors) or None, str(v.explanation)


def flow(tmp_path: pathlib.Path, records: list[Record], name: str = "cut.pcap") -> FlowReport:
    """The whole pipeline on the packets: the one connection's report."""
    report, out = analyse(write_pcap(tmp_path / name, records), Options())
    assert report.error is None
    [f] = [f for f in out if f.client.port == 40000]
    return f


def _whole(conv: Conversation) -> list[Record]:
    return list(conv.records)


# -- TLS 1.3 -------------------------------------------------------------------------------------


def _tls13_ok_closed() -> Conversation:
    conv = Conversation()
    end = tls13_ok(conv)
    conv.send(end + 0.001, True, app_data(19))
    conv.fin(end + 0.002, True)
    conv.fin(end + 0.003, False)
    return conv


def test_tls13_ok_at_30_bytes_infers_the_version_and_follows_every_record(tmp_path: pathlib.Path) -> None:
    conv = _tls13_ok_closed()
    whole, snapped = flow(tmp_path, _whole(conv), "whole.pcap"), flow(tmp_path, cut(conv, 30))
    assert (snapped.label, snapped.kubernetes_error) == (whole.label, whole.kubernetes_error)
    assert whole.label.value == "ok"
    assert snapped.tls_version == "TLS 1.3 (inferred)"
    _, app = observe(cut(conv, 30))
    assert app.client_hello is not None and app.client_hello.partial and app.sni is None
    assert app.server_hello is not None and app.server_hello.partial
    assert app.version == 0x0304 and app.version_inferred is not None
    assert "application data" in app.version_inferred
    assert app.client_finished_frame and not app.done_unproven
    assert app.snap is not None
    assert app.snap.lost[Direction.TO_CLIENT] == 1  # the flight's records after the ServerHello
    assert app.snap.resynced[Direction.TO_CLIENT] == 1  # the response starts a segment
    assert app.answered == 1


def test_tls13_with_the_client_finished_header_hidden_is_ok_once_answered() -> None:
    """10 bytes per segment (IPv6 over Ethernet at -s 96): CCS and 4 bytes of the Finished header."""
    conv = _tls13_ok_closed()
    label, _, _ = verdict_of(cut(conv, 10))
    assert label == "ok"
    _, app = observe(cut(conv, 10))
    assert app.done_unproven and not app.client_finished_frame
    assert app.handshake_done_inferred is not None


def test_tls13_finished_hidden_and_no_answer_is_not_called_awaiting_headers() -> None:
    conv = Conversation()
    tls13_server_flight(conv)
    conv.send(0.003, True, CCS + app_data(53))
    conv.send(0.004, True, app_data(900))
    conv.ack(0.005, to_server=False)
    conv.send(11.0, True, app_data(19))
    conv.fin(11.001, True)
    assert verdict_of(_whole(conv))[0] == "awaiting-headers"
    label, error, why = verdict_of(cut(conv, 10))
    assert (label, error) == ("incomplete", None)
    assert "snaplen" in why and "Finished" in why
    assert verdict_of(cut(conv, 30))[0] == "awaiting-headers"


def test_go_tls13_certificate_rejection_fits_in_30_bytes() -> None:
    conv = Conversation()
    tls13_server_flight(conv)
    conv.send(0.003, True, CCS + app_data(19))
    conv.fin(0.004, True)
    conv.fin(0.005, False)
    label, error, _ = verdict_of(cut(conv, 30))
    assert label == verdict_of(_whole(conv))[0] == "cert-rejected"
    # The same three reasons; the name the certificate should have had (the SNI) was cut.
    assert error is not None and "not ..." in error and error.count("x509:") == 3


def test_alerts_read_before_the_version_is_known_are_read_again_as_tls13() -> None:
    """An OpenSSL client rejects a TLS 1.3 certificate with a clear alert; the server answers with
    an encrypted alert, which tells TLS 1.3: the client's alert then reads as with whole packets."""
    conv = Conversation()
    tls13_server_flight(conv)
    conv.send(0.003, True, alert(48))
    conv.send(0.004, False, app_data(19))
    conv.rst(0.005, True)
    _, whole = observe(_whole(conv))
    _, snapped = observe(cut(conv, 30))
    assert snapped.version_inferred is not None
    assert whole.client_abort is not None and snapped.client_abort is not None
    assert snapped.client_abort.description == whole.client_abort.description is None
    assert [a.description for a in snapped.alerts] == [a.description for a in whole.alerts]
    assert [str(n.summary) for n in snapped.notes if "Alert" in str(n.summary)] == [
        str(n.summary) for n in whole.notes if "Alert" in str(n.summary)
    ]
    assert verdict_of(cut(conv, 30))[0] == verdict_of(_whole(conv))[0] == "cert-rejected"


def test_two_tickets_in_one_segment_after_the_request_leave_the_answer_unproven() -> None:
    """OpenSSL's two NewSessionTickets can follow the request; in one segment, the snaplen hides the
    second, which is what tells them from a response: neither 'ok' nor 'awaiting-headers'."""
    conv = Conversation()
    tls13_server_flight(conv)
    conv.send(0.003, True, CCS + app_data(53))
    conv.send(0.004, True, app_data(600))
    conv.send(0.005, False, app_data(266) + app_data(266))
    conv.send(11.0, True, app_data(19))
    conv.fin(11.001, True)
    assert verdict_of(_whole(conv))[0] == "awaiting-headers"
    label, _, why = verdict_of(cut(conv, 30))
    assert label == "incomplete"
    assert "snaplen" in why
    _, app = observe(cut(conv, 30))
    assert app.snap is not None and app.snap.unsettled == 1


# -- TLS 1.2 -------------------------------------------------------------------------------------

CERT = record(22, handshake(11, (1500).to_bytes(3, "big") + (1497).to_bytes(3, "big") + bytes(1497)))
DONE = record(22, handshake(14, b""))
CKE = record(22, handshake(16, bytes(66)))
FINISHED12 = record(22, bytes(40))


def _tls12(conv: Conversation, tickets: bool) -> None:
    conv.handshake(0)
    conv.send(0.001, True, client_hello(tls13=False))
    conv.send(0.002, False, server_hello(tls13=False) + CERT + DONE)
    conv.send(0.003, True, CKE + CCS + FINISHED12)
    final = (record(22, handshake(4, bytes(160))) if tickets else b"") + CCS + FINISHED12
    conv.send(0.004, False, final)


def test_tls12_ok_infers_the_version_from_the_client_key_exchange() -> None:
    conv = Conversation()
    _tls12(conv, tickets=False)
    conv.send(0.005, True, app_data(600))
    conv.send(0.006, False, app_data(300))
    conv.fin(0.007, True)
    conv.fin(0.008, False)
    assert verdict_of(cut(conv, 30))[:2] == verdict_of(_whole(conv))[:2] == ("ok", None)
    _, app = observe(cut(conv, 30))
    _, whole = observe(_whole(conv))
    assert app.version == 0x0303 and app.version_text == "TLS 1.2 (inferred)"
    assert app.version_inferred is not None and "ClientKeyExchange" in app.version_inferred
    assert app.handshake_done_frame == whole.handshake_done_frame
    assert app.certificates == () and whole.certificates != ()


def test_tls12_change_cipher_specs_hidden_are_inferred_from_application_data() -> None:
    conv = Conversation()
    _tls12(conv, tickets=True)
    conv.send(0.005, True, app_data(600))
    conv.send(0.006, False, app_data(300))
    conv.fin(0.007, True)
    conv.fin(0.008, False)
    _, whole = observe(_whole(conv))
    _, app = observe(cut(conv, 30))
    assert (app.handshake_done_frame, app.handshake_done_ts) == (
        whole.handshake_done_frame,
        whole.handshake_done_ts,
    )
    assert app.handshake_done_inferred is not None
    assert verdict_of(cut(conv, 30))[0] == "ok"


def test_tls12_certificate_rejection_names_all_three_reasons_and_the_snaplen() -> None:
    conv = Conversation()
    conv.handshake(0)
    conv.send(0.001, True, client_hello(tls13=False))
    conv.send(0.002, False, server_hello(tls13=False) + CERT + DONE)
    conv.send(0.003, True, alert(48))
    conv.fin(0.004, True)
    conv.fin(0.005, False)
    label, error, why = verdict_of(cut(conv, 30))
    assert label == "cert-rejected"
    assert error is not None and error.count("x509:") == 3
    assert "snaplen" in why


# -- the first bytes only ------------------------------------------------------------------------


def test_a_client_hello_whose_header_is_cut_cannot_be_judged() -> None:
    conv = Conversation()
    tls13_ok(conv)
    label, _, why = verdict_of(cut(conv, 4))
    assert label == "incomplete"
    assert "snaplen" in why and "ClientHello" in why


def test_plain_http_answer_too_short_for_a_byte_is_a_chunk_with_unknown_status() -> None:
    conv = Conversation(server=("198.19.0.2", 8080))
    conv.handshake(0)
    conv.send(0.001, True, b"GET /healthz HTTP/1.1\r\nHost: 198.19.0.2:8080\r\n\r\n")
    conv.send(0.002, False, b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
    conv.fin(0.003, True)
    conv.fin(0.004, False)
    assert verdict_of(_whole(conv))[0] == "http-error"
    assert verdict_of(cut(conv, 30))[:2] == verdict_of(_whole(conv))[:2]
    assert verdict_of(cut(conv, 12))[0] == "http-error"
    for visible in (0, 4, 10):
        label, _, why = verdict_of(cut(conv, visible))
        assert label == "incomplete", visible
        assert "status line" in why or "first payload" in why


def test_a_plain_ok_whose_status_is_cut_is_not_called_ok() -> None:
    conv = Conversation(server=("198.19.0.2", 8080))
    conv.handshake(0)
    conv.send(0.001, True, b"GET /healthz HTTP/1.1\r\n\r\n")
    conv.send(0.002, False, b"HTTP/1.1 200 OK\r\n\r\n")
    conv.fin(0.003, True)
    conv.fin(0.004, False)
    assert verdict_of(cut(conv, 30))[0] == "ok"
    assert verdict_of(cut(conv, 11))[0] == "incomplete"
    _, app = observe(cut(conv, 11))
    assert app.snap is not None and app.snap.status_cut == 1
    assert (app.answered, app.worst_status) == (1, None)


def test_a_plain_request_grows_by_the_bytes_the_snaplen_hid() -> None:
    conv = Conversation(server=("198.19.0.2", 8080))
    conv.handshake(0)
    request = b"POST /validate?timeout=10s HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + bytes(100)
    conv.send(0.001, True, request)
    _, app = observe(cut(conv, 10))
    assert app.pending is not None and app.pending_end == len(request)
    assert app.request_line is None  # its line was cut: the ?timeout= is not known


def test_an_http_answer_to_a_client_hello_is_not_tls_from_its_first_bytes() -> None:
    conv = Conversation()
    conv.handshake(0)
    conv.send(0.001, True, client_hello())
    conv.send(0.002, False, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    conv.fin(0.003, False)
    for visible in (4, 30):
        assert verdict_of(cut(conv, visible))[:2] == verdict_of(_whole(conv))[:2]
    assert verdict_of(cut(conv, 4))[0] == "not-tls"


# -- HelloRetryRequest ---------------------------------------------------------------------------


def _hrr() -> bytes:
    body = b"\x03\x03" + HRR_RANDOM + b"\x20" + bytes(32) + b"\x13\x01\x00"
    ext = struct.pack("!HHH", 43, 2, 0x0304)
    return record(22, handshake(2, body + struct.pack("!H", len(ext)) + ext))


def test_a_hello_retry_request_is_told_from_its_random_or_from_the_second_client_hello() -> None:
    for visible in (30, 12):
        conv = Conversation()
        conv.handshake(0)
        conv.send(0.001, True, client_hello())
        conv.send(0.002, False, _hrr())
        conv.send(0.003, True, client_hello())
        conv.send(0.004, False, server_hello() + CCS + app_data(800) + app_data(53))
        conv.send(0.005, True, CCS + app_data(53))
        conv.send(0.006, True, app_data(600))
        conv.send(0.007, False, app_data(300))
        _, app = observe(cut(conv, visible))
        assert app.server_hello_frame == 7, visible  # the second ServerHello, not the retry request
        assert app.version == 0x0304
        assert verdict_of(cut(conv, visible))[0] == "ok"


def test_tls12_silent_server_is_awaiting_headers_whether_or_not_its_change_cipher_spec_was_seen() -> None:
    """TLS 1.2 ends with the server's ChangeCipherSpec. Seen (it opens the server's last flight), the
    request then waits for an answer. Hidden behind a NewSessionTicket whose record the snaplen cut, the
    client's application data still proves the handshake ended: a TLS 1.2 client sends none before the
    server's Finished (Go does no False Start), so the wait is for the answer either way."""
    for tickets, expected in ((False, "awaiting-headers"), (True, "awaiting-headers")):
        conv = Conversation()
        _tls12(conv, tickets=tickets)
        conv.send(0.005, True, app_data(600))
        conv.ack(0.006, to_server=False)
        conv.send(11.0, True, record(21, bytes(26)))
        conv.fin(11.001, True)
        assert verdict_of(_whole(conv))[0] == "awaiting-headers"
        label, _, why = verdict_of(cut(conv, 30))
        assert label == expected, why
