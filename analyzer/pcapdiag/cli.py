"""The command line (click): the only module that does I/O, handles signals or exits."""

from __future__ import annotations

import enum
import errno
import itertools
import os
import queue
import signal
import stat
import sys
import threading
import time
from collections import Counter
from types import FrameType
from typing import IO, NoReturn

import click

from pcapdiag import __version__
from pcapdiag.capture import Capture, CaptureError, Frame, linktype_name, open_capture
from pcapdiag.classify import LABELS
from pcapdiag.flow import DEFAULT_MAX_FLOWS
from pcapdiag.pipeline import CaptureAnalysis, Options, ServerFilter, assemble
from pcapdiag.report import CaptureReport, FlowReport
from pcapdiag.report.stream import STREAMS, StreamRenderer

BATCH = 4096
"""Frames analysed between two looks at the stop flag (signals, a closed stdout)."""
LIVE_POLL_S = 0.2
"""How often a quiet live stream moves the capture clock on."""


class ExitStatus(enum.IntEnum):
    """Exit codes: a contract other tools rely on."""

    OK = 0  # no failing connection
    FAILING = 1  # at least one connection labelled anything but ok, incomplete or partial
    ERROR = 2  # usage error or unreadable input (one line on stderr names the file and problem)


def _error(message: str) -> None:
    """One line on stderr."""
    click.echo(f"pcapdiag: {message}", err=True)


def _open(path: str) -> IO[bytes]:
    """Open a capture path ('-' is stdin); OSError with a readable strerror if it cannot be."""
    if path == "-":
        return sys.stdin.buffer
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "is a directory")
    return open(path, "rb")


def _is_live(stream: IO[bytes]) -> bool:
    """A pipe, FIFO, socket or terminal: its packets arrive in real time (a regular file's do not)."""
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


class _Out:
    """Where the report goes; a closed pipe (`| head`) ends the run quietly."""

    def __init__(self, path: str | None) -> None:
        self.stream: IO[str] = open(path, "w", encoding="utf-8") if path else sys.stdout  # noqa: SIM115
        self.closed_pipe = False

    def write(self, text: str, flush: bool = False) -> None:
        if self.closed_pipe or not text:
            return
        try:
            self.stream.write(text)
            if flush:
                self.stream.flush()
        except BrokenPipeError:
            self.closed_pipe = True
            # Point stdout at devnull so the interpreter's exit flush does not complain.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())

    def close(self) -> None:
        if self.stream is not sys.stdout:
            self.stream.close()
        else:
            self.write("", flush=True)
            try:
                self.stream.flush()
            except BrokenPipeError:
                self.closed_pipe = True


