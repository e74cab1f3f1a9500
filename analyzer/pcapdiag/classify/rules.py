"""The label rules: a connection's facts to its label, explanation and key frames (zeek conn_state style).

The rules run top to bottom and the first that matches wins. Every threshold is a protocol fact:
- MIN_CLIENT_TIMER_NS: kube-apiserver's shortest timer is 1 s (webhook timeoutSeconds >= 1), so a
  client that gives up sooner did not time out and we do not say it did.
- ctx.timeout_ns (default 10 s, the admission webhook default and the TLS handshake timeout): how
  long silence must last in the capture before it counts as a timeout when the client's own give-up
  is not in the capture.
- SYN_SILENCE_NS: one initial RTO (1 s, RFC 6298 / Linux TCP_TIMEOUT_INIT) without an answer makes
  an unanswered SYN a timeout even when its retransmission is not in the capture.

Two principles hold throughout. The wire outranks inference: a label rests on what the packets show
(a certificate's dates may explain a rejection the packets show; they never make a completed
exchange a failure). And whatever a side sends after the other gave up answers nothing: the client's
give-up (its first FIN, RST or closing alert) ends what counts as an answer.

While the capture goes on (``ctx.final`` False) a rule that cannot decide yet returns Undecided with
the capture time at which silence would decide it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pcapdiag.classify import http2
from pcapdiag.classify.diagnosis import Candidate, Undecided
from pcapdiag.classify.errors import (
    ECONNRESET,
    dial_error,
    dial_timeout,
    icmp_meaning,
    read_error,
)
from pcapdiag.classify.facts import AppFacts, ConnectionFacts, IcmpFacts
from pcapdiag.classify.labels import Label
from pcapdiag.classify.timers import next_syn_deadline
from pcapdiag.flow import Direction
from pcapdiag.prose import Name, NameKind, Text, join, text
from pcapdiag.tls import CertificateFacts, Message, Mode, analyse_certificate
from pcapdiag.tls.constants import CERTIFICATE_ALERTS, is_tls13

NS = 1_000_000_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MIN_CLIENT_TIMER_NS = 1 * NS
SYN_SILENCE_NS = 1 * NS
QUICK_ABORT_NS = NS // 2
"""A client that closes within this of the server's last handshake record decided locally (it
verified what it got), rather than waiting for a timer."""
TIMEOUT_SLACK_NS = NS // 2
"""Half a second past --timeout: a client whose own timer equals it closes right at it, and its close
is the evidence of which timer fired."""


@dataclass(frozen=True, slots=True)
class Context:
    """What the classifier needs to know beyond the connection itself."""

    now_ns: int
    """Capture time the connection is judged at: the end of the capture (its last packet, or its
    recorded stop time when later), or the live clock's capture time."""
    timeout_ns: int = 10 * NS
    """--timeout: silence this long counts as a timeout when the client's give-up is not captured."""
    final: bool = True
    """No more packets of this connection will come (the capture ended, or the connection closed):
    decide now, whatever is missing."""
    budget_s: float | None = None
    """The webhook's timeoutSeconds when known (--k8s, or the caller)."""
    snaplen: int | None = None
    """The capture's snapshot length when it cuts packets (tcpdump -s), else None."""
    kernel_drops: int | None = None
    """Packets the capture itself reports dropped (pcapng isb_drop), when known."""
    server_is_service: bool = False
    """--k8s says the server address is a Service's (a ClusterIP): a reject from the client's own
    node is then kube-proxy's."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the rules decided: the label, the label's own error, why, and the frames that prove it."""

    label: Label
    error: Text | None
    explanation: Text
    key_frames: tuple[int, ...]
    certificate: CertificateFacts | None = None
    alternatives: tuple[Candidate, ...] = ()
    """Other errors the wire cannot tell from ``error`` (not timers: those come from the timing)."""
    findings: tuple[Text, ...] = ()
    cut: bool = False
    """Undecided because the snaplen cut what would decide it."""


def _s(ns: int) -> str:
    """Seconds, for explanations."""
    return f"{ns / NS:.3f} s"


def _later(ctx: Context, at: int) -> Undecided | None:
    """Undecided until ``at`` while the capture goes on; None once it is final."""
    return None if ctx.final else Undecided(at)


ABSENCE_LABELS = frozenset(
    {
        Label.TLS_HANDSHAKE_TIMEOUT,
        Label.AWAITING_HEADERS,
        Label.SERVER_CLOSED,
        Label.CERT_REJECTED,
        Label.TLS_FAILED,
    }
)
"""Labels that rest on something *not* happening: a capture that lost packets cannot prove them."""


