"""Shared by the Markdown and HTML reports: ladder layout, Wireshark filter, safe text, headline and notes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pcapdiag.classify import Label
from pcapdiag.report.model import CaptureReport, FlowReport, Report

SILENCE_S = 0.2
"""A gap between two packets at least this long is drawn as a broken axis labelled with its length
(Linux's minimum retransmission timeout: no TCP timer fires sooner, so anything longer is waiting)."""

CLIENT, SERVER, NETWORK = "client", "server", "network"
_ENDS = {
    "client->server": (CLIENT, SERVER),
    "server->client": (SERVER, CLIENT),
    "network->client": (NETWORK, CLIENT),
}
_SUMMARY = re.compile(r"^\[(?P<flags>[^\]]*)\](?P<tcp>[^;]*)(?:; (?P<notes>.*))?$", re.S)
_LEN = re.compile(r"\blen=(\d+)")
_TCP_NOTE = re.compile(r"\(([^()]*)\)\s*$")
_HOSTNAME = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)
_SHORT = (
    ("TLS Handshake: ", ""),
    ("TLS 1.3 encrypted handshake record", "encrypted handshake"),
    ("TLS 1.3 alert-sized encrypted record", "alert-sized encrypted record"),
    ("TLS 1.3 encrypted record", "encrypted record"),
    ("TLS 1.3 ", ""),
    ("HTTP request: ", ""),
    ("HTTP response: ", ""),
    ("TLS ", ""),
)


def printable(text: str) -> str:
    """``text`` on one line with every control or invisible character written as an escape (``\\n``,
    ``\\x1b``, ``\\u202e``), so nothing taken from a capture can break a line, a table or a terminal."""
    if text.isprintable():
        return text
    out: list[str] = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        else:
            o = ord(ch)
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")
    return "".join(out)


def endpoint(ip: str, port: int) -> str:
    """'10.0.0.1:443', or '[2001:db8::1]:443' for IPv6."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def wireshark_filter(f: FlowReport) -> str:
    """The display filter that shows this connection's packets (and ICMP errors quoting them)."""
    field_ = "ipv6.addr" if ":" in f.client.ip else "ip.addr"
    return (
        f"{field_}=={f.client.ip} && tcp.port=={f.client.port} && "
        f"{field_}=={f.server.ip} && tcp.port=={f.server.port}"
    )


def unsafe_commands(f: FlowReport) -> bool:
    """True when the next steps may carry capture text that is not a DNS name: they name the webhook from
    the SNI, and an SNI with spaces, quotes or shell characters must be read before a command is run."""
    return f.sni is not None and bool(f.next_steps) and _HOSTNAME.fullmatch(str(f.sni)) is None


UNSAFE_COMMANDS = (
    "The SNI in this capture is not a valid DNS name and the commands below name the webhook from it: "
    "read each one before running it."
)


def seconds(value: float) -> str:
    """A duration as people read it: '10.003 s', '2.162 ms', '65 µs'."""
    if value >= 1:
        return f"{value:.3f} s"
    if value >= 0.001:
        return f"{value * 1000:.3f} ms"
    return f"{value * 1_000_000:.0f} µs"


def short_note(note: str) -> str:
    """A TLS/HTTP evidence note shortened for a diagram ('TLS ChangeCipherSpec' -> 'ChangeCipherSpec')."""
    for prefix, repl in _SHORT:
        if note.startswith(prefix):
            note = repl + note[len(prefix) :]
            break
    return note.replace(" bytes)", " B)")


_SIZED = re.compile(r"^(.+) \((\d+) B\)$")


def merge_notes(notes: list[str]) -> list[str]:
    """Runs of same-kind sized records as one note, a size each: 'encrypted handshake (38, 509, 96, 53 B)'."""
    out: list[str] = []
    run: tuple[str, list[str]] | None = None
    for note in [*notes, ""]:
        m = _SIZED.match(note)
        if run is not None and m is not None and m.group(1) == run[0]:
            run[1].append(m.group(2))
            continue
        if run is not None:
            name, sizes = run
            out.append(f"{name} ({', '.join(sizes)} B)")
            run = None
        if m is not None:
            run = (m.group(1), [m.group(2)])
        elif note:
            out.append(note)
    return out


