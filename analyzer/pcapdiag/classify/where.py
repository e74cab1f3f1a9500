"""Where a connection failed, from what each capture point saw of it: a pure function of the views.

A packet that one point saw leave and the next point never saw was lost between them; a point that
saw everything arrive and nothing come back puts the fault on the host beyond it. The rules compare
the client-side view (C) with the server-side view (S), in this order:
0. the captures' roles are unknown (no clue told them apart): ``unknown``, and say to use --side;
1. healthy at the client side (ok, or partial: the part captured was healthy): ``none``; not a
   proven failure (incomplete): ``unknown``;
2. S holds nothing while S's capture was running: the client's packets never reached the server
   side (``in-between``), unless C shows the server's own answers (then S is not on the path);
3. C received a RST or ICMP error that S shows the server never sent: a hop in between answered
   (``in-between``);
4. the client's SYN or bytes left C and fell short at S: ``in-between``;
5. the server's SYN-ACK, bytes, FIN or RST left S and fell short at C: ``return-path``;
6. everything crossed: the client's own choice (a certificate it rejected) is ``client``; a client
   that gave up waiting (a timeout label) waited on the server (``server``: it never answered in
   time); any other failure is the server host's (``server``: refused, reset, rejected, closed).
"""

from __future__ import annotations

from dataclasses import dataclass

from pcapdiag.classify.diagnosis import Location, Where
from pcapdiag.classify.labels import Label
from pcapdiag.prose import Ip, Text, join, text

CLIENT_CHOICE = frozenset({Label.CERT_REJECTED})
"""Failures the client decides on its own once the server's flight arrived."""
CLIENT_GAVE_UP = frozenset({Label.SYN_TIMEOUT, Label.TLS_HANDSHAKE_TIMEOUT, Label.AWAITING_HEADERS})
"""Failures that end with the client giving up on a server that did not answer in time."""


@dataclass(frozen=True, slots=True)
class SideView:
    """What one endpoint was seen sending at one capture point."""

    syn: bool
    """A SYN (client) or SYN-ACK (server)."""
    syns: int
    """SYN transmissions seen (client side only; 0 for the server)."""
    data_bytes: int
    """Payload bytes seen, each byte once."""
    fin: bool
    rst: bool
    packets: int
    ttl: int
    """IPv4 TTL / IPv6 hop limit of its first packet here (0: none seen)."""


@dataclass(frozen=True, slots=True)
class View:
    """One connection as one capture saw it (what matching and localising read)."""

    capture: int
    """Index of the capture in the order given."""
    flow_id: int
    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    client_isn: int | None
    """Sequence number of the client's SYN (None if no SYN was captured)."""
    server_isn: int | None
    first_ns: int
    last_ns: int
    syn_ns: int | None
    """Time of the first SYN seen."""
    synack_ns: int | None
    """Time of the first SYN-ACK seen."""
    ack_ns: int | None
    """Time of the client's first packet after the SYN-ACK (the handshake's last ACK)."""
    client: SideView
    server: SideView
    icmp_from: tuple[Ip, ...]
    """Senders of ICMP errors about this connection."""
    label: Label

    @property
    def failing(self) -> bool:
        """The label at this capture point is a failure."""
        return self.label.failing


@dataclass(frozen=True, slots=True)
class Pairing:
    """What the other captures say about one connection: the views at the client and the server
    side, and whether each capture was running when the connection began."""

    client: View | None
    """The view at the capture nearer the client (None: that capture holds no packet of it)."""
    server: View | None
    client_name: str
    """The client-side capture's name ('' when no capture is on the client side)."""
    server_name: str
    client_running: bool = True
    """The client-side capture was running when the connection began (meaningful when ``client`` is None)."""
    server_running: bool = True
    server_note: str = ""
    """Why the server-side capture may not show it ('which holds no packet at all: ...')."""
    roles_known: bool = True
    """Some clue told the captures' roles apart (never their order)."""
    roles_basis: str = ""
    """Which clue decided the roles, in words."""
    limits: tuple[Text, ...] = ()
    """What comparing the captures cannot show (clocks that could not be compared, or were corrected)."""


