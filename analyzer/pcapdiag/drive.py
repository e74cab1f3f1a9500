"""The one read loop: a capture source's blocks into the engine, under --count/--duration and stops."""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from pcapdiag.capture import Capture, CaptureError, RecordBlock
from pcapdiag.decode import Decoded
from pcapdiag.pipeline import NS, CaptureStats, Container, Decided, Engine
from pcapdiag.report import CaptureReport
from pcapdiag.tshark import TsharkCapture, TsharkError

LIVE_POLL_S = 0.2
"""How long a live stream may stay quiet before the capture clock is moved on."""
LIVE_QUEUE = 64
"""Blocks read from a live stream and not yet analysed (at most about 1 MiB each)."""
TSHARK_BATCH = 4096
"""Packets tshark decoded, handed to the engine at a time."""

DecodedBatch = list[tuple[int, int, Decoded]]
"""Packets another engine decoded: (frame number, time in ns, decoded)."""
StopCheck = Callable[[], str | None]
"""Why reading must stop now (a signal, a closed stdout), or None to go on."""


@dataclass(frozen=True, slots=True)
class Quiet:
    """A live stream has been quiet for this long (wall-clock time since the last packet arrived)."""

    elapsed_ns: int


Item = RecordBlock | DecodedBatch | Quiet


class Source(Protocol):
    """A capture to drive: its items (blocks, decoded batches, quiet spells) and its container."""

    @property
    def container(self) -> Container: ...

    def items(self) -> Iterator[Item]: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """--count and --duration: when to stop reading."""

    count: int | None = None
    """Stop after this many packets."""
    duration_s: float | None = None
    """Stop at this much capture time after the first packet."""

    def take(self, seen: int, first_ns: int | None, stamps: Sequence[int]) -> tuple[int, str | None]:
        """How many of the next packets (their times ``stamps``) to analyse, ``seen`` packets having
        been analysed since the first (at ``first_ns``); and why reading stops after them (None: it
        goes on). A packet past --duration is not analysed; the --count-th is."""
        n = len(stamps)
        reason = None
        if self.duration_s is not None and stamps:
            first = first_ns if first_ns is not None else stamps[0]
            limit = int(self.duration_s * NS)
            for i, ts in enumerate(stamps):
                if ts - first >= limit:
                    n, reason = i, self.duration_reason
                    break
        if self.count is not None and self.count - seen <= n:
            n, reason = self.count - seen, f"--count {self.count} reached"
        return n, reason

    def quiet_stop(self, first_ns: int | None, now_ns: int) -> str | None:
        """Why reading stops when capture time reaches ``now_ns`` with no packet (a quiet live stream)."""
        if self.duration_s is None or first_ns is None:
            return None
        return self.duration_reason if now_ns - first_ns >= self.duration_s * NS else None

    @property
    def duration_reason(self) -> str:
        return f"--duration {self.duration_s:g} s reached"


@dataclass(frozen=True, slots=True)
class CaptureSource:
    """A capture read by pcapdiag's own readers: a file, or a live stream (a pipe) read in a thread
    so that quiet spells can move the capture clock on."""

    capture: Capture
    live: bool = False

    @property
    def container(self) -> Container:
        return self.capture

    def items(self) -> Iterator[Item]:
        return _live_items(self.capture) if self.live else iter(self.capture.blocks())


_END = object()


def _live_items(capture: Capture) -> Iterator[Item]:
    """A live stream's blocks as they arrive, and a Quiet whenever none came for LIVE_POLL_S."""
    arrived: queue.Queue[object] = queue.Queue(maxsize=LIVE_QUEUE)

    def reader() -> None:
        try:
            for block in capture.blocks():
                arrived.put(block)
        except CaptureError as exc:
            arrived.put(exc)
        except OSError as exc:
            arrived.put(CaptureError(f"read error: {exc.strerror or exc}"))
        arrived.put(_END)

    threading.Thread(target=reader, name="pcapdiag-reader", daemon=True).start()
    last_arrival = time.monotonic()
    while True:
        try:
            item = arrived.get(timeout=LIVE_POLL_S)
        except queue.Empty:
            yield Quiet(int((time.monotonic() - last_arrival) * NS))
            continue
        if item is _END:
            return
        if isinstance(item, CaptureError):
            raise item
        assert isinstance(item, RecordBlock)
        last_arrival = time.monotonic()
        yield item


@dataclass(frozen=True, slots=True)
class TsharkSource:
    """A capture file tshark decodes (--engine tshark)."""

    tshark: TsharkCapture

    @property
    def container(self) -> Container:
        return self.tshark.info

    def items(self) -> Iterator[Item]:
        packets = self.tshark.packets()
        try:
            while batch := list(itertools.islice(packets, TSHARK_BATCH)):
                yield batch
        finally:
            packets.close()  # stopping early stops tshark


def _never() -> str | None:
    return None


def drive(
    source: Source,
    engine: Engine,
    emit: Callable[[list[Decided]], None],
    limits: Limits = Limits(),
    stop: StopCheck = _never,
    after_block: Callable[[], None] | None = None,
) -> tuple[CaptureReport, CaptureStats]:
    """Read ``source`` into ``engine`` until its end, a limit or a stop; hand every decided connection
    to ``emit`` as soon as it is decided (those left at the end too); describe the capture.

    Whatever stops the reading (a corrupt record, tshark failing, a bug), what was decided stays:
    the problem is said in the report's ``error``.
    """
    stopped: str | None = None
    error: str | None = None
    items = source.items()
    try:
        for item in items:
            reason = stop()
            if reason is not None:
                stopped = reason
                break
            if isinstance(item, Quiet):
                if engine.last_ns is None:
                    continue
                now = engine.last_ns + item.elapsed_ns
                stopped = limits.quiet_stop(engine.first_ns, now)
                if stopped is not None:
                    break
                emit(engine.advance(now))
                continue
            if isinstance(item, RecordBlock):
                n, stopped = limits.take(engine.packets, engine.first_ns, item.ts_ns)
                emit(engine.feed(item.head(n)))
            else:
                n, stopped = limits.take(engine.packets, engine.first_ns, [p[1] for p in item])
                emit(engine.feed_decoded(item[:n]))
            if after_block is not None:
                after_block()
            if stopped is not None:
                break
    except CaptureError as exc:
        error = str(exc)
    except TsharkError as exc:
        error = str(exc)
    except OSError as exc:
        error = f"read error: {exc.strerror or exc}"
    except Exception as exc:  # a bug must not lose what was decided
        error = f"internal error (please report): {type(exc).__name__}: {exc}"
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
    if stopped is None:
        stopped = stop()
    decided, stats = engine.close(source.container)
    emit(decided)
    return capture_report(engine, source.container, stats, error, stopped), stats


def capture_report(
    engine: Engine, capture: Container, stats: CaptureStats, error: str | None, stopped: str | None
) -> CaptureReport:
    """The report's description of one capture."""
    truncated = capture.truncated
    return CaptureReport(
        path=engine.path,
        format=capture.format,
        link_types=tuple(sorted(capture.link_types)),
        packets=stats.packets,
        tcp_packets=stats.tcp_packets,
        malformed=stats.malformed,
        first_ns=stats.first_ns,
        last_ns=stats.last_ns,
        truncated_at=truncated.offset if truncated else None,
        error=error,
        drops=capture.drops,
        skipped=stats.skipped,
        undecoded_link_types=stats.undecoded,
        stopped=stopped,
        capture_point=stats.capture_point,
        engine=engine.engine,
        snaplen=capture.snaplen,
        filtered=stats.filtered,
    )