@dataclass(frozen=True, slots=True)
class Rung:
    """One packet (or ICMP error) of a connection: an arrow of the ladder."""

    frame: int
    time: float
    """Seconds since the connection's first packet."""
    source: str
    """'client', 'server' or 'network'."""
    target: str
    flags: str
    """'[SYN, ACK] len=0' for a TCP segment, 'ICMP' for an ICMP error."""
    notes: tuple[str, ...]
    """TLS records and HTTP lines it carries, shortened (or the ICMP error)."""
    summary: str
    """The evidence row's full text."""
    key: bool
    retransmission: bool
    silence_before: float | None
    """Seconds without a packet before this one, when at least SILENCE_S."""


@dataclass(frozen=True, slots=True)
class Ladder:
    """A connection laid out as a sequence diagram: lanes for client and server (and the network
    when an ICMP error came from a router), one rung per evidence row, silences marked."""

    client: str
    server: str
    rungs: tuple[Rung, ...]
    has_network: bool
    hidden_packets: int
    """Packets of the connection that are not among the evidence rows (long connections)."""


def ladder(f: FlowReport) -> Ladder:
    """The ladder of one connection, from its evidence rows (all text made printable)."""
    rungs: list[Rung] = []
    previous: float | None = None
    for e in f.evidence:
        source, target = _ENDS.get(e.direction, (CLIENT, SERVER))
        summary = printable(str(e.summary))
        m = _SUMMARY.match(summary)
        notes: tuple[str, ...]
        if source == NETWORK or m is None:
            flags, notes = ("ICMP" if source == NETWORK else ""), (summary,)
        else:
            tcp = m.group("tcp")
            length = _LEN.search(tcp)
            flags = f"[{m.group('flags')}]" + (f" len={length.group(1)}" if length else "")
            tcp_note = _TCP_NOTE.search(tcp)
            notes = tuple(
                ([tcp_note.group(1)] if tcp_note else [])
                + merge_notes([short_note(n) for n in (m.group("notes") or "").split("; ") if n])
            )
        gap = e.time - previous if previous is not None else 0.0
        previous = e.time
        rungs.append(
            Rung(
                frame=e.frame,
                time=e.time,
                source=source,
                target=target,
                flags=flags,
                notes=notes,
                summary=summary,
                key=e.key,
                retransmission="retransmission" in summary,
                silence_before=round(gap, 6) if gap >= SILENCE_S else None,
            )
        )
    tcp_rows = sum(1 for r in rungs if r.source != NETWORK)
    return Ladder(
        client=printable(endpoint(f.client.ip, f.client.port)),
        server=printable(endpoint(f.server.ip, f.server.port)),
        rungs=tuple(rungs),
        has_network=any(r.source == NETWORK for r in rungs),
        hidden_packets=max(f.packets - tcp_rows, 0),
    )


def hidden_note(f: FlowReport, lad: Ladder) -> str | None:
    """Why a long (or healthy) connection's ladder leaves packets out, or None when it draws them all."""
    if not lad.hidden_packets:
        return None
    kept = (
        "the frames that prove the label"
        if f.label is Label.OK
        else "the first and last packets, every TLS/HTTP record and the key frames"
    )
    return (
        f"Only {f.packets - lad.hidden_packets} of the connection's {f.packets} packets are drawn: the "
        f"evidence keeps {kept}. The Wireshark filter below shows them all."
    )


def label_counts(r: Report) -> list[tuple[Label, int]]:
    """Connections per label, in the vocabulary's order, labels with none left out."""
    order = {label.value: i for i, label in enumerate(Label)}
    return [
        (Label(name), n)
        for name, n in sorted(r.by_label.items(), key=lambda x: order.get(x[0], -1))
        if n and name in order
    ]


