"""The closed label vocabulary: what each label means on the wire and which error it produces."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Label(enum.Enum):
    """A connection's outcome. The string values are a contract: never rename them."""

    OK = "ok"
    REFUSED = "refused"
    SYN_TIMEOUT = "syn-timeout"
    UNREACHABLE = "unreachable"
    TLS_HANDSHAKE_TIMEOUT = "tls-handshake-timeout"
    NOT_TLS = "not-tls"
    CERT_REJECTED = "cert-rejected"
    TLS_FAILED = "tls-failed"
    AWAITING_HEADERS = "awaiting-headers"
    SERVER_CLOSED = "server-closed"
    HTTP_ERROR = "http-error"
    INCOMPLETE = "incomplete"
    PARTIAL = "partial"

    @property
    def failing(self) -> bool:
        """True for every label but ok, incomplete and partial (exit status 1)."""
        return self not in (Label.OK, Label.INCOMPLETE, Label.PARTIAL)


@dataclass(frozen=True, slots=True)
class LabelInfo:
    """Documentation of one label, rendered into the README and `pcapdiag labels`."""

    label: Label
    wire: str
    """What the wire shows."""
    error: str
    """The Kubernetes/Go error it produces, in general form."""
    zeek: str
    """The nearest zeek conn_state / history shape."""


LABELS: dict[Label, LabelInfo] = {
    info.label: info
    for info in (
        LabelInfo(
            Label.OK,
            "the server answered the request (TLS: server application data after the client's; "
            "HTTP/2: an answer-sized record after the request, not control frames; plain TCP: server "
            "payload after client payload)",
            "none",
            "SF / S1 with data both ways",
        ),
        LabelInfo(
            Label.REFUSED,
            "SYN answered by RST",
            "dial tcp IP:PORT: connect: connection refused",
            "REJ (history Sr)",
        ),
        LabelInfo(
            Label.SYN_TIMEOUT,
            "SYN never answered (no SYN-ACK, RST or ICMP) though retransmitted or left "
            "unanswered for at least 1 s of capture",
            "context deadline exceeded (the request's context ends the dial first), or "
            "dial tcp IP:PORT: i/o timeout when the dial reports first",
            "S0 (history S)",
        ),
        LabelInfo(
            Label.UNREACHABLE,
            "SYN answered by ICMP/ICMPv6 destination unreachable (from the server host, the client's "
            "own node or a router: the report says which)",
            "port unreachable: connect: connection refused; host unreachable or admin "
            "prohibited: connect: no route to host; net unreachable: connect: network is "
            "unreachable; ICMPv6 admin prohibited: connect: permission denied",
            "S0 plus an ICMP error",
        ),
        LabelInfo(
            Label.TLS_HANDSHAKE_TIMEOUT,
            "TCP up, ClientHello sent, no server TLS bytes until the client gave up or the capture ran on",
            "context deadline exceeded at the default timeoutSeconds, or net/http: TLS handshake "
            "timeout when timeoutSeconds is longer than the connect plus 10 s",
            "SF/S1, ssl_history C without S",
        ),
        LabelInfo(
            Label.NOT_TLS,
            "ClientHello answered with bytes that are not a TLS record (e.g. HTTP/1.1 400)",
            "http: server gave HTTP response to HTTPS client",
            "SF, ssl analyzer violation",
        ),
        LabelInfo(
            Label.CERT_REJECTED,
            "client aborted the handshake after the server's certificate flight: TLS 1.2 "
            "cleartext alert (42, 45, 48, ...); TLS 1.3 one short encrypted record then FIN/RST "
            "instead of Finished + request",
            "TLS 1.2: the x509 error the certificate shows (expired, valid for other names) or "
            "x509: certificate signed by unknown authority; TLS 1.3 hides which: that one, or "
            "certificate is valid for ..., not ..., or has expired or is not yet valid",
            "SF, ssl established=F, client alert",
        ),
        LabelInfo(
            Label.TLS_FAILED,
            "server sent an alert or closed during the handshake",
            "remote error: tls: ... / EOF / read: connection reset by peer",
            "SF/RSTR, ssl established=F, server alert",
        ),
        LabelInfo(
            Label.AWAITING_HEADERS,
            "handshake done, request sent and ACKed, no server data (HTTP/2: only control frames, "
            "SETTINGS, ACKs, WINDOW_UPDATE, PING) until the client closed or the capture ran past the "
            "timeout",
            "context deadline exceeded / (Client.Timeout exceeded while awaiting headers) / "
            "net/http: timeout awaiting response headers",
            "SF/S1, client data with no server data after it",
        ),
        LabelInfo(
            Label.SERVER_CLOSED,
            "server closed (FIN or RST) after the request without answering (HTTP/2: often after a "
            "GOAWAY-sized record)",
            "EOF / read: connection reset by peer; HTTP/2: http2: server sent GOAWAY and closed the "
            "connection; ... / unexpected EOF",
            "SF/RSTR, no server data after the request",
        ),
        LabelInfo(
            Label.HTTP_ERROR,
            "plain HTTP response with status >= 500 (a readiness probe's /healthz answering 500)",
            "HTTP probe failed with statuscode: 500",
            "SF, HTTP 5xx",
        ),
        LabelInfo(
            Label.INCOMPLETE,
            "the capture ends before the outcome is decided",
            "none",
            "S0/S1 cut by the end of the capture",
        ),
        LabelInfo(
            Label.PARTIAL,
            "the capture began mid-connection and nothing decides it",
            "none",
            "OTH (no SYN seen)",
        ),
    )
}
