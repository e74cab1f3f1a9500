"""The per-endpoint TCP state machine, written as one table (h11 _state.py rules).

Rules of this file:
1. Everything that decides how an endpoint's state moves lives here, in TRANSITIONS.
2. A (state, segment kind) pair missing from the table leaves the state unchanged:
   an observer records odd traffic as history, it never raises on it.
3. Nothing here reads clocks, files or addresses; it sees only segment kinds.
"""

from __future__ import annotations

import enum


class EndpointState(enum.Enum):
    """What one side of a connection has shown on the wire (zeek TCP_Endpoint states)."""

    INACTIVE = "inactive"  # nothing sent yet
    SYN_SENT = "syn-sent"  # SYN seen, no ACK of the peer's SYN yet
    SYN_ACK_SENT = "syn-ack-sent"  # SYN+ACK seen
    PARTIAL = "partial"  # traffic seen but its SYN was not (capture began mid-connection)
    ESTABLISHED = "established"  # the handshake completed from this side's point of view
    CLOSED = "closed"  # this side sent FIN
    RESET = "reset"  # this side sent RST

    # Members are singletons that compare by identity: hash them by identity too, in C. Enum's own
    # __hash__ is Python code hashing the name, and every packet looks its state up in TRANSITIONS.
    __hash__ = object.__hash__


class SegmentKind(enum.Enum):
    """How a segment moves its sender's state, from its flag bits alone."""

    SYN = "syn"
    SYN_ACK = "syn-ack"
    ACK = "ack"  # ACK and/or payload, no SYN/FIN/RST
    FIN = "fin"
    RST = "rst"

    __hash__ = object.__hash__  # as EndpointState's


S = EndpointState
K = SegmentKind

TRANSITIONS: dict[tuple[EndpointState, SegmentKind], EndpointState] = {
    (S.INACTIVE, K.SYN): S.SYN_SENT,
    (S.INACTIVE, K.SYN_ACK): S.SYN_ACK_SENT,
    (S.INACTIVE, K.ACK): S.PARTIAL,
    (S.INACTIVE, K.FIN): S.CLOSED,
    (S.INACTIVE, K.RST): S.RESET,
    (S.SYN_SENT, K.SYN_ACK): S.SYN_ACK_SENT,  # simultaneous open
    (S.SYN_SENT, K.ACK): S.ESTABLISHED,
    (S.SYN_SENT, K.FIN): S.CLOSED,
    (S.SYN_SENT, K.RST): S.RESET,
    (S.SYN_ACK_SENT, K.ACK): S.ESTABLISHED,
    (S.SYN_ACK_SENT, K.FIN): S.CLOSED,
    (S.SYN_ACK_SENT, K.RST): S.RESET,
    (S.PARTIAL, K.FIN): S.CLOSED,
    (S.PARTIAL, K.RST): S.RESET,
    (S.ESTABLISHED, K.FIN): S.CLOSED,
    (S.ESTABLISHED, K.RST): S.RESET,
    (S.CLOSED, K.RST): S.RESET,
}
"""(state, kind) -> next state. A missing pair keeps the state (rule 2)."""


def segment_kind(flags: int) -> SegmentKind:
    """Classify a TCP flag byte into the kind that drives the table (RST wins, then SYN, then FIN)."""
    if flags & 0x04:
        return SegmentKind.RST
    if flags & 0x02:
        return SegmentKind.SYN_ACK if flags & 0x10 else SegmentKind.SYN
    if flags & 0x01:
        return SegmentKind.FIN
    return SegmentKind.ACK


def advance(state: EndpointState, kind: SegmentKind) -> EndpointState:
    """The state after a segment of ``kind`` from an endpoint in ``state``."""
    return TRANSITIONS.get((state, kind), state)
