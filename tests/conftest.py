"""Shared pytest fixtures: paths to the repository's captures and a helper that analyses one."""

from __future__ import annotations

import os
import pathlib
import pty
import subprocess

import pytest

import pcapdiag
from pcapdiag.pipeline import Options, Paired
from pcapdiag.report import CaptureReport, FlowReport

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONTRACT_LABELS = (
    "ok",
    "refused",
    "syn-timeout",
    "unreachable",
    "tls-handshake-timeout",
    "not-tls",
    "cert-rejected",
    "tls-failed",
    "awaiting-headers",
    "server-closed",
    "http-error",
    "incomplete",
    "partial",
)
"""The label vocabulary, spelled out as the issue's contract (not imported from the code under test)."""
CAPTURES = ROOT / "captures"


def analyse(path: pathlib.Path, options: Options | None = None) -> tuple[CaptureReport, list[FlowReport]]:
    """Run the whole pipeline over one capture file, in process (the library's analyze())."""
    report = pcapdiag.analyze(path, options)
    return report.captures[0], list(report.flows)


def analyse_paired(
    paths: list[pathlib.Path], names: list[str] | None = None, options: Options | None = None
) -> Paired:
    """Run the pipeline over several captures of the same traffic and match them, in process."""
    if names is None:
        report = pcapdiag.analyze(paths, options)
    else:
        assert len(set(names)) == len(names)
        report = pcapdiag.analyze([], options, sides=dict(zip(names, paths, strict=True)))
    return Paired(list(report.flows), list(report.captures), report.clock_offsets)


@pytest.fixture
def analyse_file() -> object:
    """The analyse() helper as a fixture."""
    return analyse


def run_on_terminal(cmd: list[str], *, stdout_tty: bool, env: dict[str, str] | None = None) -> bytes:
    """Run ``cmd`` with stderr (and stdout if ``stdout_tty``) on a pseudo-terminal; what it wrote there."""
    main_fd, sub_fd = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=sub_fd if stdout_tty else subprocess.DEVNULL, stderr=sub_fd, env=env)
    os.close(sub_fd)
    out = b""
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=300)
    os.close(main_fd)
    return out
