"""A busy control-plane node (bench/gen.py busy: thousands of healthy webhook calls to seven servers, and
failures of each kind at known times) through every format: the reports open with the answer, a row per
server with its failure window and pattern, every failing connection once in its group; a timeline with a
mark (or a bucket count) per connection; 20,000 connections stay under 5 MB and render in under 2 s."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import re
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from types import ModuleType
from typing import Any

import pytest

from chromium import assert_not_blank, browser, need_chromium
from clirun import run_cli_text
from conftest import ROOT
from pcapdiag.report.timefmt import clock, rfc3339
from test_reports import assert_self_contained, listed_once

CALLS = 3000
START_NS = 1_790_000_000 * 10**9
"""bench/gen.py's first packet time."""
BIG = 20_000
MAX_HTML_BYTES = 5_000_000
MAX_RENDER_S = 2.0
PATTERNS = {
    "refused": "intermittent",
    "syn-timeout": "intermittent",
    "tls-handshake-timeout": "at-start",
    "awaiting-headers": "at-end",
    "cert-rejected": "all-failing",
    "server-closed": "intermittent",
    "ok": "no-failure",
}
"""The pattern each busy server's failures make (bench/gen.py BUSY_SERVERS)."""
READINGS = {
    "intermittent": "intermittent: ",
    "at-start": "only at the start of the capture: ",
    "at-end": "only at the end of the capture: ",
    "all-failing": "all failing: ",
    "no-failure": "no failure in ",
}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pcapdiag_bench_gen", ROOT / "bench" / "gen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def generate(out: pathlib.Path, calls: int) -> dict[str, Any]:
    """A busy capture of ``calls`` connections over 300 s, and what the generator says it holds."""
    meta: dict[str, Any] = _generator().generate("busy", out, 10**9, connections=calls, duration=300.0)
    return meta


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("busy")
    path = tmp / "busy.pcap"
    meta = generate(path, CALLS)
    out: dict[str, Any] = {"path": path, "meta": meta, "tmp": tmp}
    for fmt in ("text", "json", "markdown", "html", "svg"):
        done = pcapdiag("analyze", "--format", fmt, str(path))
        assert done.returncode == 1, done.stderr
        out[fmt] = done.stdout
    out["flows"] = json.loads(out["json"])["flows"]
    return out


def pcapdiag(*args: str) -> Any:
    return run_cli_text(*args, cwd=ROOT)


def servers(busy: dict[str, Any]) -> list[dict[str, Any]]:
    expected: list[dict[str, Any]] = busy["meta"]["servers"]
    return expected


def failing_ids(busy: dict[str, Any]) -> Counter[int]:
    return Counter(f["id"] for f in busy["flows"] if f["failing"])


def test_json_keeps_every_flow_and_rolls_up_each_server(busy: dict[str, Any]) -> None:
    doc = json.loads(busy["json"])
    assert len(doc["flows"]) == CALLS == doc["summary"]["connections"]
    assert doc["summary"]["filtered_out"] is None
    rolled = {(s["server"]["ip"], s["server"]["port"]): s for s in doc["servers"]}
    assert len(rolled) == len(servers(busy))
    assert [s["failing"] for s in doc["servers"]] == sorted(
        (s["failing"] for s in doc["servers"]), reverse=True
    )
    for want in servers(busy):
        got = rolled[(want["ip"], want["port"])]
        assert got["calls"] == want["calls"] and got["by_label"] == want["by_label"], want["server"]
        assert got["name"] == want["sni"]
        assert got["first_failure"] == rfc3339(want["first_failure_ns"])
        assert got["last_failure"] == rfc3339(want["last_failure_ns"])
        assert got["pattern"] == PATTERNS[want["failure_label"]], want["server"]
        assert got["reading"].startswith(READINGS[got["pattern"]])
    jsonl = pcapdiag("analyze", "--format", "jsonl", str(busy["path"])).stdout.splitlines()
    assert [json.loads(line) for line in jsonl[:-1]] == doc["flows"]