def _answers(view: View) -> str:
    parts = []
    if view.server.syn:
        parts.append("a SYN-ACK")
    if view.server.data_bytes:
        parts.append(f"{view.server.data_bytes} bytes")
    if view.server.fin:
        parts.append("a FIN")
    return ", ".join(parts)


def _sent(view: View) -> str:
    """What the client sent, as seen at one point."""
    c = view.client
    if c.data_bytes:
        return f"{c.data_bytes} bytes"
    return f"{c.syns} SYN{'s' * (c.syns != 1)}" if c.syn else f"{c.packets} packet{'s' * (c.packets != 1)}"


def _senders(view: View) -> Text:
    return join(view.icmp_from, ", ")


def localise(pairing: Pairing, label: Label) -> Location:
    """Where the connection labelled ``label`` (at the client side, else where it was seen) failed."""
    if not pairing.roles_known:
        return Location(
            Where.UNKNOWN,
            text(
                "The captures' roles could not be told apart (no name, TTL, locally generated answer, "
                "handshake timing or file name says which is nearer the client), so where it failed "
                "cannot be said: name them, e.g. --side apiserver=FILE --side webhook=FILE."
            ),
        )
    c, s = pairing.client, pairing.server
    if s is None and c is not None:
        return _server_side_missing(c, pairing, label)
    if c is None and s is not None:
        if not s.failing:
            return _not_failing(s.label, f"{pairing.server_name} alone saw it")
        seen = (
            f"{pairing.client_name} (running at the time)"
            if pairing.client_running and pairing.client_name
            else "the client-side capture"
        )
        return Location(
            Where.UNKNOWN,
            text(
                f"Only {pairing.server_name} saw this connection; {seen} holds no packet of it, so it "
                "came from another client or another path."
            ),
        )
    if c is None or s is None:
        return Location(Where.UNKNOWN, text("No capture on either side holds this connection."))
    return _both(c, s, pairing, label)


def _not_failing(label: Label, seen: str) -> Location:
    """A connection that did not fail: healthy, or undecided (then nothing can be localised)."""
    if label in (Label.OK, Label.PARTIAL):
        return Location(Where.NONE, text(f"Nothing failed ({label.value}; {seen})."))
    return Location(
        Where.UNKNOWN,
        text(
            f"Not a proven failure ({label.value}: the captures do not show how it ended), so there is "
            f"nothing to localise ({seen})."
        ),
    )


def _server_side_missing(c: View, pairing: Pairing, label: Label) -> Location:
    where_c = pairing.client_name
    if not label.failing:
        return _not_failing(label, f"{where_c} alone saw it")
    if not pairing.server_name or not pairing.server_running:
        return Location(
            Where.UNKNOWN,
            text(f"Only {where_c} saw this connection, and the server-side capture had not started yet."),
        )
    where_s = pairing.server_name + pairing.server_note
    if c.server.syn or c.server.data_bytes:
        return Location(
            Where.UNKNOWN,
            text(
                f"The server answered ({_answers(c)} reached {where_c}), yet {where_s} holds no packet "
                "of this connection: that capture point is not on its path."
            ),
        )
    if c.server.rst:
        return Location(
            Where.IN_BETWEEN,
            text(
                f"{where_c} received a RST, but no packet of this connection reached {where_s}: a hop in "
                "between reset it (a firewall or network policy rejecting with a TCP reset)."
            ),
        )
    if c.icmp_from:
        local = [ip for ip in c.icmp_from if ip.value == c.client_ip]
        if local:
            return Location(
                Where.CLIENT,
                text(
                    f"{where_c} received an ICMP error from the client's own address (",
                    _senders(c),
                    f") and no packet of this connection reached {where_s}: the client's node rejected "
                    "it before it left (kube-proxy does this for a Service with no ready endpoints).",
                ),
            )
        return Location(
            Where.IN_BETWEEN,
            text(
                f"{where_c} received an ICMP error from ",
                _senders(c),
                f", and no packet of this connection reached {where_s}: a hop in between rejected it.",
            ),
        )
    return Location(
        Where.IN_BETWEEN,
        text(
            f"{_sent(c)} left {where_c} and no packet of this connection reached {where_s}: dropped in "
            "between (a firewall, security group or network policy)."
        ),
    )


