"""Read a server certificate seen in clear (TLS 1.2 and older) and say why a client would reject it."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """The facts of a leaf certificate that decide whether a webhook client accepts it."""

    subject: str
    issuer: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    self_signed: bool
    chain_length: int
    problems: tuple[str, ...]
    """Go x509 error texts that the name and validity period alone prove, for the connection's SNI
    and the capture time. Trust (the issuer) cannot be checked from the capture: when a client
    rejects a certificate with no such problem, the reason left is an issuer it does not trust."""


def _common_name(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if attrs:
        value = attrs[0].value
        return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return name.rfc4514_string()


def _matches(pattern: str, host: str) -> bool:
    """RFC 6125 matching as Go does it: exact, or one wildcard label on the left."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    if pattern.startswith("*.") and "." in host:
        return host.split(".", 1)[1] == pattern[2:]
    return False


def analyse_certificate(
    chain: tuple[bytes, ...], sni: str | None, at: dt.datetime | None
) -> CertificateFacts | None:
    """Facts and problems of the leaf in ``chain`` for a client asking for ``sni`` at time ``at``.

    None when the leaf is not a parseable X.509 certificate.
    """
    if not chain:
        return None
    try:
        return _analyse(chain, sni, at)
    except Exception:  # cryptography raises many types on malformed DER (fuzzed)
        return None


def _analyse(chain: tuple[bytes, ...], sni: str | None, at: dt.datetime | None) -> CertificateFacts | None:
    try:
        cert = x509.load_der_x509_certificate(chain[0])
        not_before = cert.not_valid_before_utc
        not_after = cert.not_valid_after_utc
        subject, issuer = cert.subject, cert.issuer
    except (ValueError, TypeError):
        return None
    dns: list[str] = []
    ips: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    except (x509.ExtensionNotFound, ValueError):
        pass
    self_signed = subject == issuer
    problems: list[str] = []
    if sni:
        try:
            ip = ipaddress.ip_address(sni)
            name_ok = str(ip) in ips
        except ValueError:
            name_ok = any(_matches(d, sni) for d in dns)
        if not name_ok:
            valid_for = ", ".join(dns + ips) or _common_name(subject)
            if dns or ips:
                problems.append(f"x509: certificate is valid for {valid_for}, not {sni}")
            else:
                problems.append("x509: certificate relies on legacy Common Name field, use SANs instead")
    if at is None:
        pass  # no usable capture time: validity is not judged
    elif at > not_after:
        problems.append(
            "x509: certificate has expired or is not yet valid: current time "
            f"{at:%Y-%m-%dT%H:%M:%SZ} is after {not_after:%Y-%m-%dT%H:%M:%SZ}"
        )
    elif at < not_before:
        problems.append(
            "x509: certificate has expired or is not yet valid: current time "
            f"{at:%Y-%m-%dT%H:%M:%SZ} is before {not_before:%Y-%m-%dT%H:%M:%SZ}"
        )
    return CertificateFacts(
        subject=_common_name(subject),
        issuer=_common_name(issuer),
        dns_names=tuple(dns),
        ip_addresses=tuple(ips),
        not_before=not_before,
        not_after=not_after,
        self_signed=self_signed,
        chain_length=len(chain),
        problems=tuple(problems),
    )
