"""TCP connection reconstruction: a sans-IO state machine fed decoded segments and capture times."""

from pcapdiag.flow.connection import (
    OPAQUE,
    Connection,
    IcmpRecord,
    PacketRecord,
    Side,
    StreamObserver,
)
from pcapdiag.flow.key import Direction, format_hostport, format_ip
from pcapdiag.flow.table import DEFAULT_MAX_FLOWS, FlowTable, HalfOpen, Tracked

__all__ = [
    "DEFAULT_MAX_FLOWS",
    "OPAQUE",
    "Connection",
    "Direction",
    "FlowTable",
    "HalfOpen",
    "IcmpRecord",
    "PacketRecord",
    "Side",
    "StreamObserver",
    "Tracked",
    "format_hostport",
    "format_ip",
]
