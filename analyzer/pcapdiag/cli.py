"""The command line (click): the only module that does I/O, handles signals or exits."""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import time
from types import FrameType
from typing import IO, TYPE_CHECKING, NoReturn

import click

from pcapdiag import __version__
from pcapdiag.application import AnalyzeRequest, CaptureArg, ExitStatus, analyze_request, unique_names
from pcapdiag.capture import CaptureError, open_capture
from pcapdiag.classify import LABELS, Label
from pcapdiag.drive import Limits
from pcapdiag.extraction import Selection
from pcapdiag.flow import DEFAULT_MAX_FLOWS
from pcapdiag.k8s import Inventory, K8sDataError
from pcapdiag.pipeline import Options, ServerFilter
from pcapdiag.report import FlowReport
from pcapdiag.report.groups import SHOW
from pcapdiag.report.redact import Pseudonyms
from pcapdiag.report.stream import STREAMS
from pcapdiag.runner import ENGINES, Task, analyse_stream, open_path

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

NO_FAST_PATH = "PCAPDIAG_NO_FAST_PATH"
"""Set (to anything but empty) in the environment, it sends every packet down the general path:
bench/compare.py checks that the reports are the same."""
__all__ = ["ExitStatus", "main"]


_FILE = click.Path(readable=False)
"""A file path click does not check: a directory or a file that cannot be read or written is
reported by the code that opens it, as one line naming the file and exit status 2, not as a usage
error (click checks existing paths for readability, even an output's)."""


def _error(message: str) -> None:
    """One line on stderr."""
    click.echo(f"pcapdiag: {message}", err=True)


def _json_documents(text: str) -> list[object]:
    """Every JSON document in a file (kubectl outputs may be concatenated); ValueError if not JSON."""
    decoder = json.JSONDecoder()
    docs: list[object] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return docs
        doc, pos = decoder.raw_decode(text, pos)
        docs.append(doc)


def _load_k8s(paths: tuple[str, ...]) -> Inventory | None:
    """The --k8s files as one inventory; one line on stderr and exit 2 if one cannot be read."""
    if not paths:
        return None
    docs: list[object] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                found = _json_documents(f.read())
        except OSError as exc:
            _error(f"{path}: {exc.strerror or exc}")
            sys.exit(ExitStatus.ERROR)
        except (ValueError, UnicodeDecodeError) as exc:
            _error(f"{path}: not JSON (kubectl get ... -o json output expected): {exc}")
            sys.exit(ExitStatus.ERROR)
        docs.extend(found)
    try:
        return Inventory.from_documents(docs)
    except K8sDataError as exc:
        _error(f"{', '.join(paths)}: {exc}")
        sys.exit(ExitStatus.ERROR)


def _open(path: str) -> IO[bytes]:
    """Open a capture path ('-' is stdin); OSError with a readable strerror if it cannot be."""
    return sys.stdin.buffer if path == "-" else open_path(path)


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


def _use_color(stream: IO[str]) -> bool:
    """Colour for a terminal, unless NO_COLOR is set (https://no-color.org)."""
    return not os.environ.get("NO_COLOR") and stream.isatty()


def _paint(text: str, label: Label) -> str:
    """A label's text coloured by what it means (click.style): failing red, ok green, undecided yellow."""
    if label.failing:
        return click.style(text, fg="red", bold=True)
    return click.style(text, fg="green" if label is Label.OK else "yellow")


