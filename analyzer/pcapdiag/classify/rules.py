"""classify(): the one pure function from a connection's evidence to its label (zeek conn_state style).

The rules run top to bottom and the first that matches wins. Every threshold is a protocol fact:
- MIN_CLIENT_TIMER_NS: kube-apiserver's shortest timer is 1 s (webhook timeoutSeconds >= 1), so a
  client that gives up sooner did not time out and we do not say it did.
- ctx.timeout_ns (default 10 s, the admission webhook default and the TLS handshake timeout): how
  long silence must last in the capture before it counts as a timeout when the client's own give-up
  is not in the capture.
- SYN_SILENCE_NS: one initial RTO (1 s, RFC 6298 / Linux TCP_TIMEOUT_INIT) without an answer makes
  an unanswered SYN a timeout even when its retransmission is not in the capture.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pcapdiag.classify.errors import (
    ECONNRESET,
    dial_error,
    icmp_meaning,
    read_error,
)
from pcapdiag.classify.labels import Label
from pcapdiag.flow import Connection, Direction, format_hostport, format_ip
from pcapdiag.tls import AppObserver, CertificateFacts, Mode, analyse_certificate
from pcapdiag.tls.constants import CERTIFICATE_ALERTS, is_tls13

NS = 1_000_000_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MIN_CLIENT_TIMER_NS = 1 * NS
SYN_SILENCE_NS = 1 * NS
QUICK_ABORT_NS = NS // 2
"""A client that closes within this of the server's last handshake record decided locally (it
verified what it got), rather than waiting for a timer."""


@dataclass(frozen=True, slots=True)
class Context:
    """What the classifier needs to know beyond the connection itself."""

    now_ns: int
    """Capture time the connection is judged at: the end of the capture (its last packet, or its
    recorded stop time when later), or the live clock's capture time."""
    timeout_ns: int = 10 * NS
    ended: bool = True
    """True when no more packets will come (end of file / stream)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A connection's label, the error it produces, why, and the frames that prove it."""

    label: Label
    error: str | None
    explanation: str
    key_frames: tuple[int, ...]
    certificate: CertificateFacts | None = None


def _s(ns: int) -> str:
    """Seconds, for explanations."""
    return f"{ns / NS:.3f} s"


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


def missing_bytes(conn: Connection) -> tuple[int, int]:
    """Payload bytes per direction (to server, to client) that the capture never saw.

    Counted from the peer's ACKs beyond the bytes captured, bytes stuck behind a hole, and
    holes given up on; a snaplen that cut payloads is not counted (the bytes were on the wire
    and the packets were seen).
    """
    out = []
    for me, peer in ((conn.client_side, conn.server_side), (conn.server_side, conn.client_side)):
        stream = me.stream
        seen_end = stream.next_off + (1 if stream.fin_off is not None else 0)
        missing = max(0, peer.acked_off - seen_end) + stream.pending_bytes
        if stream.gaps and not missing:
            missing = 1
        out.append(missing)
    return out[0], out[1]


def classify(conn: Connection, app: AppObserver, ctx: Context) -> Verdict:
    """The label of one connection; a capture that lost packets never proves an absence."""
    verdict = _classify(conn, app, ctx)
    absent = verdict.label in ABSENCE_LABELS or (verdict.label is Label.OK and not app.answered)
    if absent and not (app.client_abort and app.client_abort.description is not None):
        lost_c, lost_s = missing_bytes(conn)
        if lost_c or lost_s:
            return Verdict(
                Label.INCOMPLETE,
                None,
                f"The capture lost packets of this connection ({lost_c} bytes client->server, "
                f"{lost_s} bytes server->client never captured, yet acknowledged), so what looks "
                f"like '{verdict.label.value}' cannot be proven: {verdict.explanation}",
                verdict.key_frames,
            )
    # (snaplen) A short snaplen hid bytes this verdict rests on: say so instead of guessing.
    doubt = _snaplen_doubt(app, verdict)
    if doubt is not None:
        return Verdict(
            Label.INCOMPLETE,
            None,
            f"The snaplen cut this connection's packets and {doubt}, so what looks like "
            f"'{verdict.label.value}' cannot be proven (capture with tcpdump -s 0): {verdict.explanation}",
            verdict.key_frames,
        )
    return verdict


