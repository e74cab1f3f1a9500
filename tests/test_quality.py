"""The code standards CI holds us to: mypy --strict, ruff, one-way layers, and documented labels."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from pcapdiag.classify import LABELS, Label


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def test_mypy_strict() -> None:
    result = _run(sys.executable, "-m", "mypy", "--strict", "analyzer/pcapdiag")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff() -> None:
    result = _run(sys.executable, "-m", "ruff", "check", "analyzer", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_layers() -> None:
    exe = shutil.which("lint-imports", path=str(ROOT / ".venv" / "bin")) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports (import-linter) is not installed: pip install -e '.[test]'")
    result = _run(exe)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_label_table_matches_the_code() -> None:
    text = (ROOT / "README.md").read_text()
    table = text.split("<!-- labels -->")[1].split("<!-- /labels -->")[0]
    rows = re.findall(r"^\| `([a-z-]+)` \| (.+?) \|", table, re.M)
    assert [name for name, _ in rows] == [label.value for label in Label]
    for name, wire in rows:
        assert wire.replace("`", "") == LABELS[Label(name)].wire
