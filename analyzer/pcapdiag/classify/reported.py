"""How kube-apiserver reports a failed call per client: aggregator, conversion webhook, HTTP/2 clients."""

from __future__ import annotations

from pcapdiag.classify.diagnosis import Candidate
from pcapdiag.classify.facts import ConnectionFacts
from pcapdiag.classify.labels import Label
from pcapdiag.k8s import WebhookKind, WebhookMatch
from pcapdiag.prose import Name, NameKind, Text, text

UNAVAILABLE = "the server is currently unable to handle the request"
"""What a client of an aggregated API group gets (503) while its APIService is not Available."""


def reported(
    facts: ConnectionFacts, label: Label, error: Candidate | None, webhook: WebhookMatch | None
) -> tuple[Text, ...]:
    """Findings that quote the headline error as the API server prints it for the client that made the
    call: known from --k8s (an APIService, a CRD's conversion webhook), or, for an HTTP/2 connection
    that --k8s does not name, the clients kube-apiserver lets negotiate HTTP/2."""
    if error is None or not label.failing:
        return ()
    inner = error.error
    server = facts.dialled_server
    kind = webhook.webhook.kind if webhook is not None else None
    if webhook is not None and kind is WebhookKind.APISERVICE:
        w = webhook.webhook
        url = text("https://", server, w.path)
        cond = w.available
        seen = (
            text(
                f" (the data shows Available {cond.status}"
                + (f", {cond.reason}" if cond.reason else "")
                + ")"
            )
            if cond is not None
            else text()
        )
        return (
            text(
                "The aggregator reports this in apiservice ",
                Name(NameKind.CONFIGURATION, w.name),
                "'s Available condition (reason FailedDiscoveryCheck) as: failing or missing response from ",
                url,
                ': Get "',
                url,
                '": ',
                inner,
                seen,
                f"; clients of {w.group_version or 'its group'} get '{UNAVAILABLE}' (503).",
            ),
        )
    if webhook is not None and kind is WebhookKind.CONVERSION:
        w = webhook.webhook
        host = (
            text(Name(NameKind.DNS, f"{w.service_name}.{w.service_namespace}.svc"), f":{w.port}")
            if w.service_name and w.service_namespace
            else text(server)
        )
        return (
            text(
                "The API server reports this when it converts ",
                Name(NameKind.CONFIGURATION, w.name),
                f" objects as: conversion webhook for {w.group_version or '...'}/..., Kind=... failed: "
                'Post "https://',
                host,
                f'{w.path}?timeout=30s": ',
                inner,
                ".",
            ),
        )
    if facts.app.h2 is None or (webhook is not None and kind is not None and kind.admission):
        return ()
    url = text('Post "https://.../...": ', inner)
    return (
        text(
            "Over HTTP/2 the caller is one of the API server's clients that may negotiate it (admission "
            "and conversion webhooks are held to HTTP/1.1 unless their URL is on localhost); each reports "
            "the error its own way: the authentication token webhook logs 'Failed to make webhook "
            "authenticator request: ",
            url,
            "' and the request gets 401 Unauthorized; the authorization webhook logs 'Failed to make "
            "webhook authorizer request: ",
            url,
            "'; the audit webhook logs 'Error in audit plugin 'webhook' affecting N audit events: ",
            url,
            "'; the aggregator's availability check sets the APIService's Available condition to "
            "'failing or missing response from https://",
            server,
            '/apis/GROUP/VERSION: Get "...": ',
            inner,
            f"' and its group's clients get '{UNAVAILABLE}' (--k8s with the APIServices names which).",
        ),
    )