def test_text_opens_with_the_answer_then_a_row_per_server(busy: dict[str, Any]) -> None:
    text: str = busy["text"]
    lines = text.splitlines()
    failed = sum(1 for f in busy["flows"] if f["failing"])
    assert lines[0].startswith(f"{failed} of {CALLS} connections failed (")
    failing = [s for s in servers(busy) if s["first_failure_ns"] is not None]
    assert lines[1].startswith(f"Failing servers, {len(failing)} of {len(servers(busy))}: ")
    table = text.index("Servers (7), failing first:")
    groups = text.index("Failing connections, by server and label")
    assert table < groups and text.rindex("Summary: ") > groups
    rows = text[table:groups]
    for s in servers(busy):
        n_failed = s["calls"] - s["by_label"].get("ok", 0)
        row = next(line for line in rows.splitlines() if line.startswith(f"  {s['server']} {s['sni']} "))
        assert re.search(rf"\s{s['calls']}\s+{n_failed}\s", row), row
        if s["first_failure_ns"] is not None:
            assert f"{s['failure_label']} {n_failed}" in row
            assert rfc3339(s["first_failure_ns"]) in row and rfc3339(s["last_failure_ns"]) in row
        after = rows[rows.index(row) :].splitlines()[1:3]
        pattern = next(line for line in after if line.startswith("      pattern: "))
        assert pattern.removeprefix("      pattern: ").startswith(READINGS[PATTERNS[s["failure_label"]]]), s
    # The window the generator planned for the refusals, read back from the capture.
    refused = next(s for s in servers(busy) if s["failure_label"] == "refused")
    first, last = clock(refused["first_failure_ns"]), clock(refused["last_failure_ns"])
    assert (
        f"intermittent: {refused['calls'] - refused['by_label']['ok']} of {refused['calls']} calls failed, "
        f"between {first} and {last}" in rows
    )
    window = [w * 1e9 + START_NS for w in refused["windows"][0]]
    assert window[0] <= refused["first_failure_ns"] <= refused["last_failure_ns"] < window[1]


def text_ids(text: str, heading: str) -> Counter[int]:
    """The connection ids a text section lists: each group's representative and its one-line others."""
    part = text[text.index(heading) :]
    for end in ("\nConnections that did not fail, by server", "\nSummary: "):
        if end in part[1:]:
            part = part[: part.index(end, 1)]
    ids: Counter[int] = Counter()
    for line in part.splitlines():
        m = re.match(r"#(\d+) [a-z-]+: ", line) or re.match(r"    frames? [\d-]+ .* #(\d+)$", line)
        if m:
            ids[int(m.group(1))] += 1
    return ids


def test_every_failing_connection_once_in_its_group_in_every_format(busy: dict[str, Any]) -> None:
    want = failing_ids(busy)
    assert len(want) > 200
    assert text_ids(busy["text"], "Failing connections, by server and label") == want
    html = busy["html"]
    assert_self_contained(html)
    assert listed_once(html) == Counter({(str(busy["path"]), i): n for i, n in want.items()})
    md: str = busy["markdown"]
    drawn = Counter(int(m.group(1)) for m in re.finditer(r"· connection (\d+) of ", md))
    rows = Counter(
        int(m.group(1))
        for m in re.finditer(r"^\| [\d-]+ \| [^|]+ \| [^|]+ \| [^|]+ \| \d+ \| (\d+) \|", md, re.M)
    )
    assert drawn + rows == want
    # one group per failing server and label, in the roll-up's order
    groups = re.findall(r"^\[g(\d+)\] ([a-z-]+) at (\S+) ", busy["text"], re.M)
    failing = [s for s in servers(busy) if s["first_failure_ns"] is not None]
    assert sorted(server for _, _, server in groups) == sorted(s["server"] for s in failing)
    assert [int(n) for n, _, _ in groups] == list(range(1, len(groups) + 1))


def test_show_all_lists_every_connection_and_show_failing_only_failures(busy: dict[str, Any]) -> None:
    every = Counter(f["id"] for f in busy["flows"])
    text = pcapdiag("analyze", "--show", "all", str(busy["path"])).stdout
    listed = text_ids(text, "Failing connections, by server and label") + text_ids(
        text, "Connections that did not fail, by server and label"
    )
    assert listed == every
    failing = pcapdiag("analyze", "--show", "failing", str(busy["path"])).stdout
    assert failing == busy["text"]  # the default
    assert "Connections that did not fail" not in failing
    html = pcapdiag("analyze", "--show", "all", "--format", "html", str(busy["path"])).stdout
    assert listed_once(html) == Counter({(str(busy["path"]), i): n for i, n in every.items()})
    healthy = {f["id"] for f in busy["flows"] if f["label"] == "ok"}
    assert not any(i in healthy for _, i in listed_once(busy["html"]))