_TCP_LABELS = frozenset(
    {Label.REFUSED, Label.SYN_TIMEOUT, Label.UNREACHABLE, Label.INCOMPLETE, Label.PARTIAL}
)


def _snaplen_doubt(app: AppObserver, verdict: Verdict) -> str | None:
    """(snaplen) Why the bytes a short snaplen hid leave ``verdict`` unproven (a clause), or None.

    A record whose header was seen is read by its length whatever the snaplen hid of it; what can
    hide is a record whose header was hidden (the observer lost its place) and an HTTP status
    code. Each label is checked for the facts it rests on: an answer, a request, the end of the
    handshake, a status code.
    """
    snap = app.snap
    if snap is None:
        return None
    label = verdict.label
    if snap.blind and label not in _TCP_LABELS:
        return "hid every byte of its first payload, so whether it carries TLS is unknown"
    if label is Label.OK:
        if app.answered:
            return app.hidden_status()
        return app.hidden_request() or app.hidden_finish()
    if label in (Label.AWAITING_HEADERS, Label.SERVER_CLOSED):
        if app.pending is not None:
            return app.hidden_answer() or app.hidden_close()
        return app.hidden_request()
    if label is Label.TLS_FAILED:
        alert = app.server_alert()
        if alert is not None and alert.description is not None:
            return None  # a clear alert: the server had not finished its handshake when it sent it
        if app.client_auth_records and not app.answered and app.closing_ts[Direction.TO_CLIENT]:
            return None  # the client's certificate records and the server's alert were both seen
    if label in (Label.TLS_HANDSHAKE_TIMEOUT, Label.TLS_FAILED):
        return app.hidden_finish() or (app.hidden_request() if app.handshake_done_frame else None)
    if label is Label.CERT_REJECTED and (app.client_abort is None or app.client_abort.description is None):
        return app.hidden_finish()  # no abort, or an encrypted one: a closing alert if the handshake ended
    return None


def _classify(conn: Connection, app: AppObserver, ctx: Context) -> Verdict:
    """The label of one connection, first matching rule wins."""
    c, s = conn.client_side, conn.server_side
    server_hp = format_hostport(*conn.server)
    if not c.syn_count and not s.synack_frame:
        return _midstream(conn, app, ctx)
    if not s.synack_frame and not s.first_data_frame and not c.first_data_frame and not s.rst_frame:
        # The server never accepted the SYN (whatever bare ACKs it sent): still the dial.
        return _syn_stage(conn, ctx, server_hp)
    if (
        s.synack_frame
        and c.syn_count
        and c.packets == c.syn_count
        and not s.first_data_frame
        and not s.rst_frame
    ):
        verdict = _synack_lost(conn, ctx, server_hp)
        if verdict is not None:
            return verdict
    if s.rst_frame and not s.synack_frame and not s.first_data_frame:
        return Verdict(
            Label.REFUSED,
            dial_error(server_hp, "connection refused"),
            "The server answered the SYN with a RST: nothing listens on that port (or a firewall "
            "rejected it with a reset).",
            (c.syn_frame, s.rst_frame),
        )
    if app.mode is Mode.TLS and not app.midstream:
        return _tls(conn, app, ctx, server_hp)
    return _exchanges(conn, app, ctx, server_hp, tls=app.mode is Mode.TLS)


def _synack_lost(conn: Connection, ctx: Context, server_hp: str) -> Verdict | None:
    """The server answered with a SYN-ACK, yet the client only ever sent SYNs: the SYN-ACK never
    reached it (a capture on the server's side of a lossy return path). A client that got it would
    have acknowledged it at once; one that keeps resending its SYN after the SYN-ACK, or silence past
    one initial RTO, proves it did not."""
    c, s = conn.client_side, conn.server_side
    resent_after = c.syn_count >= 2 and c.last_ts > s.synack_ts
    waited = (ctx.now_ns if not c.fin_ts else c.fin_ts) - s.synack_ts
    if not resent_after and waited < SYN_SILENCE_NS:
        return None
    return Verdict(
        Label.SYN_TIMEOUT,
        f"dial tcp {server_hp}: i/o timeout",
        "The server answered the SYN with a SYN-ACK, but the client never acknowledged it"
        + (
            f" and kept resending its SYN ({c.syn_count} SYNs over {_s(c.last_ts - c.syn_ts)})"
            if resent_after
            else ""
        )
        + ": the SYN-ACK never reached the client (lost on the way back), so its dial timed out. "
        "When the webhook timeout fires before the dialer's, the error reads 'context deadline "
        "exceeded' instead.",
        (c.syn_frame, s.synack_frame),
    )


