"""Capture timestamps (integer ns) as RFC 3339 UTC text."""

from __future__ import annotations

import datetime as dt
import functools

NS = 1_000_000_000


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def rfc3339(ts_ns: int | None) -> str | None:
    """'2026-11-27T21:00:00.123456Z' (microsecond precision); None for None or a time outside
    the years 1-9999 that RFC 3339 can write (a corrupt capture's timestamps)."""
    if ts_ns is None:
        return None
    secs, rem = divmod(ts_ns, NS)
    second = _second(secs)
    return None if second is None else f"{second}.{rem // 1000:06d}Z"


@functools.lru_cache(maxsize=4096)
def _second(secs: int) -> str | None:
    """'2026-11-27T21:00:00' for seconds since the epoch (connections start many to a second)."""
    try:
        base = EPOCH + dt.timedelta(seconds=secs)
    except OverflowError:
        return None
    return f"{base:%Y-%m-%dT%H:%M:%S}"


def clock(ts_ns: int | None) -> str:
    """'21:00:00.123' (UTC, milliseconds): a time of day where the date is said once; '-' for None."""
    if ts_ns is None:
        return "-"
    text = rfc3339(ts_ns)
    return "-" if text is None else text[11:23]
