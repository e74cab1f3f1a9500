"""The clear-text request line: method, target and the ?timeout= budget kube-apiserver writes into it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcapdiag.flow import Direction
from pcapdiag.tls import AppObserver, parse_go_duration, parse_request_line

S = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("10s", 10 * S),
        ("1s", S),
        ("30s", 30 * S),
        ("1m0s", 60 * S),
        ("1m30s", 90 * S),
        ("500ms", S // 2),
        ("1.5s", 3 * S // 2),
        ("2h", 7200 * S),
        ("250us", 250_000),
        ("250µs", 250_000),
    ],
)
def test_go_durations(text: str, ns: int) -> None:
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize("text", ["", "10", "-10s", "s", "10x", "10 s", "1" * 40 + "s", "+1s"])
def test_not_go_durations(text: str) -> None:
    assert parse_go_duration(text) is None


@given(st.text(max_size=60))
def test_any_text_is_a_duration_or_none(text: str) -> None:
    got = parse_go_duration(text)
    assert got is None or got >= 0


def test_webhook_request_line() -> None:
    req = parse_request_line(b"POST /validate?timeout=10s HTTP/1.1\r\nHost: x\r\n\r\n")
    assert req is not None
    assert (req.method, req.target, req.timeout_ns) == ("POST", "/validate?timeout=10s", 10 * S)


def test_timeout_among_other_parameters_and_escaped() -> None:
    req = parse_request_line(b"POST /mutate?dryRun=All&timeout=1m0s&x=y HTTP/1.1\r\n")
    assert req is not None and req.timeout_ns == 60 * S
    req = parse_request_line(b"POST /mutate?timeout=250%C2%B5s HTTP/1.1\r\n")
    assert req is not None and req.timeout_ns == 250_000


def test_request_without_timeout() -> None:
    req = parse_request_line(b"GET /healthz HTTP/1.1\r\n")
    assert req is not None and req.method == "GET" and req.timeout_ns is None
    req = parse_request_line(b"POST /validate?timeout=soon HTTP/1.1\r\n")
    assert req is not None and req.timeout_ns is None


def test_not_a_request_line() -> None:
    assert parse_request_line(b"HTTP/1.1 200 OK\r\n") is None
    assert parse_request_line(b"\x16\x03\x01\x00\x05hello") is None
    assert parse_request_line(b"POST /" + b"a" * 300 + b" HTTP/1.1\r\n") is None


def test_observer_exposes_the_latest_clear_text_request_line() -> None:
    app = AppObserver(midstream=False)
    first = b"POST /validate?timeout=7s HTTP/1.1\r\nHost: w\r\n\r\n"
    app.feed(Direction.TO_SERVER, first, 0, 4, 1, 0)
    assert app.request_line is not None and app.request_line.timeout_ns == 7 * S
    app.feed(Direction.TO_CLIENT, b"HTTP/1.1 200 OK\r\n\r\n", 0, 5, 2, len(first))
    app.feed(Direction.TO_SERVER, b"POST /validate HTTP/1.1\r\n\r\n", len(first), 6, 3, 19)
    assert app.request_line is not None and app.request_line.timeout_ns is None


def test_tls_hides_the_request_line() -> None:
    app = AppObserver(midstream=False)
    app.feed(Direction.TO_SERVER, b"\x16\x03\x01\x00\x04\x01\x00\x00\x00", 0, 4, 1, 0)
    assert app.request_line is None