def _syn_stage(conn: Connection, ctx: Context, server_hp: str) -> Verdict:
    """Only the client has spoken: refused by ICMP, timed out, or undecided."""
    c = conn.client_side
    if conn.icmp:
        icmp = conn.icmp[0]
        what, errno_text = icmp_meaning(icmp.family, icmp.icmp_type, icmp.icmp_code)
        return Verdict(
            Label.UNREACHABLE,
            dial_error(server_hp, errno_text),
            f"The SYN was answered by {what} from {format_ip(icmp.reporter)}: a router or "
            "firewall on the path refused to deliver it.",
            (c.syn_frame, icmp.frame),
        )
    if c.packets > c.syn_count and c.acked_off >= 0 and not c.rst_frame:
        return Verdict(
            Label.INCOMPLETE,
            None,
            "Only the client's packets are in the capture: it went on as if the handshake "
            "completed, so the server's packets were not captured (one direction only).",
            (c.syn_frame,),
        )
    gave_up = min((t for t in (c.fin_ts, c.rst_ts) if t), default=0)
    waited = (gave_up or ctx.now_ns) - c.syn_ts
    if c.syn_count >= 2 or waited >= SYN_SILENCE_NS:
        sched = f"{c.syn_count} SYN{'s' if c.syn_count > 1 else ''} over {_s(c.last_ts - c.syn_ts)}"
        return Verdict(
            Label.SYN_TIMEOUT,
            f"dial tcp {server_hp}: i/o timeout",
            f"The SYN was never answered ({sched}, no SYN-ACK, RST or ICMP for {_s(waited)}): "
            "it was dropped on the way to the server or the answer was dropped on the way back. "
            "When the webhook timeout fires before the dialer's, the error reads "
            "'context deadline exceeded' instead.",
            (c.syn_frame, c.fin_frame or c.rst_frame) if gave_up else (c.syn_frame,),
        )
    why = (
        f"the client abandoned it after {_s(waited)}"
        if gave_up
        else f"the capture ended {_s(waited)} after it"
    )
    return Verdict(
        Label.INCOMPLETE,
        None,
        f"A SYN with no answer yet, but {why}: too soon to call it a timeout.",
        (c.syn_frame,),
    )


