"""A dial is not decided while its next SYN may still come: long dial budgets on scapy-built captures.

Linux retransmits an unanswered SYN on a schedule (wire-facts §4.3): classic SYNs at 0, 1, 3, 7, 15,
31, 63 s (kernel give-up at 127 s), linear ones at 0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s (131 s). A
client whose budget is 30 s (the dialer, Client.Timeout) or more stays silent 16 s after its SYN at
15 s: the connection must be decided only once the next SYN is overdue, so every SYN is counted and
the give-up is read from the SYN that never came. Each capture runs on with another connection's
packets every second, as a busy capture or a live pipe would, so the sweep (not the end of the file)
decides the dial.
"""

from __future__ import annotations

import pathlib

import pytest

from builders import write_pcap
from conversation import Conversation
from pcapdiag.capture import RecordBlock, open_capture
from pcapdiag.classify import SynSchedule, Timer
from pcapdiag.classify.timers import LONGEST_SYN_HOLD_NS, next_syn_deadline
from pcapdiag.flow import HalfOpen
from pcapdiag.pipeline import SWEEP_NS, Engine, Options
from pcapdiag.report import FlowReport

NS = 1_000_000_000
CLASSIC = (0, 1, 3, 7, 15, 31, 63)
LINEAR = (0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67)
LATE = 0.004
"""Each SYN a little later than its schedule, per second since the first (the timer wheel fires late)."""


def _at(t: float) -> float:
    return t + LATE * t


def _capture(tmp_path: pathlib.Path, sent: tuple[float, ...], end: float) -> pathlib.Path:
    dial = Conversation()
    for t in sent:
        dial.syn(_at(t))
    other = Conversation(client=("198.18.0.9", 49999), server=("198.19.0.9", 8080))
    other.handshake(0.5)
    t = 1.5
    while t < end:
        other.ack(t, to_server=True)
        t += 1.0
    records = sorted(dial.records + other.records, key=lambda r: r.ts_ns)
    return write_pcap(tmp_path / "dial.pcap", records)


def _decided(
    path: pathlib.Path, options: Options | None = None, probe: float | None = None
) -> tuple[FlowReport, float, Engine, object]:
    """The dial's report and the capture time (s since its first SYN) of the packet whose sweep
    decided it, reading one frame at a time as a live stream does; also what the table held for
    it at ``probe`` s."""
    decided: list[tuple[FlowReport, float]] = []
    engine = Engine(str(path), options or Options())
    flows: list[FlowReport] = []
    held: object = None
    with path.open("rb") as stream:
        capture = open_capture(stream, str(path))
        first = None
        for frame in capture.frames():
            first = frame.ts_ns if first is None else first
            block = RecordBlock(
                frame.number,
                [frame.ts_ns],
                [frame.linktype],
                [frame.data],
                [frame.orig_len],
                [frame.interface],
            )
            flows += [d.flow for d in engine.feed(block)]
            mine = [f for f in flows if f.client.port == 40000]
            if mine and not decided:
                decided.append((mine[0], (frame.ts_ns - first) / NS))
            if probe is not None and held is None and frame.ts_ns - first >= probe * NS:
                held = next((c for c in engine.table.open.values() if c.client[1] == 40000), False)
        flows += [d.flow for d in engine.close(capture)[0]]
    assert len([f for f in flows if f.client.port == 40000]) == 1, "one connection, never split"
    assert decided, "decided while the capture ran on, not at its end"
    return decided[0][0], decided[0][1], engine, held


CASES = [
    # schedule, budget: the SYNs sent before it, the next SYN due, and (from the dial's first SYN) when
    # that SYN is overdue: its RTO plus the timer wheel's 1/8, a tick and half a second of path slack.
    pytest.param(CLASSIC, 10, id="classic-10s"),
    pytest.param(CLASSIC, 30, id="classic-30s"),
    pytest.param(CLASSIC, 60, id="classic-60s"),
    pytest.param(LINEAR, 10, id="linear-10s"),
    pytest.param(LINEAR, 30, id="linear-30s"),
    pytest.param(LINEAR, 60, id="linear-60s"),
]


@pytest.mark.parametrize(("schedule", "budget"), CASES)
def test_every_syn_counted_and_the_give_up_read_from_the_missing_one(
    tmp_path: pathlib.Path, schedule: tuple[int, ...], budget: int
) -> None:
    sent = tuple(t for t in schedule if t < budget)
    nxt = schedule[len(sent)]
    f, at, analysis, _ = _decided(_capture(tmp_path, sent, end=200))
    t = f.timing
    assert t is not None and f.label.value == "syn-timeout"
    assert t.syn_schedule is (SynSchedule.CLASSIC if schedule is CLASSIC else SynSchedule.LINEAR)
    assert t.syn_count == len(sent)
    assert t.syn_times_s == pytest.approx(tuple(_at(s) for s in sent))
    assert t.gave_up_s == pytest.approx((_at(sent[-1]), _at(sent[-1]) + nxt - sent[-1]))
    assert analysis.table.late_packets == 0, "no SYN taken for a straggler of a decided connection"
    wait = nxt - sent[-1]
    overdue = _at(sent[-1]) + wait * 1.125 + 0.01 + 0.5
    assert overdue <= at <= max(overdue, _at(sent[-1]) + 10.5) + SWEEP_NS / NS + 1.0
    if budget == 30:
        # A 30 s budget: the webhook timeout (16..30 s classic, 20..30 s linear) ended the dial.
        assert t.timer is Timer.WEBHOOK and "30 s dialer" in str(t.because)


def test_the_kernel_give_up_bounds_the_hold(tmp_path: pathlib.Path) -> None:
    # All seven classic SYNs: after the last the kernel waits 64 s and gives up (127 s), sending nothing.
    f, at, _, _ = _decided(_capture(tmp_path, CLASSIC, end=200))
    t = f.timing
    assert t is not None and t.syn_count == 7
    assert t.gave_up_s == pytest.approx((_at(63), _at(63) + 64))
    assert t.timer is Timer.KERNEL
    assert LONGEST_SYN_HOLD_NS == 72_510_000_000
    assert (
        next_syn_deadline([round(_at(s) * NS) for s in CLASSIC]) == round(_at(63) * NS) + LONGEST_SYN_HOLD_NS
    )
    assert at <= _at(63) + LONGEST_SYN_HOLD_NS / NS + SWEEP_NS / NS + 1.0


def test_gaps_that_fit_no_schedule_wait_only_for_the_timeout(tmp_path: pathlib.Path) -> None:
    # 3 s, then 6 s (Windows-like): nothing predicts a next SYN, so --timeout (10 s) and its half
    # second of slack decide, as before.
    f, at, _, _ = _decided(_capture(tmp_path, (0, 3, 9), end=60))
    assert f.label.value == "syn-timeout" and f.timing is not None
    assert f.timing.syn_schedule is SynSchedule.UNKNOWN
    assert _at(9) + 10.5 <= at <= _at(9) + 12


def test_a_lone_syn_stays_compact_while_held(tmp_path: pathlib.Path) -> None:
    # With a --timeout shorter than the first RTO, a lone SYN is held for the SYN due at 1 s (up to
    # 1.135 s plus the slack) as the HalfOpen it is, not built into a Connection.
    f, at, _, held = _decided(_capture(tmp_path, (0,), end=20), Options(timeout_s=0.2), probe=1.5)
    assert isinstance(held, HalfOpen)
    assert f.label.value == "syn-timeout"
    assert 1.635 <= at <= 3.0
