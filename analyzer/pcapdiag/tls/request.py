"""The first line of a clear-text HTTP/1.x request: method, target, and the `?timeout=` budget it names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

MAX_TARGET = 200
"""Longest request target parsed (the observer's request-line pattern takes at most this much)."""
MAX_DURATION_TEXT = 32
"""Longest `timeout=` value parsed: client-go writes a Go duration ("10s", "1m0s", "1m30s", "500ms")."""

_LINE = re.compile(
    rb"(GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|CONNECT|TRACE) (\S{1,%d}) HTTP/1\.[01]\r?\n" % MAX_TARGET
)
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 MICRO SIGN, as Go writes it
    "μs": 1_000,  # U+03BC GREEK SMALL LETTER MU, which Go's parser accepts too
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}


@dataclass(frozen=True, slots=True)
class RequestLine:
    """What the request line says: the method, the target, and the budget in its `timeout=` parameter."""

    method: str
    target: str
    timeout_ns: int | None
    """The `timeout=` query value in nanoseconds (kube-apiserver writes the time left for the webhook
    call, rounded up to whole seconds); None when absent or not a Go duration."""


def parse_go_duration(text: str) -> int | None:
    """A Go ``time.Duration`` string ("10s", "1m0s", "1.5s", "500ms") in nanoseconds; None if it is not one.

    Bounded: at most MAX_DURATION_TEXT characters are looked at; signs and bare numbers are refused
    (a timeout is positive and client-go always writes a unit).
    """
    if not text or len(text) > MAX_DURATION_TEXT:
        return None
    total = 0
    pos = 0
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if m is None:
            return None
        number, unit = m.groups()
        whole, _, fraction = number.partition(".")
        scale = _UNIT_NS[unit]
        total += int(whole or "0") * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        pos = m.end()
    return total


def parse_request_line(data: bytes) -> RequestLine | None:
    """The request line at the start of ``data``, or None if ``data`` does not start with one."""
    m = _LINE.match(data)
    if m is None:
        return None
    method = m.group(1).decode("ascii")
    target = m.group(2).decode("ascii", "replace")
    _, _, query = target.partition("?")
    timeout_ns = None
    for param in query.split("&"):
        name, _, value = param.partition("=")
        if name == "timeout":
            timeout_ns = parse_go_duration(unquote(value))
            break
    return RequestLine(method=method, target=target, timeout_ns=timeout_ns)
