"""The Python examples in docs/library.md run as written, on bundled captures."""

from __future__ import annotations

import contextlib
import io
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "library.md"
REFUSED = ROOT / "captures" / "refused" / "client-eth.pcap"
OK = ROOT / "captures" / "ok-tls13" / "client-eth.pcap"


def _examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def _run(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {})
    return out.getvalue()


def test_the_one_call_example_prints_the_failures() -> None:
    first = _examples()[0]
    assert '"node.pcap"' in first
    printed = _run(first.replace('"node.pcap"', repr(str(REFUSED))))
    assert printed.splitlines(), "the refused capture has failing connections"
    assert all(line.startswith("refused dial tcp ") for line in printed.splitlines())


def test_the_engine_example_gives_each_connection_once() -> None:
    second = _examples()[1]
    assert '"/tmp/pipe"' in second
    code = second.replace('"/tmp/pipe"', repr(str(OK)))
    code += "\nfor d in decided:\n    print(d.flow.label.value, d.flow.client, d.flow.server)\n"
    printed = _run(code).splitlines()
    assert printed and all(line.startswith("ok ") for line in printed)
    assert len(printed) == len(set(printed))
