"""`pcapdiag analyze` as a request in and an outcome out: workers, pairing, redaction and exit status.

The CLI parses options into an AnalyzeRequest and hands over a Console, through which every byte
is read and written; this module decides what to analyse where, streams the report, and says
with which exit status the run ends. It never prints, opens a file by itself or exits.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Protocol

from pcapdiag.capture import Capture, linktype_name
from pcapdiag.drive import Limits
from pcapdiag.filtering import merge as merge_filtered
from pcapdiag.k8s import Inventory
from pcapdiag.pipeline import Options, assemble, pair
from pcapdiag.report import CaptureReport, ClockOffset, FlowReport, Report
from pcapdiag.report.model import FilteredOut
from pcapdiag.report.redact import Pseudonyms
from pcapdiag.report.render_text import Painter, filter_note
from pcapdiag.report.servers import ServerTally
from pcapdiag.report.stream import make_renderer
from pcapdiag.runner import (
    FileResult,
    Task,
    Workers,
    analyse_path,
    analyse_stream,
    is_live,
    is_regular_file,
)
from pcapdiag.tshark import TsharkUnavailable, check_available

STDOUT_CLOSED = "stdout closed"
"""The stop reason when the reader of the report went away (`| head`)."""


class ExitStatus(enum.IntEnum):
    """Exit codes: a contract other tools rely on."""

    OK = 0  # no failing connection
    FAILING = 1  # at least one connection labelled anything but ok, incomplete or partial
    ERROR = 2  # usage error or unreadable input (one line on stderr names the file and problem)
    CUT = 3  # none failed, but the snaplen cut connections it could not decide: not an all-clear


@dataclass(frozen=True, slots=True)
class CaptureArg:
    """One capture to analyse: its path ('-' for stdin), its name in the report, and whether the user
    gave that name (--side NAME=FILE), which may declare the capture's role."""

    path: str
    name: str
    named: bool = False


@dataclass(frozen=True, slots=True)
class AnalyzeRequest:
    """Everything `pcapdiag analyze` was asked to do."""

    captures: tuple[CaptureArg, ...]
    options: Options = field(default_factory=Options)
    limits: Limits = field(default_factory=Limits)
    fmt: str | None = "text"
    """The report's format (--format), or None to write nothing (an API caller's)."""
    engine: str = "native"
    jobs: int = 1
    redact: bool = False
    show: str = "failing"
    """--show: list the failing connections only (the others are counted), or every connection."""
    inventory: Inventory | None = None
    paint: Painter | None = None
    """Colours labels for a terminal (the CLI's, when writing to one without NO_COLOR)."""
    filters: str = ""
    """The filters as the user gave them ('--port 9999'), to say what they left out."""
    keep_flows: bool = False
    """Keep every connection in the outcome's report (an API caller's), besides writing it."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the run ended: its exit status, and the report's summary (without the flows, which were
    streamed out), or None when it ended before analysing anything."""

    status: ExitStatus
    report: Report | None = None
    unreadable: tuple[tuple[str, str], ...] = ()
    """Captures that could not be read at all: (path, why)."""


class Progress(Protocol):
    """A progress display for one capture file."""

    def update(self, done: int) -> None:
        """Bytes read so far."""

    def close(self) -> None:
        """Reading is over."""


class Console(Protocol):
    """What the application reads from and writes to (the CLI's terminal, files and signals)."""

    def write(self, text: str, flush: bool = False) -> None:
        """Report text (flush: a live stream's verdict, to be seen now)."""

    @property
    def closed(self) -> bool:
        """The report's reader went away (a closed pipe)."""

    def error(self, message: str) -> None:
        """One line on stderr."""

    def stop_reason(self) -> str | None:
        """Why the run must stop now (a signal), or None."""

    def open(self, path: str) -> IO[bytes]:
        """A capture stream ('-' is stdin); OSError if it cannot be opened."""

    def progress(self, path: str, stream: IO[bytes]) -> Progress | None:
        """A progress display for reading this stream, if one is wanted."""


def unique_names(captures: list[CaptureArg]) -> tuple[CaptureArg, ...]:
    """The captures, a file name given twice (from two directories) replaced by its whole path."""
    names = [c.name for c in captures]
    if len(set(names)) == len(names):
        return tuple(captures)
    return tuple(CaptureArg(c.path, c.path if names.count(c.name) > 1 else c.name, c.named) for c in captures)