def capture_loss(facts: ConnectionFacts) -> tuple[int, int]:
    """Payload bytes per direction (to server, to client) that the other side acknowledged although
    the capture never showed them: loss in the capture, not on the wire.

    A hole that the receiver never acknowledged past (it kept acknowledging the byte before the hole,
    duplicate ACKs and SACK blocks for what came after) is the network losing packets: the capture
    saw what the receiver saw, and the hole is evidence, not a reason to give up. A hole given up on
    (too much held behind it) cannot be placed any more and counts as loss in the capture.
    """
    out = []
    for me, peer in ((facts.client_side, facts.server_side), (facts.server_side, facts.client_side)):
        missing = max(0, peer.acked - me.captured_end)
        if me.gaps and not missing:
            missing = 1
        out.append(missing)
    return out[0], out[1]


def network_loss(facts: ConnectionFacts) -> tuple[Text, ...]:
    """Findings for holes the receiver never acknowledged past: packets lost on the path."""
    out = []
    for who, me, peer in (
        ("client", facts.client_side, facts.server_side),
        ("server", facts.server_side, facts.client_side),
    ):
        if me.held and peer.acked <= me.captured_end:
            other = "server" if who == "client" else "client"
            resent = (
                f"; the {who} resent data {me.retransmissions} time{'s' * (me.retransmissions != 1)}"
                if me.retransmissions
                else ""
            )
            out.append(
                text(
                    f"Packets were lost on the path, not in the capture: the {other} received "
                    f"{me.held} bytes of the {who}'s stream after a hole at byte {me.captured_end} and "
                    f"never acknowledged past the hole{resent}. Large segments lost while small ones "
                    "arrive is what a path-MTU black hole (an MTU mismatch with ICMP 'fragmentation "
                    "needed' filtered) looks like."
                )
            )
    return tuple(out)


def translation_note(facts: ConnectionFacts) -> tuple[Text, ...]:
    """The finding that the capture holds this connection twice, across a NAT."""
    t = facts.translation
    if t is None:
        return ()
    changed = " and ".join(
        end
        for end, (mine, theirs) in (
            ("client", (facts.client, t.client)),
            ("server", (facts.server, t.server)),
        )
        if mine != theirs
    )
    other = text(t.client, " -> ", t.server)
    if t.original:
        how = text(
            f"flow {t.other_id} is the same connection sent on after its {changed} address was translated (",
            other,
            ")",
        )
    else:
        how = text(
            f"flow {t.other_id} is the same connection as it arrived, before its {changed} address was "
            "translated (",
            other,
            "): the client used those addresses, and its error names them",
        )
    return (text("The capture holds this connection twice: ", how, "."),)


def classify_wire(facts: ConnectionFacts, ctx: Context) -> Verdict | Undecided:
    """The label of one connection; a capture that lost packets never proves an absence."""
    verdict = _classify(facts, ctx)
    if isinstance(verdict, Undecided):
        return verdict
    app = facts.app
    absent = verdict.label in ABSENCE_LABELS or (verdict.label is Label.OK and not app.answered)
    if absent and not (app.client_abort and app.client_abort.description is not None):
        lost_c, lost_s = capture_loss(facts)
        if lost_c or lost_s:
            return Verdict(
                Label.INCOMPLETE,
                None,
                text(
                    f"The capture lost packets of this connection ({lost_c} bytes client->server, "
                    f"{lost_s} bytes server->client acknowledged by the other side but never captured), "
                    f"so what looks like '{verdict.label.value}' cannot be proven: ",
                    verdict.explanation,
                ),
                verdict.key_frames,
            )
    doubt = _snaplen_doubt(facts, verdict)
    if doubt is not None:
        snap = f" at {ctx.snaplen} bytes" if ctx.snaplen else ""
        return Verdict(
            Label.INCOMPLETE,
            None,
            text(
                f"The snaplen{snap} cut this connection's packets and {doubt}, so what looks like "
                f"'{verdict.label.value}' cannot be proven (capture with tcpdump -s 0): ",
                verdict.explanation,
            ),
            verdict.key_frames,
            cut=True,
        )
    loss = network_loss(facts) + translation_note(facts)
    if loss:
        return Verdict(
            verdict.label,
            verdict.error,
            verdict.explanation,
            verdict.key_frames,
            verdict.certificate,
            verdict.alternatives,
            verdict.findings + loss,
            verdict.cut,
        )
    return verdict


_TCP_LABELS = frozenset(
    {Label.REFUSED, Label.SYN_TIMEOUT, Label.UNREACHABLE, Label.INCOMPLETE, Label.PARTIAL}
)
"""Labels that rest on TCP/IP headers alone, which every snaplen from 96 up keeps whole."""


