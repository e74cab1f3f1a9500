"""The "no input can break it" contract as one function: what any bytes may make the pipeline do."""

from __future__ import annotations

import io
from dataclasses import dataclass

from pcapdiag.classify import Label
from pcapdiag.pipeline import Options, assemble
from pcapdiag.report import CaptureReport, FlowReport, render_json, render_text
from pcapdiag.runner import Task, analyse_stream

NAME = "fuzz-input"
"""The name the input is analysed under (it only appears in messages)."""


class ContractViolation(AssertionError):
    """The pipeline returned, but what it returned breaks an invariant of the report."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one input did: refused at open (with the CaptureError text), or analysed into a report."""

    open_error: str | None
    report: CaptureReport | None
    flows: int


def check(data: bytes, render: bool = False) -> Outcome:
    """Analyse ``data`` as the CLI does a file (runner.analyse_stream).

    Returns when the input was refused with CaptureError at open, or analysed into a
    CaptureReport; raises ContractViolation when the report breaks an invariant, and lets any
    other exception (the contract says there is none) propagate to the caller. With ``render``
    the report is also rendered as text and JSON, as the CLI prints it (beyond the contract).
    """
    flows: list[FlowReport] = []
    result = analyse_stream(io.BytesIO(data), Task(NAME, Options()), on_flow=flows.append)
    report = result.report
    if report is None:
        return Outcome(open_error=result.problem, report=None, flows=0)
    _check_report(report, len(data), report.format.endswith("+gzip"))
    for flow in flows:
        if not isinstance(flow.label, Label):
            raise ContractViolation(f"flow {flow.id} has label {flow.label!r}")
    if render:
        whole = assemble([report], flows, Options())
        render_text(whole)
        render_json(whole)
    return Outcome(open_error=None, report=report, flows=len(flows))


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
