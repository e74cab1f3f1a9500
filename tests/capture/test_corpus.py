"""Real captures (Zeek's regression traces): frame counts and link types agree with scapy's census."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from pcapdiag.capture import open_capture

CORPUS = Path(os.environ.get("PCAPDIAG_ZEEK_CORPUS", "/work/shared/corpus/zeek"))
TRACES_TSV = CORPUS / "TRACES.tsv"


def _traces() -> list[dict[str, str]]:
    if not TRACES_TSV.exists():
        return []
    with TRACES_TSV.open(newline="") as tsv:
        return list(csv.DictReader(tsv, delimiter="\t"))


TRACES = _traces()
pytestmark = pytest.mark.skipif(not TRACES, reason=f"no Zeek trace corpus at {CORPUS}")


@pytest.mark.parametrize("row", TRACES, ids=[row["trace"] for row in TRACES])
def test_trace_reads_completely(row: dict[str, str]) -> None:
    path = CORPUS / row["trace"]
    with path.open("rb") as stream:
        capture = open_capture(stream, str(path))
        count = sum(1 for _ in capture.frames())
    assert capture.format.startswith(row["format"])
    assert count == int(row["packets"])
    assert capture.truncated is None
    assert capture.bytes_read == path.stat().st_size
    expected = {int(item.split("=")[0]) for item in row["linktypes"].split(",")}
    assert capture.link_types == expected