def _tls(conn: Connection, app: AppObserver, ctx: Context, server_hp: str) -> Verdict:
    """A connection whose client opened with a TLS handshake."""
    c, s = conn.client_side, conn.server_side
    ch_frame = app.client_hello_frame or c.first_data_frame
    ch_ts = app.client_hello_ts or c.first_data_ts
    client_close = min((t for t in (c.fin_ts, c.rst_ts) if t), default=0)
    server_close = min((t for t in (s.fin_ts, s.rst_ts) if t), default=0)
    server_close_frame = s.rst_frame if s.rst_ts == server_close else s.fin_frame
    client_close_frame = c.rst_frame if c.rst_ts == client_close else c.fin_frame
    if app.not_tls[Direction.TO_CLIENT] is not None:
        return Verdict(
            Label.NOT_TLS,
            "http: server gave HTTP response to HTTPS client",
            f"The server answered the ClientHello with bytes that are not TLS "
            f"({app.not_tls[Direction.TO_CLIENT]}): the port speaks plain HTTP (or another "
            "protocol), so the service's targetPort likely points at the wrong container port.",
            (ch_frame, app.not_tls_frame[Direction.TO_CLIENT]),
        )
    if app.snap is not None and app.snap.lost_frame[Direction.TO_SERVER] and not app.client_hello:
        # (snaplen) The header of the client's first record was cut: it cannot be read.
        return Verdict(
            Label.INCOMPLETE,
            None,
            "The snaplen cut the client's first TLS record before its header ended, so the ClientHello "
            "cannot be read: capture with `tcpdump -s 0` to judge this connection.",
            (ch_frame,),
        )
    if app.unsynced[Direction.TO_SERVER] and not app.client_hello:
        return Verdict(
            Label.INCOMPLETE,
            None,
            "The client's TLS records could not be read (bytes missing or cut by the snaplen): "
            "capture with `tcpdump -s 0` to judge this connection.",
            (ch_frame,),
        )
    server_alert = app.server_alert()
    done = app.handshake_done_frame
    if server_alert is not None and (not done or server_alert.frame <= done):
        error = (
            f"remote error: tls: {server_alert.name}"
            if server_alert.description is not None
            else "remote error: tls: (encrypted alert)"
        )
        return Verdict(
            Label.TLS_FAILED,
            error,
            f"The server rejected the handshake with a TLS alert ({server_alert.name}).",
            (ch_frame, server_alert.frame),
        )
    if not s.first_data_frame:
        if server_close and (not client_close or server_close <= client_close):
            reset = s.rst_ts == server_close
            return Verdict(
                Label.TLS_FAILED,
                read_error(format_hostport(*conn.client), server_hp, ECONNRESET) if reset else "EOF",
                "The server " + ("reset" if reset else "closed") + " the connection "
                f"{_s(server_close - ch_ts)} after the ClientHello without a TLS answer.",
                (ch_frame, server_close_frame),
            )
        return _silence(
            Label.TLS_HANDSHAKE_TIMEOUT,
            "net/http: TLS handshake timeout",
            "the ClientHello",
            ch_frame,
            ch_ts,
            client_close,
            client_close_frame,
            ctx,
            "TCP connected and the ClientHello was sent, but the server sent no TLS bytes",
        )
    if app.client_abort is not None and not done:
        return _client_abort(conn, app, ch_frame)
    if not done:
        last_server = max(app.server_flight_last_ts, app.server_hello_ts, s.last_data_ts)
        if server_close and (not client_close or server_close <= client_close):
            return Verdict(
                Label.TLS_FAILED,
                "EOF",
                "The server closed the connection in the middle of the handshake.",
                (ch_frame, app.server_hello_frame or s.first_data_frame, server_close_frame),
            )
        if client_close and client_close - last_server < QUICK_ABORT_NS and app.server_hello:
            return _client_abort(conn, app, ch_frame, closed_frame=client_close_frame)
        if s.bytes and c.acked_off <= 0 and s.retransmissions:
            # Seen at the server's side: the flight went out and was resent, the client never
            # acknowledged a byte of it, so it never arrived; time runs from its first sending.
            return _silence(
                Label.TLS_HANDSHAKE_TIMEOUT,
                "net/http: TLS handshake timeout",
                "the server first sent it",
                ch_frame,
                app.server_hello_ts or s.first_data_ts,
                client_close,
                client_close_frame,
                ctx,
                f"The server sent its handshake flight ({s.bytes} bytes) and resent it "
                f"{s.retransmissions} time{'s' * (s.retransmissions != 1)}, but the client never "
                "acknowledged any of it: the flight never reached the client (lost on the way back)",
            )
        return _silence(
            Label.TLS_HANDSHAKE_TIMEOUT,
            "net/http: TLS handshake timeout",
            "the server's last handshake record",
            ch_frame,
            last_server,
            client_close,
            client_close_frame,
            ctx,
            "The handshake started but stalled",
        )
    return _exchanges(conn, app, ctx, server_hp, tls=True)


