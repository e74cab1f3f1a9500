"""The command line (click): the only place that opens files, reads stdin, prints or exits."""

from __future__ import annotations

import enum
import errno
import os
import sys
from typing import IO, NoReturn

import click

from pcapdiag import __version__
from pcapdiag.capture import CaptureError, linktype_name, open_capture
from pcapdiag.classify import LABELS
from pcapdiag.flow import DEFAULT_MAX_FLOWS
from pcapdiag.pipeline import CaptureAnalysis, Options, ServerFilter, assemble
from pcapdiag.report import RENDERERS, CaptureReport, FlowReport, render_jsonl_flow


class ExitStatus(enum.IntEnum):
    """Exit codes: a contract other tools rely on."""

    OK = 0  # no failing connection
    FAILING = 1  # at least one connection labelled anything but ok, incomplete or partial
    ERROR = 2  # usage error or unreadable input (one line on stderr names the file and problem)
    INTERRUPTED = 130  # never used for a decided run: SIGINT still prints what was decided


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


class _Out:
    """Where the report goes; a closed pipe (`| head`) ends the run quietly."""

    def __init__(self, path: str | None) -> None:
        self.stream: IO[str] = open(path, "w", encoding="utf-8") if path else sys.stdout  # noqa: SIM115
        self.closed_pipe = False

    def write(self, text: str, flush: bool = False) -> None:
        if self.closed_pipe:
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pcapdiag")
def main() -> None:
    """Label every client-to-server TCP/TLS connection in a packet capture."""


@main.command()
@click.argument("captures", nargs=-1, required=True, metavar="CAPTURE...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice([*RENDERERS, "jsonl"]),
    default="text",
    show_default=True,
    help="text for people; json (one document) or jsonl (one line per connection, as decided).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write the report here.")
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
def analyze(
    captures: tuple[str, ...],
    fmt: str,
    output: str | None,
    ports: tuple[int, ...],
    servers: tuple[str, ...],
    timeout_s: float,
    max_flows: int,
) -> NoReturn:
    """Read CAPTURE files (pcap, pcapng, gzip; '-' for stdin) and label every connection."""
    try:
        server_filters = tuple(ServerFilter.parse(s) for s in servers)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--server") from None
    options = Options(
        timeout_s=timeout_s, ports=frozenset(ports), servers=server_filters, max_flows=max_flows
    )
    try:
        out = _Out(output)
    except OSError as exc:
        _error(f"{output}: cannot write: {exc.strerror}")
        sys.exit(ExitStatus.ERROR)
    streaming = fmt == "jsonl"

    def emit(flow: FlowReport) -> None:
        out.write(render_jsonl_flow(flow), flush=True)

    reports: list[CaptureReport] = []
    flows: list[FlowReport] = []
    untracked = duplicates = 0
    bad_input = False
    for path in captures:
        try:
            stream = _open(path)
        except OSError as exc:
            _error(f"{path}: {exc.strerror or exc}")
            bad_input = True
            continue
        try:
            capture = open_capture(stream, path)
            analysis = CaptureAnalysis(path, options, on_flow=emit if streaming else None)
            report = analysis.run(capture)
        except CaptureError as exc:
            _error(f"{path}: {exc}")
            bad_input = True
            continue
        except OSError as exc:
            _error(f"{path}: read error: {exc.strerror or exc}")
            bad_input = True
            continue
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        reports.append(report)
        flows.extend(analysis.flows)
        untracked += analysis.table.untracked_flows
        duplicates += analysis.table.duplicates
        for linktype, count in report.undecoded_link_types.items():
            _error(
                f"{path}: link type {linktype} ({linktype_name(linktype)}) is not decoded: "
                f"{count} frame{'s' if count != 1 else ''} skipped"
            )
            bad_input = True
        if report.error:
            _error(f"{path}: {report.error}")
            bad_input = True
        elif report.truncated_at is not None:
            _error(f"{path}: last record cut off at byte offset {report.truncated_at} (ignored)")
    result = assemble(reports, flows, options, untracked=untracked, duplicates=duplicates)
    if not streaming:
        out.write(RENDERERS[fmt](result))
    out.close()
    if bad_input:
        sys.exit(ExitStatus.ERROR)
    sys.exit(ExitStatus.FAILING if result.failing else ExitStatus.OK)


@main.command()
def labels() -> None:
    """Print the label vocabulary: what each label means on the wire and the error it produces."""
    for info in LABELS.values():
        click.echo(f"{info.label.value}\n  wire:  {info.wire}\n  error: {info.error}\n")
