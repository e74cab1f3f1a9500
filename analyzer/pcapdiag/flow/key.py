"""Connection keys and directions: which side of a 5-tuple is the client."""

from __future__ import annotations

import enum
import functools
import ipaddress
import socket


class Direction(enum.IntEnum):
    """Which way a packet travels, relative to the connection's client."""

    TO_SERVER = 0  # client -> server (zeek: originator, upper-case history letters)
    TO_CLIENT = 1  # server -> client (zeek: responder, lower-case history letters)

    @property
    def label(self) -> str:
        """The direction as reports print it."""
        return "client->server" if self is Direction.TO_SERVER else "server->client"


TO_SERVER, TO_CLIENT = Direction.TO_SERVER, Direction.TO_CLIENT
"""The members as module globals, for per-packet code: a global is found several times faster than
a member looked up on its enum class."""


Endpoint = tuple[bytes, int]
"""A packed address and a port."""

FlowKey = tuple[bytes, int, bytes, int]
"""Canonical 4-tuple (lower endpoint first) used to find a connection from either direction."""

EPHEMERAL_MIN = 32768
"""Start of Linux's default ip_local_port_range (32768-60999); IANA's dynamic range starts at 49152."""


def canonical(src: bytes, sport: int, dst: bytes, dport: int) -> FlowKey:
    """The same key for both directions of a connection."""
    if (src, sport) <= (dst, dport):
        return (src, sport, dst, dport)
    return (dst, dport, src, sport)


def server_by_ports(a: Endpoint, b: Endpoint) -> Endpoint:
    """Guess which endpoint is the server when no SYN says so.

    A privileged port (< 1024) against an unprivileged one marks the server; otherwise a port
    below the ephemeral range against one inside it; otherwise the lower port.
    """
    pa, pb = a[1], b[1]
    if (pa < 1024) != (pb < 1024):
        return a if pa < 1024 else b
    if (pa < EPHEMERAL_MIN) != (pb < EPHEMERAL_MIN):
        return a if pa < EPHEMERAL_MIN else b
    return a if pa <= pb else b


@functools.lru_cache(maxsize=4096)
def format_ip(packed: bytes) -> str:
    """Text form of a packed IPv4 or IPv6 address (the same few addresses recur: kept for them)."""
    if len(packed) == 4:
        return socket.inet_ntop(socket.AF_INET, packed)  # the same text, without an object
    return str(ipaddress.ip_address(packed))


def format_hostport(packed: bytes, port: int) -> str:
    """IP:PORT the way Go prints it in `dial tcp` errors (IPv6 in brackets)."""
    ip = format_ip(packed)
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
