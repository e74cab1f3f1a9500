"""The wire outranks inference: what a certificate shows never turns a completed exchange into a failure.

A client that sends its Finished and then requests, and gets answers, accepted the server's certificate,
whatever the certificate looks like (another client, InsecureSkipVerify, a node clock that is off). The
certificate's problems are findings on an ``ok`` connection. Tested on a real recording (a Go client with
InsecureSkipVerify, three requests answered) and on scapy-built handshakes, one of them without the
ChangeCipherSpec records a capture may miss.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from builders import write_pcap
from conftest import CAPTURES, analyse
from conversation import START, Conversation, app_data, certificate, client_hello, record, server_hello

INSECURE = CAPTURES / "insecure-cert"


def _truth_files() -> list[str]:
    truth = json.loads((INSECURE / "truth.json").read_text())
    return [c["file"] for c in truth["captures"]]


@pytest.mark.parametrize("name", _truth_files())
def test_recorded_expired_cn_only_certificate_of_another_name_is_ok_with_findings(name: str) -> None:
    truth = json.loads((INSECURE / "truth.json").read_text())
    _, flows = analyse(INSECURE / name)
    (flow,) = flows
    assert flow.label.value == "ok" and flow.kubernetes_error is None and not flow.alternatives
    assert flow.tls_version == "TLS 1.2"
    cert = flow.certificate
    assert cert is not None and not cert.dns_names, "CN only: no subjectAltName"
    said = " ".join(flow.findings)
    assert "expired" in said and "not valid for any names" in said, said
    assert "completed the handshake anyway" in said
    expected = truth["connections"][0]
    assert expected["label"] == "ok"


def _cn_only_expired(name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    not_after = dt.datetime.fromtimestamp(START / 1e9, dt.UTC) - dt.timedelta(days=3)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(not_after - dt.timedelta(days=365))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.DER)


CCS = record(20, b"\x01")


@pytest.mark.parametrize("with_ccs", [True, False], ids=["with-ccs", "ccs-not-captured"])
def test_built_tls12_exchange_with_a_certificate_a_strict_client_rejects_is_ok(
    tmp_path: pathlib.Path, with_ccs: bool
) -> None:
    conv = Conversation()
    conv.handshake(0)
    conv.send(0.001, True, client_hello(tls13=False))
    conv.send(0.002, False, server_hello(tls13=False) + certificate([_cn_only_expired("other.example")]))
    conv.send(0.003, True, (CCS if with_ccs else b"") + record(22, b"\x14" + bytes(40)))  # Finished
    conv.send(0.004, False, (CCS if with_ccs else b"") + record(22, b"\x14" + bytes(40)))
    t = 0.005
    for _ in range(3):
        conv.send(t, True, app_data(700))
        conv.send(t + 0.001, False, app_data(300))
        t += 0.01
    conv.fin(t, to_server=True)
    conv.fin(t + 0.0002, to_server=False)
    conv.ack(t + 0.0003, to_server=True)
    _, flows = analyse(write_pcap(tmp_path / "case.pcap", conv.records))
    (flow,) = flows
    assert flow.label.value == "ok", flow.explanation
    assert "answered 3 requests" in flow.explanation
    said = " ".join(flow.findings)
    assert "expired" in said and "other.example" not in flow.explanation