def _both(c: View, s: View, pairing: Pairing, label: Label) -> Location:
    wc, ws = pairing.client_name, pairing.server_name
    if not label.failing:
        return _not_failing(label, f"seen at {wc} and {ws}")
    if c.server.rst and not s.server.rst:
        return Location(
            Where.IN_BETWEEN,
            text(
                f"{wc} received a RST that the server never sent ({ws} shows none): a hop in between "
                "reset the connection."
            ),
        )
    if c.icmp_from and not s.icmp_from:
        return Location(
            Where.IN_BETWEEN,
            text(
                f"{wc} received an ICMP error from ",
                _senders(c),
                f" that {ws} never saw: a hop in between rejected the connection.",
            ),
        )
    lost_out = []
    if c.client.syn and not s.client.syn and not s.client.packets:
        lost_out.append(f"the client's {_sent(c)}")
    elif c.client.data_bytes > s.client.data_bytes:
        lost_out.append(
            f"{c.client.data_bytes - s.client.data_bytes} of the client's {c.client.data_bytes} bytes"
        )
    lost_back = []
    if s.server.syn and not c.server.syn:
        lost_back.append("the SYN-ACK")
    if s.server.data_bytes > c.server.data_bytes:
        lost_back.append(
            f"{s.server.data_bytes - c.server.data_bytes} of the server's {s.server.data_bytes} bytes"
        )
    if s.server.fin and not c.server.fin:
        lost_back.append("the server's FIN")
    if s.server.rst and not c.server.rst:
        lost_back.append("the server's RST")
    if lost_out:
        extra = f" ({'; '.join(lost_back)} also never reached {wc})" if lost_back else ""
        return Location(
            Where.IN_BETWEEN,
            text(
                f"{' and '.join(lost_out)} left {wc} and never reached {ws}: lost in between "
                f"(a firewall, security group or network policy){extra}."
            ),
        )
    if lost_back:
        return Location(
            Where.RETURN_PATH,
            text(
                f"The server answered: {'; '.join(lost_back)} left {ws} and never reached {wc}: the "
                "return path drops it (asymmetric routing, a stateful firewall or SNAT missing on the "
                "way back)."
            ),
        )
    if label in CLIENT_CHOICE:
        return Location(
            Where.CLIENT,
            text(
                f"The server's handshake flight left {ws} and reached {wc} intact; the client then "
                f"aborted the handshake itself ({label.value})."
            ),
        )
    if label in CLIENT_GAVE_UP:
        waited = {
            Label.SYN_TIMEOUT: "received the client's SYN and never answered it (a host firewall that "
            "drops it, or a full listen queue)",
            Label.TLS_HANDSHAKE_TIMEOUT: "received the ClientHello and never answered it",
            Label.AWAITING_HEADERS: "received the request and did not answer it",
        }[label]
        return Location(
            Where.SERVER,
            text(
                f"Every packet crossed between {wc} and {ws}; the server host {waited} before the client "
                f"gave up ({label.value})."
            ),
        )
    if s.server.rst and not s.server.syn and not s.server.data_bytes:
        what: Text = text("answered the SYN with a RST: nothing listens on that port on the server host")
    elif s.server.rst:
        what = text("reset the connection")
    elif s.icmp_from:
        local = [ip for ip in s.icmp_from if ip.value == s.server_ip]
        what = (
            text("rejected it with an ICMP error from its own address (a REJECT rule in its firewall)")
            if local
            else text("rejected it with an ICMP error (from ", _senders(s), ")")
        )
    elif s.server.fin:
        what = text("closed the connection")
    else:
        what = text("did not answer")
    return Location(
        Where.SERVER,
        text(f"Every packet crossed between {wc} and {ws}; the server host ", what, f" ({label.value})."),
    )