def analyze_request(request: AnalyzeRequest, console: Console) -> Outcome:
    """Analyse the request's captures, write the report through the console, say how it ended."""
    captures = request.captures
    if request.engine == "tshark":
        problem = _tshark_problem(captures)
        if problem is not None:
            console.error(problem)
            return Outcome(ExitStatus.ERROR)
    run = _Run(request, console)
    run.read_all()
    return run.finish()


def _tshark_problem(captures: tuple[CaptureArg, ...]) -> str | None:
    """--engine tshark: pyshark and tshark must be installed, and tshark reads files, not stdin."""
    try:
        check_available()
    except TsharkUnavailable as exc:
        return str(exc)
    for c in captures:
        if not is_regular_file(c.path):
            what = "stdin ('-')" if c.path == "-" else f"{c.path} (a pipe or device)"
            return f"--engine tshark reads capture files, not {what}: write the capture to a file first"
    return None


class _Run:
    """One run of `pcapdiag analyze`: what has been read, counted and written so far."""

    def __init__(self, request: AnalyzeRequest, console: Console) -> None:
        self.request = request
        self.console = console
        self.pseudonyms = Pseudonyms() if request.redact else None
        self.paired = len(request.captures) > 1
        streaming = any(not is_regular_file(c.path) for c in request.captures)
        self.renderer = (
            make_renderer(request.fmt, paint=request.paint, show=request.show, live=streaming)
            if request.fmt
            else None
        )
        self.kept: list[FlowReport] = []
        self.servers = ServerTally()
        self.unreadable: list[tuple[str, str]] = []
        self.live = False
        """The capture being read is a live stream: each verdict is flushed as it comes."""
        self.stop: str | None = None
        self.reports: list[CaptureReport] = []
        self.results: list[FileResult] = []
        self.names: list[str] = []
        self.given: list[bool] = []
        self.by_label: Counter[str] = Counter()
        self.untracked = self.duplicates = self.cut = 0
        self.bad_input = False

    def stopped(self) -> str | None:
        if self.stop is None:
            self.stop = self.console.stop_reason()
        return self.stop

    def emit(self, flow: FlowReport) -> None:
        shown = self.pseudonyms.apply(flow) if self.pseudonyms else flow
        self.servers.add(shown)
        if self.request.keep_flows:
            self.kept.append(shown)
        if self.renderer is not None:
            self.console.write(self.renderer.flow(shown), flush=self.live)
        if self.console.closed:
            self.stop = STDOUT_CLOSED

    def read_all(self) -> None:
        request = self.request
        tasks = [
            Task(
                c.path,
                request.options,
                index=i,
                paired=self.paired,
                engine=request.engine,
                k8s=request.inventory,
                redact=request.redact,
                limits=request.limits,
            )
            for i, c in enumerate(request.captures)
        ]
        parallel = request.jobs > 1 and self.paired
        workers = Workers(min(request.jobs, len(tasks))) if parallel else None
        try:
            futures = {
                t.index: workers.submit(t) for t in tasks if workers is not None and is_regular_file(t.path)
            }
            for task, arg in zip(tasks, request.captures, strict=True):
                if workers is not None and task.index in futures:
                    got = workers.result(futures[task.index], task, self.stopped)
                    if got is None:  # stopped before a worker started it
                        continue
                elif self.stopped() is not None:
                    continue
                else:
                    got = self.read_here(task)
                self.add(got, arg)
        finally:
            if workers is not None:
                workers.close()

    def read_here(self, task: Task) -> FileResult:
        """Analyse one capture in this process (stdin, a live stream, or every file with --jobs 1)."""
        see = self.pseudonyms.see if self.pseudonyms is not None else None
        if task.engine == "tshark":
            return analyse_path(task, self.stopped, self.emit, see)
        try:
            stream = self.console.open(task.path)
        except OSError as exc:
            return FileResult(task.path, None, exc.strerror or str(exc))
        progress = self.console.progress(task.path, stream)
        after: Callable[[Capture], None] | None = None
        if progress is not None:
            shown = progress

            def after(capture: Capture) -> None:
                if not capture.gzipped:
                    shown.update(capture.bytes_read)

        self.live = is_live(stream)
        try:
            return analyse_stream(stream, task, self.stopped, self.emit, see, after)
        finally:
            if progress is not None:
                progress.close()
            if task.path != "-":
                stream.close()

    def add(self, got: FileResult, arg: CaptureArg) -> None:
        """Count one capture's result; say what was wrong with it."""
        console = self.console
        if self.pseudonyms is not None:
            for address in got.addresses:  # a worker's, in the order its capture holds them
                self.pseudonyms.see(address)
        report = got.report
        if report is None:
            console.error(f"{arg.path}: {got.problem}")
            self.unreadable.append((arg.path, got.problem or "unreadable"))
            self.bad_input = True
            return
        self.reports.append(report)
        self.results.append(got.reindexed(len(self.results)))
        self.names.append(arg.name)
        self.given.append(arg.named)
        self.by_label.update(got.by_label)
        self.untracked += got.untracked
        self.duplicates += got.duplicates
        self.cut += got.cut
        for linktype, n in report.undecoded_link_types.items():
            frames = f"{n} frame{'s' * (n != 1)}"
            kind = f"link type {linktype} ({linktype_name(linktype)})"
            console.error(f"{arg.path}: {kind} is not decoded: {frames} skipped")
            self.bad_input = True
        left_out = report.filtered.packets if report.filtered is not None else 0
        if (
            report.packets
            and not report.tcp_packets
            and not left_out  # the filters left out its TCP packets: said below, not "no TCP"
            and not report.undecoded_link_types
            and not report.error
        ):
            kinds = ", ".join(f"{reason} {n}" for reason, n in report.skipped.items())
            console.error(
                f"{arg.path}: no TCP packet among its {report.packets} packet{'s' * (report.packets != 1)}"
                + (f" ({kinds})" if kinds else "")
            )
        elif not report.packets and not report.error and not report.stopped:
            console.error(f"{arg.path}: no packet")
        if report.error:
            console.error(f"{arg.path}: {report.error}")
            self.bad_input = True
        elif report.truncated_at is not None:
            console.error(f"{arg.path}: last record cut off at byte offset {report.truncated_at} (ignored)")

    def _filtered(self) -> FilteredOut | None:
        """What the filters left out of every capture, or None when none was given."""
        parts = [r.filtered for r in self.reports if r.filtered is not None]
        merged = merge_filtered(parts)
        if merged is None and (self.request.options.ports or self.request.options.servers):
            merged = FilteredOut(packets=0, connections=0)
        return dataclasses.replace(merged, by=self.request.filters) if merged is not None else None

    def finish(self) -> Outcome:
        """Pair several captures, write the report's end, and say how the run ended."""
        request = self.request
        reports = self.reports
        by_label = self.by_label
        offsets: tuple[ClockOffset, ...] = ()
        by_where: Counter[str] = Counter()
        if self.paired and self.stop != STDOUT_CLOSED:
            if len(self.results) > 1:
                paired = pair(self.results, reports, self.names, self.given)
                flows, reports, offsets = paired.flows, paired.captures, paired.offsets
                by_label = Counter(f.label.value for f in flows)
                by_where = Counter(f.where for f in flows if f.where and f.label.failing)
            else:
                flows = [f for r in self.results for f in r.flows]
            for flow in flows:
                self.emit(flow)
                if self.stop == STDOUT_CLOSED:
                    break
        findings = request.inventory.checks() if request.inventory is not None else None
        if self.pseudonyms:
            reports = self.pseudonyms.apply(reports)
            findings = self.pseudonyms.apply(findings)
            offsets = self.pseudonyms.apply(offsets)
        result = assemble(
            reports,
            self.kept,
            request.options,
            untracked=self.untracked,
            duplicates=self.duplicates,
            by_label=by_label,
            redacted=request.redact,
            offsets=offsets,
            by_where=by_where,
            kubernetes_findings=findings,
            cut_undecided=self.cut,
            servers=self.servers.summaries(),
            filtered=self.pseudonyms.apply(self._filtered()) if self.pseudonyms else self._filtered(),
        )
        note = filter_note(result)
        if note is not None:
            self.console.error(note)
        if self.renderer is not None and (reports or request.fmt in ("json", "jsonl")):
            # Nothing could be read: the lines on stderr say why, and a report of nothing would
            # only look like an all-clear (JSON keeps its document: a program reads it).
            self.console.write(self.renderer.end(result))
        if self.bad_input:
            status = ExitStatus.ERROR
        elif result.failing_count:
            status = ExitStatus.FAILING
        else:
            status = ExitStatus.CUT if result.cut_undecided else ExitStatus.OK
        return Outcome(status, result, tuple(self.unreadable))
