"""HTTP/2's size rules, on conversations built with scapy: each control frame, answers, GOAWAY, h2c, overlap.

Every record here has the size RFC 9113 gives its frames plus the AEAD overhead of its TLS version
(TLS 1.3: 1 + 16; TLS 1.2 with AES-GCM: 8 + 16), so a rule that reads sizes wrong fails here as it
would on a real capture. The recorded captures (captures/h2-*, h2c, aggregated-api) hold the same rules
to what real Go and h2 peers put on the wire.
"""

from __future__ import annotations

import pathlib
import struct

import pytest

from builders import write_pcap
from conftest import analyse
from conversation import CCS, Conversation, app_data, client_hello, record, server_hello
from pcapdiag.report import FlowReport
from pcapdiag.tls.h2 import (
    CONTROL_SIZES,
    PREFACE,
    SERVER_PREFACE_SIZES,
    FrameReader,
    record_overhead,
)

TLS13 = 17  # inner content type + 16-byte tag
TLS12_GCM = 24  # 8-byte explicit nonce + 16-byte tag
H2 = ("h2", "http/1.1")

SETTINGS_ACK = 9
WINDOW_UPDATE = 13
RST_STREAM = 13
PING = 17
GOAWAY = 17
CLIENT_PREFACE = 24 + 9 + 3 * 6 + 13  # Go: preface, SETTINGS with 3 parameters, WINDOW_UPDATE
SERVER_SETTINGS = 9 + 4 * 6  # Go's server: SETTINGS with 4 parameters
REQUEST_HEADERS = 109
REQUEST_DATA = 9 + 375
ANSWER_HEADERS = 52
ANSWER_DATA = 9 + 84


def _run(tmp_path: pathlib.Path, conv: Conversation) -> FlowReport:
    path = write_pcap(tmp_path / "h2.pcap", conv.records)
    report, flows = analyse(path)
    assert report.error is None
    (flow,) = flows
    return flow


def _open(
    conv: Conversation, *, tls13: bool = True, alpn: tuple[str, ...] = H2, chosen: str | None = "h2"
) -> tuple[float, int]:
    """TCP and TLS handshakes, both HTTP/2 prefaces and the request (HEADERS, DATA); returns the time
    and the overhead in use."""
    over = TLS13 if tls13 else TLS12_GCM
    conv.handshake(0.0)
    conv.send(0.001, True, client_hello(alpn=alpn, tls13=tls13))
    if tls13:
        conv.send(
            0.002, False, server_hello() + CCS + app_data(38) + app_data(800) + app_data(96) + app_data(53)
        )
        conv.send(0.003, True, CCS + app_data(53))
    else:
        conv.send(0.002, False, server_hello(tls13=False, alpn=chosen) + record(22, bytes(700)))
        conv.send(0.003, True, record(22, bytes(37)) + CCS + app_data(40))
        conv.send(0.0035, False, CCS + app_data(40))
    conv.send(0.004, False, app_data(SERVER_SETTINGS + over))
    conv.send(0.0041, True, app_data(CLIENT_PREFACE + over))
    conv.send(0.0042, False, app_data(SETTINGS_ACK + over))
    conv.send(0.0043, True, app_data(REQUEST_HEADERS + over))
    conv.send(0.0044, True, app_data(REQUEST_DATA + over))
    conv.ack(0.0045, to_server=False)
    conv.send(0.0046, True, app_data(SETTINGS_ACK + over))
    return 0.005, over


def _give_up(conv: Conversation, t: float, over: int) -> None:
    """The client's context ends 10 s on: RST_STREAM(CANCEL), its close_notify, FIN."""
    conv.send(t + 10.0, True, app_data(RST_STREAM + over))
    conv.send(t + 10.1, True, app_data(2 + over))
    conv.fin(t + 10.1001, to_server=True)
    conv.ack(t + 10.1002, to_server=False)


# -- the size arithmetic ----------------------------------------------------------------------------


def test_record_overhead_by_version_and_suite() -> None:
    assert record_overhead(0x0304, 0x1301) == 17
    assert record_overhead(0x0304, 0x1303) == 17  # ChaCha20-Poly1305
    assert record_overhead(0x0304, 0x1305) == 9  # TLS_AES_128_CCM_8_SHA256: 8-byte tag
    assert record_overhead(0x0303, 0xC02F) == 24  # ECDHE-RSA-AES128-GCM-SHA256
    assert record_overhead(0x0303, 0xC02C) == 24
    assert record_overhead(0x0303, 0xCCA8) == 16  # ECDHE-RSA-CHACHA20-POLY1305: no explicit nonce
    assert record_overhead(0x0303, 0xC013) is None  # ECDHE-RSA-AES128-CBC-SHA: padding and MAC vary


