"""The "no input can break it" contract as one function: what any bytes may make the pipeline do."""

from __future__ import annotations

import io
from dataclasses import dataclass

from pcapdiag.capture import CaptureError, open_capture
from pcapdiag.classify import Label
from pcapdiag.pipeline import CaptureAnalysis, Options, assemble
from pcapdiag.report import CaptureReport, render_json, render_text

NAME = "fuzz-input"
"""The name given to open_capture() and CaptureAnalysis (it only appears in messages)."""


class ContractViolation(AssertionError):
    """The pipeline returned, but what it returned breaks an invariant of the report."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one input did: refused at open (with the CaptureError text), or analysed into a report."""

    open_error: str | None
    report: CaptureReport | None
    flows: int


def check(data: bytes, render: bool = False) -> Outcome:
    """Run open_capture() and CaptureAnalysis.run() on ``data`` as the CLI does on a file.

    Returns when the input was refused with CaptureError at open, or analysed into a
    CaptureReport; raises ContractViolation when the report breaks an invariant, and lets any
    other exception (the contract says there is none) propagate to the caller. With ``render``
    the report is also rendered as text and JSON, as the CLI prints it (beyond the contract).
    """
    try:
        capture = open_capture(io.BytesIO(data), NAME)
    except CaptureError as exc:
        return Outcome(open_error=str(exc), report=None, flows=0)
    analysis = CaptureAnalysis(NAME, Options())
    report = analysis.run(capture)
    _check_report(report, len(data), capture.gzipped)
    for flow in analysis.flows:
        if not isinstance(flow.label, Label):
            raise ContractViolation(f"flow {flow.id} has label {flow.label!r}")
    if render:
        whole = assemble([report], analysis.flows, Options())
        render_text(whole)
        render_json(whole)
    return Outcome(open_error=None, report=report, flows=len(analysis.flows))


def _check_report(report: object, size: int, gzipped: bool) -> None:
    if not isinstance(report, CaptureReport):
        raise ContractViolation(f"run() returned {type(report).__name__}, not a CaptureReport")
    if report.error is not None and not isinstance(report.error, str):
        raise ContractViolation(f"report.error is {report.error!r}")
    if not 0 <= report.tcp_packets <= report.packets or not 0 <= report.malformed <= report.packets:
        raise ContractViolation(
            f"counts out of order: packets={report.packets} tcp={report.tcp_packets} "
            f"malformed={report.malformed}"
        )
    if report.truncated_at is not None and (
        report.truncated_at < 0 or (not gzipped and report.truncated_at >= size)
    ):
        raise ContractViolation(f"truncated_at={report.truncated_at} outside a {size}-byte input")
