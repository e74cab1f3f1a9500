"""The issue's acceptance, end to end through the CLI: paired real captures of a drop in between, a
return-path drop, a refusal by the pod and a DNAT'd healthy call are localised, and --k8s names the
service, pod and webhook. Expectations come from each case's truth.json and the kubectl fixtures."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from clirun import run_cli_text
from conftest import CAPTURES

K8S = [CAPTURES / "k8s" / "cluster.json", CAPTURES / "k8s" / "webhooks.json"]


def pcapdiag(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line in this process (see clirun)."""
    return run_cli_text(*args)


def fixture_items() -> list[dict[str, Any]]:
    return [item for path in K8S for item in json.loads(path.read_text())["items"]]


def names_in_fixtures() -> dict[str, str]:
    """kind -> 'namespace/name' of the webhook's objects, read from the kubectl fixtures."""
    items = fixture_items()
    hook = next(i for i in items if i["kind"] == "ValidatingWebhookConfiguration")
    svc = hook["webhooks"][0]["clientConfig"]["service"]
    pod = next(i for i in items if i["kind"] == "Pod" and i["metadata"]["namespace"] == svc["namespace"])
    return {
        "service": f"{svc['namespace']}/{svc['name']}",
        "pod": f"{pod['metadata']['namespace']}/{pod['metadata']['name']}",
        "webhook": hook["webhooks"][0]["name"],
        "configuration": hook["metadata"]["name"],
    }


CASES = ["syn-timeout", "return-path", "dnat-refused", "dnat"]


@pytest.mark.parametrize("case", CASES)
def test_where_and_names(case: str) -> None:
    truth = json.loads((CAPTURES / case / "truth.json").read_text())
    d = CAPTURES / case
    args = ["--side", f"apiserver={d / 'client-any.pcap'}", "--side", f"webhook={d / 'server.pcapng'}"]
    k8s = [a for p in K8S for a in ("--k8s", str(p))]
    result = pcapdiag("analyze", *args, *k8s, "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    doc = json.loads(result.stdout)
    flows = {f["client"]["port"]: f for f in doc["flows"]}
    names = names_in_fixtures()
    for conn in truth["connections"]:
        f = flows[conn["client_port"]]
        assert f["where"] == conn["where"], f["where_explanation"]
        assert f["where_explanation"]
        assert [s["name"] for s in f["sides"]] == ["apiserver", "webhook"]
        k = f["kubernetes"]
        assert k is not None
        if k["webhooks"]:  # the call went to the webhook's service (or named it by SNI)
            assert k["service"] == names["service"]
            assert k["webhooks"] == [names["webhook"]]
            assert names["configuration"] in k["configuration"]
            assert any(p.startswith(names["pod"]) for p in k["pods"])
            if f["failing"]:
                pod_name = names["pod"].split("/")[1]
                assert any(f"pod/{pod_name}" in step for step in f["next_steps"]), f["next_steps"]
        else:  # dialled the pod's address directly on a port the webhook does not serve
            assert names["pod"] in (k["server"] or "")
    text = pcapdiag("analyze", *args, *k8s).stdout
    failing = [c for c in truth["connections"] if c["label"] != "ok"]
    for conn in failing:
        assert f"where: {conn['where']}" in text
    if any(flows[c["client_port"]]["kubernetes"]["webhooks"] for c in failing):  # failures are detailed
        assert names["service"] in text and names["pod"] in text and names["webhook"] in text


def test_k8s_timeout_seconds_is_the_timer_budget() -> None:
    hook = next(i for i in fixture_items() if i["kind"] == "ValidatingWebhookConfiguration")
    timeout = hook["webhooks"][0]["timeoutSeconds"]
    k8s = [a for p in K8S for a in ("--k8s", str(p))]
    path = CAPTURES / "tls-handshake-timeout" / "client.pcapng"
    with_k8s = json.loads(pcapdiag("analyze", str(path), *k8s, "--format", "json").stdout)
    without = json.loads(pcapdiag("analyze", str(path), "--format", "json").stdout)
    checked = 0
    for f, g in zip(with_k8s["flows"], without["flows"], strict=True):
        if f["kubernetes"]["webhooks"] and f["timing"] and f["timing"]["phase"] == "tls-handshake":
            assert f["timing"]["budget_s"] == timeout and f["timing"]["budget_source"] == "k8s"
            assert g["timing"]["budget_source"] != "k8s"
            checked += 1
    assert checked == len(with_k8s["flows"]) > 0


def test_k8s_checks_are_reported() -> None:
    k8s = [a for p in K8S for a in ("--k8s", str(p))]
    doc = json.loads(
        pcapdiag("analyze", str(CAPTURES / "dnat" / "client-eth.pcap"), *k8s, "--format", "json").stdout
    )
    assert doc["kubernetes"] is not None and doc["kubernetes"]["findings"]
    assert all({"severity", "subject", "text"} <= set(x) for x in doc["kubernetes"]["findings"])
    plain = json.loads(
        pcapdiag("analyze", str(CAPTURES / "dnat" / "client-eth.pcap"), "--format", "json").stdout
    )
    assert plain["kubernetes"] is None and plain["flows"][0]["kubernetes"] is None


def test_redacted_report_keeps_no_name_or_address() -> None:
    d = CAPTURES / "dnat-refused"
    k8s = [a for p in K8S for a in ("--k8s", str(p))]
    for fmt in ("json", "text", "html", "markdown"):
        out = pcapdiag(
            "analyze",
            str(d / "client-eth.pcap"),
            str(d / "server-eth.pcap"),
            *k8s,
            "--redact",
            "--format",
            fmt,
        ).stdout
        for item in fixture_items():
            meta = item["metadata"]
            # A namespace, a pod, a node, a configuration; a service by namespace/name (a service
            # called "webhook" cannot be told from the word in a sentence).
            values = [meta.get("namespace"), f"{meta.get('namespace')}/{meta['name']}"]
            if item["kind"] not in ("Service", "Endpoints"):  # both carry the service's name
                values.append(meta["name"])
            values += [item.get("spec", {}).get("nodeName")]
            for value in values:
                if value and value not in ("default", "kubernetes", "default/kubernetes"):
                    assert not re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", out), (fmt, value)
        for hook in (i for i in fixture_items() if "webhooks" in i):
            for w in hook["webhooks"]:
                assert w["name"] not in out
        assert not re.search(r"198\.1[89]\.|2001:db8:[12]:", out), fmt


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not JSON"),
        (b'{"hello": "world"}', ""),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_bad_k8s_files(tmp_path: Any, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    result = pcapdiag("analyze", str(CAPTURES / "dnat" / "client-eth.pcap"), "--k8s", str(bad))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert message in result.stderr
    missing = pcapdiag("analyze", str(CAPTURES / "dnat" / "client-eth.pcap"), "--k8s", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "No such file" in missing.stderr
