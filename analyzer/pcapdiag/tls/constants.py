"""TLS numbers we print or test against: content types, handshake types, versions and alert names."""

from __future__ import annotations

# Record content types (RFC 8446 section 5.1; heartbeat RFC 6520).
CHANGE_CIPHER_SPEC = 20  # ChangeCipherSpec (TLS 1.3: a middlebox-compatibility dummy)
ALERT = 21  # alert (encrypted inside APPLICATION_DATA in TLS 1.3 once keys are on)
HANDSHAKE = 22  # handshake messages in clear
APPLICATION_DATA = 23  # application data, and every encrypted TLS 1.3 record
HEARTBEAT = 24  # heartbeat

# Handshake message types (RFC 8446 section 4, RFC 5246 section 7.4).
CLIENT_HELLO = 1
SERVER_HELLO = 2
NEW_SESSION_TICKET = 4
CERTIFICATE = 11
SERVER_KEY_EXCHANGE = 12
CERTIFICATE_REQUEST = 13
SERVER_HELLO_DONE = 14
CLIENT_KEY_EXCHANGE = 16
FINISHED = 20

# Extensions (RFC 6066, RFC 7301, RFC 8446).
EXT_SERVER_NAME = 0
EXT_ALPN = 16
EXT_SUPPORTED_VERSIONS = 43

MAX_RECORD_BODY = (1 << 14) + 2048
"""Largest record body any TLS version allows (RFC 5246 6.2.3: 2^14 + 2048 for ciphertext)."""

HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
"""ServerHello.random that marks a HelloRetryRequest (RFC 8446 4.1.3)."""

ENCRYPTED_ALERT_MAX_BODY = 32
"""A TLS 1.3 record body this short is an encrypted alert, not HTTP: an alert is 2 bytes, plus the
inner content-type byte and a 16-byte AEAD tag, 19 bytes; the shortest HTTP/1.x message (17 bytes)
makes a 34-byte body, and the smallest Finished (SHA-256) 53."""

FINISHED_BODY_SIZES = frozenset({45, 53, 69})
"""TLS 1.3 Finished record bodies: the 4-byte handshake header, the verify data (the suite's hash: 32
or 48 bytes), the inner content-type byte and the AEAD tag (16 bytes; 8 for TLS_AES_128_CCM_8_SHA256)."""

ENCRYPTED_ALERT_BODY_SIZES = frozenset({11, 19})
"""TLS 1.3 alert record bodies: 2 bytes of alert, the inner content-type byte and the tag (16 or 8).
No handshake message is that short (its header alone is 4 bytes)."""

EMPTY_CERTIFICATE_BODY_SIZES = frozenset({17, 25})
"""A TLS 1.3 Certificate with no certificates (4-byte header, empty context, empty list) encrypted:
what a client without a certificate sends when the server asks for one."""

VERSION_NAMES = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
}

CONTENT_NAMES = {
    CHANGE_CIPHER_SPEC: "ChangeCipherSpec",
    ALERT: "Alert",
    HANDSHAKE: "Handshake",
    APPLICATION_DATA: "ApplicationData",
    HEARTBEAT: "Heartbeat",
}

HANDSHAKE_NAMES = {
    0: "HelloRequest",
    CLIENT_HELLO: "ClientHello",
    SERVER_HELLO: "ServerHello",
    NEW_SESSION_TICKET: "NewSessionTicket",
    5: "EndOfEarlyData",
    8: "EncryptedExtensions",
    CERTIFICATE: "Certificate",
    SERVER_KEY_EXCHANGE: "ServerKeyExchange",
    CERTIFICATE_REQUEST: "CertificateRequest",
    SERVER_HELLO_DONE: "ServerHelloDone",
    15: "CertificateVerify",
    CLIENT_KEY_EXCHANGE: "ClientKeyExchange",
    FINISHED: "Finished",
    22: "CertificateStatus",
    24: "KeyUpdate",
}

# Alert descriptions as Go's crypto/tls spells them (alert.go), so "remote error: tls: <name>"
# reads exactly as the apiserver logs it.
ALERT_NAMES = {
    0: "close notify",
    10: "unexpected message",
    20: "bad record MAC",
    21: "decryption failed",
    22: "record overflow",
    30: "decompression failure",
    40: "handshake failure",
    41: "no certificate",
    42: "bad certificate",
    43: "unsupported certificate",
    44: "revoked certificate",
    45: "expired certificate",
    46: "unknown certificate",
    47: "illegal parameter",
    48: "unknown certificate authority",
    49: "access denied",
    50: "error decoding message",
    51: "error decrypting message",
    60: "export restriction",
    70: "protocol version not supported",
    71: "insufficient security level",
    80: "internal error",
    86: "inappropriate fallback",
    90: "user canceled",
    100: "no renegotiation",
    109: "missing extension",
    110: "unsupported extension",
    111: "certificate unobtainable",
    112: "unrecognized name",
    113: "bad certificate status response",
    114: "bad certificate hash value",
    115: "unknown PSK identity",
    116: "certificate required",
    120: "no application protocol",
}

CERTIFICATE_ALERTS = frozenset({42, 43, 44, 45, 46, 48})
"""Alerts a client sends when it does not accept the server's certificate."""


def is_tls13(version: int | None) -> bool:
    """TLS 1.3, or one of its drafts (0x7fXX, RFC 8446 appendix D: draft-NN was 0x7f00 + NN)."""
    return version == 0x0304 or (version is not None and version >> 8 == 0x7F)


def version_name(version: int | None) -> str | None:
    """'TLS 1.3' for 0x0304; None stays None."""
    if version is None:
        return None
    if version >> 8 == 0x7F:
        return f"TLS 1.3 (draft {version & 0xFF})"
    return VERSION_NAMES.get(version, f"0x{version:04x}")


def alert_name(description: int) -> str:
    """Go's text for an alert description."""
    return ALERT_NAMES.get(description, f"alert({description})")
