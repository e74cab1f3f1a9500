"""Admission webhook configurations read from kubectl JSON, with the v1 and v1beta1 defaults applied."""

from __future__ import annotations

from urllib.parse import urlsplit

from pcapdiag.k8s.fields import canonical_ip, dicts, integer, text
from pcapdiag.k8s.model import FailurePolicy, Webhook, WebhookKind


def parse_webhooks(kind: WebhookKind, api_version: str, obj: dict[str, object]) -> tuple[Webhook, ...]:
    """The webhooks of one validating or mutating webhook configuration, defaults applied.

    Defaults differ by version: v1 timeoutSeconds 10 and failurePolicy Fail, v1beta1 30 and Ignore.
    """
    configuration = text(obj, "metadata", "name")
    if configuration is None:
        return ()
    beta = api_version.endswith("/v1beta1")
    out = []
    for w in dicts(obj, "webhooks"):
        name = text(w, "name")
        if name is None:
            continue
        timeout = integer(w, "timeoutSeconds")
        policy = {p.value: p for p in FailurePolicy}.get(text(w, "failurePolicy") or "")
        url = text(w, "clientConfig", "url")
        host, port, path = split_url(url) if url else (None, None, None)
        out.append(
            Webhook(
                name=name,
                kind=kind,
                configuration=configuration,
                api_version=api_version,
                service_namespace=text(w, "clientConfig", "service", "namespace"),
                service_name=text(w, "clientConfig", "service", "name"),
                port=integer(w, "clientConfig", "service", "port") or port or 443,
                path=text(w, "clientConfig", "service", "path") or path or "/",
                url=url,
                url_host=host,
                timeout_s=30 if beta and timeout is None else 10 if timeout is None else timeout,
                timeout_defaulted=timeout is None,
                failure_policy=policy or (FailurePolicy.IGNORE if beta else FailurePolicy.FAIL),
                failure_policy_defaulted=policy is None,
            )
        )
    return tuple(out)


def split_url(url: str) -> tuple[str | None, int | None, str | None]:
    """(host, port, path) of a webhook url; the port is None when absent or invalid."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None, None, None
    host = parts.hostname
    if host is not None:
        host = canonical_ip(host) or host.rstrip(".").lower()
    return host, port, parts.path or None