def marks(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [el for el in root.iter() if el.tag.endswith("rect") and "data-n" in el.attrib]


def test_timeline_has_a_mark_or_bucket_count_per_connection(busy: dict[str, Any]) -> None:
    labels = Counter(f["label"] for f in busy["flows"])
    svg: str = busy["svg"]
    assert svg.startswith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<svg class="timeline" xmlns="http://www.w3.org/2000/svg"'
    )
    assert "<script" not in svg and "href" not in svg
    drawn = marks(svg)
    assert sum(int(el.attrib["data-n"]) for el in drawn) == CALLS
    by_label = Counter()
    for el in drawn:
        by_label[re.search(r"\bl-([a-z-]+)", el.attrib["class"]).group(1)] += int(el.attrib["data-n"])  # type: ignore[union-attr]
    assert by_label == labels
    # In the HTML report the same timeline, its failure marks linking to their groups.
    html: str = busy["html"]
    inline = re.search(r'<svg class="timeline".*?</svg>', html, re.S)
    assert inline is not None
    assert sum(int(el.attrib["data-n"]) for el in marks(inline.group(0))) == CALLS
    ids = set(re.findall(r'id="(g\d+)"', html))
    links = re.findall(r'<a href="#(g\d+)"><rect class="mark l-([a-z-]+)"', inline.group(0))
    assert links and {g for g, _ in links} == ids
    assert all(label != "ok" for _, label in links)


def test_timeline_screenshot_is_not_blank(busy: dict[str, Any]) -> None:
    need_chromium()
    path = busy["tmp"] / "timeline.svg"
    path.write_text(busy["svg"], encoding="utf-8")
    with browser(1000, 420) as b:
        b.load(path.resolve().as_uri())
        assert_not_blank(b.screenshot())


def test_filters_say_what_they_left_out(busy: dict[str, Any]) -> None:
    done = pcapdiag("analyze", "--port", "9999", str(busy["path"]))
    assert done.returncode == 0
    assert done.stdout.startswith("No TCP connection matched --port 9999 in 1 capture (3000 left out).")
    top = sorted(servers(busy), key=lambda s: (-s["calls"], s["server"]))[:5]
    named = ", ".join(f"{s['server']} ({s['calls']})" for s in top)
    assert f"pcapdiag: --port 9999 left out {CALLS} TCP connections (" in done.stderr
    assert f"to 7 servers: {named}, and 2 more\n" in done.stderr
    doc = json.loads(pcapdiag("analyze", "--format", "json", "--port", "9999", str(busy["path"])).stdout)
    left = doc["summary"]["filtered_out"]
    assert left["connections"] == CALLS and left["servers"] == 7 and left["filters"] == "--port 9999"
    assert [(x["port"], x["connections"]) for x in left["top_servers"]] == [
        (s["port"], s["calls"]) for s in top
    ]
    one = servers(busy)[0]
    doc = json.loads(
        pcapdiag(
            "analyze", "--format", "json", "--server", f"{one['ip']}:{one['port']}", str(busy["path"])
        ).stdout
    )
    assert doc["summary"]["connections"] == one["calls"]
    assert doc["summary"]["filtered_out"]["connections"] == CALLS - one["calls"]


# -- 20,000 connections -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    tmp = tmp_path_factory.mktemp("big")
    capture = tmp / "big.pcap"
    generate(capture, BIG)
    report = tmp / "big.html"
    done = pcapdiag("analyze", "--format", "html", "-o", str(report), str(capture))
    assert done.returncode == 1, done.stderr
    return report


def render_seconds(page: pathlib.Path) -> float:
    """How long Chromium takes from the navigation's start to the second frame after the load event
    (the page's own clock: the browser's start-up is not in it); the best of three loads."""
    best = float("inf")
    with browser(1200, 900) as b:
        for _ in range(3):
            b.load(page.resolve().as_uri())
            done = b.call(
                "Runtime.evaluate",
                {
                    "expression": "new Promise(r => requestAnimationFrame(() => requestAnimationFrame("
                    "() => r(performance.now()))))",
                    "awaitPromise": True,
                    "returnByValue": True,
                },
                session=True,
            )
            best = min(best, done["result"]["value"] / 1000)
        assert_not_blank(b.screenshot())
    return best


def test_twenty_thousand_connections_stay_small_and_render_fast(big: pathlib.Path) -> None:
    html = big.read_text(encoding="utf-8")
    assert len(html.encode()) < MAX_HTML_BYTES, len(html.encode())
    assert_self_contained(html)
    inline = re.search(r'<svg class="timeline".*?</svg>', html, re.S)
    assert inline is not None and sum(int(el.attrib["data-n"]) for el in marks(inline.group(0))) == BIG
    need_chromium()
    began = time.monotonic()
    seconds = render_seconds(big)
    assert seconds < MAX_RENDER_S, (seconds, time.monotonic() - began)
