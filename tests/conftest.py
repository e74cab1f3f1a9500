"""Shared pytest fixtures: paths to the repository's captures and a helper that analyses one."""

from __future__ import annotations

import pathlib

import pytest

from pcapdiag.capture import open_capture
from pcapdiag.pipeline import CaptureAnalysis, Options
from pcapdiag.report import CaptureReport, FlowReport

ROOT = pathlib.Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"


def analyse(path: pathlib.Path, options: Options | None = None) -> tuple[CaptureReport, list[FlowReport]]:
    """Run the whole pipeline over one capture file, in process."""
    with path.open("rb") as stream:
        analysis = CaptureAnalysis(str(path), options or Options())
        report = analysis.run(open_capture(stream, str(path)))
    return report, analysis.flows


@pytest.fixture
def analyse_file() -> object:
    """The analyse() helper as a fixture."""
    return analyse