@pytest.mark.parametrize(
    ("size", "what"),
    [
        (SETTINGS_ACK, "SETTINGS ACK"),
        (WINDOW_UPDATE, "WINDOW_UPDATE"),
        (PING, "PING"),
        (SETTINGS_ACK + WINDOW_UPDATE, "SETTINGS ACK + WINDOW_UPDATE"),
        (2 * WINDOW_UPDATE, "WINDOW_UPDATE/RST_STREAM + WINDOW_UPDATE/RST_STREAM"),
        (SETTINGS_ACK + 2 * WINDOW_UPDATE, "SETTINGS ACK + WINDOW_UPDATE/RST_STREAM + WINDOW_UPDATE"),
    ],
)
def test_control_frame_sizes(size: int, what: str) -> None:
    assert what in CONTROL_SIZES[size]


def test_answers_are_not_control_sized() -> None:
    # A Go server's response HEADERS (52 bytes) and a 93-byte DATA frame are neither control frames
    # nor, after the first record, a SETTINGS.
    assert ANSWER_HEADERS not in CONTROL_SIZES and ANSWER_DATA not in CONTROL_SIZES
    assert SERVER_SETTINGS in SERVER_PREFACE_SIZES and SERVER_SETTINGS + WINDOW_UPDATE in SERVER_PREFACE_SIZES


# -- TLS: each control frame after the request, then the client's give-up ----------------------------


@pytest.mark.parametrize("tls13", [True, False], ids=["tls13", "tls12-gcm"])
@pytest.mark.parametrize(
    "controls",
    [
        (WINDOW_UPDATE,),
        (SETTINGS_ACK,),
        (PING,),
        (SETTINGS_ACK + WINDOW_UPDATE,),
        (2 * WINDOW_UPDATE, PING),
        (),
    ],
    ids=["window-update", "settings-ack", "ping-ack", "ack+window-update", "two-records", "nothing"],
)
def test_only_control_frames_after_the_request_is_awaiting_headers(
    tmp_path: pathlib.Path, tls13: bool, controls: tuple[int, ...]
) -> None:
    conv = Conversation()
    t, over = _open(conv, tls13=tls13)
    for i, size in enumerate(controls):
        conv.send(t + 0.001 * (i + 1), False, app_data(size + over))
    _give_up(conv, t, over)
    flow = _run(tmp_path, conv)
    assert flow.label.value == "awaiting-headers", flow.explanation
    assert "It speaks HTTP/2" in flow.explanation
    if controls:
        assert "taken as HTTP/2 control frames" in flow.explanation
    assert flow.kubernetes_error == "context deadline exceeded"


@pytest.mark.parametrize("tls13", [True, False], ids=["tls13", "tls12-gcm"])
def test_an_answer_sized_record_after_the_request_is_ok(tmp_path: pathlib.Path, tls13: bool) -> None:
    conv = Conversation()
    t, over = _open(conv, tls13=tls13)
    conv.send(t, False, app_data(WINDOW_UPDATE + over))
    conv.send(t + 0.001, False, app_data(ANSWER_HEADERS + over))
    conv.send(t + 0.002, False, app_data(ANSWER_DATA + over))
    conv.fin(t + 0.1, to_server=True)
    flow = _run(tmp_path, conv)
    assert flow.label.value == "ok", flow.explanation
    assert "the HTTP status is encrypted" in flow.explanation
    how = "ALPN extension chose h2" if not tls13 else "fits the 24-byte connection preface"
    assert how in flow.explanation


@pytest.mark.parametrize("tls13", [True, False], ids=["tls13", "tls12-gcm"])
def test_a_response_headers_the_size_of_a_control_frame_then_data(
    tmp_path: pathlib.Path, tls13: bool
) -> None:
    """A HEADERS frame with a 4-byte header block (HPACK indexes everything) is as long as a
    WINDOW_UPDATE: it is taken as one, and the DATA after it (answer-sized) is the answer."""
    conv = Conversation()
    t, over = _open(conv, tls13=tls13)
    conv.send(t, False, app_data(9 + 4 + over))
    conv.send(t + 0.001, False, app_data(ANSWER_DATA + over))
    conv.fin(t + 0.1, to_server=True)
    flow = _run(tmp_path, conv)
    assert flow.label.value == "ok", flow.explanation
    answer = max(
        e.frame
        for e in flow.evidence
        if "HTTP/2 HEADERS/DATA" in str(e.summary) and e.direction == "server->client"
    )
    assert f"frame {answer} (" in flow.explanation
    assert "WINDOW_UPDATE/RST_STREAM" in flow.explanation  # the HEADERS, read as a control frame


