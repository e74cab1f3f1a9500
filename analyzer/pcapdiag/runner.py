"""Analyse capture files with either engine, in this process or in worker processes (--jobs N).

It sits between the application and the driver: it opens capture files by path (a worker process
gets a path, never an open stream), drives one Engine per file and hands back a FileResult, which a
worker sends to the parent. It never prints or exits; the CLI reports what the results say.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import stat
from collections import Counter
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, CancelledError, Future
from dataclasses import dataclass
from types import TracebackType
from typing import IO, TYPE_CHECKING

from pcapdiag.capture import Capture, CaptureError, open_capture
from pcapdiag.classify import View
from pcapdiag.drive import CaptureSource, Limits, Source, StopCheck, TsharkSource, drive
from pcapdiag.k8s import Inventory
from pcapdiag.pipeline import Decided, Engine, Options
from pcapdiag.report import CaptureReport, FlowReport

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event
from pcapdiag.tshark import TsharkCapture, TsharkError, TsharkUnavailable

ENGINES = ("native", "tshark")
"""native: pcapdiag's own capture readers and decoder (the default, and the fast one); tshark: tshark's
dissection through pyshark (formats and encapsulations the native reader does not decode)."""
POLL_S = 0.2
"""How often the parent, waiting for a worker, looks at its own stop flag."""
INTERRUPTED = "interrupted"
"""What a worker says stopped it; the parent puts its own reason (which signal) in its place."""


def _never() -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class Task:
    """One capture file to analyse, everything a worker process needs (it must pickle)."""

    path: str
    options: Options
    index: int = 0
    """Place among the captures analysed together (FlowFacts.capture)."""
    paired: bool = False
    """Several captures: keep every flow and its facts to match them across captures."""
    engine: str = "native"
    k8s: Inventory | None = None
    redact: bool = False
    """--redact: a worker collects the capture's addresses for the parent's pseudonym map."""
    limits: Limits = dataclasses.field(default_factory=Limits)
    """--count and --duration."""


AddressSink = Callable[[bytes], None]
"""Takes the capture's addresses in the order they first appear (--redact: the pseudonym map)."""


@dataclass(frozen=True, slots=True)
class FileResult:
    """What analysing one file gave: its report and kept connections, or why it could not be read."""

    path: str
    report: CaptureReport | None
    """None when the file could not be read at all; ``problem`` says why."""
    problem: str | None = None
    flows: tuple[FlowReport, ...] = ()
    """Every connection (several captures); empty when they were streamed to ``on_flow``."""
    facts: tuple[View, ...] | None = None
    by_label: dict[str, int] = dataclasses.field(default_factory=dict)
    untracked: int = 0
    duplicates: int = 0
    cut: int = 0
    """Connections left undecided because the snaplen cut them."""
    addresses: tuple[bytes, ...] = ()
    """The capture's addresses in the order they first appear, when a worker collected them (--redact)."""

    def reindexed(self, index: int) -> FileResult:
        """The same result as capture number ``index`` (files that could not be read take no number)."""
        if self.facts is None or all(f.capture == index for f in self.facts):
            return self
        return dataclasses.replace(
            self, facts=tuple(dataclasses.replace(f, capture=index) for f in self.facts)
        )


def open_path(path: str) -> IO[bytes]:
    """Open a capture file; OSError with a readable strerror if it cannot be."""
    if os.path.isdir(path):
        raise IsADirectoryError(21, "is a directory")
    return open(path, "rb")


def is_regular_file(path: str) -> bool:
    """A path a worker process can read on its own: not '-' (stdin), a FIFO or a device (live streams)."""
    if path == "-":
        return False
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return True  # the worker reports the error, in the same words as the parent would
    return not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode))


def is_live(stream: IO[bytes]) -> bool:
    """A pipe, FIFO, socket or terminal: its packets arrive in real time (a regular file's do not)."""
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


def analyse_source(
    source: Source,
    task: Task,
    stopped: StopCheck = _never,
    on_flow: Callable[[FlowReport], None] | None = None,
    on_address: AddressSink | None = None,
    after_block: Callable[[], None] | None = None,
) -> FileResult:
    """Drive one opened capture through an engine: its flows streamed to ``on_flow``, or (several
    captures) kept with their views in the result."""
    flows: list[FlowReport] = []
    views: list[View] = []
    by_label: Counter[str] = Counter()

    def emit(decided: list[Decided]) -> None:
        for d in decided:
            by_label[d.flow.label.value] += 1
            if task.paired:
                flows.append(d.flow)
                assert d.view is not None
                views.append(d.view)
            elif on_flow is not None:
                on_flow(d.flow)

    engine = Engine(
        task.path,
        task.options,
        index=task.index,
        k8s=task.k8s,
        engine=task.engine,
        keep_views=task.paired,
        on_address=on_address,
        snaplen=source.container.snaplen,
        sink=lambda decided: emit([decided]),
    )
    report, stats = drive(source, engine, emit, task.limits, stopped, after_block)
    return FileResult(
        path=task.path,
        report=report,
        flows=tuple(flows),
        facts=tuple(views) if task.paired else None,
        by_label=dict(by_label),
        untracked=stats.untracked,
        duplicates=stats.duplicates,
        cut=stats.cut,
    )


