"""The command line run in this process (click's CliRunner), with what a subprocess run returns."""

from __future__ import annotations

import os
import signal
import subprocess
import traceback
from collections.abc import Mapping

from click.testing import CliRunner

from pcapdiag.cli import main


def run_cli(
    *args: str,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """``pcapdiag ARGS`` in process: exit status, stdout and stderr as bytes. An exception that
    escapes the command is written to stderr as a traceback, as the interpreter would, with status 1."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        result = CliRunner().invoke(main, list(args), input=stdin, env=dict(env or {}))
    finally:
        os.chdir(here)
        for s, handler in handlers.items():
            signal.signal(s, handler)
    stderr = result.stderr_bytes or b""
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        stderr += "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).encode()
        code = 1
    return subprocess.CompletedProcess(["pcapdiag", *args], code, result.stdout_bytes, stderr)


def run_cli_text(
    *args: str, env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """run_cli() with stdout and stderr decoded (as ``subprocess.run(..., text=True)`` gives them)."""
    done = run_cli(*args, env=env, cwd=cwd)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())
