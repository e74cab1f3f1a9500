"""Consistent pseudonyms for addresses and names, so a report or evidence capture is safe to share.

One Redactor serves one report: the same address or name always gets the same pseudonym in it.
IPv4 addresses become TEST-NET addresses (RFC 5737), IPv6 ones 2001:db8:ffff::/48 addresses
(RFC 3849); a webhook name `<svc>.<ns>.svc` becomes `service-N.namespace-M.svc` (so the next-step
commands still line up), any other name `host-N.example`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import ipaddress
import re
from typing import Any

from pcapdiag.k8s import Finding
from pcapdiag.report.model import Address, CaptureReport, ClockOffset, FlowReport, KubeContext, SideReport
from pcapdiag.tls import CertificateFacts

_V4_POOLS = ("192.0.2.", "198.51.100.", "203.0.113.")
_IP_TOKEN = re.compile(
    r"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![\w.:])"
)
"""Something that may be an IPv4 or IPv6 address in free text (checked with ipaddress)."""
_K8S_KINDS = {
    "Service": "service",
    "Endpoints": "service",
    "EndpointSlice": "endpointslice",
    "Pod": "pod",
    "Node": "node",
    "ValidatingWebhookConfiguration": "configuration",
    "MutatingWebhookConfiguration": "configuration",
}
"""What an object's metadata.name names, per kind (an Endpoints object is named after its service)."""
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
            if addr.version == 6:
                before, after = r"(?<![0-9A-Fa-f:.])", r"(?![0-9A-Fa-f:]|\.\d)"
            else:  # an IPv4 address may be followed by :port
                before, after = r"(?<![\d.])", r"(?![\d]|\.\d)"
            self._patterns.append((re.compile(before + re.escape(text) + after), fake))
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

    def scrub(self, value: str) -> str:
        """Free text that may hold addresses not seen before: each one gets its pseudonym too."""
        for token in _IP_TOKEN.findall(value):
            with contextlib.suppress(ValueError):
                self.ip(token)
        return self.text(value)

    def k8s_name(self, kind: str, value: str) -> str:
        """The pseudonym of a Kubernetes object name: 'service-1', 'namespace-2', 'pod-1'..."""
        return self._label(kind, value)

    def k8s_document(self, doc: object) -> object:
        """kubectl JSON with every object, namespace, node and webhook name replaced by its pseudonym,
        consistently with the SNI pseudonyms (a service 'webhook' in 'ns' is 'service-1.namespace-1.svc'
        in both). Addresses stay: reports replace them later. Annotations, owner references and CA
        bundles are dropped."""
        if isinstance(doc, dict):
            if isinstance(doc.get("items"), list):
                return {**doc, "items": [self.k8s_document(item) for item in doc["items"]]}
            return self._k8s_object(copy.deepcopy(doc))
        return doc

    def _ref(self, ref: Any) -> None:
        if isinstance(ref, dict):
            if isinstance(ref.get("name"), str):
                ref["name"] = self.k8s_name(_K8S_KINDS.get(str(ref.get("kind")), "object"), ref["name"])
            if isinstance(ref.get("namespace"), str):
                ref["namespace"] = self.k8s_name("namespace", ref["namespace"])

    def _k8s_object(self, obj: dict[str, Any]) -> dict[str, Any]:
        kind = str(obj.get("kind"))
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            if isinstance(meta.get("name"), str):
                meta["name"] = self.k8s_name(_K8S_KINDS.get(kind, "object"), meta["name"])
            if isinstance(meta.get("namespace"), str):
                meta["namespace"] = self.k8s_name("namespace", meta["namespace"])
            for key in ("annotations", "ownerReferences", "generateName", "managedFields"):
                meta.pop(key, None)
            labels = meta.get("labels")
            if isinstance(labels, dict):
                for key in ("kubernetes.io/service-name", "kubernetes.io/hostname"):
                    if isinstance(labels.get(key), str):
                        what = "service" if key.endswith("service-name") else "node"
                        labels[key] = self.k8s_name(what, labels[key])
        spec = obj.get("spec")
        if isinstance(spec, dict) and isinstance(spec.get("nodeName"), str):
            spec["nodeName"] = self.k8s_name("node", spec["nodeName"])
        for subset in obj.get("subsets") or ():
            for key in ("addresses", "notReadyAddresses"):
                for a in (subset.get(key) or ()) if isinstance(subset, dict) else ():
                    if isinstance(a, dict):
                        self._ref(a.get("targetRef"))
                        if isinstance(a.get("nodeName"), str):
                            a["nodeName"] = self.k8s_name("node", a["nodeName"])
                        a.pop("hostname", None)
        for e in obj.get("endpoints") or ():
            if isinstance(e, dict):
                self._ref(e.get("targetRef"))
                if isinstance(e.get("nodeName"), str):
                    e["nodeName"] = self.k8s_name("node", e["nodeName"])
                e.pop("hostname", None)
        for w in obj.get("webhooks") or ():
            if not isinstance(w, dict):
                continue
            if isinstance(w.get("name"), str):
                w["name"] = (
                    self.name(w["name"]) if _NAME.match(w["name"]) else self.k8s_name("webhook", w["name"])
                )
            cc = w.get("clientConfig")
            if isinstance(cc, dict):
                cc.pop("caBundle", None)
                svc = cc.get("service")
                if isinstance(svc, dict):
                    if isinstance(svc.get("name"), str):
                        svc["name"] = self.k8s_name("service", svc["name"])
                    if isinstance(svc.get("namespace"), str):
                        svc["namespace"] = self.k8s_name("namespace", svc["namespace"])
                if isinstance(cc.get("url"), str):
                    cc["url"] = self._url(cc["url"])
        return obj

    def _url(self, url: str) -> str:
        """A url webhook's address with its host name replaced (an IP literal is left for later)."""
        m = re.match(r"^(https?://)(\[[^\]]*\]|[^/:]+)(.*)$", url)
        if m is None:
            return "https://host.example/"
        host = m.group(2)
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(host.strip("[]"))
            return url
        return m.group(1) + self.name(host) + m.group(3)

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
        for side in f.sides:
            for seen in (side.client, side.server):
                if seen is not None:
                    self.ip(seen.ip)
        if f.translated is not None:
            self.ip(f.translated.client.ip)
            self.ip(f.translated.server.ip)
        t = self.text
        return dataclasses.replace(
            f,
            capture=self.capture_path(f.capture),
            client=self._address(f.client),
            server=self._address(f.server),
            sni=self.name(f.sni) if f.sni else None,
            kubernetes_error=t(f.kubernetes_error) if f.kubernetes_error else None,
            explanation=t(f.explanation),
            next_steps=tuple(t(s) for s in f.next_steps),
            evidence=tuple(dataclasses.replace(e, summary=t(e.summary)) for e in f.evidence),
            certificate=self._certificate(cert) if cert is not None else None,
            sides=tuple(self._side(side) for side in f.sides),
            translated=dataclasses.replace(
                f.translated,
                client=self._address(f.translated.client),
                server=self._address(f.translated.server),
            )
            if f.translated is not None
            else None,
            where_explanation=self.scrub(f.where_explanation) if f.where_explanation else None,
            kubernetes=self._kube(f.kubernetes) if f.kubernetes is not None else None,
            timing=dataclasses.replace(
                f.timing,
                go_error=t(f.timing.go_error) if f.timing.go_error else None,
                because=t(f.timing.because),
            )
            if f.timing is not None
            else None,
        )

    def _kube(self, k: KubeContext) -> KubeContext:
        s = self.scrub
        return dataclasses.replace(
            k,
            client=s(k.client) if k.client else None,
            server=s(k.server) if k.server else None,
            pods=tuple(s(p) for p in k.pods),
            findings=self.findings(k.findings),
        )

    def findings(self, found: tuple[Finding, ...]) -> tuple[Finding, ...]:
        """Kubernetes cross-checks with every address in them replaced."""
        return tuple(
            dataclasses.replace(f, subject=self.scrub(f.subject), text=self.scrub(f.text)) for f in found
        )

    def _address(self, a: Address) -> Address:
        return Address(self.ip(a.ip), a.port)

    def _side(self, s: SideReport) -> SideReport:
        return dataclasses.replace(
            s,
            capture=self.capture_path(s.capture),
            name=self.capture_path(s.name),
            client=self._address(s.client) if s.client is not None else None,
            server=self._address(s.server) if s.server is not None else None,
        )

    def offset(self, o: ClockOffset) -> ClockOffset:
        """``o`` with capture names shortened like paths."""
        return dataclasses.replace(
            o, capture=self.capture_path(o.capture), reference=self.capture_path(o.reference)
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
        side = self.capture_path(c.side) if c.side is not None else None
        return dataclasses.replace(c, path=self.capture_path(c.path), side=side)


__all__ = ["Redactor"]