class _Stop:
    """Set by SIGINT/SIGTERM (a second signal ends the process at once) or a closed stdout."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.reason is not None:
            raise KeyboardInterrupt
        self.reason = f"interrupted ({signal.Signals(signum).name})"

    def install(self) -> None:
        signal.signal(signal.SIGINT, self)
        signal.signal(signal.SIGTERM, self)


def _read_file(analysis: CaptureAnalysis, capture: Capture, stop: _Stop) -> None:
    frames = capture.frames()
    while stop.reason is None and not analysis.done:
        batch = list(itertools.islice(frames, BATCH))
        if not batch:
            return
        analysis.read(batch)


_END = object()


def _read_live(analysis: CaptureAnalysis, capture: Capture, stop: _Stop) -> None:
    """Read a live stream in a thread; when it goes quiet, move capture time on by the wall-clock
    time since the last packet arrived, so silences still become verdicts."""
    items: queue.Queue[object] = queue.Queue(maxsize=65536)

    def reader() -> None:
        try:
            for frame in capture.frames():
                items.put(frame)
        except CaptureError as exc:
            items.put(exc)
        except OSError as exc:
            items.put(CaptureError(f"read error: {exc.strerror or exc}"))
        items.put(_END)

    threading.Thread(target=reader, name="pcapdiag-reader", daemon=True).start()
    last_arrival = time.monotonic()
    max_duration = analysis.options.max_duration_s
    while stop.reason is None and not analysis.done:
        try:
            item = items.get(timeout=LIVE_POLL_S)
        except queue.Empty:
            if analysis.last_ns is not None and analysis.first_ns is not None:
                now = analysis.last_ns + int((time.monotonic() - last_arrival) * 1e9)
                if max_duration is not None and now - analysis.first_ns >= max_duration * 1e9:
                    analysis.stopped = f"--duration {max_duration:g} s reached"
                    return
                analysis.sweep(now)
            continue
        batch: list[Frame] = []
        while True:
            if item is _END:
                analysis.read(batch)
                return
            if isinstance(item, CaptureError):
                analysis.read(batch)
                analysis.error = str(item)
                return
            assert isinstance(item, Frame)
            batch.append(item)
            if len(batch) >= BATCH:
                break
            try:
                item = items.get_nowait()
            except queue.Empty:
                break
        last_arrival = time.monotonic()
        analysis.read(batch)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pcapdiag")
def main() -> None:
    """Label every client-to-server TCP/TLS connection in a packet capture."""


@main.command()
@click.argument("captures", nargs=-1, required=True, metavar="CAPTURE...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(STREAMS)),
    default="text",
    show_default=True,
    help="text for people; json (one document) or jsonl (one line per connection, as decided).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report here.")
@click.option(
    "--port",
    "ports",
    type=click.IntRange(1, 65535),
    multiple=True,
    help="Only connections with this port on either end (repeatable).",
)
@click.option(
    "--server",
    "servers",
    multiple=True,
    metavar="IP[:PORT]",
    help="Only connections to this server (repeatable).",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0.001),
    default=10.0,
    show_default=True,
    help="Seconds of silence that make a timeout when the client's give-up is not captured.",
)
@click.option(
    "--max-flows",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_FLOWS,
    show_default=True,
    help="Connections tracked at once; more are counted, not tracked.",
)
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many packets.")
@click.option("--duration", type=click.FloatRange(min=0.001), help="Stop after this many seconds of capture.")
def analyze(
    captures: tuple[str, ...],
    fmt: str,
    output: str | None,
    ports: tuple[int, ...],
    servers: tuple[str, ...],
    timeout_s: float,
    max_flows: int,
    count: int | None,
    duration: float | None,
) -> NoReturn:
    """Read CAPTURE files (pcap, pcapng, gzip; '-' for stdin) and label every connection."""
    try:
        server_filters = tuple(ServerFilter.parse(s) for s in servers)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--server") from None
    options = Options(
        timeout_s=timeout_s,
        ports=frozenset(ports),
        servers=server_filters,
        max_flows=max_flows,
        max_packets=count,
        max_duration_s=duration,
    )
    try:
        out = _Out(output)
    except OSError as exc:
        _error(f"{output}: cannot write: {exc.strerror}")
        sys.exit(ExitStatus.ERROR)
    stop = _Stop()
    stop.install()
    renderer: StreamRenderer = STREAMS[fmt]()
    live = False

    def emit(flow: FlowReport) -> None:
        out.write(renderer.flow(flow), flush=live)
        if out.closed_pipe:
            stop.reason = "stdout closed"

    reports: list[CaptureReport] = []
    by_label: Counter[str] = Counter()
    untracked = duplicates = 0
    bad_input = False
    for path in captures:
        if stop.reason is not None:
            break
        try:
            stream = _open(path)
        except OSError as exc:
            _error(f"{path}: {exc.strerror or exc}")
            bad_input = True
            continue
        try:
            capture = open_capture(stream, path)
            live = _is_live(stream)
            analysis = CaptureAnalysis(path, options, on_flow=emit, keep_flows=False)
            try:
                (_read_live if live else _read_file)(analysis, capture, stop)
            except CaptureError as exc:
                analysis.error = str(exc)
            except OSError as exc:
                analysis.error = f"read error: {exc.strerror or exc}"
            if stop.reason is not None and analysis.stopped is None:
                analysis.stopped = stop.reason
            report = analysis.end(capture)
        except CaptureError as exc:
            _error(f"{path}: {exc}")
            bad_input = True
            continue
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        reports.append(report)
        by_label.update(analysis.by_label)
        untracked += analysis.table.untracked_flows
        duplicates += analysis.table.duplicates
        for linktype, n in report.undecoded_link_types.items():
            frames = f"{n} frame{'s' * (n != 1)}"
            name = linktype_name(linktype)
            _error(f"{path}: link type {linktype} ({name}) is not decoded: {frames} skipped")
            bad_input = True
        if report.error:
            _error(f"{path}: {report.error}")
            bad_input = True
        elif report.truncated_at is not None:
            _error(f"{path}: last record cut off at byte offset {report.truncated_at} (ignored)")
    result = assemble(reports, [], options, untracked=untracked, duplicates=duplicates, by_label=by_label)
    out.write(renderer.end(result))
    out.close()
    if bad_input:
        sys.exit(ExitStatus.ERROR)
    sys.exit(ExitStatus.FAILING if result.failing_count else ExitStatus.OK)


@main.command()
def labels() -> None:
    """Print the label vocabulary: what each label means on the wire and the error it produces."""
    for info in LABELS.values():
        click.echo(f"{info.label.value}\n  wire:  {info.wire}\n  error: {info.error}\n")