def _snaplen_doubt(facts: ConnectionFacts, verdict: Verdict) -> str | None:
    """Why the bytes a short snaplen hid leave ``verdict`` unproven (a clause), or None.

    A record whose header was seen is read by its length whatever the snaplen hid of it; what can
    hide is a record whose header was hidden (the observer lost its place) and an HTTP status code.
    Each label is checked for the facts it rests on: an answer, a request, the end of the handshake,
    a status code.
    """
    app = facts.app
    snap = app.snap
    if snap is None:
        return None
    label = verdict.label
    if snap.blind and label not in _TCP_LABELS:
        return "hid every byte of its first payload, so whether it carries TLS is unknown"
    if label is Label.OK:
        if app.answered:
            return snap.hidden_status
        return snap.hidden_request or snap.hidden_finish
    if label in (Label.AWAITING_HEADERS, Label.SERVER_CLOSED):
        if app.pending is not None:
            return snap.hidden_answer or snap.hidden_close
        return snap.hidden_request
    if label is Label.TLS_FAILED:
        alert = app.server_alert
        if alert is not None and alert.description is not None:
            return None  # a clear alert: the server had not finished its handshake when it sent it
        if app.client_auth_records and not app.answered and app.closing_ts[Direction.TO_CLIENT]:
            return None  # the client's certificate records and the server's alert were both seen
    if label in (Label.TLS_HANDSHAKE_TIMEOUT, Label.TLS_FAILED):
        return snap.hidden_finish or (snap.hidden_request if app.handshake_done_frame else None)
    if label is Label.CERT_REJECTED and (app.client_abort is None or app.client_abort.description is None):
        return snap.hidden_finish  # no abort, or an encrypted one: a closing alert if the handshake ended
    return None


def _classify(facts: ConnectionFacts, ctx: Context) -> Verdict | Undecided:
    """The label of one connection, first matching rule wins."""
    c, s = facts.client_side, facts.server_side
    if not facts.packets and facts.icmp:
        return _syn_stage(facts, ctx)  # only the ICMP error that refused it was captured
    if not c.syn_count and not s.synack_frame:
        return h2_said(facts, _midstream(facts, ctx))
    if not s.synack_frame and not s.first_data_frame and not c.first_data_frame and not s.rst_frame:
        # The server never accepted the SYN (whatever bare ACKs it sent): still the dial.
        return _syn_stage(facts, ctx)
    if (
        s.synack_frame
        and c.syn_count
        and c.packets == c.syn_count
        and not s.first_data_frame
        and not s.rst_frame
    ):
        verdict = _synack_lost(facts, ctx)
        if verdict is not None:
            return verdict
    if s.rst_frame and not s.synack_frame and not s.first_data_frame:
        return Verdict(
            Label.REFUSED,
            dial_error(facts.dialled_server, "connection refused"),
            text(
                "The server answered the SYN with a RST: nothing listens on that port (or a firewall "
                "rejected it with a reset)."
            ),
            (c.syn_frame, s.rst_frame),
        )
    if facts.app.mode is Mode.TLS and not facts.app.midstream:
        return h2_said(facts, _tls(facts, ctx))
    return h2_said(facts, _exchanges(facts, ctx, tls=facts.app.mode is Mode.TLS))


def _synack_lost(facts: ConnectionFacts, ctx: Context) -> Verdict | Undecided | None:
    """The server answered with a SYN-ACK, yet the client only ever sent SYNs: the SYN-ACK never
    reached it (a capture on the server's side of a lossy return path). A client that got it would
    have acknowledged it at once; one that keeps resending its SYN after the SYN-ACK, or silence past
    one initial RTO, proves it did not."""
    c, s = facts.client_side, facts.server_side
    resent_after = c.syn_count >= 2 and c.last_ts > s.synack_ts
    waited = (ctx.now_ns if not c.fin_ts else c.fin_ts) - s.synack_ts
    if not resent_after and waited < SYN_SILENCE_NS:
        return _later(ctx, s.synack_ts + SYN_SILENCE_NS)
    return Verdict(
        Label.SYN_TIMEOUT,
        dial_timeout(facts.dialled_server),
        text(
            "The server answered the SYN with a SYN-ACK, but the client never acknowledged it"
            + (
                f" and kept resending its SYN ({c.syn_count} SYNs over {_s(c.last_ts - c.syn_ts)})"
                if resent_after
                else ""
            )
            + ": the SYN-ACK never reached the client (lost on the way back), so its dial timed out."
        ),
        (c.syn_frame, s.synack_frame),
    )


