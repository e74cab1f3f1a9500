"""Turn a classified connection into its FlowReport: addresses as text, evidence rows, next steps."""

from __future__ import annotations

import dataclasses

from pcapdiag.classify import Label, Timing, Verdict, capture_limits, infer_timing
from pcapdiag.classify.errors import icmp_meaning
from pcapdiag.classify.next_steps import Target, next_steps
from pcapdiag.flow import Connection, Direction, PacketRecord, format_ip
from pcapdiag.flow.key import Endpoint
from pcapdiag.k8s import Inventory, WebhookMatch
from pcapdiag.report.model import (
    Address,
    EvidenceRow,
    FlowReport,
    KubeContext,
    Translated,
    new_evidence_row,
)
from pcapdiag.tls import AppObserver

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


def _endpoint_address(endpoint: Endpoint) -> Address:
    """A flow table endpoint (packed address, port) as report text."""
    return Address(format_ip(endpoint[0]), endpoint[1])


def flag_text(flags: int) -> str:
    """'[SYN, ACK]' as Wireshark writes flags."""
    return _FLAG_TEXTS[flags & 0xFF]  # the named bits are all in the low byte


def _packet_summary(p: PacketRecord) -> str:
    flags = p.flags
    ack = f" ack={p.ack}" if flags & 0x10 else ""
    note = f" ({p.note.replace('-', ' ')})" if p.note else ""
    return f"{_FLAG_TEXTS[flags & 0xFF]} seq={p.seq}{ack} len={p.payload_len}{note}"


def evidence_rows(
    conn: Connection, app: AppObserver, key_frames: tuple[int, ...], only_keys: bool = False
) -> tuple[EvidenceRow, ...]:
    """The connection's packets (and ICMP errors) with their TLS/HTTP notes, oldest first.

    ``only_keys`` keeps just the frames that prove the label (healthy connections).
    """
    keys = set(key_frames)
    notes: dict[int, list[str]] = {}
    for note in app.notes:
        notes.setdefault(note.frame, []).append(note.summary)
    rows: list[tuple[int, int, str, str]] = []
    for p in [p for p in conn.log if p.frame in keys] if only_keys else conn.log:
        text = _packet_summary(p)
        if p.frame in notes:
            text += "; " + "; ".join(notes.pop(p.frame))
        rows.append((p.frame, p.ts_ns, _DIRECTION_TEXTS[p.direction], text))
    for icmp in conn.icmp:
        what, _ = icmp_meaning(icmp.family, icmp.icmp_type, icmp.icmp_code)
        rows.append((icmp.frame, icmp.ts_ns, "network->client", f"{what} from {format_ip(icmp.reporter)}"))
    rows.sort()
    if only_keys:
        rows = [r for r in rows if r[0] in keys]
    elif len(rows) > MAX_EVIDENCE:
        noted = {n.frame for n in app.notes}
        head = {r[0] for r in rows[:10]}
        tail = {r[0] for r in rows[-10:]}
        keep = head | tail | keys | noted
        rows = [r for r in rows if r[0] in keep][: MAX_EVIDENCE + len(keys)]
    start = conn.first_ts
    return tuple(new_evidence_row(f, round((ts - start) / NS, 6), d, s, f in keys) for f, ts, d, s in rows)


def _backend_text(match: WebhookMatch) -> tuple[str, ...]:
    out = []
    for b in match.backends:
        who = b.pod or "endpoint"
        where = f" on node {b.node}" if b.node else ""
        addr = f"[{b.ip}]" if ":" in b.ip and b.port is not None else b.ip
        port = f":{b.port}" if b.port is not None else ""
        out.append(f"{who} {addr}{port}{where} ({'ready' if b.ready else 'not ready'})")
    return tuple(out)


def kube_context(
    inv: Inventory, client_ip: str, server_ip: str, port: int, sni: str | None
) -> tuple[KubeContext, WebhookMatch | None]:
    """What the Kubernetes data says about a connection (and the webhook match, for next steps)."""
    client, server = inv.describe_ip(client_ip), inv.describe_ip(server_ip)
    match = inv.webhook_for(sni=sni, ip=server_ip, port=port)
    names = (str(client) if client else None, str(server) if server else None)
    if match is None:
        return KubeContext(*names), None
    w = match.webhook
    return (
        KubeContext(
            *names,
            webhooks=match.names,
            configuration=f"{w.kind.resource} {w.configuration}",
            service=match.service,
            service_port=match.service_port,
            target_port=match.target_port,
            timeout_s=min(match.timeouts_s) if match.timeouts_s else None,
            failure_policy=w.failure_policy.value,
            path=w.path,
            pods=_backend_text(match),
            matched_by=match.matched_by.value,
            findings=inv.checks(match),
        ),
        match,
    )


