"""The library entry point pcapdiag.analyze() and the driver's limits, against the command line."""

from __future__ import annotations

import io
import json
import pathlib

import pytest

import pcapdiag
from clirun import run_cli
from conftest import CAPTURES
from pcapdiag.drive import Limits

REFUSED = CAPTURES / "refused" / "client-eth.pcap"
OK = CAPTURES / "ok-tls13" / "client-eth.pcap"
KEEPALIVE = CAPTURES / "keepalive" / "client-eth.pcap"


def _cli_flows(*args: str) -> list[dict[str, object]]:
    done = run_cli("analyze", "--format", "json", *args)
    flows = json.loads(done.stdout)["flows"]
    assert isinstance(flows, list)
    return flows


def test_a_path_a_stream_and_the_cli_give_the_same_connections() -> None:
    by_path = pcapdiag.analyze(REFUSED)
    with REFUSED.open("rb") as stream:
        by_stream = pcapdiag.analyze(stream)
    assert [f.label for f in by_path.flows] == [f.label for f in by_stream.flows]
    assert by_path.flows and all(f.label.value == "refused" for f in by_path.flows)
    assert by_path.captures[0].path == str(REFUSED)
    assert by_stream.captures[0].path == "<stream>"
    cli = _cli_flows(str(REFUSED))
    assert [(f["label"], f["first_frame"]) for f in cli] == [
        (f.label.value, f.first_frame) for f in by_path.flows
    ]


def test_several_captures_are_matched_and_sides_name_them() -> None:
    client, server = CAPTURES / "refused" / "client-eth.pcap", CAPTURES / "refused" / "server-eth.pcap"
    report = pcapdiag.analyze([], sides={"apiserver": client, "webhook": server})
    assert [c.side for c in report.captures] == ["apiserver", "webhook"]
    assert [c.role for c in report.captures] == ["client", "server"]
    assert report.flows and all(f.match is not None for f in report.flows)


def test_an_unreadable_capture_raises(tmp_path: pathlib.Path) -> None:
    with pytest.raises(pcapdiag.AnalysisError) as info:
        pcapdiag.analyze(tmp_path / "missing.pcap")
    assert info.value.problems[0][0].endswith("missing.pcap")
    with pytest.raises(pcapdiag.AnalysisError, match="not a pcap"):
        pcapdiag.analyze(io.BytesIO(b"hello world, not a capture"))


def test_a_capture_that_breaks_off_keeps_what_was_decided() -> None:
    data = REFUSED.read_bytes()
    whole = pcapdiag.analyze(REFUSED)
    report = pcapdiag.analyze(io.BytesIO(data[: len(data) - 7]))
    assert report.captures[0].truncated_at is not None
    before = [f for f in whole.flows if f.last_frame < whole.captures[0].packets]
    assert before and [f.label for f in report.flows][: len(before)] == [f.label for f in before]


@pytest.mark.parametrize("count", [1, 5, 12])
def test_count_stops_at_that_packet_as_the_cli_does(count: int) -> None:
    report = pcapdiag.analyze(KEEPALIVE, limits=Limits(count=count))
    assert report.captures[0].packets == count
    assert report.captures[0].stopped == f"--count {count} reached"
    cli = _cli_flows(str(KEEPALIVE), "--count", str(count))
    assert [f["label"] for f in cli] == [f.label.value for f in report.flows]


def test_limits_take() -> None:
    s = 1_000_000_000
    stamps = [0, s // 2, s, 2 * s, 3 * s]
    assert Limits().take(0, None, stamps) == (5, None)
    assert Limits(count=3).take(0, None, stamps) == (3, "--count 3 reached")
    assert Limits(count=3).take(1, 0, stamps) == (2, "--count 3 reached")
    assert Limits(count=10).take(0, None, stamps) == (5, None)
    # A packet at or past --duration after the first is not analysed.
    assert Limits(duration_s=1).take(0, None, stamps) == (2, "--duration 1 s reached")
    assert Limits(duration_s=1).take(0, -s, stamps) == (0, "--duration 1 s reached")
    # Both: whichever comes first; the count-th packet is analysed even when the duration ends there.
    assert Limits(count=2, duration_s=1).take(0, None, stamps) == (2, "--count 2 reached")
    assert Limits(count=4, duration_s=1).take(0, None, stamps) == (2, "--duration 1 s reached")
    assert Limits(duration_s=2).quiet_stop(0, 2 * s) == "--duration 2 s reached"
    assert Limits(duration_s=2).quiet_stop(0, 2 * s - 1) is None
    assert Limits().quiet_stop(0, 10 * s) is None
