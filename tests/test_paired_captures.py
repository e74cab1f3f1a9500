"""Every real case analysed from both capture points at once: each connection is matched across the
client-side and server-side captures and localised where its truth file (the scenario) says."""

from __future__ import annotations

import json
import pathlib

import pytest

from conftest import CAPTURES, analyse_paired

PAIRS = [
    ("client-eth.pcap", "server-eth.pcap"),
    ("client-eth-nsec.pcap", "server-eth-nsec.pcap"),
    ("client-any.pcap", "server-any.pcap"),
    ("client.pcapng", "server.pcapng"),
    ("client-any.pcap", "server.pcapng"),  # two encodings, one path
    ("server-eth.pcap", "client-eth.pcap"),  # the order given must not decide the roles
]
WHERE = {"in-between", "return-path", "server", "client", "none", "unknown"}


def _params() -> list[object]:
    out = []
    for truth_path in sorted(CAPTURES.glob("*/truth.json")):
        truth = json.loads(truth_path.read_text())
        for a, b in PAIRS:
            if (truth_path.parent / a).exists() and (truth_path.parent / b).exists():
                out.append(pytest.param(truth_path.parent, a, b, truth, id=f"{truth['case']}/{a}+{b}"))
    return out


@pytest.mark.parametrize(("case", "a", "b", "truth"), _params())
def test_where_matches_the_scenario(case: pathlib.Path, a: str, b: str, truth: dict[str, object]) -> None:
    paired = analyse_paired([case / a, case / b])
    roles = {c.path.rsplit("/", 1)[-1].split("-")[0].split(".")[0]: c.role for c in paired.captures}
    assert roles == {"client": "client", "server": "server"}, paired.captures
    flows = {f.client.port: f for f in paired.flows}
    for conn in truth["connections"]:  # type: ignore[attr-defined]
        assert conn["where"] in WHERE, conn
        f = flows[conn["client_port"]]
        detail = f"{conn['client_port']} {f.label.value} {f.where}: {f.where_explanation} / {conn['what']}"
        assert f.label.value == conn["label"], detail
        # An undecided label localises nothing, whatever the scenario did (the contract says unknown).
        expected = "unknown" if conn["label"] == "incomplete" else conn["where"]
        assert f.where == expected, detail
        seen = {s.role: s.seen for s in f.sides}
        points = conn.get("points", ["client", "server"])
        assert seen == {"client": "client" in points, "server": "server" in points}, detail
        if len(points) == 2:
            # The ISN names a connection whose SYN was captured; one already open is matched by ports.
            assert f.match == ("isn" if f.history.startswith("S") else "ports+time"), detail
            at = {s.role: s.server for s in f.sides}
            for point in points:
                port = conn.get("server_port_at", {}).get(point, conn["server_port"])
                assert at[point] is not None and at[point].port == port, detail
    assert len(flows) == len(truth["connections"])  # type: ignore[arg-type]