TIMER_LABELS = frozenset({Label.SYN_TIMEOUT, Label.TLS_HANDSHAKE_TIMEOUT, Label.AWAITING_HEADERS})
"""Labels whose error depends on which client timer fired."""


def kubernetes_error(verdict: Verdict, timing: Timing | None) -> str | None:
    """The verdict's error, or the timer inference's when it is strictly more exact.

    The inference wins only when one timer alone explains a give-up the capture shows (no race): a dial
    the webhook timeout ended reads `context deadline exceeded`, not the label's `dial tcp ...: i/o
    timeout`; a stalled handshake ended at 5 s by the webhook timeout cannot be the 10 s TLS handshake
    timeout. In a race the wire cannot tell the strings apart, so the label's own error stays.
    """
    if (
        timing is not None
        and verdict.label in TIMER_LABELS
        and timing.timer is not None
        and not timing.race
        and timing.go_error is not None
    ):
        return timing.go_error
    return verdict.error


def build_flow(
    capture: str,
    conn: Connection,
    app: AppObserver,
    verdict: Verdict,
    *,
    now_ns: int | None = None,
    budget_s: float | None = None,
    kernel_drops: int | None = None,
    k8s: Inventory | None = None,
) -> FlowReport:
    """The report of one connection.

    ``now_ns`` is the capture time it was judged at (default: its last packet), ``budget_s`` the
    webhook's timeoutSeconds when known, ``kernel_drops`` the capture's drop count when known, ``k8s``
    the --k8s inventory (names, the webhook called, and its timeoutSeconds when ``budget_s`` is not given).
    """
    c, s = conn.client_side, conn.server_side
    server_ip = format_ip(conn.server[0])
    sni = app.sni
    kube, match = (
        kube_context(k8s, format_ip(conn.client[0]), server_ip, conn.server[1], sni) if k8s else (None, None)
    )
    if budget_s is None and kube is not None and kube.timeout_s is not None:
        budget_s = float(kube.timeout_s)
    timing = infer_timing(
        conn, app, verdict, now_ns=conn.last_ts if now_ns is None else now_ns, budget_s=budget_s
    )
    return FlowReport(
        id=conn.id,
        capture=capture,
        client=_endpoint_address(conn.client),
        server=Address(server_ip, conn.server[1]),
        client_inferred=conn.client_inferred,
        label=verdict.label,
        kubernetes_error=kubernetes_error(verdict, timing),
        explanation=verdict.explanation,
        next_steps=next_steps(verdict.label, Target(server_ip, conn.server[1], sni), match),
        sni=sni,
        alpn=app.client_hello.alpn if app.client_hello else (),
        tls_version=app.version_text,
        start_ns=conn.first_ts,
        duration_s=round((conn.last_ts - conn.first_ts) / NS, 6),
        packets=conn.packets,
        bytes_to_server=c.bytes,
        bytes_to_client=s.bytes,
        retransmissions=c.retransmissions + s.retransmissions + max(c.syn_count - 1, 0),
        history=conn.history_string,
        evidence=evidence_rows(conn, app, verdict.key_frames, only_keys=verdict.label is Label.OK),
        certificate=verdict.certificate,
        first_frame=conn.first_frame,
        last_frame=conn.last_frame,
        kubernetes=kube,
        timing=timing,
        capture_limits=capture_limits(conn, kernel_drops),
    )


def with_translation(
    flow: FlowReport, other_id: int, client: Endpoint, server: Endpoint, original: bool
) -> FlowReport:
    """``flow`` marked as one of two views of a connection this capture holds twice (NAT).

    The view whose SYN came first is the packet as it arrived: the addresses the client used, so
    the ones in the error it reports; the translated view's error is given with those."""
    seen = Translated(
        other_id,
        _endpoint_address(client),
        _endpoint_address(server),
        "original" if original else "translated",
    )
    changed = " and ".join(
        end
        for end, (mine, theirs) in (
            ("client", (flow.client, seen.client)),
            ("server", (flow.server, seen.server)),
        )
        if mine != theirs
    )
    other = f"{seen.client.ip}:{seen.client.port} -> {seen.server.ip}:{seen.server.port}"
    error = flow.kubernetes_error
    if original:
        how = (
            f"flow {other_id} is the same connection sent on after its {changed} address was "
            f"translated ({other})"
        )
    else:
        how = (
            f"flow {other_id} is the same connection as it arrived, before its {changed} address was "
            f"translated ({other}): the client used those addresses, and its error names them"
        )
        if error is not None:
            for mine, theirs in ((flow.server, seen.server), (flow.client, seen.client)):
                for fmt in ("{}:{}", "[{}]:{}"):
                    error = error.replace(fmt.format(mine.ip, mine.port), fmt.format(theirs.ip, theirs.port))
    return dataclasses.replace(
        flow,
        translated=seen,
        kubernetes_error=error,
        explanation=f"{flow.explanation} The capture holds this connection twice: {how}.",
    )
