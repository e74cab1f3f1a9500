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


def _captured(truth: dict[str, object], name: str, point: str, conn: dict[str, object]) -> bool:
    """Whether the capture file ``name`` (taken at ``point``) listened where the connection's packets went."""
    cap = next(c for c in truth["captures"] if c["file"] == name)  # type: ignore[attr-defined]
    interfaces = set(cap.get("interfaces", ["any"]))
    on = set(conn.get("interfaces_at", {}).get(point, interfaces))  # type: ignore[attr-defined]
    return point in conn.get("points", ["client", "server"]) and (
        "any" in interfaces or bool(on & interfaces)
    )  # type: ignore[operator]


@pytest.mark.parametrize(("case", "a", "b", "truth"), _params())
def test_where_matches_the_scenario(case: pathlib.Path, a: str, b: str, truth: dict[str, object]) -> None:
    paired = analyse_paired([case / a, case / b])
    files = {("client" if n.startswith("client") else "server"): n for n in (a, b)}
    roles = {c.path.rsplit("/", 1)[-1].split("-")[0].split(".")[0]: c.role for c in paired.captures}
    assert roles == {"client": "client", "server": "server"}, paired.captures
    flows = {f.client.port: f for f in paired.flows}
    expected_ports = set()
    for conn in truth["connections"]:  # type: ignore[attr-defined]
        assert conn["where"] in WHERE, conn
        captured = [p for p in ("client", "server") if _captured(truth, files[p], p, conn)]
        if not captured:
            continue  # neither file listened where this connection's packets went
        expected_ports.add(conn["client_port"])
        f = flows[conn["client_port"]]
        detail = f"{conn['client_port']} {f.label.value} {f.where}: {f.where_explanation} / {conn['what']}"
        assert f.label.value == conn["label"], detail
        # An undecided label localises nothing, whatever the scenario did (the contract says unknown).
        expected = "unknown" if conn["label"] == "incomplete" else conn["where"]
        assert f.where == expected, detail
        seen = {s.role: s.seen for s in f.sides}
        points = captured
        assert seen == {"client": "client" in points, "server": "server" in points}, detail
        if len(points) == 2:
            # The ISN names a connection whose SYN was captured; one already open is matched by ports.
            assert f.match == ("isn" if f.history.startswith("S") else "ports+time"), detail
            at = {s.role: s.server for s in f.sides}
            for point in points:
                port = conn.get("server_port_at", {}).get(point, conn["server_port"])
                assert at[point] is not None and at[point].port == port, detail
    assert set(flows) == expected_ports


ONE_LINK = CAPTURES / "one-link"
NEUTRAL = ("capture-a", "capture-b")
"""Names that say nothing of either end: the roles must come from the packets."""


@pytest.mark.parametrize("encoding", ["eth.pcap", "eth-nsec.pcap", "any.pcap", ".pcapng"])
@pytest.mark.parametrize("swap", [False, True], ids=["client-first", "server-first"])
def test_one_link_roles_come_from_the_packets_whatever_the_names_and_order(
    tmp_path: pathlib.Path, encoding: str, swap: bool
) -> None:
    """Both captures on one link: no router lowers a TTL, so the roles come from handshake timing (the
    end that answers at once is local), never from the order or the (neutral) names of the files."""
    truth = json.loads((ONE_LINK / "truth.json").read_text())
    sep = "" if encoding.startswith(".") else "-"
    client, server = tmp_path / f"{NEUTRAL[0]}{sep}{encoding}", tmp_path / f"{NEUTRAL[1]}{sep}{encoding}"
    client.write_bytes((ONE_LINK / f"client{sep}{encoding}").read_bytes())
    server.write_bytes((ONE_LINK / f"server{sep}{encoding}").read_bytes())
    paths = [server, client] if swap else [client, server]
    paired = analyse_paired(paths)
    roles = {pathlib.Path(c.path).name: (c.role, c.role_basis) for c in paired.captures}
    assert roles[client.name][0] == "client" and roles[server.name][0] == "server", roles
    assert "timing" in str(roles[client.name][1]), roles
    flows = {f.client.port: f for f in paired.flows}
    for conn in truth["connections"]:
        f = flows[conn["client_port"]]
        assert (f.label.value, f.where) == (conn["label"], conn["where"]), f.where_explanation


def test_without_any_clue_where_is_unknown_and_says_to_name_the_captures(tmp_path: pathlib.Path) -> None:
    """Only unanswered SYNs on one link: no TTL, answer or handshake says which capture is which, and the
    file names do not either: ``where`` is ``unknown`` (never missing) and says how to fix it; named
    files (or --side) decide."""
    from builders import write_pcap
    from conversation import Conversation

    a, b = Conversation(ttl_to_server=64, ttl_to_client=64), Conversation(ttl_to_server=64, ttl_to_client=64)
    for t in (0.0, 1.0, 3.0, 7.0):
        a.syn(t)
        b.syn(t + 0.0001)
    first = write_pcap(tmp_path / "one.pcap", a.records)
    second = write_pcap(tmp_path / "two.pcap", b.records)
    paired = analyse_paired([first, second])
    (flow,) = paired.flows
    assert flow.label.value == "syn-timeout"
    assert flow.where == "unknown" and "--side" in str(flow.where_explanation)
    assert all(c.role is None for c in paired.captures)
    named = analyse_paired([first, second], ["webhook-node", "apiserver"])
    assert [c.role for c in named.captures] == ["server", "client"]
    (flow,) = named.flows
    assert flow.where == "server", flow.where_explanation