def test_the_same_headers_alone_is_not_an_answer(tmp_path: pathlib.Path) -> None:
    """Without the DATA the wire cannot tell that HEADERS from a WINDOW_UPDATE: the client's give-up
    at its timer decides."""
    conv = Conversation()
    t, over = _open(conv)
    conv.send(t, False, app_data(9 + 4 + over))
    _give_up(conv, t, over)
    assert _run(tmp_path, conv).label.value == "awaiting-headers"


@pytest.mark.parametrize("tls13", [True, False], ids=["tls13", "tls12-gcm"])
@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_goaway_then_close_is_server_closed(tmp_path: pathlib.Path, tls13: bool, reset: bool) -> None:
    conv = Conversation()
    t, over = _open(conv, tls13=tls13)
    conv.send(t, False, app_data(WINDOW_UPDATE + over))
    conv.send(t + 0.01, False, app_data(GOAWAY + over))
    if reset:
        conv.rst(t + 0.2, to_server=False)
    else:
        conv.fin(t + 0.2, to_server=False)
    flow = _run(tmp_path, conv)
    assert flow.label.value == "server-closed", flow.explanation
    assert "GOAWAY-sized" in flow.explanation
    assert flow.kubernetes_error is not None
    assert flow.kubernetes_error.startswith("http2: server sent GOAWAY and closed the connection")
    fallback = "read: connection reset by peer" if reset else "unexpected EOF"
    assert any(fallback in str(a.error) for a in flow.alternatives)


def test_close_without_goaway_is_unexpected_eof(tmp_path: pathlib.Path) -> None:
    conv = Conversation()
    t, over = _open(conv)
    conv.send(t, False, app_data(WINDOW_UPDATE + over))
    conv.fin(t + 0.2, to_server=False)
    flow = _run(tmp_path, conv)
    assert flow.label.value == "server-closed"
    assert flow.kubernetes_error == "unexpected EOF"


def test_overlapping_requests_are_a_capture_limit_and_the_last_decides(tmp_path: pathlib.Path) -> None:
    """Stream 1 is answered, stream 3 (sent after the server had read stream 1) is not: the answer
    came before stream 3 reached the server, so it cannot be its answer."""
    conv = Conversation()
    t, over = _open(conv)
    conv.send(t, False, app_data(2 * WINDOW_UPDATE + over))  # the server has read stream 1
    before = conv.cseq
    conv.send(t + 0.001, True, app_data(REQUEST_HEADERS + over))  # stream 3
    answer = app_data(ANSWER_HEADERS + over)  # sent before stream 3 arrived: it acknowledges less
    conv.packet(t + 0.0011, False, "PA", conv.sseq, before, answer)
    conv.sseq += len(answer)
    conv.ack(t + 0.002, to_server=False)
    _give_up(conv, t, over)
    flow = _run(tmp_path, conv)
    assert any("requests overlap" in limit for limit in flow.capture_limits), flow.capture_limits
    assert flow.label.value == "awaiting-headers", flow.explanation


def test_http11_chosen_in_clear_reads_as_http11(tmp_path: pathlib.Path) -> None:
    """TLS 1.2: the client offered h2, the ServerHello chose http/1.1: a small record after the
    request is an HTTP/1.1 answer (the HTTP/2 size rules do not apply)."""
    conv = Conversation()
    t, over = _open(conv, tls13=False, chosen="http/1.1")
    conv.send(t, False, app_data(WINDOW_UPDATE + over))
    conv.fin(t + 0.1, to_server=True)
    flow = _run(tmp_path, conv)
    assert flow.label.value == "ok"
    assert "HTTP/2" not in flow.explanation


def test_tls13_without_http2_opening_reads_as_http11(tmp_path: pathlib.Path) -> None:
    """TLS 1.3, h2 offered: the server's first record is a 300-byte answer to the client's first,
    not a SETTINGS: HTTP/1.1, and the capture limit says so."""
    conv = Conversation()
    conv.handshake(0.0)
    conv.send(0.001, True, client_hello(alpn=H2))
    conv.send(0.002, False, server_hello() + CCS + app_data(38) + app_data(800) + app_data(96) + app_data(53))
    conv.send(0.003, True, CCS + app_data(53))
    conv.send(0.004, True, app_data(600))
    conv.send(0.005, False, app_data(300))
    conv.fin(0.1, to_server=True)
    flow = _run(tmp_path, conv)
    assert flow.label.value == "ok"
    assert "HTTP/2" not in flow.explanation
    assert any("read as HTTP/1.1" in limit for limit in flow.capture_limits)


# -- h2c: the frames in clear ---------------------------------------------------------------------


def _frame(ftype: int, payload: bytes, flags: int = 0, stream: int = 0) -> bytes:
    return len(payload).to_bytes(3, "big") + struct.pack("!BBI", ftype, flags, stream) + payload