def icmp_sender(icmp: IcmpFacts, facts: ConnectionFacts, server_is_service: bool | None) -> Text:
    """Who sent an ICMP error and what that means (wire-facts 6.3): the server host itself, the
    client's own node, or a router on the path."""
    reporter = icmp.reporter
    if reporter.value == facts.server.ip:
        return text(
            "from the server's own address ",
            reporter,
            ": the server host itself rejected the connection (a REJECT rule in its firewall, "
            "iptables or nftables 'reject')",
        )
    if reporter.value == facts.client.ip:
        service = (
            "the address it dialled is a Service: kube-proxy rejects connections to a Service that has "
            "no ready endpoints (check the Service's EndpointSlices)"
            if server_is_service
            else "if the address it dialled is a Service ClusterIP, kube-proxy rejects connections to a "
            "Service that has no ready endpoints (check its EndpointSlices); otherwise a local firewall "
            "REJECT rule"
        )
        return text(
            "from the client's own address ",
            reporter,
            f": the client's node rejected the connection before it left the host; {service}",
        )
    return text("from ", reporter, ": a router or firewall on the path refused to deliver it")


def _syn_stage(facts: ConnectionFacts, ctx: Context) -> Verdict | Undecided:
    """Only the client has spoken: refused by ICMP, timed out, or undecided."""
    c = facts.client_side
    if facts.icmp:
        icmp = facts.icmp[0]
        what, errno_text = icmp_meaning(icmp.family, icmp.icmp_type, icmp.icmp_code)
        unseen = (
            ""
            if facts.packets
            else " (the capture holds no packet of this connection but the error quoting its SYN: the "
            "SYN never passed the capture point)"
        )
        return Verdict(
            Label.UNREACHABLE,
            dial_error(facts.dialled_server, errno_text),
            text(
                f"The SYN was answered by {what} ",
                icmp_sender(icmp, facts, ctx.server_is_service),
                f"{unseen}.",
            ),
            tuple(f for f in (c.syn_frame, icmp.frame) if f),
        )
    if c.packets > c.syn_count and c.acked >= 0 and not c.rst_frame:
        return _later(ctx, facts.last_ts + ctx.timeout_ns) or Verdict(
            Label.INCOMPLETE,
            None,
            text(
                "Only the client's packets are in the capture: it went on as if the handshake "
                "completed, so the server's packets were not captured (one direction only)."
            ),
            (c.syn_frame,),
        )
    gave_up = c.close_ts
    if not gave_up and not ctx.final:
        due = next_syn_deadline(facts.syn_times)
        if due is not None and ctx.now_ns < due:
            return Undecided(due)  # its next SYN may still come: hold it, count it
    waited = (gave_up or ctx.now_ns) - c.syn_ts
    if c.syn_count >= 2 or waited >= SYN_SILENCE_NS:
        sched = f"{c.syn_count} SYN{'s' if c.syn_count > 1 else ''} over {_s(c.last_ts - c.syn_ts)}"
        return Verdict(
            Label.SYN_TIMEOUT,
            dial_timeout(facts.dialled_server),
            text(
                f"The SYN was never answered ({sched}, no SYN-ACK, RST or ICMP for {_s(waited)}): "
                "it was dropped on the way to the server or the answer was dropped on the way back."
            ),
            (c.syn_frame, c.close_frame) if gave_up else (c.syn_frame,),
        )
    if not gave_up and not ctx.final:
        return Undecided(c.syn_ts + SYN_SILENCE_NS)
    why = (
        f"the client abandoned it after {_s(waited)}"
        if gave_up
        else f"the capture ended {_s(waited)} after it"
    )
    return Verdict(
        Label.INCOMPLETE,
        None,
        text(f"A SYN with no answer yet, but {why}: too soon to call it a timeout."),
        (c.syn_frame,),
    )


def _cut(ctx: Context, first: int) -> Verdict:
    """Undecided for good: the snaplen cut the client's first TLS record before its header ended."""
    snap = f" at {ctx.snaplen} bytes" if ctx.snaplen else ""
    return Verdict(
        Label.INCOMPLETE,
        None,
        text(
            f"The snaplen{snap} cut the client's first TLS record before its header ended, so the "
            "ClientHello cannot be read: capture with `tcpdump -s 0` to judge this connection."
        ),
        (first,),
        cut=True,
    )


