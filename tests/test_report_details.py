"""Details a reader notices: singular counts, IPv6 endpoints in brackets, no literal backticks in HTML, no
report after an unreadable input, a capture without TCP said to be one, and escaping in the templates."""

from __future__ import annotations

import dataclasses
import json
import pathlib

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from builders import write_pcap
from clirun import run_cli_text
from conftest import CAPTURES, analyse
from conversation import Conversation
from pcapdiag.classify import Label
from pcapdiag.prose import HostPort
from pcapdiag.report import Report, SideReport
from pcapdiag.report.ladder import side_notes
from pcapdiag.report.render_html import render_html
from pcapdiag.report.templates import code_spans
from test_reports import assert_self_contained, read_page


def test_one_packet_is_singular(tmp_path: pathlib.Path) -> None:
    dial = Conversation()
    dial.syn(0.0)
    path = write_pcap(tmp_path / "one.pcap", dial.records)
    text = run_cli_text("analyze", str(path)).stdout
    assert f"Capture {path}: pcap, EN10MB, 1 packet" in text and "1 packets" not in text


def test_ipv6_endpoints_are_bracketed_where_capture_points_are_compared() -> None:
    _, flows = analyse(CAPTURES / "ipv6" / "client-eth.pcap")
    side = SideReport(
        capture="a.pcap",
        name="apiserver",
        role="client",
        seen=True,
        client=HostPort("2001:db8::1", 40000),
        server=HostPort("2001:db8::2", 443),
        packets=1,
        label=Label.OK,
    )
    notes = side_notes(dataclasses.replace(flows[0], sides=(side,)))
    assert notes == ["apiserver (client side): 1 packet, ok, [2001:db8::1]:40000 -> [2001:db8::2]:443"]
    text = run_cli_text("analyze", str(CAPTURES / "ipv6" / "client-eth.pcap")).stdout
    assert "[2001:db8" in text and " 2001:db8" not in text.replace("(SNI", "")


def test_html_prose_has_code_not_backticks() -> None:
    cap, flows = analyse(CAPTURES / "refused" / "client-eth.pcap")
    report = Report(captures=(cap,), flows=tuple(flows), by_label={"refused": len(flows)}, cut_undecided=1)
    html = render_html(report)
    page = assert_self_contained(html)
    assert "<code>tcpdump -s 0</code>" in html
    assert "`" not in "".join(page.text)
    assert str(code_spans("a `<b>` c")) == "a <code>&lt;b&gt;</code> c"  # escaped inside the code span too


def test_unreadable_input_writes_no_report(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "nope.pcap"
    bad.write_bytes(b"not a capture")
    done = run_cli_text("analyze", str(bad))
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    doc = json.loads(run_cli_text("analyze", "--format", "json", str(bad)).stdout)  # JSON keeps its document
    assert doc["flows"] == [] and doc["captures"] == []


def test_a_capture_without_tcp_says_so(tmp_path: pathlib.Path) -> None:
    packets = [Ether() / IP(src="198.18.0.2", dst="198.19.0.2") / UDP(sport=5353, dport=53) for _ in range(2)]
    path = write_pcap(tmp_path / "udp.pcap", packets)
    done = run_cli_text("analyze", str(path))
    assert done.returncode == 0
    assert done.stderr.startswith(f"pcapdiag: {path}: no TCP packet among its 2 packets (")
    assert done.stdout.startswith("No TCP packet in 1 capture.")


def test_templates_escape_capture_text() -> None:
    _, flows = analyse(CAPTURES / "ok-tls13" / "client-eth.pcap")
    cap, _ = analyse(CAPTURES / "ok-tls13" / "client-eth.pcap")
    evil = dataclasses.replace(cap, path='<b onclick="x">"&\x1b.pcap')
    html = render_html(Report(captures=(evil,), flows=tuple(flows), by_label={"ok": len(flows)}), show="all")
    page = read_page(html)
    assert "b" not in page.tags and "onclick" not in {name for _, name, _ in page.attrs}
    assert "&lt;b onclick=&#34;x&#34;&gt;&#34;&amp;\\x1b.pcap" in html
