"""The library entry point: ``pcapdiag.analyze(paths_or_stream, options)`` gives the whole Report."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import IO

from pcapdiag.application import AnalyzeRequest, CaptureArg, Outcome, Progress, analyze_request, unique_names
from pcapdiag.drive import Limits
from pcapdiag.k8s import Inventory
from pcapdiag.pipeline import Options
from pcapdiag.report import Report
from pcapdiag.runner import open_path

STREAM_NAME = "<stream>"
"""What a capture given as an open stream is called in the report."""

Capture = str | os.PathLike[str] | IO[bytes]


class AnalysisError(Exception):
    """A capture could not be read at all (missing, not a capture); ``problems`` lists (path, why)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{path}: {why}" for path, why in self.problems))


class _Quiet:
    """A console that writes nothing: the caller gets the Report itself."""

    def __init__(self, streams: Mapping[str, IO[bytes]]) -> None:
        self._streams = streams

    def write(self, text: str, flush: bool = False) -> None:
        """Nothing is written."""

    @property
    def closed(self) -> bool:
        return False

    def error(self, message: str) -> None:
        """Problems are in the report (or raised), not printed."""

    def stop_reason(self) -> str | None:
        return None

    def open(self, path: str) -> IO[bytes]:
        stream = self._streams.get(path)
        return stream if stream is not None else open_path(path)

    def progress(self, path: str, stream: IO[bytes]) -> Progress | None:
        return None


def analyze(
    captures: Capture | Sequence[Capture],
    options: Options | None = None,
    *,
    limits: Limits | None = None,
    engine: str = "native",
    k8s: Inventory | None = None,
    redact: bool = False,
    sides: Mapping[str, Capture] | None = None,
    jobs: int = 1,
) -> Report:
    """Analyse one capture (a path, or an open binary stream) or several captures of the same traffic
    (matched connection by connection; ``sides`` names them, as --side does), and give the whole
    report: every connection, in the order each was decided, and the captures' descriptions.

    Raises AnalysisError when a capture cannot be read at all; a capture that breaks off part-way
    is analysed up to the break, which its ``error`` says.
    """
    given: Sequence[Capture]
    if isinstance(captures, str | os.PathLike) or not isinstance(captures, Sequence):
        given = [captures]
    else:
        given = captures
    args: list[CaptureArg] = []
    streams: dict[str, IO[bytes]] = {}

    def arg(capture: Capture, name: str | None) -> CaptureArg:
        if isinstance(capture, str | os.PathLike):
            path = os.fspath(capture)
            return CaptureArg(path, name or path.rsplit("/", 1)[-1], name is not None)
        path = STREAM_NAME if not streams else f"{STREAM_NAME}{len(streams) + 1}"
        streams[path] = capture
        return CaptureArg(path, name or path, name is not None)

    for capture in given:
        args.append(arg(capture, None))
    for name, capture in (sides or {}).items():
        args.append(arg(capture, name))
    request = AnalyzeRequest(
        captures=unique_names(args),
        options=options or Options(),
        limits=limits or Limits(),
        fmt=None,
        engine=engine,
        jobs=jobs,
        redact=redact,
        inventory=k8s,
        keep_flows=True,
    )
    outcome: Outcome = analyze_request(request, _Quiet(streams))
    if outcome.unreadable or outcome.report is None:
        raise AnalysisError(outcome.unreadable or [("", "nothing was analysed")])
    return outcome.report
