"""TLS (and plain request/response) observation on top of reconstructed TCP streams."""

from pcapdiag.tls.certificate import CertificateFacts, analyse_certificate
from pcapdiag.tls.observer import AlertSeen, AppObserver, Message, Mode, Note

__all__ = [
    "AlertSeen",
    "AppObserver",
    "CertificateFacts",
    "Message",
    "Mode",
    "Note",
    "analyse_certificate",
]