def headline(r: Report) -> str:
    """'3 of 3 connections failed (cert-rejected 3) in 1 capture.'"""
    total = sum(r.by_label.values())
    counts = ", ".join(f"{label.value} {n}" for label, n in label_counts(r) if label.failing)
    caps = f"{len(r.captures)} capture{'s' * (len(r.captures) != 1)}"
    if not total:
        left = r.filtered
        if left is not None and (left.packets or left.connections):
            by = left.by or "the filters"
            return f"No TCP connection matched {by} in {caps} ({left.connections} left out)."
        if r.captures and not any(c.tcp_packets for c in r.captures):
            return f"No TCP packet in {caps}."
        return f"No TCP connection found in {caps}."
    conns = f"connection{'s' * (total != 1)}"
    cut = (
        f"; {r.cut_undecided} could not be decided: the capture's snaplen cut them" if r.cut_undecided else ""
    )
    if not r.failing_count:
        return f"None of {total} {conns} failed in {caps}{cut}."
    return f"{r.failing_count} of {total} {conns} failed ({counts}) in {caps}{cut}."


def summary_notes(r: Report) -> str:
    """The totals under the label table: connections, duplicates, untracked, the timeout used."""
    total = sum(r.by_label.values())
    notes = [f"{total} connection{'s' * (total != 1)}, {r.failing_count} failing"]
    if r.duplicates:
        notes.append(f"{r.duplicates} duplicate packets counted once")
    if r.untracked_connections:
        notes.append(f"{r.untracked_connections} connections not tracked (--max-flows reached)")
    notes.append(f"silence taken as a timeout after {r.timeout_s:g} s")
    if r.by_where:
        notes.append("failing by where: " + ", ".join(f"{w} {n}" for w, n in sorted(r.by_where.items())))
    for o in r.clock_offsets:
        notes.append(
            f"clock of {o.capture} vs {o.reference}: {o.offset_s:+.6f} s from {o.connections} "
            f"connection{'s' * (o.connections != 1)}"
        )
    return "; ".join(notes) + "."


def capture_span(c: CaptureReport) -> str:
    """Capture time from its first packet to its last, or '-'."""
    if c.first_ns is None or c.last_ns is None:
        return "-"
    return seconds((c.last_ns - c.first_ns) / 1e9)


def side_notes(f: FlowReport) -> list[str]:
    """What each capture point saw of a connection, one line each (several captures only)."""
    out = []
    for side in f.sides:
        if side.seen and side.client and side.server:
            label = side.label.value if side.label else "-"
            out.append(
                f"{side.name} ({side.role} side): {side.packets} packet{'s' * (side.packets != 1)}, {label}, "
                f"{side.client} -> {side.server}"
            )
        else:
            out.append(f"{side.name} ({side.role} side): no packet of this connection")
    return out


def kube_notes(f: FlowReport) -> list[str]:
    """What --k8s says about a connection, one line each: its ends, its webhook, the pods, the checks."""
    k = f.kubernetes
    if k is None:
        return []
    unknown = "not in the Kubernetes data"
    out = [f"client: {k.client or unknown}; server: {k.server or unknown}"]
    if k.webhooks:
        ports = f"port {k.service_port}" + (f" -> targetPort {k.target_port}" if k.target_port else "")
        out.append(
            f"webhook {', '.join(str(w) for w in k.webhooks)} ({k.configuration}): "
            f"service {k.service or '-'} {ports}, "
            f"path {k.path}, timeoutSeconds {k.timeout_s}, failurePolicy {k.failure_policy} "
            f"(matched by {k.matched_by})"
        )
        out.append("endpoints: " + ("; ".join(str(p) for p in k.pods) if k.pods else "none"))
    out.extend(str(finding) for finding in k.findings)
    return out


def capture_notes(c: CaptureReport) -> str:
    """What cut a capture short or spoiled part of it, or ''."""
    notes = []
    if c.engine != "native":
        notes.append(f"decoded by {c.engine}")
    if c.side is not None:
        notes.append(f"side {c.side}: the {c.role} end (by {c.role_basis})")
    if c.malformed:
        notes.append(f"{c.malformed} malformed packets")
    if c.drops:
        notes.append(f"{c.drops} dropped by the kernel")
    if c.truncated_at is not None:
        notes.append(f"last record cut off at byte {c.truncated_at}")
    if c.stopped:
        notes.append(f"stopped: {c.stopped}")
    if c.error:
        notes.append(f"error: {c.error}")
    return "; ".join(notes)
