"""Zeek as outside oracle: on Zeek's traces pcapdiag finds its TCP connections and labels them compatibly."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pcapdiag.classify import Label
from pcapdiag.pipeline import Options
from pcapdiag.report import CaptureReport
from pcapdiag.runner import Task, analyse_stream

ROOT = Path(__file__).resolve().parent.parent


def _load_tool() -> ModuleType:
    """tools/zeek_agreement.py, which holds the corpus reader, the mapping and the comparison."""
    spec = importlib.util.spec_from_file_location("zeek_agreement", ROOT / "tools" / "zeek_agreement.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module while the class is built
    spec.loader.exec_module(module)
    return module


za = _load_tool()
CORPUS: Path = za.corpus_dir()
if not (CORPUS / "MANIFEST.tsv").is_file():
    pytest.skip(
        f"no Zeek oracle corpus at {CORPUS} (CI copies shared/ beside the repository; "
        f"set {za.CORPUS_ENV} to point elsewhere)",
        allow_module_level=True,
    )

TRACES: list[str] = za.read_traces(CORPUS)
ROWS: list[Any] = za.read_manifest(CORPUS)


@functools.cache
def result(trace: str) -> Any:
    """The comparison of one trace with Zeek's rows for it (computed once per session)."""
    return za.analyze_trace(CORPUS, trace, [r for r in ROWS if r.trace == trace])


def _row_text(v: Any) -> str:
    flows = "; ".join(f"{f.label.value} ({f.history or '-'}): {f.explanation}" for f in v.flows)
    allowed = ", ".join(sorted(label.value for label in v.allowed or ()))
    return f"{v.row.describe()}\n    rule {v.rule} allows {{{allowed}}}\n    pcapdiag: {flows}"


# -- every trace: the analysis completes ----------------------------------------------------------


@pytest.mark.parametrize("trace", TRACES)
def test_analysis_completes(trace: str, capsys: pytest.CaptureFixture[str]) -> None:
    """pcapdiag reads every trace to a capture report; only a clean CaptureError may stop it."""
    with (CORPUS / trace).open("rb") as stream:
        result = analyse_stream(stream, Task(trace, Options()))
    report = result.report
    if report is None:
        return  # not a readable container: reported cleanly, which is allowed
    printed = capsys.readouterr()
    assert isinstance(report, CaptureReport)
    assert za.TRACEBACK_MARK not in printed.out + printed.err


# -- decodable traces: the same connections as Zeek -------------------------------------------------


@pytest.mark.parametrize("trace", TRACES)
def test_connection_set_matches_zeek(trace: str) -> None:
    """Zeek's connections (in encapsulations pcapdiag decodes) are exactly pcapdiag's, split no finer."""
    res = result(trace)
    if not res.decodable:
        why = "; ".join(sorted({v.why for v in res.verdicts if v.status == "undecodable"}))
        pytest.skip(f"Zeek's connections travel only in encapsulations pcapdiag does not decode ({why})")
    assert not res.set_problems, "\n".join(res.set_problems)


# -- rows with an unambiguous mapping: compatible labels -------------------------------------------


@pytest.mark.parametrize("trace", TRACES)
def test_labels_agree_with_zeek(trace: str) -> None:
    """Every row whose Zeek verdict maps unambiguously carries a label that verdict allows."""
    res = result(trace)
    compared = [v for v in res.verdicts if v.status in ("agree", "disagree")]
    if not compared:
        reasons = sorted({f"{v.status}: {v.why or v.rule}" for v in res.verdicts})
        pytest.skip("no row with an unambiguous mapping (" + "; ".join(reasons) + ")")
    wrong = [v for v in compared if v.status == "disagree"]
    assert not wrong, "\n".join(_row_text(v) for v in wrong)


# -- the mapping itself ---------------------------------------------------------------------------


def test_flips_are_undone() -> None:
    """Letters before a '^' were recorded with the other orientation (SYN-ACK seen before the SYN)."""
    assert za.zeek_letters("Hs^ADadFf") == tuple("hSADadFf")
    assert za.zeek_letters("^hADadFf") == tuple("hADadFf")
    assert za.zeek_letters("-") == ()


L = Label
QUICK = None  # timing is only needed by the SYN-stage rule


@pytest.mark.parametrize(
    ("history", "ssl", "timing", "rule", "allowed"),
    [
        ("Sr", None, QUICK, "refused", {L.REFUSED}),
        ("S", None, (1, 0.07), "syn-unanswered", {L.INCOMPLETE}),
        ("S", None, (1, 1.5), "syn-unanswered", {L.SYN_TIMEOUT}),
        ("S", None, (2, 0.5), "syn-unanswered", {L.SYN_TIMEOUT}),
        ("SaR", None, (1, 0.0005), "syn-unanswered", {L.INCOMPLETE}),
        ("ShR", None, QUICK, "no-request", {L.OK, L.INCOMPLETE}),
        ("ShAfF", None, QUICK, "no-request", {L.SERVER_CLOSED, L.INCOMPLETE}),
        ("ShA", None, QUICK, "no-request", {L.INCOMPLETE}),
        ("SADF", None, QUICK, "client-only", {L.INCOMPLETE}),
        ("hdaf", None, QUICK, "server-only", {L.INCOMPLETE, L.PARTIAL}),
        ("Dr", None, QUICK, "midstream", {L.SERVER_CLOSED, L.INCOMPLETE, L.PARTIAL}),
        ("D", None, QUICK, "client-only", {L.AWAITING_HEADERS, L.INCOMPLETE, L.PARTIAL}),
        (
            "ShADadFf",
            True,
            QUICK,
            "tls-established",
            {L.OK, L.INCOMPLETE, L.AWAITING_HEADERS, L.SERVER_CLOSED},
        ),
        (
            "ShADadFf",
            None,
            QUICK,
            "established",
            set(Label) - {L.REFUSED, L.SYN_TIMEOUT, L.UNREACHABLE, L.PARTIAL},
        ),
        ("ShADCadFf", None, QUICK, "bad-checksum", None),
    ],
)
def test_mapping_rules(
    history: str, ssl: bool | None, timing: tuple[int, float] | None, rule: str, allowed: set[Label] | None
) -> None:
    """A few Zeek verdicts and what they let pcapdiag say."""
    ctx = za.RowContext(
        syn_in_capture="S" in history,
        icmp=False,
        timing=None if timing is None else za.Timing(timing[0], int(timing[1] * za.NS)),
    )
    got = za.expectation(za.Shape(za.zeek_letters(history), ssl), ctx)
    assert got.rule == rule
    assert got.allowed == (None if allowed is None else frozenset(allowed))


def test_teredo_is_told_by_its_payload() -> None:
    """Relayed Teredo runs between arbitrary UDP ports: the payload shape, not port 3544, says Teredo."""
    scapy = pytest.importorskip("scapy.all")
    inner = scapy.IPv6(src="2001:0:4137:9e50::1", dst="2001:db8::2") / scapy.TCP(sport=1286, dport=80)
    teredo = scapy.Ether() / scapy.IP() / scapy.UDP(sport=3797, dport=32900) / inner
    assert za.encapsulation(1, bytes(teredo)) == "udp:teredo"
    other = scapy.Ether() / scapy.IP() / scapy.UDP(sport=2152, dport=2152) / (b"\x30\xff" + bytes(inner))
    assert za.encapsulation(1, bytes(other)) == "udp:2152"
    plain = scapy.Ether() / scapy.IP() / scapy.TCP()
    assert za.encapsulation(1, bytes(plain)) == "tcp"
