"""Turn a decided connection (its facts and its Diagnosis) into its FlowReport: evidence rows and names.

Nothing here decides anything: the label, the errors, the timing, where and the next steps are the
Diagnosis's; this module lays out the packets as evidence and names the two ends from --k8s data.
"""

from __future__ import annotations

from pcapdiag.classify import Basis, ConnectionFacts, Diagnosis, Label
from pcapdiag.classify.errors import icmp_meaning
from pcapdiag.flow import Direction, PacketRecord
from pcapdiag.k8s import Backend, Inventory, WebhookMatch
from pcapdiag.k8s.model import service_ref
from pcapdiag.prose import Ip, Name, NameKind, Text, text
from pcapdiag.report.model import (
    EvidenceRow,
    FlowReport,
    KubeContext,
    Translated,
    new_evidence_row,
)
from pcapdiag.tls.constants import version_name

NS = 1_000_000_000
MAX_EVIDENCE = 40
"""Evidence rows shown for one connection: every packet up to this, else the first and last
packets, every packet with a TLS/HTTP note, and the key frames."""
_FLAG_NAMES = (
    (0x02, "SYN"),
    (0x01, "FIN"),
    (0x04, "RST"),
    (0x08, "PSH"),
    (0x10, "ACK"),
    (0x20, "URG"),
)


_FLAG_TEXTS = tuple("[" + ", ".join(name for bit, name in _FLAG_NAMES if f & bit) + "]" for f in range(256))
"""flag_text() of every flag byte, made once: each evidence row needs one."""
_DIRECTION_TEXTS = (Direction.TO_SERVER.label, Direction.TO_CLIENT.label)
"""Direction.label by direction, without its property call per row."""


def flag_text(flags: int) -> str:
    """'[SYN, ACK]' as Wireshark writes flags."""
    return _FLAG_TEXTS[flags & 0xFF]  # the named bits are all in the low byte


def _packet_summary(p: PacketRecord) -> str:
    flags = p.flags
    ack = f" ack={p.ack}" if flags & 0x10 else ""
    note = f" ({p.note.replace('-', ' ')})" if p.note else ""
    return f"{_FLAG_TEXTS[flags & 0xFF]} seq={p.seq}{ack} len={p.payload_len}{note}"


def evidence_rows(
    facts: ConnectionFacts, key_frames: tuple[int, ...], only_keys: bool = False
) -> tuple[EvidenceRow, ...]:
    """The connection's packets (and ICMP errors) with their TLS/HTTP notes, oldest first.

    ``only_keys`` keeps just the frames that prove the label (healthy connections).
    """
    keys = set(key_frames)
    notes: dict[int, list[Text]] = {}
    for note in facts.notes:
        if not only_keys or note.frame in keys:
            notes.setdefault(note.frame, []).append(note.summary)
    rows: list[tuple[int, int, str, Text]] = []
    for p in [p for p in facts.log if p.frame in keys] if only_keys else facts.log:
        summary = _packet_summary(p)
        said = notes.pop(p.frame, None)
        row = text(summary, "; ", *_joined(said)) if said else Text((summary,))
        rows.append((p.frame, p.ts_ns, _DIRECTION_TEXTS[p.direction], row))
    for icmp in facts.icmp:
        what, _ = icmp_meaning(icmp.family, icmp.icmp_type, icmp.icmp_code)
        rows.append((icmp.frame, icmp.ts_ns, "network->client", text(f"{what} from ", icmp.reporter)))
    rows.sort(key=lambda r: (r[0], r[1]))
    if only_keys:
        rows = [r for r in rows if r[0] in keys]
    elif len(rows) > MAX_EVIDENCE:
        noted = {n.frame for n in facts.notes}
        head = {r[0] for r in rows[:10]}
        tail = {r[0] for r in rows[-10:]}
        keep = head | tail | keys | noted
        rows = [r for r in rows if r[0] in keep][: MAX_EVIDENCE + len(keys)]
    start = facts.first_ts
    return tuple(new_evidence_row(f, round((ts - start) / NS, 6), d, s, f in keys) for f, ts, d, s in rows)


def _joined(items: list[Text]) -> list[Text | str]:
    out: list[Text | str] = []
    for i, item in enumerate(items):
        if i:
            out.append("; ")
        out.append(item)
    return out


def _backend_text(b: Backend) -> Text:
    who: Text = (
        text(Name(NameKind.NAMESPACE, b.pod_namespace), "/", Name(NameKind.POD, b.pod_name))
        if b.pod_namespace is not None and b.pod_name is not None
        else text("endpoint")
    )
    addr = text("[", Ip(b.ip), "]") if ":" in b.ip and b.port is not None else text(Ip(b.ip))
    port = f":{b.port}" if b.port is not None else ""
    where = text(" on node ", Name(NameKind.NODE, b.node)) if b.node else text()
    return text(who, " ", addr, port, where, f" ({'ready' if b.ready else 'not ready'})")


def kube_context(
    inv: Inventory, client_ip: str, server_ip: str, port: int, sni: str | None
) -> tuple[KubeContext, WebhookMatch | None]:
    """What the Kubernetes data says about a connection (and the webhook match, for the diagnosis)."""
    client, server = inv.describe_ip(client_ip), inv.describe_ip(server_ip)
    match = inv.webhook_for(sni=sni, ip=server_ip, port=port)
    names = (client.describe() if client else None, server.describe() if server else None)
    if match is None:
        return KubeContext(*names), None
    w = match.webhook
    return (
        KubeContext(
            *names,
            webhooks=tuple(Name(NameKind.WEBHOOK, n) for n in match.names),
            configuration=text(f"{w.kind.resource} ", Name(NameKind.CONFIGURATION, w.configuration)),
            service=service_ref(match.service_namespace, match.service_name) if match.service else None,
            service_port=match.service_port,
            target_port=match.target_port,
            timeout_s=min(match.timeouts_s) if match.timeouts_s else None,
            failure_policy=w.failure_policy.value,
            path=w.path,
            pods=tuple(_backend_text(b) for b in match.backends),
            matched_by=match.matched_by.value,
            findings=inv.checks(match),
        ),
        match,
    )


def build_flow(
    capture: str,
    facts: ConnectionFacts,
    diagnosis: Diagnosis,
    *,
    kube: KubeContext | None = None,
    basis: Basis | None = None,
) -> FlowReport:
    """The report of one decided connection (``basis``: what it was decided from, kept to decide it
    again once other captures of the same traffic are paired with it)."""
    c, s, app = facts.client_side, facts.server_side, facts.app
    t = facts.translation
    return FlowReport(
        id=facts.id,
        capture=capture,
        client=facts.client,
        server=facts.server,
        client_inferred=facts.client_inferred,
        diagnosis=diagnosis,
        sni=Name(NameKind.DNS, app.sni) if app.sni is not None else None,
        alpn=app.alpn,
        tls_version=app.version_text or version_name(app.version),
        start_ns=facts.first_ts,
        duration_s=round((facts.last_ts - facts.first_ts) / NS, 6),
        packets=facts.packets,
        bytes_to_server=c.bytes,
        bytes_to_client=s.bytes,
        retransmissions=c.retransmissions + s.retransmissions + max(c.syn_count - 1, 0),
        history=facts.history,
        evidence=evidence_rows(facts, diagnosis.key_frames, only_keys=diagnosis.label is Label.OK),
        first_frame=facts.first_frame,
        last_frame=facts.last_frame,
        kubernetes=kube,
        translated=Translated(t.other_id, t.client, t.server, "original" if t.original else "translated")
        if t is not None
        else None,
        basis=basis,
    )
