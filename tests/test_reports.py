"""Markdown and HTML reports are complete, escaped and self-contained, draw an arrow per evidence row and load
in headless Chromium with no console error and no network request."""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest

from builders import write_pcap
from chromium import assert_not_blank, browser, need_chromium
from clirun import run_cli_text
from conftest import CAPTURES, ROOT, analyse
from conversation import Conversation, client_hello
from pcapdiag.prose import HostPort
from pcapdiag.report import Report
from pcapdiag.report.groups import MAX_DETAILED, MAX_LINES
from pcapdiag.report.servers import servers_of
from pcapdiag.report.stream import STREAMS

ALL_CLIENT_CAPTURES = sorted(CAPTURES.glob("*/client-eth.pcap"))
MULTI_FAILURE = CAPTURES / "cert-rejected-tls13" / "client-eth.pcap"
SCRIPT = "<script>alert(1)</script>"
EVIL_SNI = SCRIPT + "|`x`*_[a](b)\n# injected heading ```~~~ $x$ &amp; .ns<b>|x.svc"
EVIL_REASON = SCRIPT + " |`*_[x](y)``` <img src=x> \x1b[31m"


def pcapdiag(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line in this process (see clirun), in the repository's root."""
    return run_cli_text(*args, cwd=ROOT)


def render(out: pathlib.Path, fmt: str, *captures: pathlib.Path) -> str:
    result = pcapdiag("analyze", "--format", fmt, "-o", str(out), *map(str, captures))
    assert result.returncode in (0, 1), result.stderr
    return out.read_text(encoding="utf-8")


def failing_flows(*captures: pathlib.Path) -> list[dict[str, Any]]:
    result = pcapdiag("analyze", "--format", "json", *map(str, captures))
    assert result.returncode in (0, 1), result.stderr
    return [f for f in json.loads(result.stdout)["flows"] if f["failing"]]


def evil_capture(path: pathlib.Path) -> pathlib.Path:
    """A not-tls connection whose SNI and HTTP reason phrase are markup; a plain HTTP 500 with the same."""
    tls = Conversation(client=("198.18.0.2", 40000))
    tls.handshake(0)
    tls.send(0.001, True, client_hello(sni=EVIL_SNI))
    tls.send(0.002, False, b"HTTP/1.1 400 " + EVIL_REASON.encode() + b"\r\nContent-Length: 0\r\n\r\n")
    tls.fin(0.003, to_server=False)
    plain = Conversation(client=("198.18.0.2", 40001), server=("198.19.0.2", 6080))
    plain.handshake(0.01)
    plain.send(0.011, True, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    plain.send(0.012, False, b"HTTP/1.1 500 " + EVIL_REASON.encode() + b"\r\nContent-Length: 0\r\n\r\n")
    plain.fin(0.013, to_server=True)
    return write_pcap(path, sorted(tls.records + plain.records, key=lambda r: r.ts_ns))


# -- HTML structure ---------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
FORBIDDEN_TAGS = {
    "script",
    "link",
    "img",
    "iframe",
    "frame",
    "object",
    "embed",
    "base",
    "audio",
    "video",
    "form",
}
RESOURCE_ATTRS = {"src", "srcset", "action", "formaction", "background", "poster", "data", "ping", "manifest"}


class Page(HTMLParser):
    """A strict reading of the page: every element closed in order, and what it holds collected."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: Counter[str] = Counter()
        self.attrs: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.styles: list[str] = []
        self.errors: list[str] = []
        self.rows: list[tuple[str, int]] = []
        self._cells: int | None = None
        self._table_head: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        for name, value in attrs:
            self.attrs.append((tag, name, value or ""))
            if name == "style":
                self.styles.append(value or "")
        if tag == "tr":
            self._cells = 0
        elif tag in ("td", "th") and self._cells is not None:
            self._cells += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()
        if tag == "tr" and self._cells is not None:
            self.rows.append(("tr", self._cells))
            self._cells = None
        elif tag in ("thead", "tbody", "table"):
            self.rows.append((tag, 0))

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "style":
            self.styles.append(data)
        else:
            self.text.append(data)


def read_page(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    assert not page.errors, page.errors[:5]
    assert page.stack == [], f"unclosed: {page.stack}"
    return page


def table_widths(page: Page) -> list[set[int]]:
    """The cell counts of the rows of each table (a well-formed table has one)."""
    tables: list[set[int]] = []
    current: set[int] = set()
    for kind, cells in page.rows:
        if kind == "tr":
            current.add(cells)
        elif kind == "table":
            tables.append(current)
            current = set()
    return tables


def assert_self_contained(text: str) -> Page:
    """Well-formed, no script, nothing that could fetch anything, and every SVG well-formed XML."""
    assert text.startswith("<!DOCTYPE html>")
    assert "<script" not in text.lower()
    page = read_page(text)
    assert not (set(page.tags) & FORBIDDEN_TAGS), set(page.tags) & FORBIDDEN_TAGS
    for tag, name, value in page.attrs:
        assert name not in RESOURCE_ATTRS, (tag, name, value)
        assert not name.startswith("on"), (tag, name)
        if name.endswith("href"):
            assert value.startswith("#"), (tag, name, value)
        assert not re.search(r"(?i)(https?:|javascript:|^//)", value), (tag, name, value)
    for css in page.styles:
        assert "@import" not in css and "@font-face" not in css
        assert all(u.startswith("#") for u in re.findall(r"url\(\s*['\"]?([^'\")]*)", css)), css
        assert not re.search(r"(?i)https?:", css)
    assert page.tags["style"] == 1 and page.tags["html"] == 1
    assert "@media print" in page.styles[0]
    for svg in re.findall(r"<svg\b.*?</svg>", text, re.S):
        ET.fromstring(svg)
    for widths in table_widths(page):
        assert len(widths) == 1, widths
    return page


def listed_once(text: str) -> Counter[tuple[str, int]]:
    """(capture, flow id) -> how many times the page shows the connection: drawn in full (an article)
    or as one line of its group."""
    seen: Counter[tuple[str, int]] = Counter()
    for m in re.finditer(r'<(?:article|tr) [^>]*data-capture="([^"]*)" data-flow="(\d+)"', text):
        seen[(unescape(m.group(1)), int(m.group(2)))] += 1
    return seen


def arrows_by_flow(text: str) -> dict[tuple[str, int], list[int]]:
    """(capture, flow id) -> the frames of the arrow elements of its ladder, in order."""
    out: dict[tuple[str, int], list[int]] = {}
    for m in re.finditer(
        r'<article [^>]*data-capture="([^"]*)" data-flow="(\d+)">(.*?)</article>', text, re.S
    ):
        svgs = re.findall(r"<svg\b.*?</svg>", m.group(3), re.S)
        assert len(svgs) == 1
        root = ET.fromstring(svgs[0])
        frames = [
            int(el.attrib["data-frame"])
            for el in root.iter()
            if "arrow" in el.attrib.get("class", "").split()
        ]
        key = (unescape(m.group(1)), int(m.group(2)))
        assert key not in out
        out[key] = frames
    return out


@pytest.fixture(scope="module")
def all_captures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every bundled client-side capture in one run of each format."""
    tmp = tmp_path_factory.mktemp("all")
    return {
        "html": render(tmp / "all.html", "html", *ALL_CLIENT_CAPTURES),
        "markdown": render(tmp / "all.md", "markdown", *ALL_CLIENT_CAPTURES),
        "failing": failing_flows(*ALL_CLIENT_CAPTURES),
        "path": tmp / "all.html",
    }


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("evil")
    cap = evil_capture(tmp / "evil<b>|`x`*.pcap")
    return {
        "capture": cap,
        "html": render(tmp / "evil.html", "html", cap),
        "markdown": render(tmp / "evil.md", "markdown", cap),
        "failing": failing_flows(cap),
        "path": tmp / "evil.html",
    }


def test_html_is_self_contained_and_has_one_arrow_per_evidence_row(all_captures: dict[str, Any]) -> None:
    text = all_captures["html"]
    page = assert_self_contained(text)
    failing = all_captures["failing"]
    assert len(failing) > 30
    # Every failing connection once: drawn in full as its group's representative, or one line of it.
    assert listed_once(text) == Counter((f["capture"], f["id"]) for f in failing)
    arrows = arrows_by_flow(text)
    groups = {(str_server(f), f["label"]) for f in failing}
    assert len(arrows) == len(groups)  # one representative per server and label
    by_key = {(f["capture"], f["id"]): f for f in failing}
    for key, frames in arrows.items():
        assert frames == [e["frame"] for e in by_key[key]["evidence"]], key
    body = "".join(page.text)
    for heading in (
        "What was analysed",
        "Summary by label",
        "Servers",
        "Failing connections by server and label",
    ):
        assert heading in body
    assert "Healthy and undecided" not in body and 'class="chip l-ok"' in text  # counted, not listed
    for cap in ALL_CLIENT_CAPTURES:
        assert str(cap) in body
    assert "EN10MB" in body
    for key in arrows:
        f = by_key[key]
        assert f["explanation"] in body
        if f["kubernetes_error"]:
            assert f["kubernetes_error"] in body
        for step in f["next_steps"]:
            assert step in body


def representatives(failing: list[dict[str, Any]]) -> set[tuple[str, int]]:
    """(capture, id) of the connection each group (server and label) draws in full: its first, by
    start time (then id and capture)."""
    first: dict[tuple[str, str], tuple[str, int, str]] = {}
    for f in failing:
        key = (str_server(f), f["label"])
        rank = (f["start"], f["id"], f["capture"])
        first[key] = min(first.get(key, rank), rank)
    return {(capture, id_) for _, id_, capture in first.values()}


def str_server(f: dict[str, Any]) -> str:
    ip, port = f["server"]["ip"], f["server"]["port"]
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def ladders(text: str) -> list[str]:
    return re.findall(r'<svg class="ladder".*?</svg>', text, re.S)


def test_html_ladder_marks_retransmissions_keys_and_silences(tmp_path: pathlib.Path) -> None:
    text = render(tmp_path / "r.html", "html", CAPTURES / "syn-timeout" / "client-eth.pcap")
    svg = ET.fromstring(ladders(text)[0])
    classes = [
        el.attrib["class"].split() for el in svg.iter() if "arrow" in el.attrib.get("class", "").split()
    ]
    assert sum("retx" in c for c in classes) == 6 and sum("key" in c for c in classes) == 1
    silences = "".join(svg.itertext())
    assert re.search(r"1\.0\d\d s of silence", silences)
    text = render(tmp_path / "a.html", "html", CAPTURES / "awaiting-headers" / "client-eth.pcap")
    assert re.search(r"(9\.99\d|10\.00\d) s of silence", text)
    text = render(tmp_path / "u.html", "html", CAPTURES / "unreachable" / "client-eth.pcap")
    svg = ET.fromstring(ladders(text)[0])
    assert any("net" in (el.attrib.get("class") or "").split() for el in svg.iter())


def test_wireshark_filter_opens_the_connection(all_captures: dict[str, Any]) -> None:
    text = all_captures["html"]
    drawn = arrows_by_flow(text)
    for f in all_captures["failing"]:
        if (f["capture"], f["id"]) not in drawn:
            continue
        v = "ipv6" if ":" in f["client"]["ip"] else "ip"
        flt = (
            f"{v}.addr=={f['client']['ip']} &amp;&amp; tcp.port=={f['client']['port']} &amp;&amp; "
            f"{v}.addr=={f['server']['ip']} &amp;&amp; tcp.port=={f['server']['port']}"
        )
        assert flt in text


# -- Markdown ---------------------------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def split_fences(text: str) -> tuple[list[str], list[list[str]]]:
    """Lines outside fenced code blocks, and each block's lines, read as CommonMark does."""
    outside: list[str] = []
    blocks: list[list[str]] = []
    fence: str | None = None
    for line in text.split("\n"):
        if fence is None:
            m = _FENCE_OPEN.match(line)
            if m:
                fence = m.group(1)
                blocks.append([])
            else:
                outside.append(line)
        elif re.fullmatch(r" {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*", line):
            fence = None
        else:
            blocks[-1].append(line)
    assert fence is None, "a fenced block is never closed"
    return outside, blocks


_RUNG = re.compile(r"^\s*\d+\.\d{6}  [* ]\s*(\d+)   [|]")


def rungs(block: list[str]) -> list[int]:
    return [int(m.group(1)) for line in block if (m := _RUNG.match(line))]


def assert_inert_markdown(text: str) -> None:
    """Outside code blocks: no raw '<', as many cells in every row of a table as in its head, only our
    headings."""
    outside, _ = split_fences(text)
    width: int | None = None
    for line in outside:
        bare = re.sub(r"\\[!-/:-@\[-`{-~]", "", line)
        assert "<" not in bare, line
        if line.startswith("|"):
            cells = bare.count("|")
            width = cells if width is None else width
            assert cells == width, line
        else:
            width = None
            assert "|" not in bare, line
        if line.startswith("#"):
            assert re.match(
                r"#{1,4} (pcapdiag report|What was analysed|Summary by label|Servers"
                r"|Failing connections by server and label|Connections that did not fail, by server and label"
                r"|g\d+\. `[a-z-]+` at |\d+\. `[a-z-]+` )",
                line,
            ), line


def test_markdown_has_a_ladder_row_per_evidence_row(all_captures: dict[str, Any]) -> None:
    text = all_captures["markdown"]
    assert_inert_markdown(text)
    _, blocks = split_fences(text)
    ladders = [rungs(b) for b in blocks if b and b[0].lstrip().startswith("time (s)")]
    failing = all_captures["failing"]
    drawn = representatives(failing)
    expected = [[e["frame"] for e in f["evidence"]] for f in failing if (f["capture"], f["id"]) in drawn]
    assert sorted(ladders) == sorted(expected)
    # every failing connection once: its group's ladder, or a row of its group's table
    row = re.compile(r"^\| [\d-]+ \| [^|]+ \| [^|]+ \| [^|]+ \| \d+ \| (\d+) \| ", re.M)
    assert len(drawn) + len(row.findall(text)) == len(failing)
    for f in failing:
        if (f["capture"], f["id"]) in drawn:
            v = "ipv6" if ":" in f["client"]["ip"] else "ip"
            assert f"{v}.addr=={f['client']['ip']} && tcp.port=={f['client']['port']} && " in text
    assert "s of silence" in text and "==>|" in text


def test_escaping_html(evil: dict[str, Any]) -> None:
    text = evil["html"]
    page = assert_self_contained(text)
    body = "".join(page.text)
    assert len(evil["failing"]) == 2
    assert SCRIPT in body  # shown as text ...
    assert "script" not in page.tags and "img" not in page.tags  # ... never as markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "\\n# injected heading" in body and "\\x1b[31m" in body  # control characters made visible
    assert "\x1b" not in text and "\n# injected" not in text
    assert str(evil["capture"]) in body
    assert body.count("is not a valid DNS name") == 1  # the SNI names the webhook in the commands
    arrows = arrows_by_flow(text)
    for f in evil["failing"]:
        assert arrows[(f["capture"], f["id"])] == [e["frame"] for e in f["evidence"]]


def test_escaping_markdown(evil: dict[str, Any]) -> None:
    text = evil["markdown"]
    assert_inert_markdown(text)
    assert "\x1b" not in text and "\n# injected" not in text
    outside, blocks = split_fences(text)
    prose = "\n".join(outside)
    assert r"\<script>alert(1)\</script>" in prose  # the SNI in a heading, escaped
    assert r"\|\`x\`\*\_\[a\](b)\\n\# injected heading" in prose
    inside = "\n".join(line for b in blocks for line in b)
    assert "```~~~" in inside  # the SNI's backticks sit inside a longer fence
    assert prose.count("is not a valid DNS name") == 1
    ladders = [rungs(b) for b in blocks if b and b[0].lstrip().startswith("time (s)")]
    assert sorted(ladders) == sorted([e["frame"] for e in f["evidence"]] for f in evil["failing"])


def test_markdown_helpers_keep_capture_text_inert() -> None:
    rm = importlib.import_module("pcapdiag.report.render_markdown")  # after pcapdiag.report.stream
    content = ["```", "````sh", "  ```", "`````` x", "~~~"]
    outside, blocks = split_fences("\n".join(["before", *rm.fenced(content), "after"]))
    assert outside == ["before", "after"] and blocks == [content]
    assert rm.md("a|b\nc") == "a\\|b\\\\nc"
    assert rm.md("1. x", line_start=True) == "1\\. x" and rm.md("- x", line_start=True) == "\\- x"
    assert rm.md("> q", line_start=True) == "\\> q" and rm.md("1. x") == "1. x"


def test_escaping_markdown_rendered() -> None:
    """With a CommonMark + GFM-tables renderer, the capture's markup stays text (skipped without one)."""
    markdown_it = pytest.importorskip("markdown_it")
    with tempfile.TemporaryDirectory() as tmp:
        cap = evil_capture(pathlib.Path(tmp) / "evil.pcap")
        text = render(pathlib.Path(tmp) / "evil.md", "markdown", cap)
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(text)
    page = read_page(html)
    assert "script" not in page.tags and "img" not in page.tags
    assert SCRIPT in "".join(page.text)
    assert page.tags["h1"] == 1 and page.tags["h3"] == 2
    for widths in table_widths(page):
        assert len(widths) == 1, widths


# -- the renderers in process ---------------------------------------------------------------------


def test_streamed_renderers_are_bounded_and_list_healthy_flows_only_with_show_all() -> None:
    cap, flows = analyse(CAPTURES / "keepalive" / "client-eth.pcap")
    bad = next(f for f in flows if f.label.failing)
    good = [f for f in flows if not f.label.failing]
    extra, more = 5, 3
    # One failing connection to each of MAX_DETAILED + extra servers (a group each), and MAX_LINES + more
    # others to the first of them (one group past its bound of lines).
    many = [
        dataclasses.replace(bad, id=1000 + i, server=HostPort(bad.server.ip, 20000 + i))
        for i in range(MAX_DETAILED + extra)
    ]
    same = [
        dataclasses.replace(bad, id=5000 + i, server=many[0].server, start_ns=bad.start_ns + 1 + i)
        for i in range(MAX_LINES + more)
    ]
    every = [*many, *same, *good]
    by_label = Counter(f.label.value for f in every)
    report = Report(captures=(cap,), flows=(), by_label=dict(by_label), servers=servers_of(every))
    for show in ("failing", "all"):
        html_r, md_r = STREAMS["html"](show=show), STREAMS["markdown"](show=show)
        for f in every:
            assert html_r.flow(f) == "" and md_r.flow(f) == ""
        html, md = html_r.end(report), md_r.end(report)
        assert html.count("<article ") == MAX_DETAILED  # the first MAX_DETAILED groups' representatives
        assert md.count("\n#### ") == MAX_DETAILED
        groups = len(many) + (len({(f.server, f.label) for f in good}) if show == "all" else 0)
        assert html.count('<section class="group') == groups and md.count("\n### g") == groups
        assert f"{more} more connections of this group are not listed" in html
        assert f"{more} more connections of this group are not listed" in md
        assert html.count("not drawn: the report draws") == extra + (groups - len(many))
        shown = listed_once(html)
        assert all(shown[(cap.path, f.id)] == (show == "all") for f in good), show
        assert_self_contained(html)
        assert_inert_markdown(md)


def test_reports_are_pure() -> None:
    cap, flows = analyse(MULTI_FAILURE)
    report = Report(captures=(cap,), flows=tuple(flows), by_label=dict(Counter(f.label.value for f in flows)))
    # pcapdiag.report.stream (imported above) must load before the renderers it registers.
    render_html = importlib.import_module("pcapdiag.report.render_html").render_html
    render_markdown = importlib.import_module("pcapdiag.report.render_markdown").render_markdown
    assert render_html(report) == render_html(report)
    assert render_markdown(report) == render_markdown(report)
    assert render_html(report).count("<article ") == len(flows)


# -- a real browser -------------------------------------------------------------------------------


def check_in_browser(path: pathlib.Path, arrows: int) -> bytes:
    """Load the page: no console error, no request but the file itself, no horizontal overflow, a picture
    with something on it, and a print rendering; returns the viewport screenshot."""
    url = path.resolve().as_uri()
    with browser() as b:
        b.load(url)
        console = [
            e["params"]
            for e in b.events
            if e.get("method") in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown")
            or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] in ("error", "warning"))
        ]
        assert console == []
        requests = [
            e["params"]["request"]["url"] for e in b.events if e.get("method") == "Network.requestWillBeSent"
        ]
        assert requests == [url]
        assert not any(e.get("method") == "Network.loadingFailed" for e in b.events)
        size = b.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
        assert size["width"] <= b.width, size  # nothing wider than the window: no sideways scrolling
        drawn = b.call(
            "Runtime.evaluate",
            {"expression": "document.querySelectorAll('svg.ladder g.arrow').length", "returnByValue": True},
            session=True,
        )
        assert drawn["result"]["value"] == arrows
        assert_not_blank(b.screenshot(scale=0.25))
        pdf = base64.b64decode(b.call("Page.printToPDF", {"printBackground": True}, session=True)["data"])
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
        shot = b.screenshot()
        later = [
            e["params"]["request"]["url"] for e in b.events if e.get("method") == "Network.requestWillBeSent"
        ]
        assert later == [url]  # printing and screenshots fetched nothing either
        return shot


