"""One connection recorded at two capture points at once (client side and server side) with scapy.

The path between the points may drop packets in either direction, DNAT the server (a service
address at the client side, the pod at the server side), SNAT the client, and the two captures'
clocks may disagree. Each router hop lowers the TTL, so the client's packets carry TTL 64 at the
client side and 63 at the server side (and the reverse for the server's), as on a real path.
Addresses are from 198.18.0.0/15 only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from builders import Record
from conversation import CLIENT_ISN, SERVER_ISN, Conversation

CLIENT = ("198.18.0.2", 40000)
SERVICE = ("198.18.100.1", 443)
POD = ("198.19.0.2", 10250)


@dataclass
class TwoPoints:
    """Duck-types Conversation: every packet sent is recorded at both points unless the path drops it."""

    client: tuple[str, int] = CLIENT
    server_at_client: tuple[str, int] = SERVICE
    server_at_server: tuple[str, int] = POD
    client_at_server: tuple[str, int] | None = None
    """The client as the server side sees it (SNAT); None: unchanged."""
    offset_s: float = 0.0
    """How far the server-side capture's clock runs ahead of the client side's."""
    delay_s: float = 0.0005
    """One-way transit time between the points."""
    drop: Callable[[bool, float], bool] = field(default=lambda to_server, t: False)
    """drop(to_server, t): the path loses this packet (sent at true time t) between the points."""
    client_isn: int = CLIENT_ISN
    server_isn: int = SERVER_ISN
    at_client: Conversation = field(init=False)
    at_server: Conversation = field(init=False)

    def __post_init__(self) -> None:
        self.at_client = Conversation(
            client=self.client,
            server=self.server_at_client,
            client_isn=self.client_isn,
            server_isn=self.server_isn,
            ttl_to_server=64,
            ttl_to_client=63,
        )
        self.at_server = Conversation(
            client=self.client_at_server or self.client,
            server=self.server_at_server,
            client_isn=self.client_isn,
            server_isn=self.server_isn,
            ttl_to_server=63,
            ttl_to_client=64,
        )

    def _both(self, t: float, to_server: bool, call: Callable[[Conversation, float], None]) -> None:
        """The sender's point records at send time, the other one delay_s later, unless dropped."""
        c_time = t if to_server else t + self.delay_s
        s_time = (t + self.delay_s if to_server else t) + self.offset_s
        call(self.at_client, c_time)
        call(self.at_server, s_time)
        if self.drop(to_server, t):
            receiver = self.at_server if to_server else self.at_client
            receiver.records.pop()

    def syn(self, t: float) -> None:
        self._both(t, True, lambda cv, at: cv.syn(at))

    def synack(self, t: float) -> None:
        self._both(t, False, lambda cv, at: cv.synack(at))

    def ack(self, t: float, to_server: bool) -> None:
        self._both(t, to_server, lambda cv, at: cv.ack(at, to_server))

    def handshake(self, t: float) -> None:
        """SYN, SYN-ACK, ACK (each side answers at once; the answer crosses the path)."""
        self.syn(t)
        self.synack(t + self.delay_s)
        self.ack(t + 2 * self.delay_s, to_server=True)

    def send(self, t: float, to_server: bool, payload: bytes, *, advance: bool = True) -> None:
        self._both(t, to_server, lambda cv, at: cv.send(at, to_server, payload, advance=advance))

    def fin(self, t: float, to_server: bool) -> None:
        self._both(t, to_server, lambda cv, at: cv.fin(at, to_server))

    def rst(self, t: float, to_server: bool) -> None:
        self._both(t, to_server, lambda cv, at: cv.rst(at, to_server))

    @property
    def client_records(self) -> list[Record]:
        return self.at_client.records

    @property
    def server_records(self) -> list[Record]:
        return self.at_server.records
