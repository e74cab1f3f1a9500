"""classify(): one connection's facts to its Diagnosis, decided once (or Undecided, with when to look again).

The label rules (``rules``), the timer inference (``timers``), the ranking of the errors
(``candidates``), where it failed (``where``, with several captures), the capture's limits
(``limits``) and the next steps (``next_steps``) are all computed here, from the same facts, in one
call: nothing downstream adds to a Diagnosis or rewrites it, so the label, the error, the timer,
``where`` and the steps cannot contradict each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from pcapdiag.classify.candidates import rank
from pcapdiag.classify.diagnosis import Diagnosis, Undecided
from pcapdiag.classify.facts import ConnectionFacts
from pcapdiag.classify.labels import Label
from pcapdiag.classify.limits import capture_limits
from pcapdiag.classify.next_steps import IcmpSender, Target, next_steps
from pcapdiag.classify.reported import reported
from pcapdiag.classify.rules import Context, classify_wire
from pcapdiag.classify.timers import as_client_timeout, infer_timing
from pcapdiag.classify.where import Pairing, localise
from pcapdiag.k8s import WebhookKind, WebhookMatch


@dataclass(frozen=True, slots=True)
class Basis:
    """What a Diagnosis was decided from, kept to decide it again when other captures are paired."""

    facts: ConnectionFacts
    ctx: Context
    webhook: WebhookMatch | None = None


def icmp_sender_of(facts: ConnectionFacts) -> IcmpSender | None:
    """Who sent the first ICMP error about the connection: its server, its client's node, or a router."""
    if not facts.icmp:
        return None
    reporter = facts.icmp[0].reporter.value
    if reporter == facts.server.ip:
        return IcmpSender.SERVER
    if reporter == facts.client.ip:
        return IcmpSender.CLIENT_NODE
    return IcmpSender.ROUTER


def classify(
    facts: ConnectionFacts,
    ctx: Context,
    *,
    webhook: WebhookMatch | None = None,
    pairing: Pairing | None = None,
) -> Diagnosis | Undecided:
    """The Diagnosis of one connection; Undecided only while the capture goes on (``ctx.final`` False).

    ``webhook`` is the webhook --k8s ties the connection to (its timeoutSeconds is the budget when
    ``ctx.budget_s`` is not set, and its names go into the next steps); ``pairing`` what other
    captures of the same traffic saw of it (where it failed).
    """
    verdict = classify_wire(facts, ctx)
    if isinstance(verdict, Undecided):
        return verdict
    label = verdict.label
    budget = ctx.budget_s
    if budget is None and webhook is not None and webhook.timeouts_s:
        budget = float(min(webhook.timeouts_s))
    timing = infer_timing(facts, label, now_ns=ctx.now_ns, budget_s=budget)
    aggregator = webhook is not None and webhook.webhook.kind is WebhookKind.APISERVICE
    if aggregator:
        timing = as_client_timeout(timing, facts.dialled_server)
    error, alternatives = rank(facts, verdict, timing, client_timer=aggregator)
    location = localise(pairing, label) if pairing is not None else None
    target = Target(
        facts.server.ip,
        facts.server.port,
        facts.app.sni,
        client_ip=facts.client.ip,
        where=location.where if location is not None else None,
        server_side_seen=(pairing.server is not None)
        if pairing is not None and pairing.server_name
        else None,
        icmp_sender=icmp_sender_of(facts) if label is Label.UNREACHABLE else None,
    )
    return Diagnosis(
        label=label,
        error=error,
        alternatives=alternatives,
        explanation=verdict.explanation,
        key_frames=verdict.key_frames,
        timing=timing,
        limits=capture_limits(facts, ctx.kernel_drops, ctx.snaplen) + (pairing.limits if pairing else ()),
        findings=verdict.findings + reported(facts, label, error, webhook),
        steps=next_steps(label, target, webhook),
        certificate=verdict.certificate,
        location=location,
        cut=verdict.cut,
    )