class _Progress:
    """click's progress bar on stderr for a large file read on a terminal: the share read, MiB of
    MiB, the rate and the time left."""

    MIN_BYTES = 16 * 1024 * 1024

    def __init__(self, path: str, total: int | None) -> None:
        self.path = path
        self.total = total or 0
        self.on = bool(total and total >= self.MIN_BYTES and sys.stderr.isatty())
        self._began = time.monotonic()
        self._done = 0
        self._bar: ProgressBar[int] | None = None
        if self.on:
            self._bar = click.progressbar(
                length=self.total,
                label=path,
                file=sys.stderr,
                show_eta=True,
                show_percent=True,
                width=24,
                item_show_func=self._rate,
                update_min_steps=1,
            )
            self._bar.render_progress()

    def _rate(self, _: int | None) -> str:
        elapsed = max(time.monotonic() - self._began, 1e-6)
        return f"{self._done >> 20} of {self.total >> 20} MiB, {self._done / elapsed / (1 << 20):.1f} MiB/s"

    def update(self, done: int) -> None:
        if self._bar is None or done <= self._done:
            return
        step, self._done = done - self._done, done
        self._bar.update(step, done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.render_finish()
            self._bar = None


def _size(stream: IO[bytes]) -> int | None:
    """A regular file's size in bytes (for progress), else None."""
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


class _Console:
    """The application's console: the report's output, stderr, the signals, and capture streams."""

    def __init__(self, output: str | None) -> None:
        self.out = _Out(output)
        self._stop = _Stop()
        self._stop.install()

    def write(self, text: str, flush: bool = False) -> None:
        self.out.write(text, flush)

    @property
    def closed(self) -> bool:
        return self.out.closed_pipe

    def error(self, message: str) -> None:
        _error(message)

    def stop_reason(self) -> str | None:
        return self._stop.reason

    def open(self, path: str) -> IO[bytes]:
        return _open(path)

    def progress(self, path: str, stream: IO[bytes]) -> _Progress | None:
        shown = _Progress(path, _size(stream))
        return shown if shown.on else None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pcapdiag")
def main() -> None:
    """Label every client-to-server TCP/TLS connection in a packet capture."""


@main.command()
@click.argument("captures", nargs=-1, metavar="CAPTURE...")
@click.option(
    "--side",
    "sides",
    multiple=True,
    metavar="NAME=FILE",
    help="A capture taken at a named point (repeatable; 'apiserver', 'webhook'...). Several captures "
    "of the same traffic are matched connection by connection to say where each one failed.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(STREAMS)),
    default="text",
    show_default=True,
    help="text for a terminal; markdown or html (-o report.html) for a ticket; json (one document) or "
    "jsonl (one line per connection, as decided); svg: the timeline alone (-o timeline.svg).",
)
@click.option("-o", "--output", type=_FILE, help="Write the report here.")
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
@click.option(
    "--k8s",
    "k8s_files",
    multiple=True,
    type=_FILE,
    metavar="FILE",
    help="kubectl get svc,endpoints,endpointslices,pods -A -o json (and validating/mutating webhook "
    "configurations) output: name every address, tie connections to their webhook (repeatable).",
)
@click.option("--redact", is_flag=True, help="Replace addresses and names by consistent pseudonyms.")
@click.option(
    "--show",
    type=click.Choice(SHOW),
    default="failing",
    show_default=True,
    help="text, markdown, html: failing lists the failing connections grouped by server and label and "
    "counts the others; all lists every connection (json and jsonl always hold every connection).",
)
@click.option("--all", "all_flows", is_flag=True, hidden=True, help="The same as --show all.")
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="native",
    show_default=True,
    help="What decodes the packets: pcapdiag's own readers, or tshark (pip install 'pcapdiag[tshark]'; "
    "slower; for formats and encapsulations the native reader does not decode, and as a cross-check).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Analyse several capture files in this many processes at once (one report, as with --jobs 1).",
)
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many packets.")
@click.option("--duration", type=click.FloatRange(min=0.001), help="Stop after this many seconds of capture.")
def analyze(
    captures: tuple[str, ...],
    sides: tuple[str, ...],
    k8s_files: tuple[str, ...],
    fmt: str,
    output: str | None,
    ports: tuple[int, ...],
    servers: tuple[str, ...],
    timeout_s: float,
    max_flows: int,
    redact: bool,
    show: str,
    all_flows: bool,
    count: int | None,
    duration: float | None,
    engine: str,
    jobs: int,
) -> NoReturn:
    """Read CAPTURE files (pcap, pcapng, gzip; '-' for stdin) and label every connection."""
    args = [CaptureArg(path, path.rsplit("/", 1)[-1]) for path in captures]
    for side in sides:
        name, eq, path = side.partition("=")
        if not eq or not name or not path:
            raise click.BadParameter(f"{side!r} is not NAME=FILE", param_hint="--side")
        args.append(CaptureArg(path, name, named=True))
    if not args:
        raise click.UsageError("give at least one CAPTURE (or --side NAME=FILE)")
    try:
        server_filters = tuple(ServerFilter.parse(s) for s in servers)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--server") from None
    inventory = _load_k8s(k8s_files)
    try:
        console = _Console(output)
    except OSError as exc:
        _error(f"{output}: cannot write: {exc.strerror}")
        sys.exit(ExitStatus.ERROR)
    request = AnalyzeRequest(
        captures=unique_names(args),
        options=Options(
            timeout_s=timeout_s,
            ports=frozenset(ports),
            servers=server_filters,
            max_flows=max_flows,
            fast_path=not os.environ.get(NO_FAST_PATH),
        ),
        limits=Limits(count=count, duration_s=duration),
        fmt=fmt,
        engine=engine,
        jobs=jobs,
        redact=redact,
        show="all" if all_flows else show,
        inventory=inventory,
        paint=_paint if _use_color(console.out.stream) else None,
        filters=" ".join([*(f"--port {p}" for p in ports), *(f"--server {s}" for s in servers)]),
    )
    outcome = analyze_request(request, console)
    console.out.close()
    sys.exit(outcome.status)


