"""APIServices and CRD conversion webhooks from kubectl JSON: the services they make the API server call."""

from __future__ import annotations

from pcapdiag.k8s.fields import dicts, get, integer, text
from pcapdiag.k8s.model import Condition, FailurePolicy, Webhook, WebhookKind
from pcapdiag.k8s.webhooks import split_url

AGGREGATOR_TIMEOUT_S = 5
"""kube-aggregator's availability check: http.Client{Timeout: 5 s} for its discovery GET
(staging/src/k8s.io/kube-aggregator/pkg/controllers/status/remote/remote_available_controller.go)."""
CONVERSION_TIMEOUT_S = 30
"""A conversion webhook call has no timeout of its own: the webhook client's 30 s http.Client.Timeout
(staging/src/k8s.io/apiserver/pkg/util/webhook/authentication.go) or the request's deadline."""


def parse_apiservice(api_version: str, obj: dict[str, object]) -> tuple[Webhook, ...]:
    """An APIService served by a service (a local one, without spec.service, calls nothing)."""
    name = text(obj, "metadata", "name")
    namespace, service = text(obj, "spec", "service", "namespace"), text(obj, "spec", "service", "name")
    if name is None or namespace is None or service is None:
        return ()
    group, version = text(obj, "spec", "group"), text(obj, "spec", "version")
    path = f"/apis/{group}/{version}" if group else f"/api/{version}" if version else "/"
    available = next((c for c in dicts(obj, "status", "conditions") if text(c, "type") == "Available"), None)
    return (
        Webhook(
            name=name,
            kind=WebhookKind.APISERVICE,
            configuration=name,
            api_version=api_version,
            service_namespace=namespace,
            service_name=service,
            port=integer(obj, "spec", "service", "port") or 443,
            path=path,
            url=None,
            url_host=None,
            timeout_s=AGGREGATOR_TIMEOUT_S,
            timeout_defaulted=False,
            failure_policy=FailurePolicy.FAIL,
            failure_policy_defaulted=True,
            ca_bundle=text(obj, "spec", "caBundle") is not None,
            insecure=get(obj, "spec", "insecureSkipTLSVerify") is True,
            available=Condition(
                status=text(available, "status") or "Unknown",
                reason=text(available, "reason"),
                message=text(available, "message"),
            )
            if available is not None
            else None,
            group_version=f"{group}/{version}" if group else version,
        ),
    )


def parse_conversion(api_version: str, obj: dict[str, object]) -> tuple[Webhook, ...]:
    """A CRD's conversion webhook (spec.conversion.strategy Webhook; v1 clientConfig under
    spec.conversion.webhook, v1beta1 under spec.conversion.webhookClientConfig)."""
    name = text(obj, "metadata", "name")
    conversion = get(obj, "spec", "conversion")
    if name is None or text(conversion, "strategy") != "Webhook":
        return ()
    config = get(conversion, "webhook", "clientConfig") or get(conversion, "webhookClientConfig")
    url = text(config, "url")
    host, port, path = split_url(url) if url else (None, None, None)
    namespace, service = text(config, "service", "namespace"), text(config, "service", "name")
    if url is None and (namespace is None or service is None):
        return ()
    return (
        Webhook(
            name=name,
            kind=WebhookKind.CONVERSION,
            configuration=name,
            api_version=api_version,
            service_namespace=namespace,
            service_name=service,
            port=integer(config, "service", "port") or port or 443,
            path=text(config, "service", "path") or path or "/",
            url=url,
            url_host=host,
            timeout_s=CONVERSION_TIMEOUT_S,
            timeout_defaulted=False,
            failure_policy=FailurePolicy.FAIL,
            failure_policy_defaulted=True,
            ca_bundle=text(config, "caBundle") is not None,
            group_version=text(obj, "spec", "group"),
        ),
    )