def _client_abort(conn: Connection, app: AppObserver, ch_frame: int, closed_frame: int = 0) -> Verdict:
    """The client stopped the handshake after the server's flight."""
    abort = app.client_abort
    try:
        at: dt.datetime | None = EPOCH + dt.timedelta(microseconds=conn.first_ts // 1000)
    except OverflowError:
        at = None  # a corrupt timestamp: validity cannot be judged
    cert = analyse_certificate(app.certificates, app.sni, at)
    frames = (
        ch_frame,
        app.certificate_frame or app.server_flight_last_frame or app.server_hello_frame,
    )
    if abort is not None and abort.description is not None and abort.description not in CERTIFICATE_ALERTS:
        return Verdict(
            Label.TLS_FAILED,
            f"tls: {abort.name}",
            f"The client aborted the handshake with a TLS alert ({abort.name}): it does not "
            "accept the server's handshake parameters (not its certificate).",
            (*frames, abort.frame),
        )
    if cert is not None and cert.problems:
        error = cert.problems[0]
        why = "; ".join(cert.problems)
    elif cert is not None:
        error = "x509: certificate signed by unknown authority"
        why = (
            "the certificate's name and dates are fine for this connection, so the issuer is "
            "one the client does not trust (check the webhook's caBundle)"
        )
    else:
        # Go sends the same alert (bad_certificate) for each reason: name them all.
        error = " / ".join(
            (
                "x509: certificate signed by unknown authority",
                f"x509: certificate is valid for ..., not {app.sni or '...'}",
                "x509: certificate has expired or is not yet valid",
            )
        )
        why = (
            "TLS 1.3 encrypts the certificate, so which of these it was is not visible: Go sends "
            "the same alert for an unknown authority, a name mismatch and an expired certificate"
            if is_tls13(app.version) or not app.certificates
            else "the certificate in the capture could not be parsed, so which of these it was is not visible"
        )
        if app.snap is not None and not is_tls13(app.version):
            # (snaplen) Not TLS 1.3 as far as the capture shows: the snaplen is what hid the certificate.
            why = "the snaplen cut the server's certificate flight, so which of these it was is not visible"
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
        f"The client rejected the server's certificate flight with {how}: {why}.",
        (*frames, last),
        certificate=cert,
    )


def _silence(
    label: Label,
    error: str,
    since_what: str,
    first_frame: int,
    since_ts: int,
    client_close: int,
    client_close_frame: int,
    ctx: Context,
    what: str,
) -> Verdict:
    """A wait with no answer: a timeout if the client gave up after a timer or the capture ran on."""
    if client_close:
        waited = client_close - since_ts
        if waited >= MIN_CLIENT_TIMER_NS:
            return Verdict(
                label,
                error,
                f"{what}; the client gave up {_s(waited)} after {since_what}.",
                (first_frame, client_close_frame),
            )
        return Verdict(
            Label.INCOMPLETE,
            None,
            f"{what}, but the client closed only {_s(waited)} after {since_what}: sooner than "
            "any kube-apiserver timer, so this is not a timeout.",
            (first_frame, client_close_frame),
        )
    waited = ctx.now_ns - since_ts
    if waited >= ctx.timeout_ns:
        return Verdict(
            label,
            error if label is not Label.AWAITING_HEADERS else "context deadline exceeded",
            f"{what}, and the capture ran on {_s(waited)} after {since_what} "
            f"(past the {_s(ctx.timeout_ns)} timeout).",
            (first_frame,),
        )
    return Verdict(
        Label.INCOMPLETE,
        None,
        f"{what} yet, but the capture ends {_s(waited)} after {since_what}, before the "
        f"{_s(ctx.timeout_ns)} timeout.",
        (first_frame,),
    )