@main.command()
def labels() -> None:
    """Print the label vocabulary: what each label means on the wire and the error it produces."""
    for info in LABELS.values():
        click.echo(f"{info.label.value}\n  wire:  {info.wire}\n  error: {info.error}\n")


@main.command()
@click.argument("capture_path", metavar="CAPTURE")
@click.option("--label", "labels_", multiple=True, help="Connections with this label (repeatable).")
@click.option("--flow", "flow_ids", type=int, multiple=True, help="The connection with this id (repeatable).")
@click.option("-o", "--output", required=True, type=_FILE, help="Evidence capture to write.")
@click.option("--redact", is_flag=True, help="Pseudonyms for addresses; payload removed (TLS framing kept).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.001), default=10.0, show_default=True)
def extract(
    capture_path: str,
    labels_: tuple[str, ...],
    flow_ids: tuple[int, ...],
    output: str,
    redact: bool,
    timeout_s: float,
) -> NoReturn:
    """Write the packets of the chosen connections of CAPTURE to a small capture file."""
    known = {info.label.value for info in LABELS.values()}
    for label in labels_:
        if label not in known:
            raise click.BadParameter(
                f"{label!r} is not a label (see `pcapdiag labels`)", param_hint="--label"
            )
    if not labels_ and not flow_ids:
        raise click.UsageError("say which connections: --label LABEL or --flow ID")
    if capture_path == "-":
        raise click.BadParameter(
            "extract reads the capture twice: give a file, not '-'", param_hint="CAPTURE"
        )
    chosen: list[FlowReport] = []

    def keep(flow: FlowReport) -> None:
        if flow.label.value in labels_ or flow.id in flow_ids:
            chosen.append(flow)

    pseudonyms = Pseudonyms() if redact else None
    task = Task(capture_path, Options(timeout_s=timeout_s))
    try:
        with _open(capture_path) as stream:
            result = analyse_stream(
                stream, task, on_flow=keep, on_address=pseudonyms.see if pseudonyms is not None else None
            )
        if result.report is None:
            _error(f"{capture_path}: {result.problem}")
            sys.exit(ExitStatus.ERROR)
        if not chosen:
            _error(f"{capture_path}: no connection matched")
            sys.exit(ExitStatus.FAILING)
        selection = Selection(chosen, pseudonyms)
        with _open(capture_path) as stream:
            for frame in open_capture(stream, capture_path).frames():
                selection.take(frame)
    except CaptureError as exc:
        _error(f"{capture_path}: {exc}")
        sys.exit(ExitStatus.ERROR)
    except OSError as exc:
        _error(f"{exc.filename or capture_path}: {exc.strerror or exc}")
        sys.exit(ExitStatus.ERROR)
    try:
        with open(output, "wb") as out:
            out.write(selection.capture())
    except OSError as exc:
        _error(f"{output}: cannot write: {exc.strerror}")
        sys.exit(ExitStatus.ERROR)
    click.echo(f"{output}: {selection.summary()}", err=True)
    sys.exit(ExitStatus.OK)