def test_chromium_loads_the_report_without_errors_or_requests(all_captures: dict[str, Any]) -> None:
    need_chromium()
    failing = all_captures["failing"]
    drawn = representatives(failing)
    check_in_browser(
        all_captures["path"], sum(len(f["evidence"]) for f in failing if (f["capture"], f["id"]) in drawn)
    )


def test_chromium_renders_capture_markup_as_text(evil: dict[str, Any]) -> None:
    need_chromium()
    check_in_browser(evil["path"], sum(len(f["evidence"]) for f in evil["failing"]))
    with browser() as b:
        b.load(evil["path"].resolve().as_uri())
        found = b.call(
            "Runtime.evaluate",
            {
                "expression": "[document.scripts.length, document.images.length, "
                "document.body.innerText.includes('<script>alert(1)</script>')]",
                "returnByValue": True,
            },
            session=True,
        )
        assert found["result"]["value"] == [0, 0, True]


def write_example(out: pathlib.Path, capture: pathlib.Path = MULTI_FAILURE) -> None:
    """Render ``capture`` as HTML and save a screenshot of its top to ``out`` (docs/report-example.png)."""
    with tempfile.TemporaryDirectory() as tmp:
        page = render(pathlib.Path(tmp) / "report.html", "html", capture.relative_to(ROOT))
        path = pathlib.Path(tmp) / "report.html"
        assert page
        with browser(1200, 2000) as b:
            b.load(path.resolve().as_uri())
            out.write_bytes(b.screenshot())


if __name__ == "__main__":  # python tests/test_reports.py docs/report-example.png [CAPTURE]
    write_example(pathlib.Path(sys.argv[1]), *(pathlib.Path(a).resolve() for a in sys.argv[2:3]))