def _tls(facts: ConnectionFacts, ctx: Context) -> Verdict | Undecided:
    """A connection whose client opened with a TLS handshake."""
    c, s, app = facts.client_side, facts.server_side, facts.app
    ch_frame = app.client_hello_frame or c.first_data_frame
    ch_ts = app.client_hello_ts or c.first_data_ts
    gave_up = facts.client_closing[0]
    client_close = c.close_ts
    server_close = s.close_ts
    if app.not_tls[Direction.TO_CLIENT] is not None:
        return Verdict(
            Label.NOT_TLS,
            text("http: server gave HTTP response to HTTPS client"),
            text(
                f"The server answered the ClientHello with bytes that are not TLS "
                f"({app.not_tls[Direction.TO_CLIENT]}): the port speaks plain HTTP (or another "
                "protocol), so the service's targetPort likely points at the wrong container port."
            ),
            (ch_frame, app.not_tls_frame[Direction.TO_CLIENT]),
        )
    if app.snap is not None and app.snap.client_lost_first:
        return _cut(ctx, ch_frame)
    if app.unsynced[Direction.TO_SERVER] and not app.client_hello_frame:
        return Verdict(
            Label.INCOMPLETE,
            None,
            text(
                "The client's TLS records could not be read (bytes missing from the capture): "
                "the connection cannot be judged."
            ),
            (ch_frame,),
        )
    server_alert = app.server_alert
    done = app.handshake_done_frame
    if server_alert is not None and (not done or server_alert.frame <= done):
        error = (
            f"remote error: tls: {server_alert.name}"
            if server_alert.description is not None
            else "remote error: tls: (encrypted alert)"
        )
        return Verdict(
            Label.TLS_FAILED,
            text(error),
            text(f"The server rejected the handshake with a TLS alert ({server_alert.name})."),
            (ch_frame, server_alert.frame),
        )
    # What the server sent after the client gave up answers nothing.
    server_answered = s.first_data_frame and not (gave_up and s.first_data_ts > gave_up)
    if not server_answered:
        late = (
            (
                text(
                    f"The server's first TLS bytes came {_s(s.first_data_ts - gave_up)} after the client "
                    "gave up: too late to count as an answer."
                ),
            )
            if s.first_data_frame
            else ()
        )
        if server_close and (not client_close or server_close <= client_close):
            reset = s.reset
            return Verdict(
                Label.TLS_FAILED,
                read_error(facts.dialled_client, facts.dialled_server, ECONNRESET) if reset else text("EOF"),
                text(
                    "The server " + ("reset" if reset else "closed") + " the connection "
                    f"{_s(server_close - ch_ts)} after the ClientHello without a TLS answer."
                ),
                (ch_frame, s.close_frame),
            )
        return _with_findings(
            _silence(
                Label.TLS_HANDSHAKE_TIMEOUT,
                text("net/http: TLS handshake timeout"),
                "the ClientHello",
                ch_frame,
                ch_ts,
                client_close,
                c.close_frame,
                ctx,
                "TCP connected and the ClientHello was sent, but the server sent no TLS bytes",
            ),
            late,
        )
    if done or app.answered or app.client_data_records:
        # The client finished the handshake (its Finished, or application data): it accepted the
        # server's certificate, whatever the certificate looks like.
        return _exchanges(facts, ctx, tls=True)
    if app.client_abort is not None:
        return _client_abort(facts, ch_frame)
    last_server = max(app.server_flight_last_ts, app.server_hello_ts, s.last_data_ts)
    if server_close and (not client_close or server_close <= client_close):
        return Verdict(
            Label.TLS_FAILED,
            text("EOF"),
            text("The server closed the connection in the middle of the handshake."),
            (ch_frame, app.server_hello_frame or s.first_data_frame, s.close_frame),
        )
    if client_close and client_close - last_server < QUICK_ABORT_NS and app.server_hello_frame:
        return _client_abort(facts, ch_frame, closed_frame=c.close_frame)
    if s.bytes and c.acked <= 0 and s.retransmissions:
        # Seen at the server's side: the flight went out and was resent, the client never
        # acknowledged a byte of it, so it never arrived; time runs from its first sending.
        return _silence(
            Label.TLS_HANDSHAKE_TIMEOUT,
            text("net/http: TLS handshake timeout"),
            "the server first sent it",
            ch_frame,
            app.server_hello_ts or s.first_data_ts,
            client_close,
            c.close_frame,
            ctx,
            f"The server sent its handshake flight ({s.bytes} bytes) and resent it "
            f"{s.retransmissions} time{'s' * (s.retransmissions != 1)}, but the client never "
            "acknowledged any of it: the flight never reached the client (lost on the way back)",
        )
    return _silence(
        Label.TLS_HANDSHAKE_TIMEOUT,
        text("net/http: TLS handshake timeout"),
        "the server's last handshake record",
        ch_frame,
        last_server,
        client_close,
        c.close_frame,
        ctx,
        "The handshake started but stalled",
    )


def _with_findings(verdict: Verdict | Undecided, findings: tuple[Text, ...]) -> Verdict | Undecided:
    if isinstance(verdict, Undecided) or not findings:
        return verdict
    return Verdict(
        verdict.label,
        verdict.error,
        verdict.explanation,
        verdict.key_frames,
        verdict.certificate,
        verdict.alternatives,
        verdict.findings + findings,
        verdict.cut,
    )


