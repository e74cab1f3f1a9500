"""Every connection of every real capture in captures/ gets the label its truth file names."""

from __future__ import annotations

import json
import pathlib

import pytest

from conftest import CAPTURES, CONTRACT_LABELS, analyse
from test_snaplen_captures import allowed_labels

CASES = sorted(CAPTURES.glob("*/truth.json"))


def _params() -> list[object]:
    out = []
    for truth_path in CASES:
        truth = json.loads(truth_path.read_text())
        for cap in truth["captures"]:
            out.append(
                pytest.param(truth_path.parent / cap["file"], cap, truth, id=f"{truth['case']}/{cap['file']}")
            )
    return out


def test_every_case_has_captures() -> None:
    assert len(CASES) >= 13, "captures/ must hold a recorded case for every label"
    labels = {c["label"] for t in CASES for c in json.loads(t.read_text())["connections"]}
    assert labels >= set(CONTRACT_LABELS)


@pytest.mark.parametrize(("path", "cap", "truth"), _params())
def test_labels_match_truth(path: pathlib.Path, cap: dict[str, object], truth: dict[str, object]) -> None:
    report, flows = analyse(path)
    assert report.error is None
    assert report.capture_point in (None, cap["point"]), "the capture point, when told, must be right"
    point = cap["point"]
    expected = {}
    interfaces = set(cap.get("interfaces", ["any"]))  # type: ignore[arg-type]
    for conn in truth["connections"]:  # type: ignore[attr-defined]
        on = set(conn.get("interfaces_at", {}).get(point, interfaces))
        if "any" not in interfaces and not on & interfaces:
            continue  # its packets never crossed the interfaces this capture listened on
        if point in conn.get("points", ["client", "server"]):
            ports = conn.get("server_port_at", {}).get(point, conn["server_port"])
            expected[(conn["client_port"], ports)] = conn["label"]
    got = {(f.client.port, f.server.port): f.label.value for f in flows}
    if cap.get("snaplen"):
        # A capture cut by the snaplen gives each connection its whole label wherever the visible bytes
        # prove it; where they do not (a record header past the cut, an ICMPv6 quote cut before its
        # ports), the whole label, incomplete, or what that decoder limit allows (test_snaplen_captures).
        data = path.read_bytes()
        by_client = {c["client_port"]: c for c in truth["connections"]}  # type: ignore[attr-defined]
        for key, label in list(expected.items()):
            conn = by_client[key[0]]
            server_ip = conn.get("server_ip_at", {}).get(point, conn.get("server_ip"))
            allowed = allowed_labels(data, (conn["client_ip"], key[0]), (server_ip, key[1]), label)
            if allowed is not None and got.get(key, "(missing)") in allowed:
                expected.pop(key)
                got.pop(key, None)
    assert got == expected, "\n".join(
        f"{f.client.port}->{f.server.port} {f.label.value}: {f.explanation}" for f in flows
    )
    for f in flows:
        if f.label.failing:
            assert f.kubernetes_error, f"failing label {f.label.value} must name the error it produces"
            assert any(e.key for e in f.evidence), (
                "failing connections must point at the frames that prove them"
            )


def test_capture_point_is_told_for_most_captures() -> None:
    told = right = 0
    params = _params()
    for param in params:
        path, cap, _ = param.values  # type: ignore[attr-defined]
        point = analyse(path)[0].capture_point
        told += point is not None
        right += point == cap["point"]
    assert right == told and told * 4 >= len(params) * 3, (told, len(params))


X509_REASONS = (
    "certificate signed by unknown authority",
    "certificate is valid for",
    "certificate has expired or is not yet valid",
)
"""Go's x509 verification errors, by the part that does not name the certificate."""


def _cert_cases() -> list[object]:
    out = []
    for param in _params():
        path, cap, truth = param.values  # type: ignore[attr-defined]
        for conn in truth["connections"]:
            errors = [r.get("error") or "" for r in conn.get("client_result", [])]
            reasons = [r for r in X509_REASONS for e in errors if f"x509: {r}" in e]
            if conn["label"] == "cert-rejected" and reasons and cap["point"] in conn["points"]:
                out.append(
                    pytest.param(
                        path, conn["client_port"], reasons[0], id=f"{param.id}:{conn['client_port']}"
                    )
                )
    return out


@pytest.mark.parametrize(("path", "client_port", "reason"), _cert_cases())
def test_certificate_rejection_names_the_clients_reason(
    path: pathlib.Path, client_port: int, reason: str
) -> None:
    """What the Go client said (wrong name, unknown issuer, expired) is the error pcapdiag gives when the
    certificate is in clear (TLS 1.2), and the headline or an alternative when TLS 1.3 hides it."""
    _, flows = analyse(path)
    (flow,) = [f for f in flows if f.client.port == client_port]
    assert flow.kubernetes_error is not None
    if flow.tls_version == "TLS 1.2":
        assert reason in flow.kubernetes_error, flow.kubernetes_error
    else:
        errors = [flow.kubernetes_error, *(str(a.error) for a in flow.alternatives)]
        assert any(reason in e for e in errors), errors
