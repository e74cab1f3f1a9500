"""Consistent pseudonyms for addresses and names, so a report or evidence capture is safe to share.

One Redactor serves one report: the same address or name always gets the same pseudonym in it.
IPv4 addresses become TEST-NET addresses (RFC 5737), IPv6 ones 2001:db8:ffff::/48 addresses
(RFC 3849); a webhook name `<svc>.<ns>.svc` becomes `service-N.namespace-M.svc` (so the next-step
commands still line up), any other name `host-N.example`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import re

from pcapdiag.report.model import Address, CaptureReport, FlowReport
from pcapdiag.tls import CertificateFacts

_V4_POOLS = ("192.0.2.", "198.51.100.", "203.0.113.")
_NAME = re.compile(r"^[A-Za-z0-9*]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+\.?$")


class Redactor:
    """Maps real addresses and names to stable pseudonyms, and rewrites reports with them."""

    def __init__(self) -> None:
        self._ips: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._labels: dict[tuple[str, str], str] = {}
        self._patterns: list[tuple[re.Pattern[str], str]] = []

    # -- pseudonyms -----------------------------------------------------------------------

    def ip(self, text: str) -> str:
        """The pseudonym of an IP address (text form)."""
        if text not in self._ips:
            addr = ipaddress.ip_address(text)
            n = sum(1 for v in self._ips.values() if (":" in v) == (addr.version == 6))
            if addr.version == 4:
                pool, host = divmod(n, 254)
                fake = f"{_V4_POOLS[pool % len(_V4_POOLS)]}{host + 1}"
            else:
                fake = str(ipaddress.ip_address(f"2001:db8:ffff::{n + 1:x}"))
            self._ips[text] = fake
            # An IPv6 address goes on while hex digits or colons follow; an IPv4 one only while digits
            # (or a dot and a digit) do: "198.51.100.1:443" in a Go dial error is the address and a port.
            if addr.version == 6:
                boundary, after = r"(?<![0-9A-Fa-f:.])", r"(?![0-9A-Fa-f:]|\.\d)"
            else:
                boundary, after = r"(?<![\d.])", r"(?!\d|\.\d)"
            self._patterns.append((re.compile(boundary + re.escape(text) + after), fake))
        return self._ips[text]

    def ip_packed(self, packed: bytes) -> bytes:
        """The pseudonym of a packed address, packed."""
        return ipaddress.ip_address(self.ip(str(ipaddress.ip_address(packed)))).packed

    def _label(self, kind: str, value: str) -> str:
        key = (kind, value.lower())
        if key not in self._labels:
            self._labels[key] = f"{kind}-{sum(1 for k in self._labels if k[0] == kind) + 1}"
        return self._labels[key]

    def name(self, text: str) -> str:
        """The pseudonym of a DNS name (or a certificate subject): structure kept for *.svc names."""
        if text not in self._names:
            parts = text.rstrip(".").split(".")
            if len(parts) >= 3 and parts[2] == "svc":
                fake = ".".join(
                    [self._label("service", parts[0]), self._label("namespace", parts[1]), *parts[2:]]
                )
            elif parts and parts[0] == "*" and len(parts) > 1:
                fake = "*." + self.name(".".join(parts[1:]))
            else:
                fake = f"{self._label('host', text)}.example"
            self._names[text] = fake
            self._patterns.append((re.compile(r"(?<![\w.-])" + re.escape(text) + r"(?![\w-]|\.\w)"), fake))
        return self._names[text]

    def text(self, value: str) -> str:
        """Free text with every address and name seen so far replaced by its pseudonym."""
        for pattern, fake in sorted(self._patterns, key=lambda p: -len(p[0].pattern)):
            value = pattern.sub(fake, value)
        return value

    # -- reports ----------------------------------------------------------------------------

    def flow(self, f: FlowReport) -> FlowReport:
        """``f`` with its addresses, names and the text that mentions them replaced."""
        self.ip(f.client.ip)
        self.ip(f.server.ip)
        if f.sni:
            self.name(f.sni)
        cert = f.certificate
        if cert is not None:
            for n in (*cert.dns_names, cert.subject, cert.issuer):
                if _NAME.match(n):
                    self.name(n)
            for a in cert.ip_addresses:
                self.ip(a)
        for address in re.findall(r"from ([0-9A-Fa-f:.]+)", " ".join(e.summary for e in f.evidence)):
            with contextlib.suppress(ValueError):  # "from" followed by something else
                self.ip(address.rstrip("."))
        t = self.text
        return dataclasses.replace(
            f,
            capture=self.capture_path(f.capture),
            client=Address(self.ip(f.client.ip), f.client.port),
            server=Address(self.ip(f.server.ip), f.server.port),
            sni=self.name(f.sni) if f.sni else None,
            kubernetes_error=t(f.kubernetes_error) if f.kubernetes_error else None,
            explanation=t(f.explanation),
            next_steps=tuple(t(s) for s in f.next_steps),
            evidence=tuple(dataclasses.replace(e, summary=t(e.summary)) for e in f.evidence),
            certificate=self._certificate(cert) if cert is not None else None,
            timing=dataclasses.replace(
                f.timing,
                go_error=t(f.timing.go_error) if f.timing.go_error else None,
                because=t(f.timing.because),
            )
            if f.timing is not None
            else None,
        )

    def _certificate(self, cert: CertificateFacts) -> CertificateFacts:
        def name(n: str) -> str:
            return self.name(n) if _NAME.match(n) else self._label("name", n)

        return dataclasses.replace(
            cert,
            subject=name(cert.subject),
            issuer=name(cert.issuer),
            dns_names=tuple(self.name(n) for n in cert.dns_names),
            ip_addresses=tuple(self.ip(a) for a in cert.ip_addresses),
            problems=tuple(self.text(p) for p in cert.problems),
        )

    def capture_path(self, path: str) -> str:
        """A capture's path without its directories (they may name hosts or people)."""
        return path if path == "-" else path.rsplit("/", 1)[-1]

    def capture(self, c: CaptureReport) -> CaptureReport:
        """``c`` with its path shortened."""
        return dataclasses.replace(c, path=self.capture_path(c.path))


__all__ = ["Redactor"]
