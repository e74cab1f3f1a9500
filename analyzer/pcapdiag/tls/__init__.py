"""TLS (and plain request/response) observation on top of reconstructed TCP streams."""

from pcapdiag.tls.certificate import CertificateFacts, analyse_certificate
from pcapdiag.tls.observer import AlertSeen, AppObserver, Message, Mode, Note
from pcapdiag.tls.request import RequestLine, parse_go_duration, parse_request_line

__all__ = [
    "AlertSeen",
    "AppObserver",
    "CertificateFacts",
    "Message",
    "Mode",
    "Note",
    "RequestLine",
    "analyse_certificate",
    "parse_go_duration",
    "parse_request_line",
]
