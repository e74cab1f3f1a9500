"""The command line (click): the only module that does I/O, handles signals or exits."""

from __future__ import annotations

import enum
import ipaddress
import json
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
from pcapdiag.capture.writer import pcap_header, pcap_record, pcapng_header, pcapng_record
from pcapdiag.classify import LABELS
from pcapdiag.decode import IcmpError, TcpSegment, decode
from pcapdiag.flow import DEFAULT_MAX_FLOWS
from pcapdiag.flow.key import FlowKey, canonical
from pcapdiag.k8s import Inventory, K8sDataError
from pcapdiag.pipeline import CaptureAnalysis, Options, ServerFilter, assemble, pair
from pcapdiag.report import CaptureReport, ClockOffset, FlowReport
from pcapdiag.report.redact import Pseudonyms
from pcapdiag.report.stream import STREAMS, make_renderer
from pcapdiag.runner import (
    BATCH,
    ENGINES,
    FileResult,
    Task,
    Workers,
    analyse_path,
    analyse_stream,
    is_regular_file,
    open_path,
    read_frames,
)
from pcapdiag.tls.scrub import StreamScrubber
from pcapdiag.tshark import TsharkUnavailable, check_available

LIVE_POLL_S = 0.2
"""How often a quiet live stream moves the capture clock on."""
NO_FAST_PATH = "PCAPDIAG_NO_FAST_PATH"
"""Set (to anything but empty) in the environment, it sends every packet down the general path:
bench/compare.py checks that the labels are the same."""


class ExitStatus(enum.IntEnum):
    """Exit codes: a contract other tools rely on."""

    OK = 0  # no failing connection
    FAILING = 1  # at least one connection labelled anything but ok, incomplete or partial
    ERROR = 2  # usage error or unreadable input (one line on stderr names the file and problem)
    CUT = 3  # none failed, but the snaplen cut connections it could not decide: not an all-clear


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


def _check_tshark(paths: list[str]) -> None:
    """--engine tshark: pyshark and tshark must be installed, and tshark reads files, not stdin."""
    try:
        check_available()
    except TsharkUnavailable as exc:
        _error(str(exc))
        sys.exit(ExitStatus.ERROR)
    for path in paths:
        if not is_regular_file(path):
            what = "stdin ('-')" if path == "-" else f"{path} (a pipe or device)"
            _error(f"--engine tshark reads capture files, not {what}: write the capture to a file first")
            sys.exit(ExitStatus.ERROR)


def _size(stream: IO[bytes]) -> int | None:
    """A regular file's size in bytes (for progress), else None."""
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


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


def _use_color(stream: IO[str]) -> bool:
    """Colour for a terminal, unless NO_COLOR is set (https://no-color.org)."""
    return not os.environ.get("NO_COLOR") and stream.isatty()


