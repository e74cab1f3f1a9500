"""Read a server certificate seen in clear (TLS 1.2 and older) and say why a client would reject it."""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

from pcapdiag.prose import Ip, Name, NameKind, Text, text

_HOSTNAME = re.compile(
    r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """The facts of a leaf certificate that decide whether a webhook client accepts it."""

    subject: Name
    """The subject's common name (or whole name when it has none)."""
    issuer: Name
    dns_names: tuple[Name, ...]
    ip_addresses: tuple[Ip, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    self_signed: bool
    chain_length: int
    problems: tuple[Text, ...]
    """Go x509 error texts that the validity period and the names alone prove, for the connection's
    SNI and the capture time, in the order Go checks them (x509.Certificate.Verify: validity, then
    names, then the chain). Trust (the issuer) cannot be checked from the capture: when a client
    rejects a certificate with no such problem, the reason left is an issuer it does not trust."""
    dated: bool = False
    """The first problem is the validity period, judged by the capture's clock (not the client's)."""


def _name(value: str) -> Name:
    """A certificate name, typed as a DNS name when it is one."""
    return Name(NameKind.DNS if _HOSTNAME.fullmatch(value) else NameKind.SUBJECT, value)


def _common_name(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID

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
    parsed = _parse(chain[0])
    if parsed is None:
        return None
    subject, issuer, dns, ips, not_before, not_after, self_signed = parsed
    problems: list[Text] = []
    dated = False
    if at is None:
        pass  # no usable capture time: validity is not judged
    elif at > not_after or at < not_before:
        side, bound = ("after", not_after) if at > not_after else ("before", not_before)
        problems.append(
            text(
                "x509: certificate has expired or is not yet valid: current time "
                f"{at:%Y-%m-%dT%H:%M:%SZ} is {side} {bound:%Y-%m-%dT%H:%M:%SZ}"
            )
        )
        dated = True
    if sni:
        try:
            ip = ipaddress.ip_address(sni)
            name_ok = str(ip) in ips
            wanted: Ip | Name = Ip(str(ip))
        except ValueError:
            name_ok = any(_matches(d, sni) for d in dns)
            wanted = Name(NameKind.DNS, sni)
        if not name_ok:
            valid_for: list[Name | Ip | str] = [Name(NameKind.DNS, d) for d in dns]
            valid_for.extend(Ip(a) for a in ips)
            if valid_for:
                parts: list[Name | Ip | str] = ["x509: certificate is valid for "]
                for i, v in enumerate(valid_for):
                    parts.extend([", ", v] if i else [v])
                problems.append(text(*parts, ", not ", wanted))
            elif _matches(subject, sni):
                problems.append(
                    text("x509: certificate relies on legacy Common Name field, use SANs instead")
                )
            else:
                problems.append(
                    text("x509: certificate is not valid for any names, but wanted to match ", wanted)
                )
    return CertificateFacts(
        subject=_name(subject),
        issuer=_name(issuer),
        dns_names=tuple(Name(NameKind.DNS, d) for d in dns),
        ip_addresses=tuple(Ip(a) for a in ips),
        not_before=not_before,
        not_after=not_after,
        self_signed=self_signed,
        chain_length=len(chain),
        problems=tuple(problems),
        dated=dated,
    )


_Parsed = tuple[str, str, tuple[str, ...], tuple[str, ...], dt.datetime, dt.datetime, bool]


@functools.lru_cache(maxsize=256)
def _parse(der: bytes) -> _Parsed | None:
    """The leaf's names and dates (a server sends the same certificate on every connection: parse it once)."""
    from cryptography import x509  # imported when a certificate is seen in clear: most captures have none

    try:
        cert = x509.load_der_x509_certificate(der)
        not_before = cert.not_valid_before_utc
        not_after = cert.not_valid_after_utc
        subject, issuer = cert.subject, cert.issuer
        dns: list[str] = []
        ips: list[str] = []
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
            ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
        except (x509.ExtensionNotFound, ValueError):
            pass
        return (
            _common_name(subject),
            _common_name(issuer),
            tuple(dns),
            tuple(ips),
            not_before,
            not_after,
            subject == issuer,
        )
    except Exception:  # cryptography raises many types on malformed DER (fuzzed)
        return None