def _exchanges(conn: Connection, app: AppObserver, ctx: Context, server_hp: str, tls: bool) -> Verdict:
    """After the handshake (or in clear): was the last request answered?"""
    c, s = conn.client_side, conn.server_side
    c_alert, s_alert = app.closing_ts
    client_close = min((t for t in (c.fin_ts, c.rst_ts, c_alert) if t), default=0)
    server_close = min((t for t in (s.fin_ts, s.rst_ts, s_alert) if t), default=0)
    client_close_frame = _close_frame(
        c.fin_ts, c.fin_frame, c.rst_ts, c.rst_frame, c_alert, app.closing_frame[0], client_close
    )
    server_close_frame = _close_frame(
        s.fin_ts, s.fin_frame, s.rst_ts, s.rst_frame, s_alert, app.closing_frame[1], server_close
    )
    server_reset = bool(s.rst_ts) and s.rst_ts == server_close
    pending = app.pending
    what = "TLS request" if tls else "request"
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
            f"remote error: tls: {name}",
            "The server asked for a client certificate and, once the client's flight arrived"
            + (" with none in it" if app.client_sent_empty_certificate else "")
            + ", answered with an encrypted alert and closed: it rejected the client's certificate "
            f"(Go's webhook client reports 'remote error: tls: {name}').",
            (app.handshake_done_frame, app.closing_frame[1]),
        )
    if pending is not None:
        acked = s.acked_off >= app.pending_end
        if server_close >= pending.ts_ns and (not client_close or server_close < client_close):
            reset = server_reset
            return Verdict(
                Label.SERVER_CLOSED,
                read_error(format_hostport(*conn.client), server_hp, ECONNRESET) if reset else "EOF",
                f"The server {'reset' if reset else 'closed'} the connection "
                f"{_s(server_close - pending.ts_ns)} after the {what} without answering it.",
                (pending.frame, server_close_frame),
            )
        line = f" ({pending.line})" if pending.line else ""
        acked_text = (
            "the server acknowledged it"
            if acked
            else "the server never acknowledged all of it, so it may not have arrived"
        )
        return _silence(
            Label.AWAITING_HEADERS,
            "context deadline exceeded",
            f"the {what}",
            pending.frame,
            pending.ts_ns,
            client_close if client_close >= pending.ts_ns else 0,
            client_close_frame,
            ctx,
            f"The {what}{line} got no response ({acked_text})",
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
                f"HTTP probe failed with statuscode: {app.worst_status}",
                f"The server answered with HTTP status {app.worst_status}"
                + (f" ({answer.line})" if answer and answer.line else "")
                + ".",
                frames,
            )
        n = app.answered
        return Verdict(
            Label.OK,
            None,
            f"The server answered {n} request{'s' if n > 1 else ''}"
            + (f" (last: {answer.line})" if answer and answer.line else "")
            + ".",
            frames,
        )
    if app.midstream:
        return _partial(conn, app)
    if server_close and (not client_close or server_close <= client_close):
        if tls:
            alert = app.server_alert()
            return Verdict(
                Label.TLS_FAILED,
                f"remote error: tls: {alert.name}" if alert and alert.description is not None else "EOF",
                "The server closed the connection right after the handshake, before any "
                "request (a TLS 1.3 server that rejects the client's certificate does this).",
                (app.handshake_done_frame, server_close_frame),
            )
        reset = server_reset
        return Verdict(
            Label.SERVER_CLOSED,
            read_error(format_hostport(*conn.client), server_hp, ECONNRESET) if reset else "EOF",
            f"The server {'reset' if reset else 'closed'} the connection before any request.",
            (c.syn_frame, server_close_frame),
        )
    if client_close:
        return Verdict(
            Label.OK,
            None,
            "The connection was set up and closed by the client without a request "
            + ("after a complete TLS handshake." if tls else "(a TCP connect check)."),
            (c.syn_frame, client_close_frame),
        )
    return Verdict(
        Label.INCOMPLETE,
        None,
        "The connection is up but no request was sent before the capture ended.",
        (c.syn_frame,),
    )


def _close_frame(
    fin_ts: int,
    fin_frame: int,
    rst_ts: int,
    rst_frame: int,
    alert_ts: int,
    alert_frame: int,
    first: int,
) -> int:
    """The frame of whichever closing signal came first (FIN, RST or a closing alert)."""
    if first and alert_ts == first:
        return alert_frame
    if first and rst_ts == first:
        return rst_frame
    return fin_frame


def _midstream(conn: Connection, app: AppObserver, ctx: Context) -> Verdict:
    """The capture began after the SYN: judge only what a request/response proves."""
    if app.pending is not None or app.answered:
        return _exchanges(conn, app, ctx, format_hostport(*conn.server), tls=app.mode is Mode.TLS)
    return _partial(conn, app)


def _partial(conn: Connection, app: AppObserver) -> Verdict:
    first = conn.log[0].frame if conn.log else conn.first_frame
    roles = " (client and server guessed from the ports)" if conn.client_inferred else ""
    return Verdict(
        Label.PARTIAL,
        None,
        f"The capture began mid-connection (no SYN seen){roles}, and what it shows "
        f"(history {conn.history_string or '-'}) decides nothing.",
        (first,),
    )