class _Progress:
    """A progress line on stderr (bytes read of total) for a large file read on a terminal."""

    MIN_BYTES = 16 * 1024 * 1024

    def __init__(self, path: str, total: int | None) -> None:
        self.path = path
        self.total = total
        self.on = bool(total and total >= self.MIN_BYTES and sys.stderr.isatty())
        self._last = 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.on or now - self._last < 0.2:
            return
        self._last = now
        assert self.total
        frac = min(done / self.total, 1.0)
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\r{self.path}: [{bar:<30}] {frac:4.0%} {done >> 20} of {self.total >> 20} MiB")
        sys.stderr.flush()

    def close(self) -> None:
        if self.on:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _read_file(analysis: CaptureAnalysis, capture: Capture, stop: _Stop, total: int | None = None) -> None:
    progress = _Progress(analysis.path, None if capture.gzipped else total)
    try:
        read_frames(analysis, capture, lambda: stop.reason, lambda: progress.update(capture.bytes_read))
    finally:
        progress.close()


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
    "jsonl (one line per connection, as decided).",
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
@click.option("--all", "all_flows", is_flag=True, help="markdown/html: draw healthy connections too.")
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
    all_flows: bool,
    count: int | None,
    duration: float | None,
    engine: str,
    jobs: int,
) -> NoReturn:
    """Read CAPTURE files (pcap, pcapng, gzip; '-' for stdin) and label every connection."""
    pseudonyms = Pseudonyms() if redact else None
    see = pseudonyms.see if pseudonyms is not None else None
    named: list[tuple[str, str, bool]] = [(path, path.rsplit("/", 1)[-1], False) for path in captures]
    for side in sides:
        name, eq, path = side.partition("=")
        if not eq or not name or not path:
            raise click.BadParameter(f"{side!r} is not NAME=FILE", param_hint="--side")
        named.append((path, name, True))
    if not named:
        raise click.UsageError("give at least one CAPTURE (or --side NAME=FILE)")
    if len({name for _, name, _ in named}) < len(named):  # the same file name in two directories
        named = [
            (path, path if sum(n == name for _, n, _ in named) > 1 else name, given)
            for path, name, given in named
        ]
    paired_mode = len(named) > 1
    if engine == "tshark":
        _check_tshark([path for path, _, _ in named])
    inventory = _load_k8s(k8s_files)
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
        fast_path=not os.environ.get(NO_FAST_PATH),
    )
    try:
        out = _Out(output)
    except OSError as exc:
        _error(f"{output}: cannot write: {exc.strerror}")
        sys.exit(ExitStatus.ERROR)
    stop = _Stop()
    stop.install()
    streaming = any(not is_regular_file(path) for path, _, _ in named)
    renderer = make_renderer(fmt, color=_use_color(out.stream), all_flows=all_flows, live=streaming)
    live = False

    def emit(flow: FlowReport) -> None:
        out.write(renderer.flow(pseudonyms.apply(flow) if pseudonyms else flow), flush=live)
        if out.closed_pipe:
            stop.reason = "stdout closed"

    reports: list[CaptureReport] = []
    results: list[FileResult] = []
    names: list[str] = []
    given: list[bool] = []
    by_label: Counter[str] = Counter()
    untracked = duplicates = cut = 0
    bad_input = False

    def read_here(task: Task) -> FileResult:
        """Analyse one capture in this process (stdin, a live stream, or every file with --jobs 1)."""
        nonlocal live
        if task.engine == "tshark":
            return analyse_path(task, lambda: stop.reason, emit, see)
        try:
            stream = _open(task.path)
        except OSError as exc:
            return FileResult(task.path, None, exc.strerror or str(exc))
        live = _is_live(stream)

        def read(analysis: CaptureAnalysis, capture: Capture) -> None:
            if live:
                _read_live(analysis, capture, stop)
            else:
                _read_file(analysis, capture, stop, _size(stream))

        try:
            return analyse_stream(stream, task, read, lambda: stop.reason, emit, see)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()

    tasks = [
        Task(path, options, index=i, paired=paired_mode, engine=engine, k8s=inventory, redact=redact)
        for i, (path, _, _) in enumerate(named)
    ]
    parallel = jobs > 1 and paired_mode
    workers = Workers(min(jobs, len(tasks))) if parallel else None
    try:
        futures = {
            t.index: workers.submit(t) for t in tasks if workers is not None and is_regular_file(t.path)
        }
        for task, (path, name, user_named) in zip(tasks, named, strict=True):
            if workers is not None and task.index in futures:
                got = workers.result(futures[task.index], task, lambda: stop.reason)
                if got is None:  # stopped before a worker started it
                    continue
            elif stop.reason is not None:
                continue
            else:
                got = read_here(task)
            if see is not None:
                for address in got.addresses:  # a worker's, in the order its capture holds them
                    see(address)
            report = got.report
            if report is None:
                _error(f"{path}: {got.problem}")
                bad_input = True
                continue
            reports.append(report)
            results.append(got.reindexed(len(results)))
            names.append(name)
            given.append(user_named)
            by_label.update(got.by_label)
            untracked += got.untracked
            duplicates += got.duplicates
            cut += got.cut
            for linktype, n in report.undecoded_link_types.items():
                frames = f"{n} frame{'s' * (n != 1)}"
                kind = f"link type {linktype} ({linktype_name(linktype)})"
                _error(f"{path}: {kind} is not decoded: {frames} skipped")
                bad_input = True
            if report.error:
                _error(f"{path}: {report.error}")
                bad_input = True
            elif report.truncated_at is not None:
                _error(f"{path}: last record cut off at byte offset {report.truncated_at} (ignored)")
    finally:
        if workers is not None:
            workers.close()
    offsets: tuple[ClockOffset, ...] = ()
    by_where: Counter[str] = Counter()
    if paired_mode and stop.reason != "stdout closed":
        if len(results) > 1:
            paired = pair(results, reports, names, given)
            flows, reports, offsets = paired.flows, paired.captures, paired.offsets
            by_label = Counter(f.label.value for f in flows)
            by_where = Counter(f.where for f in flows if f.where and f.label.failing)
        else:
            flows = [f for r in results for f in r.flows]
        for flow in flows:
            emit(flow)
            if stop.reason == "stdout closed":
                break
    findings = inventory.checks() if inventory is not None else None
    if pseudonyms:
        reports = pseudonyms.apply(reports)
        findings = pseudonyms.apply(findings)
        offsets = pseudonyms.apply(offsets)
    result = assemble(
        reports,
        [],
        options,
        untracked=untracked,
        duplicates=duplicates,
        by_label=by_label,
        redacted=redact,
        offsets=offsets,
        by_where=by_where,
        kubernetes_findings=findings,
        cut_undecided=cut,
    )
    out.write(renderer.end(result))
    out.close()
    if bad_input:
        sys.exit(ExitStatus.ERROR)
    if result.failing_count:
        sys.exit(ExitStatus.FAILING)
    sys.exit(ExitStatus.CUT if result.cut_undecided else ExitStatus.OK)