def certificate_of(facts: ConnectionFacts) -> CertificateFacts | None:
    """The server certificate's facts for the connection's SNI at the capture's time, when in clear."""
    try:
        at: dt.datetime | None = EPOCH + dt.timedelta(microseconds=facts.first_ts // 1000)
    except OverflowError:
        at = None  # a corrupt timestamp: validity cannot be judged
    return analyse_certificate(facts.app.certificates, facts.app.sni, at)


X509_UNKNOWN_AUTHORITY = "x509: certificate signed by unknown authority"
X509_EXPIRED = "x509: certificate has expired or is not yet valid"


def _client_abort(facts: ConnectionFacts, ch_frame: int, closed_frame: int = 0) -> Verdict:
    """The client stopped the handshake after the server's flight."""
    app = facts.app
    abort = app.client_abort
    cert = certificate_of(facts)
    frames = (
        ch_frame,
        app.certificate_frame or app.server_flight_last_frame or app.server_hello_frame,
    )
    if abort is not None and abort.description is not None and abort.description not in CERTIFICATE_ALERTS:
        return Verdict(
            Label.TLS_FAILED,
            text(f"tls: {abort.name}"),
            text(
                f"The client aborted the handshake with a TLS alert ({abort.name}): it does not "
                "accept the server's handshake parameters (not its certificate)."
            ),
            (*frames, abort.frame),
        )
    alternatives: tuple[Candidate, ...] = ()
    sni = Name(NameKind.DNS, app.sni) if app.sni else "..."
    if cert is not None and cert.problems:
        # Go checks the validity period, then the names, then the issuer (x509.Certificate.Verify):
        # the first problem the certificate shows is the error a strict client printed.
        error = cert.problems[0]
        why = join(cert.problems, "; ")
        if cert.dated:
            rest = cert.problems[1] if len(cert.problems) > 1 else text(X509_UNKNOWN_AUTHORITY)
            alternatives = (
                Candidate(
                    rest,
                    text(
                        "if the client's clock differs from the capture's "
                        "(validity is judged at the capture's time)"
                    ),
                ),
            )
    elif cert is not None:
        error = text(X509_UNKNOWN_AUTHORITY)
        why = text(
            "the certificate's name and dates are fine for this connection, so the issuer is "
            "one the client does not trust (check the webhook's caBundle)"
        )
    else:
        # Go sends the same alert (bad_certificate) for each reason: one headline, the others as
        # alternatives. An issuer the client does not trust (a caBundle that does not match the
        # serving certificate) is the commonest in webhook tickets.
        error = text(X509_UNKNOWN_AUTHORITY)
        alternatives = (
            Candidate(
                text("x509: certificate is valid for ..., not ", sni),
                text("if the certificate's names do not include ", sni),
            ),
            Candidate(
                text(X509_EXPIRED),
                text("if the certificate had expired (or was not yet valid) by the client's clock"),
            ),
        )
        why = text(
            "TLS 1.3 encrypts the certificate, so which reason it was is not visible: Go sends "
            "the same alert for an unknown authority, a name mismatch and an expired certificate"
            if is_tls13(app.version)
            else "the snaplen cut the server's certificate flight, so which reason it was is not visible"
            if app.snap is not None
            else "the certificate in the capture could not be parsed, so which reason it was is not visible"
        )
    how = (
        f"a TLS alert ({abort.name})"
        if abort is not None and abort.description is not None
        else "an encrypted alert-sized record instead of its Finished"
        if abort is not None
        else "closing the connection instead of finishing the handshake"
    )
    last = abort.frame if abort is not None else closed_frame
    return Verdict(
        Label.CERT_REJECTED,
        error,
        text(f"The client rejected the server's certificate flight with {how}: ", why, "."),
        (*frames, last),
        certificate=cert,
        alternatives=alternatives,
    )


def _silence(
    label: Label,
    error: Text,
    since_what: str,
    first_frame: int,
    since_ts: int,
    client_close: int,
    client_close_frame: int,
    ctx: Context,
    what: str,
) -> Verdict | Undecided:
    """A wait with no answer: a timeout if the client gave up after a timer or the capture ran on."""
    if client_close:
        waited = client_close - since_ts
        if waited >= MIN_CLIENT_TIMER_NS:
            return Verdict(
                label,
                error,
                text(f"{what}; the client gave up {_s(waited)} after {since_what}."),
                (first_frame, client_close_frame),
            )
        return Verdict(
            Label.INCOMPLETE,
            None,
            text(
                f"{what}, but the client closed only {_s(waited)} after {since_what}: sooner than "
                "any kube-apiserver timer, so this is not a timeout."
            ),
            (first_frame, client_close_frame),
        )
    waited = ctx.now_ns - since_ts
    if waited >= ctx.timeout_ns and (ctx.final or waited >= ctx.timeout_ns + TIMEOUT_SLACK_NS):
        return Verdict(
            label,
            error,
            text(
                f"{what}, and the capture ran on {_s(waited)} after {since_what} "
                f"(past the {_s(ctx.timeout_ns)} timeout)."
            ),
            (first_frame,),
        )
    if not ctx.final:
        return Undecided(since_ts + ctx.timeout_ns + TIMEOUT_SLACK_NS)
    return Verdict(
        Label.INCOMPLETE,
        None,
        text(
            f"{what} yet, but the capture ends {_s(waited)} after {since_what}, before the "
            f"{_s(ctx.timeout_ns)} timeout."
        ),
        (first_frame,),
    )


def _answer_after_give_up(app: AppFacts, gave_up: int) -> tuple[Message, Message] | None:
    """The last request and its answer when the answer came after the client had given up on it."""
    request, answer = app.last_request, app.last_answer
    if app.pending is not None or request is None or answer is None or not gave_up:
        return None
    if request.ts_ns <= gave_up < answer.ts_ns:
        return request, answer
    return None


def _exchanges(facts: ConnectionFacts, ctx: Context, tls: bool) -> Verdict | Undecided:
    """After the handshake (or in clear): was the last request answered?"""
    c, s, app = facts.client_side, facts.server_side, facts.app
    s_alert = app.closing_ts[Direction.TO_CLIENT]
    client_close, client_close_frame = facts.client_closing
    server_close, server_close_frame = facts.server_closing
    server_reset = bool(s.rst_ts) and s.rst_ts == server_close
    pending = app.pending
    findings: tuple[Text, ...] = ()
    late = _answer_after_give_up(app, client_close)
    if late is not None:
        pending = late[0]
        findings = (
            text(
                f"The server answered {_s(late[1].ts_ns - client_close)} after the client gave up "
                f"(frame {late[1].frame}): a slow webhook, too late to count as an answer."
            ),
        )
    what = "HTTP/2 request" if app.h2 is not None else "TLS request" if tls else "request"
    if (
        tls
        and app.client_auth_records
        and not app.answered
        and s_alert
        and (not client_close or s_alert <= client_close)
    ):
        name = "certificate required" if app.client_sent_empty_certificate else "bad certificate"
        return Verdict(
            Label.TLS_FAILED,
            text(f"remote error: tls: {name}"),
            text(
                "The server asked for a client certificate and, once the client's flight arrived"
                + (" with none in it" if app.client_sent_empty_certificate else "")
                + ", answered with an encrypted alert and closed: it rejected the client's certificate "
                f"(Go's webhook client reports 'remote error: tls: {name}')."
            ),
            (app.handshake_done_frame, app.closing_frame[1]),
            alternatives=(
                Candidate(
                    text("remote error: tls: bad certificate"),
                    text(
                        "if the webhook's TLS stack answers a missing client certificate with "
                        "bad_certificate (older Go servers do; the alert is encrypted, so which one it "
                        "sent is not visible)"
                    ),
                ),
            )
            if app.client_sent_empty_certificate
            else (),
        )
    if pending is not None:
        acked = s.acked >= app.pending_end
        if (
            late is None
            and server_close >= pending.ts_ns
            and (not client_close or server_close < client_close)
        ):
            reset = server_reset
            if app.h2 is not None:
                return h2_closed(facts, pending, server_close, server_close_frame, reset)
            return Verdict(
                Label.SERVER_CLOSED,
                read_error(facts.dialled_client, facts.dialled_server, ECONNRESET) if reset else text("EOF"),
                text(
                    f"The server {'reset' if reset else 'closed'} the connection "
                    f"{_s(server_close - pending.ts_ns)} after the {what} without answering it."
                ),
                (pending.frame, server_close_frame),
            )
        line = f" ({pending.line})" if pending.line else ""
        acked_text = (
            "the server acknowledged it"
            if acked
            else "the server never acknowledged all of it, so it may not have arrived"
        )
        return _with_findings(
            _silence(
                Label.AWAITING_HEADERS,
                text("context deadline exceeded"),
                f"the {what}",
                pending.frame,
                pending.ts_ns,
                client_close if client_close >= pending.ts_ns else 0,
                client_close_frame,
                ctx,
                f"The {what}{line} got no response ({acked_text})",
            ),
            findings,
        )
    if app.answered:
        answer = app.last_answer
        frames = tuple(
            f
            for f in (
                (app.last_request.frame if app.last_request else 0),
                answer.frame if answer else 0,
            )
            if f
        )
        if not tls and app.worst_status is not None and app.worst_status >= 500:
            return Verdict(
                Label.HTTP_ERROR,
                text(f"HTTP probe failed with statuscode: {app.worst_status}"),
                text(
                    f"The server answered with HTTP status {app.worst_status}"
                    + (f" ({answer.line})" if answer and answer.line else "")
                    + "."
                ),
                frames,
            )
        n = app.answered
        return _ok(
            facts,
            ctx,
            Verdict(
                Label.OK,
                None,
                text(
                    f"The server answered {n} request{'s' if n > 1 else ''}"
                    + (f" (last: {answer.line})" if answer and answer.line else "")
                    + "."
                ),
                frames,
            ),
        )
    if app.midstream:
        return _partial(facts, ctx)
    if server_close and (not client_close or server_close <= client_close):
        if tls:
            alert = app.server_alert
            return Verdict(
                Label.TLS_FAILED,
                text(f"remote error: tls: {alert.name}")
                if alert and alert.description is not None
                else text("EOF"),
                text(
                    "The server closed the connection right after the handshake, before any "
                    "request (a TLS 1.3 server that rejects the client's certificate does this)."
                ),
                (app.handshake_done_frame, server_close_frame),
            )
        reset = server_reset
        return Verdict(
            Label.SERVER_CLOSED,
            read_error(facts.dialled_client, facts.dialled_server, ECONNRESET) if reset else text("EOF"),
            text(f"The server {'reset' if reset else 'closed'} the connection before any request."),
            (c.syn_frame, server_close_frame),
        )
    if client_close:
        return _ok(
            facts,
            ctx,
            Verdict(
                Label.OK,
                None,
                text(
                    "The connection was set up and closed by the client without a request "
                    + ("after a complete TLS handshake." if tls else "(a TCP connect check).")
                ),
                (c.syn_frame, client_close_frame),
            ),
        )
    if not ctx.final:
        return Undecided(None)  # up and idle: the next packet decides
    return Verdict(
        Label.INCOMPLETE,
        None,
        text("The connection is up but no request was sent before the capture ended."),
        (c.syn_frame,),
    )


def h2_closed(
    facts: ConnectionFacts, pending: Message, server_close: int, close_frame: int, reset: bool
) -> Verdict:
    """HTTP/2: the server closed with the request open (http2.closed says how Go reports it)."""
    error, why, frames, alternatives = http2.closed(facts, pending, server_close, close_frame, reset)
    return Verdict(Label.SERVER_CLOSED, error, why, frames, alternatives=alternatives)


def h2_said(facts: ConnectionFacts, verdict: Verdict | Undecided) -> Verdict | Undecided:
    """An HTTP/2 connection's verdict says how HTTP/2 was recognised and which records were taken
    as control frames, and why (http2.explain)."""
    if facts.app.h2 is None or isinstance(verdict, Undecided):
        return verdict
    return Verdict(
        verdict.label,
        verdict.error,
        text(verdict.explanation, " ", http2.explain(facts, verdict.label)),
        verdict.key_frames,
        verdict.certificate,
        verdict.alternatives,
        verdict.findings,
        verdict.cut,
    )


def _ok(facts: ConnectionFacts, ctx: Context, verdict: Verdict) -> Verdict | Undecided:
    """A healthy connection: decided once it is final; its certificate's problems are findings."""
    if not ctx.final:
        return Undecided(None)
    cert = certificate_of(facts) if facts.app.certificates else None
    if cert is None or not cert.problems:
        return verdict if cert is None else _with_cert(verdict, cert)
    found = tuple(
        text("The server's certificate would fail a strict client: ", p, ".") for p in cert.problems
    )
    accepted = text(
        "The client completed the handshake anyway, so it did not check the certificate that way "
        "(InsecureSkipVerify, another trust store, or a clock that differs from the capture's)."
    )
    with_findings = _with_findings(verdict, (*found, accepted))
    assert isinstance(with_findings, Verdict)
    return _with_cert(with_findings, cert)


def _with_cert(verdict: Verdict, cert: CertificateFacts) -> Verdict:
    return Verdict(
        verdict.label,
        verdict.error,
        verdict.explanation,
        verdict.key_frames,
        cert,
        verdict.alternatives,
        verdict.findings,
        verdict.cut,
    )


def _midstream(facts: ConnectionFacts, ctx: Context) -> Verdict | Undecided:
    """The capture began after the SYN: judge only what a request/response proves."""
    app = facts.app
    if app.pending is not None or app.answered:
        return _exchanges(facts, ctx, tls=app.mode is Mode.TLS)
    return _partial(facts, ctx)


def _partial(facts: ConnectionFacts, ctx: Context) -> Verdict | Undecided:
    if not ctx.final:
        return Undecided(None)
    first = facts.log[0].frame if facts.log else facts.first_frame
    roles = " (client and server guessed from the ports)" if facts.client_inferred else ""
    return Verdict(
        Label.PARTIAL,
        None,
        text(
            f"The capture began mid-connection (no SYN seen){roles}, and what it shows "
            f"(history {facts.history or '-'}) decides nothing."
        ),
        (first,),
    )
