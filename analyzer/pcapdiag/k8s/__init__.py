"""Kubernetes context from kubectl JSON: name addresses, tie connections to webhooks, check the setup."""

from pcapdiag.k8s.documents import K8sDataError
from pcapdiag.k8s.inventory import Inventory
from pcapdiag.k8s.model import (
    Backend,
    Condition,
    ContainerPort,
    FailurePolicy,
    Finding,
    IpKind,
    IpName,
    MatchBy,
    Platform,
    ProbePort,
    Severity,
    Webhook,
    WebhookKind,
    WebhookMatch,
)

__all__ = [
    "Backend",
    "Condition",
    "ContainerPort",
    "FailurePolicy",
    "Finding",
    "Inventory",
    "IpKind",
    "IpName",
    "K8sDataError",
    "MatchBy",
    "Platform",
    "ProbePort",
    "Severity",
    "Webhook",
    "WebhookKind",
    "WebhookMatch",
]