@main.command()
def labels() -> None:
    """Print the label vocabulary: what each label means on the wire and the error it produces."""
    for info in LABELS.values():
        click.echo(f"{info.label.value}\n  wire:  {info.wire}\n  error: {info.error}\n")


def _payload_offset(data: bytes, payload: bytes) -> int:
    """Where a segment's payload starts in its frame (frames may carry link-layer padding)."""
    if not payload or data.endswith(payload):
        return len(data) - len(payload)
    found = data.rfind(payload)
    return found if found >= 0 else len(data)


def _redact_frame(
    data: bytes, seg: TcpSegment | None, pseudonyms: Pseudonyms, addresses: set[bytes], scrubbed: bytes | None
) -> bytes:
    """The frame with every known address replaced by its pseudonym and the payload scrubbed."""
    start = _payload_offset(data, seg.payload) if seg is not None else len(data)
    head = data[:start]
    for addr in sorted(addresses, key=len, reverse=True):
        head = head.replace(addr, pseudonyms.ip_packed(addr))
    body = scrubbed if scrubbed is not None else data[start:]
    return head + body + data[start + len(body) :]


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
    try:
        with _open(capture_path) as stream:
            analysis = CaptureAnalysis(
                capture_path,
                Options(timeout_s=timeout_s),
                on_flow=keep,
                keep_flows=False,
                on_address=pseudonyms.see if pseudonyms is not None else None,
            )
            analysis.run(open_capture(stream, capture_path))
        if not chosen:
            _error(f"{capture_path}: no connection matched")
            sys.exit(ExitStatus.FAILING)
        wanted = {
            canonical(_packed(f.client.ip), f.client.port, _packed(f.server.ip), f.server.port): f
            for f in chosen
        }
        ranges = [(f.first_frame, f.last_frame) for f in chosen]
        addresses = {_packed(f.client.ip) for f in chosen} | {_packed(f.server.ip) for f in chosen}
        scrubbers: dict[tuple[FlowKey, bool], tuple[StreamScrubber, list[int | None]]] = {}
        kept: list[tuple[Frame, bytes]] = []
        with _open(capture_path) as stream:
            for frame in open_capture(stream, capture_path).frames():
                if not any(lo <= frame.number <= hi for lo, hi in ranges):
                    continue
                d = decode(frame.linktype, frame.data)
                if isinstance(d, TcpSegment):
                    key = canonical(d.src, d.sport, d.dst, d.dport)
                    if key not in wanted:
                        continue
                    data = frame.data
                    if pseudonyms is not None:
                        scrubber, base = scrubbers.setdefault(
                            (key, (d.src, d.sport) < (d.dst, d.dport)), (StreamScrubber(), [None])
                        )
                        if d.flags & 0x02:
                            base[0] = (d.seq + 1) & 0xFFFFFFFF
                        elif base[0] is None:
                            base[0] = d.seq
                        offset = (d.seq - base[0]) & 0xFFFFFFFF if d.payload and base[0] is not None else 0
                        scrubbed = scrubber.scrub(offset, d.payload) if d.payload else None
                        data = _redact_frame(data, d, pseudonyms, addresses, scrubbed)
                    kept.append((frame, data))
                elif isinstance(d, IcmpError):
                    key = canonical(d.quoted_src, d.quoted_sport, d.quoted_dst, d.quoted_dport)
                    if key in wanted:
                        data = frame.data
                        if pseudonyms is not None:
                            addresses.add(d.reporter)
                            data = _redact_frame(data, None, pseudonyms, addresses, None)
                        kept.append((frame, data))
    except CaptureError as exc:
        _error(f"{capture_path}: {exc}")
        sys.exit(ExitStatus.ERROR)
    except OSError as exc:
        _error(f"{exc.filename or capture_path}: {exc.strerror or exc}")
        sys.exit(ExitStatus.ERROR)
    linktypes = sorted({frame.linktype for frame, _ in kept})
    if len(linktypes) == 1:
        blob = pcap_header(linktypes[0]) + b"".join(pcap_record(f, data) for f, data in kept)
    else:
        index = {lt: i for i, lt in enumerate(linktypes)}
        blob = pcapng_header(linktypes) + b"".join(
            pcapng_record(f, index[f.linktype], data) for f, data in kept
        )
    try:
        with open(output, "wb") as out:
            out.write(blob)
    except OSError as exc:
        _error(f"{output}: cannot write: {exc.strerror}")
        sys.exit(ExitStatus.ERROR)
    what = ", ".join(f"#{f.id} {f.label.value}" for f in chosen[:10]) + (" ..." if len(chosen) > 10 else "")
    click.echo(f"{output}: {len(kept)} packets of {len(chosen)} connection(s) ({what})", err=True)
    sys.exit(ExitStatus.OK)


def _packed(ip: str) -> bytes:
    return ipaddress.ip_address(ip).packed
