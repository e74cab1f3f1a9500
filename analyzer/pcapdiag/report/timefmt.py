"""Capture timestamps (integer ns) as RFC 3339 UTC text."""

from __future__ import annotations

import datetime as dt

NS = 1_000_000_000


def rfc3339(ts_ns: int | None) -> str | None:
    """'2026-11-27T21:00:00.123456Z' (microsecond precision), or None."""
    if ts_ns is None:
        return None
    secs, rem = divmod(ts_ns, NS)
    base = dt.datetime.fromtimestamp(secs, dt.UTC)
    return f"{base:%Y-%m-%dT%H:%M:%S}.{rem // 1000:06d}Z"