def analyse_stream(
    stream: IO[bytes],
    task: Task,
    stopped: StopCheck = _never,
    on_flow: Callable[[FlowReport], None] | None = None,
    on_address: AddressSink | None = None,
    after_block: Callable[[Capture], None] | None = None,
) -> FileResult:
    """Analyse an open capture stream with the native engine; a live stream (a pipe) is followed as
    its packets arrive. ``after_block`` is called with the capture after each block (progress)."""
    try:
        capture = open_capture(stream, task.path)
    except CaptureError as exc:
        return FileResult(task.path, None, str(exc))
    source = CaptureSource(capture, live=is_live(stream))
    hook = (lambda: after_block(capture)) if after_block is not None else None
    return analyse_source(source, task, stopped, on_flow, on_address, hook)


def analyse_path(
    task: Task,
    stopped: StopCheck = _never,
    on_flow: Callable[[FlowReport], None] | None = None,
    on_address: AddressSink | None = None,
) -> FileResult:
    """Open a capture file by path and analyse it with the task's engine."""
    if task.engine == "tshark":
        try:
            tshark = TsharkCapture(task.path)
        except (TsharkError, TsharkUnavailable) as exc:
            return FileResult(task.path, None, str(exc))
        return analyse_source(TsharkSource(tshark), task, stopped, on_flow, on_address)
    try:
        stream = open_path(task.path)
    except OSError as exc:
        return FileResult(task.path, None, exc.strerror or str(exc))
    with stream:
        return analyse_stream(stream, task, stopped=stopped, on_flow=on_flow, on_address=on_address)


# -- worker processes ---------------------------------------------------------------------------

_stop_event: Event | None = None
"""In a worker: the parent's stop flag."""


def _worker_init(event: Event) -> None:
    """A worker leaves Ctrl-C to the parent (which relays it through the event) and remembers the event."""
    global _stop_event
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop_event = event


def _worker_stopped() -> str | None:
    return INTERRUPTED if _stop_event is not None and _stop_event.is_set() else None


def _worker(task: Task) -> FileResult:
    if not task.redact:
        return analyse_path(task, _worker_stopped)
    addresses: list[bytes] = []
    result = analyse_path(task, _worker_stopped, on_address=addresses.append)
    return dataclasses.replace(result, addresses=tuple(addresses))


class Workers:
    """Up to ``jobs`` worker processes (forkserver where there is one, else spawn), each analysing one
    file at a time; the parent collects the results in the order it asks for them."""

    def __init__(self, jobs: int) -> None:
        # Imported here: a run without --jobs should not pay for multiprocessing at start-up.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload([__name__])  # import pcapdiag once, in the fork server
        self._event = ctx.Event()
        self._futures: list[Future[FileResult]] = []
        self._pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=ctx, initializer=_worker_init, initargs=(self._event,)
        )

    def submit(self, task: Task) -> Future[FileResult]:
        """Start analysing a file in a worker (or queue it until one is free).

        The fork server and the workers are started with SIGINT and SIGTERM blocked (they inherit
        the mask): a Ctrl-C that reaches the whole process group while the fork server is still
        importing pcapdiag would end it with a traceback. The parent relays a stop through the event.
        """
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            future = self._pool.submit(_worker, task)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self._futures.append(future)
        return future

    def result(self, future: Future[FileResult], task: Task, stopped: StopCheck) -> FileResult | None:
        """Wait for a worker's result. A stop (signal) in the parent is passed on: running workers stop
        reading and send what they decided, files not started yet (or not read at all) give None."""
        while True:
            reason = stopped()
            if reason is not None:
                self._stop()
            try:
                result = future.result(timeout=POLL_S)
            except TimeoutError:  # concurrent.futures.TimeoutError is the builtin since Python 3.11
                continue
            except CancelledError:
                return None
            except BrokenExecutor:  # BrokenProcessPool's base, without importing multiprocessing
                return FileResult(task.path, None, "the worker process analysing it died")
            reason = reason or stopped()
            report = result.report
            if reason is not None and report is not None and report.stopped == INTERRUPTED:
                if not report.packets:
                    return None  # started as the stop came: as good as not started
                result = dataclasses.replace(result, report=dataclasses.replace(report, stopped=reason))
            return result

    def _stop(self) -> None:
        self._event.set()
        for future in self._futures:
            future.cancel()  # only those not started yet

    def close(self) -> None:
        """Stop the workers: unstarted files are dropped, running ones told to stop."""
        self._stop()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Workers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
