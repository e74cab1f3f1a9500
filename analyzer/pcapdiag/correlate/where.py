"""Where a connection failed, from what each capture point saw of it: a pure function of the views.

A packet that one point saw leave and the next point never saw was lost between them; a point that
saw everything arrive and nothing come back puts the fault on the host beyond it. The rules compare
the client-side view (C) with the server-side view (S), in this order:
1. healthy at the client side (ok, or partial: the part captured was healthy): ``none``; not a
   proven failure (incomplete): ``unknown``;
2. S holds nothing while S's capture was running: the client's packets never reached the server
   side (``in-between``), unless C shows the server's own answers (then S is not on the path);
3. C received a RST or ICMP error that S shows the server never sent: a hop in between answered
   (``in-between``);
4. the client's SYN or bytes left C and fell short at S: ``in-between``;
5. the server's SYN-ACK, bytes, FIN or RST left S and fell short at C: ``return-path``;
6. everything crossed: the client's own choice (a certificate it rejected) is ``client``, any
   other failure is the server host's (``server``: refused, reset, rejected, silent, closed).
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from pcapdiag.classify import Label
from pcapdiag.correlate.facts import FlowFacts
from pcapdiag.correlate.match import Correlation, Group


class Where(enum.Enum):
    """Where along the path a connection failed (the JSON contract's ``where`` values)."""

    IN_BETWEEN = "in-between"
    RETURN_PATH = "return-path"
    SERVER = "server"
    CLIENT = "client"
    NONE = "none"
    UNKNOWN = "unknown"


CLIENT_CHOICE = frozenset({Label.CERT_REJECTED})
"""Failures the client decides on its own once the server's flight arrived."""


@dataclass(frozen=True, slots=True)
class Location:
    """Where a connection failed, and why we say so."""

    where: Where
    explanation: str

    def checks(self, client_ip: str, server_port: int) -> tuple[str, ...]:
        """What to look at next, given where it failed (addresses as the server side sees them)."""
        ip = ipaddress.ip_address(client_ip)  # a parsed address: safe inside a command
        if self.where is Where.IN_BETWEEN:
            return (
                "kubectl get networkpolicy -A    # a policy around the webhook must admit the API server",
                f"# firewall / security group / GKE firewall rule: allow TCP {server_port} from the "
                f"control plane ({ip}) to the webhook's nodes",
            )
        if self.where is Where.RETURN_PATH:
            return (
                f"ip route get {ip}    # on the webhook's node: the answer must route back the way "
                f"the request came (asymmetric routing, rp_filter, missing SNAT)",
            )
        return ()


def _answers(view: FlowFacts) -> str:
    parts = []
    if view.server.syn:
        parts.append("a SYN-ACK")
    if view.server.data_bytes:
        parts.append(f"{view.server.data_bytes} bytes")
    if view.server.fin:
        parts.append("a FIN")
    return ", ".join(parts)


def _sent(view: FlowFacts) -> str:
    """What the client sent, as seen at one point."""
    c = view.client
    if c.data_bytes:
        return f"{c.data_bytes} bytes"
    return f"{c.syns} SYN{'s' * (c.syns != 1)}" if c.syn else f"{c.packets} packets"


def localise(group: Group, corr: Correlation) -> Location | None:
    """Where the connection of ``group`` failed; None unless two paired captures had a say."""
    roles = corr.roles
    views = group.members
    client_caps = [i for i, r in enumerate(roles) if r == "client"]
    server_caps = [i for i, r in enumerate(roles) if r == "server"]
    c = next((v for v in views if roles[v.capture] == "client"), None)
    s = next((v for v in views if roles[v.capture] == "server"), None)
    name = {info.index: info.name for info in corr.captures}
    if c is None and s is None:  # pragma: no cover - every view has a role
        return None
    if s is None:
        assert c is not None
        others = [i for i in server_caps if (c.capture, i) in corr.paired]
        if not others:
            return None
        covering = [i for i in others if corr.covers(i, c)]
        notes = {
            i.index: " (which holds no packet at all: check it captured the right interface)"
            for i in corr.captures
            if i.first_ns is None
        }
        notes.update(
            {
                i: " (whose last packet came earlier: check it was still capturing)"
                for i in covering
                if corr.after_last_packet(i, c)
            }
        )
        return _server_side_missing(c, covering, name, notes)
    if c is None:
        others = [i for i in client_caps if (s.capture, i) in corr.paired]
        if not others:
            return None
        if not s.failing:
            return _not_failing(s, f"{name[s.capture]} alone saw it")
        covering = [i for i in others if corr.covers(i, s)]
        seen = f"{name[covering[0]]} (running at the time)" if covering else "the client-side capture"
        return Location(
            Where.UNKNOWN,
            f"Only {name[s.capture]} saw this connection; {seen} holds no packet of it, so it came "
            f"from another client or another path.",
        )
    return _both(c, s, name)


def _not_failing(view: FlowFacts, seen: str) -> Location:
    """A connection that did not fail: healthy, or undecided (then nothing can be localised)."""
    if view.label in (Label.OK, Label.PARTIAL):
        return Location(Where.NONE, f"Nothing failed ({view.label.value}; {seen}).")
    return Location(
        Where.UNKNOWN,
        f"Not a proven failure ({view.label.value}: the captures do not show how it ended), so there is "
        f"nothing to localise ({seen}).",
    )


def _server_side_missing(
    c: FlowFacts, covering: list[int], name: dict[int, str], notes: dict[int, str]
) -> Location:
    where_c = name[c.capture]
    if not c.failing:
        return _not_failing(c, f"{where_c} alone saw it")
    if not covering:
        return Location(
            Where.UNKNOWN,
            f"Only {where_c} saw this connection, and the server-side capture had not started yet.",
        )
    where_s = name[covering[0]] + notes.get(covering[0], "")
    if c.server.syn or c.server.data_bytes:
        return Location(
            Where.UNKNOWN,
            f"The server answered ({_answers(c)} reached {where_c}), yet {where_s} holds no packet of "
            f"this connection: that capture point is not on its path.",
        )
    if c.server.rst:
        return Location(
            Where.IN_BETWEEN,
            f"{where_c} received a RST, but no packet of this connection reached {where_s}: a hop in "
            f"between reset it (a firewall or network policy rejecting with a TCP reset).",
        )
    if c.icmp_from:
        return Location(
            Where.IN_BETWEEN,
            f"{where_c} received an ICMP error from {', '.join(c.icmp_from)}, and no packet of this "
            f"connection reached {where_s}: a hop in between rejected it.",
        )
    return Location(
        Where.IN_BETWEEN,
        f"{_sent(c)} left {where_c} and no packet of this connection reached {where_s}: dropped in "
        f"between (a firewall, security group or network policy).",
    )


def _both(c: FlowFacts, s: FlowFacts, name: dict[int, str]) -> Location:
    wc, ws = name[c.capture], name[s.capture]
    if not c.failing:
        return _not_failing(c, f"seen at {wc} and {ws}")
    if c.server.rst and not s.server.rst:
        return Location(
            Where.IN_BETWEEN,
            f"{wc} received a RST that the server never sent ({ws} shows none): a hop in between "
            f"reset the connection.",
        )
    if c.icmp_from and not s.icmp_from:
        return Location(
            Where.IN_BETWEEN,
            f"{wc} received an ICMP error from {', '.join(c.icmp_from)} that {ws} never saw: a hop in "
            f"between rejected the connection.",
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
            f"{' and '.join(lost_out)} left {wc} and never reached {ws}: lost in between "
            f"(a firewall, security group or network policy){extra}.",
        )
    if lost_back:
        return Location(
            Where.RETURN_PATH,
            f"The server answered: {'; '.join(lost_back)} left {ws} and never reached {wc}: the "
            f"return path drops it (asymmetric routing, a stateful firewall or SNAT missing on the "
            f"way back).",
        )
    label = c.label
    if label in CLIENT_CHOICE:
        return Location(
            Where.CLIENT,
            f"The server's handshake flight left {ws} and reached {wc} intact; the client then "
            f"aborted the handshake itself ({label.value}).",
        )
    if s.server.rst and not s.server.syn and not s.server.data_bytes:
        what = "answered the SYN with a RST: nothing listens on that port on the server host"
    elif s.server.rst:
        what = "reset the connection"
    elif s.icmp_from:
        what = f"rejected it with an ICMP error (from {', '.join(s.icmp_from)})"
    elif not s.server.packets:
        what = "received the client's SYN and never answered (a host firewall drop, or a full listen queue)"
    elif s.server.fin:
        what = "closed the connection"
    else:
        what = "received everything the client sent and did not answer in time"
    return Location(
        Where.SERVER,
        f"Every packet crossed between {wc} and {ws}; the server host {what} ({label.value}).",
    )
