"""The per-packet constructors build exactly what the dataclass constructors build."""

from __future__ import annotations

import dataclasses

import pytest

from pcapdiag.capture.fastinit import new_frame, slot_setters
from pcapdiag.capture.frame import Frame
from pcapdiag.decode.packet import TcpSegment
from pcapdiag.decode.tcp import new_segment


def test_new_frame_equals_frame() -> None:
    fast = new_frame(7, 123, 276, b"data", 99, 2)
    assert fast == Frame(7, 123, 276, b"data", 99, 2)
    assert hash(fast) == hash(Frame(7, 123, 276, b"data", 99, 2))
    assert new_frame(1, 2, 1, b"", 0) == Frame(1, 2, 1, b"", 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.number = 8  # type: ignore[misc]


def test_new_segment_sets_every_field() -> None:
    values = dict(
        family=6,
        src=b"s" * 16,
        dst=b"d" * 16,
        sport=1,
        dport=2,
        seq=3,
        ack=4,
        flags=0x12,
        window=5,
        payload=b"p",
        payload_len=6,
        ip_id=7,
        ttl=8,
        options=b"o",
    )
    assert [f.name for f in dataclasses.fields(TcpSegment)] == list(values)
    fast = new_segment(*values.values())  # type: ignore[arg-type]
    assert fast == TcpSegment(**values)  # type: ignore[arg-type]
    assert dataclasses.asdict(fast) == values


def test_slot_setters_refuse_a_class_without_slots() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        value: int

    with pytest.raises(TypeError, match="slots=True"):
        slot_setters(NoSlots)