def _h2c(conv: Conversation) -> float:
    conv.handshake(0.0)
    conv.send(0.001, True, PREFACE + _frame(4, bytes(18)) + _frame(8, bytes(4)))
    conv.send(0.0011, False, _frame(4, bytes(24)))
    conv.send(
        0.0012, True, _frame(1, bytes(60), flags=4, stream=1) + _frame(0, bytes(300), flags=1, stream=1)
    )
    conv.send(0.0013, False, _frame(4, b"", flags=1) + _frame(8, bytes(4), stream=1))
    conv.send(0.0014, True, _frame(4, b"", flags=1))
    return 0.002


def test_h2c_control_frames_only_is_awaiting_headers(tmp_path: pathlib.Path) -> None:
    conv = Conversation(server=("198.19.0.2", 80))
    t = _h2c(conv)
    conv.send(t, False, _frame(6, bytes(8), flags=1))  # PING ACK
    conv.fin(t + 10.0, to_server=True)
    conv.ack(t + 10.0001, to_server=False)
    flow = _run(tmp_path, conv)
    assert flow.label.value == "awaiting-headers", flow.explanation
    assert "connection preface (h2c" in flow.explanation
    assert "SETTINGS ACK (frame" in flow.explanation and "PING ACK (frame" in flow.explanation


def test_h2c_headers_frame_answers(tmp_path: pathlib.Path) -> None:
    conv = Conversation(server=("198.19.0.2", 80))
    t = _h2c(conv)
    conv.send(t, False, _frame(1, bytes(5), flags=4, stream=1) + _frame(0, bytes(80), flags=1, stream=1))
    conv.fin(t + 0.01, to_server=True)
    flow = _run(tmp_path, conv)
    assert flow.label.value == "ok", flow.explanation
    assert "HEADERS frame" in flow.explanation


def test_h2c_goaway_then_close(tmp_path: pathlib.Path) -> None:
    conv = Conversation(server=("198.19.0.2", 80))
    t = _h2c(conv)
    conv.send(t, False, _frame(7, bytes(8)))
    conv.fin(t + 0.05, to_server=False)
    flow = _run(tmp_path, conv)
    assert flow.label.value == "server-closed", flow.explanation
    assert "a GOAWAY frame" in flow.explanation


def test_frame_reader_goes_on_through_hidden_bytes() -> None:
    """What a short snaplen leaves: 4 header bytes (length and type) are enough to go on; a header
    whose start is hidden loses the place until a segment starts with a plausible header."""
    reader = FrameReader(preface=False)
    settings_ack = _frame(4, b"", flags=1)
    headers = _frame(1, bytes(30), stream=1)
    data = _frame(0, bytes(100), stream=1)
    seen = (settings_ack + headers)[:13]  # the HEADERS frame's length and type seen, then the cut
    hidden = len(settings_ack + headers + data) - len(seen)
    assert [f[0] for f in reader.feed(seen, 0)] == [4]
    assert [f[0] for f in reader.skip(hidden)] == [1]  # HEADERS goes on, DATA's header was hidden
    assert reader.lost
    assert reader.feed(bytes(20), 200) == []  # not a frame header: still lost
    assert [f[0] for f in reader.feed(_frame(7, bytes(8)), 220)] == [7]
    assert not reader.lost


def test_a_long_connection_names_the_records_after_its_last_request(tmp_path: pathlib.Path) -> None:
    """Forty answered calls on one connection (an authentication webhook's keep-alive), then one the
    server only acknowledges: the explanation names the control frames after that last request."""
    conv = Conversation()
    t, over = _open(conv)
    conv.send(t, False, app_data(ANSWER_HEADERS + over))
    for i in range(40):
        at = t + 0.01 * (i + 1)
        conv.send(at, True, app_data(REQUEST_HEADERS + over))
        conv.send(at + 0.001, False, app_data(WINDOW_UPDATE + over))
        conv.send(at + 0.002, False, app_data(ANSWER_HEADERS + over))
    last = t + 1.0
    conv.send(last, True, app_data(REQUEST_HEADERS + over))
    conv.send(last + 0.001, True, app_data(SETTINGS_ACK + over))  # the client's ACK: not an alert
    conv.send(last + 0.002, False, app_data(2 * WINDOW_UPDATE + over))
    _give_up(conv, last, over)
    flow = _run(tmp_path, conv)
    assert flow.label.value == "awaiting-headers", flow.explanation
    assert "WINDOW_UPDATE/RST_STREAM + WINDOW_UPDATE/RST_STREAM" in flow.explanation
    assert flow.timing is not None and flow.timing.gave_up_s is not None
    assert 10.0 <= flow.timing.gave_up_s[0] - (flow.timing.waiting_since_s or 0) <= 10.2
