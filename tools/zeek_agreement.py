"""Measure how far pcapdiag's connections and labels agree with Zeek's verdicts on Zeek's trace corpus."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import ipaddress
import os
import subprocess
import sys
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pcapdiag.capture import CaptureError, open_capture
from pcapdiag.classify import Label
from pcapdiag.decode import decode
from pcapdiag.decode.packet import ACK, FIN, RST, SYN, IcmpError, TcpSegment
from pcapdiag.pipeline import Options
from pcapdiag.report import CaptureReport, FlowReport
from pcapdiag.runner import Task, analyse_stream

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS_ENV = "PCAPDIAG_ZEEK_CORPUS"
"""Environment variable that overrides where the corpus is (default: <repo>/../shared/corpus/zeek)."""
COMMAND = "python tools/zeek_agreement.py --write-doc"
DOC = REPO_ROOT / "docs" / "zeek-agreement.md"
HAND_WRITTEN = "<!-- Everything below this line is written by hand; --write-doc keeps it. -->"
"""Marker after which docs/zeek-agreement.md holds the diagnoses, which no program can measure."""

NS = 1_000_000_000
DUPLICATE_CAPTURE_NS = 10_000_000
"""Two identical SYNs this close together are one packet captured twice (FabricPath, `-i any`), not a
retransmission: no TCP stack retransmits a SYN that fast (Linux's initial SYN RTO is 1 s, its minimum
RTO 200 ms). pcapdiag's flow table uses the same 10 ms window."""
SYN_SILENCE_NS = 1 * NS
"""The `syn-timeout` label's own definition: a SYN retransmitted, or left unanswered for at least 1 s
of capture (`pcapdiag labels`). Shorter waits are `incomplete`."""

Endpoint = tuple[bytes, int]
"""A packed IP address and a port."""
Key = tuple[Endpoint, Endpoint]
"""An unordered endpoint pair (lower endpoint first): Zeek may flip orig/resp, so roles are not compared."""


def key_of(a: Endpoint, b: Endpoint) -> Key:
    """The endpoint pair in a fixed order, the same for both directions."""
    return (a, b) if a <= b else (b, a)


def packed(ip: str) -> bytes:
    """The packed form of an IPv4/IPv6 address in any text form."""
    return ipaddress.ip_address(ip).packed


def hostport(ep: Endpoint) -> str:
    """IP:PORT, IPv6 in brackets."""
    ip = str(ipaddress.ip_address(ep[0]))
    return f"[{ip}]:{ep[1]}" if ":" in ip else f"{ip}:{ep[1]}"


def corpus_dir() -> Path:
    """Where the corpus is: $PCAPDIAG_ZEEK_CORPUS, else shared/ beside the repository (as CI copies it)."""
    env = os.environ.get(CORPUS_ENV)
    return Path(env) if env else REPO_ROOT.parent / "shared" / "corpus" / "zeek"


# -- the oracle -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZeekRow:
    """One line of MANIFEST.tsv: one TCP connection as Zeek logged it."""

    line: int
    trace: str
    orig: Endpoint
    resp: Endpoint
    conn_state: str | None
    history: str | None
    orig_pkts: int | None
    resp_pkts: int | None
    ssl: bool | None
    source_kind: str
    zeek_args: str
    notes: str

    @property
    def key(self) -> Key:
        """The row's unordered endpoint pair."""
        return key_of(self.orig, self.resp)

    @property
    def pkts(self) -> int | None:
        """Packets Zeek counted for the connection (both directions), if the baseline says."""
        if self.orig_pkts is None or self.resp_pkts is None:
            return None
        return self.orig_pkts + self.resp_pkts

    def describe(self) -> str:
        """Tuple, state, history and TLS verdict as one short string."""
        ssl = {True: "T", False: "F", None: "-"}[self.ssl]
        return (
            f"{hostport(self.orig)} -> {hostport(self.resp)} zeek {self.conn_state or '-'} "
            f"{self.history or '-'} ssl={ssl}"
        )


def _value(text: str) -> str | None:
    return None if text in ("", "-") else text


def _int(text: str) -> int | None:
    value = _value(text)
    return int(value) if value is not None else None


def read_manifest(root: Path) -> list[ZeekRow]:
    """Every row of MANIFEST.tsv (line numbers count the header as line 1)."""
    rows: list[ZeekRow] = []
    with open(root / "MANIFEST.tsv", encoding="utf-8", newline="") as f:
        for line, r in enumerate(csv.DictReader(f, delimiter="\t"), start=2):
            ssl = _value(r["ssl_established"])
            rows.append(
                ZeekRow(
                    line=line,
                    trace=r["trace"],
                    orig=(packed(r["orig_h"]), int(r["orig_p"])),
                    resp=(packed(r["resp_h"]), int(r["resp_p"])),
                    conn_state=_value(r["conn_state"]),
                    history=_value(r["history"]),
                    orig_pkts=_int(r["orig_pkts"]),
                    resp_pkts=_int(r["resp_pkts"]),
                    ssl=None if ssl is None else ssl == "T",
                    source_kind=r["source_kind"],
                    zeek_args=r["zeek_args"],
                    notes=r["notes"],
                )
            )
    return rows


def read_traces(root: Path) -> list[str]:
    """Every capture of the corpus, as listed in TRACES.tsv."""
    with open(root / "TRACES.tsv", encoding="utf-8", newline="") as f:
        return [r["trace"] for r in csv.DictReader(f, delimiter="\t")]


# -- what the capture holds, independently of pcapdiag's flow logic ---------------------------------

# Outer encapsulations pcapdiag is documented to decode (Ethernet/VLAN/QinQ/FabricPath/MPLS, SLL/SLL2,
# raw IP, NULL/LOOP at the link layer; IP-in-IP, GRE, VXLAN, Geneve and Teredo as tunnels). GRE counts
# only when it carries IP, Ethernet (0x6558), ERSPAN II/III (0x88be, 0x22eb), a VLAN tag or MPLS:
# Aruba's GRE (0x8200) carries 802.11 frames, which are not in that list.
DECODED_ENCAPSULATIONS = frozenset(
    {"tcp", "icmp", "ip-in-ip", "udp:teredo", "udp:vxlan", "udp:geneve"}
    | {f"gre:0x{p:04x}" for p in (0x0800, 0x86DD, 0x6558, 0x88BE, 0x22EB, 0x8100, 0x8847)}
)
_VLAN_TAGS = frozenset({0x8100, 0x88A8, 0x9100})
_MPLS = frozenset({0x8847, 0x8848})
_IPV6_EXTENSIONS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options (RFC 8200)
_RAW_LINKTYPES = frozenset({12, 14, 101, 228, 229})


def _u16(data: bytes, off: int) -> int:
    return int.from_bytes(data[off : off + 2], "big") if off >= 0 and off + 2 <= len(data) else -1


def _ip_version(data: bytes, off: int) -> tuple[int, int] | str:
    version = data[off] >> 4 if off < len(data) else 0
    return (version, off) if version in (4, 6) else "link:not-ip"


def _ethertype_chain(ethertype: int, data: bytes, off: int) -> tuple[int, int] | str:
    for _ in range(8):
        if ethertype == 0x0800:
            return 4, off
        if ethertype == 0x86DD:
            return 6, off
        if ethertype in _VLAN_TAGS:
            ethertype, off = _u16(data, off + 2), off + 4
        elif ethertype in _MPLS:
            while off + 4 <= len(data):
                bottom, off = data[off + 2] & 0x01, off + 4
                if bottom:
                    return _ip_version(data, off)
            return "link:truncated"
        elif ethertype == 0x8864:  # PPPoE session: 6-byte header, then the PPP protocol
            protocol = _u16(data, off + 6)
            if protocol in (0x0021, 0x0057):
                return (4 if protocol == 0x0021 else 6), off + 8
            return "link:pppoe-not-ip"
        elif ethertype < 0:
            return "link:truncated"
        else:
            return f"link:ethertype-0x{ethertype:04x}"
    return "link:too-many-tags"


def _outer_ip(linktype: int, data: bytes) -> tuple[int, int] | str:
    """(IP version, offset) of a frame's outermost IP packet, or why there is none."""
    if linktype == 1:  # Ethernet; FabricPath (0x8903) wraps a whole Ethernet frame in 16 bytes
        if _u16(data, 12) == 0x8903:
            return _ethertype_chain(_u16(data, 28), data, 30)
        return _ethertype_chain(_u16(data, 12), data, 14)
    if linktype == 113:  # Linux SLL: protocol at bytes 14-15
        return _ethertype_chain(_u16(data, 14), data, 16)
    if linktype == 276:  # Linux SLL2: protocol at bytes 0-1
        return _ethertype_chain(_u16(data, 0), data, 20)
    if linktype in (0, 108):  # BSD NULL / OpenBSD LOOP: address family in either byte order
        for family in (int.from_bytes(data[:4], "big"), int.from_bytes(data[:4], "little")):
            if family == 2:
                return 4, 4
            if family in (10, 24, 28, 30):
                return 6, 4
        return "link:not-ip"
    if linktype in _RAW_LINKTYPES:
        return _ip_version(data, 0)
    return f"link:linktype-{linktype}"


def _transport(version: int, data: bytes, off: int) -> tuple[int, int] | str:
    """(protocol, offset) of the outer IP packet's payload, or why there is none."""
    if version == 4:
        if off + 20 > len(data):
            return "ip:truncated"
        if _u16(data, off + 6) & 0x1FFF:
            return "ip:fragment"
        return data[off + 9], off + (data[off] & 0x0F) * 4
    if off + 40 > len(data):
        return "ip:truncated"
    proto, pos = data[off + 6], off + 40
    while proto in _IPV6_EXTENSIONS or proto == 44:
        if pos + 8 > len(data):
            return "ip:truncated"
        if proto == 44:
            if _u16(data, pos + 2) & 0xFFF8:
                return "ip:fragment"
            proto, pos = data[pos], pos + 8
        else:
            proto, pos = data[pos], pos + (data[pos + 1] + 1) * 8
    return proto, pos


def _teredo_shaped(data: bytes, udp: int) -> bool:
    """The UDP payload is one IPv6 packet, after optional Teredo indications (RFC 4380 5.1.1).

    Teredo is told by its payload, as Zeek and Wireshark's heuristic do, not by port 3544: only
    client-server qualification uses that port; relayed data runs between arbitrary ports.
    """
    length = _u16(data, udp + 4)
    end = min(len(data), udp + length) if length >= 8 else len(data)
    off = udp + 8
    if _u16(data, off) == 0x0001 and off + 4 <= end:  # authentication indication
        off += 13 + data[off + 2] + data[off + 3]
    if _u16(data, off) == 0x0000:  # origin indication
        off += 8
    if off + 40 > end or data[off] >> 4 != 6:
        return False
    return off + 40 + _u16(data, off + 4) == end


def encapsulation(linktype: int, data: bytes) -> str:
    """How a frame carries its outermost IP payload: 'tcp', 'udp:teredo', 'gre:0x6558', 'link:...'."""
    start = _outer_ip(linktype, data)
    if isinstance(start, str):
        return start
    inner = _transport(start[0], data, start[1])
    if isinstance(inner, str):
        return inner
    proto, pos = inner
    if proto == 6:
        return "tcp"
    if proto in (1, 58):
        return "icmp"
    if proto in (4, 41):
        return "ip-in-ip"
    if proto == 47:
        return f"gre:0x{_u16(data, pos + 2) & 0xFFFF:04x}"
    if proto == 17:
        sport, dport = _u16(data, pos), _u16(data, pos + 2)
        if _teredo_shaped(data, pos):
            return "udp:teredo"
        if dport in (4789, 8472):
            return "udp:vxlan"
        if dport == 6081:
            return "udp:geneve"
        return f"udp:{min(sport, dport)}"
    return f"ip:proto-{proto}"


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded TCP segment of the capture, as evidence for the mapping (not pcapdiag's flows)."""

    ts_ns: int
    src: Endpoint
    flags: int
    seq: int


@dataclass(slots=True)
class CaptureFacts:
    """What one pass over the capture shows: TCP segments per endpoint pair, ICMP errors, encapsulations."""

    packets: dict[Key, list[Packet]] = field(default_factory=lambda: defaultdict(list))
    icmp: set[Key] = field(default_factory=set)
    end_ns: int | None = None
    carriers: dict[Key, set[str]] = field(default_factory=lambda: defaultdict(set))
    """Per Zeek endpoint pair: encapsulations of the frames whose bytes hold both of its addresses."""
    error: str | None = None

    def pure_syns(self, key: Key) -> list[Packet]:
        """SYNs without ACK of one endpoint pair, in capture order."""
        return [p for p in self.packets.get(key, ()) if p.flags & (SYN | ACK) == SYN]

    def syn_isns(self, key: Key) -> int:
        """Distinct (sender, ISN) pairs among the pair's SYNs: each is a separate connection attempt."""
        return len({(p.src, p.seq) for p in self.pure_syns(key)})


def read_facts(path: Path, rows: Sequence[ZeekRow]) -> CaptureFacts:
    """Index the capture's TCP segments (decode() only: no flow table, no classifier)."""
    facts = CaptureFacts()
    pairs = {r.key: (r.orig[0], r.resp[0]) for r in rows}
    with open(path, "rb") as stream:
        try:
            for frame in open_capture(stream, str(path)).frames():
                ts = frame.ts_ns
                if facts.end_ns is None or ts > facts.end_ns:
                    facts.end_ns = ts
                d = decode(frame.linktype, frame.data)
                if type(d) is TcpSegment:
                    src = (d.src, d.sport)
                    facts.packets[key_of(src, (d.dst, d.dport))].append(Packet(ts, src, d.flags, d.seq))
                elif type(d) is IcmpError:
                    facts.icmp.add(key_of((d.quoted_src, d.quoted_sport), (d.quoted_dst, d.quoted_dport)))
                encap: str | None = None
                for key, (a, b) in pairs.items():
                    if a in frame.data and b in frame.data:
                        encap = encap or encapsulation(frame.linktype, frame.data)
                        facts.carriers[key].add(encap)
        except CaptureError as exc:
            facts.error = str(exc)
    return facts


# -- running pcapdiag -----------------------------------------------------------------------------


@dataclass(slots=True)
class PcapdiagRun:
    """pcapdiag's in-process analysis of one trace: its report and flows, or how it failed."""

    report: CaptureReport | None = None
    flows: list[FlowReport] = field(default_factory=list)
    capture_error: str | None = None
    """A clean CaptureError: the container is not a readable capture (a legitimate outcome)."""
    traceback: str | None = None
    """Any other exception, or a traceback pcapdiag printed: always a failure."""


TRACEBACK_MARK = "Traceback (most recent call last)"


def run_pcapdiag(path: Path, name: str) -> PcapdiagRun:
    """Analyse one capture with the pipeline API; never raises (failures are returned)."""
    run = PcapdiagRun()
    printed = io.StringIO()
    try:
        with (
            open(path, "rb") as stream,
            contextlib.redirect_stdout(printed),
            contextlib.redirect_stderr(printed),
        ):
            flows: list[FlowReport] = []
            result = analyse_stream(stream, Task(name, Options()), on_flow=flows.append)
            if result.report is None:
                run.capture_error = result.problem
            else:
                run.report = result.report
                run.flows = flows
    except Exception:
        run.traceback = traceback.format_exc()
    if run.traceback is None and TRACEBACK_MARK in printed.getvalue():
        run.traceback = printed.getvalue()
    return run


def flow_endpoints(flow: FlowReport) -> tuple[Endpoint, Endpoint]:
    """(client, server) of a pcapdiag flow, packed."""
    return (packed(flow.client.ip), flow.client.port), (packed(flow.server.ip), flow.server.port)


def flow_key(flow: FlowReport) -> Key:
    """A pcapdiag flow's unordered endpoint pair."""
    return key_of(*flow_endpoints(flow))


# -- the mapping from Zeek's verdict to pcapdiag labels ---------------------------------------------

L = Label
ALL = frozenset(Label)
SETUP_FAILURES = frozenset({L.REFUSED, L.SYN_TIMEOUT, L.UNREACHABLE})
HANDSHAKE_FAILURES = frozenset({L.TLS_HANDSHAKE_TIMEOUT, L.NOT_TLS, L.CERT_REJECTED, L.TLS_FAILED})
UNDECIDED = frozenset({L.INCOMPLETE, L.PARTIAL})
TLS_DONE = frozenset({L.OK, L.INCOMPLETE, L.AWAITING_HEADERS, L.SERVER_CLOSED})
TLS_NOT_DONE = HANDSHAKE_FAILURES | {L.INCOMPLETE}
UNANSWERED = frozenset(
    {L.SERVER_CLOSED, L.AWAITING_HEADERS, L.INCOMPLETE, L.TLS_HANDSHAKE_TIMEOUT, L.TLS_FAILED}
)
"""A request or ClientHello with no server payload after the handshake: the server closed, the
client waited (long enough to be a timeout, or not), or the capture ended."""


@dataclass(frozen=True, slots=True)
class Expectation:
    """What Zeek's verdict allows pcapdiag to say, by which rule; allowed=None: not comparable."""

    rule: str
    allowed: frozenset[Label] | None
    why: str = ""


@dataclass(frozen=True, slots=True)
class Shape:
    """A Zeek history in pcapdiag's orientation: upper case = pcapdiag's client, lower = its server."""

    letters: tuple[str, ...]
    ssl: bool | None

    @property
    def client(self) -> frozenset[str]:
        """Letters the client sent (upper case)."""
        return frozenset(c for c in self.letters if c.isupper())

    @property
    def server(self) -> frozenset[str]:
        """Letters the server sent, in upper case."""
        return frozenset(c.upper() for c in self.letters if c.islower())

    def first(self, letters: str) -> int | None:
        """Position of the first of these letters in the history (None if absent)."""
        return next((i for i, c in enumerate(self.letters) if c in letters), None)


def zeek_letters(history: str | None) -> tuple[str, ...]:
    """History letters in Zeek's final orientation: each '^' flips the case of the letters before it."""
    out: list[str] = []
    for ch in history or "":
        if ch == "^":
            out = [c.swapcase() for c in out]
        elif ch.isalpha():
            out.append(ch)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Timing:
    """The capture's timing of one client's connection attempt (for the SYN-stage rule)."""

    syns: int
    """The client's SYNs, duplicate captures (same ISN within 10 ms) not counted."""
    waited_ns: int
    """From the first SYN to the client's FIN/RST, or to the end of the capture."""


def syn_timing(facts: CaptureFacts, key: Key, client: Endpoint) -> Timing | None:
    """How long the client's first SYN waited, and how often it was sent, per the capture."""
    syns = [p for p in facts.pure_syns(key) if p.src == client]
    if not syns or facts.end_ns is None:
        return None
    count = 0
    last_seen: dict[int, int] = {}
    for p in syns:
        prev = last_seen.get(p.seq)
        if prev is None or p.ts_ns - prev > DUPLICATE_CAPTURE_NS:
            count += 1
        last_seen[p.seq] = p.ts_ns
    start = syns[0].ts_ns
    gave_up = next(
        (
            p.ts_ns
            for p in facts.packets[key]
            if p.src == client and p.flags & (FIN | RST) and p.ts_ns >= start
        ),
        None,
    )
    return Timing(count, (gave_up if gave_up is not None else facts.end_ns) - start)


@dataclass(frozen=True, slots=True)
class Rule:
    """One mapping rule: its name, why it is unambiguous, and the function that applies it."""

    name: str
    doc: str
    apply: Callable[[Shape, RowContext], Expectation | None]


@dataclass(frozen=True, slots=True)
class RowContext:
    """Capture facts a rule may need besides Zeek's history."""

    syn_in_capture: bool
    icmp: bool
    timing: Timing | None


def _not_comparable(s: Shape, ctx: RowContext) -> Expectation | None:
    both = s.client | s.server
    if not s.letters and s.ssl is None:
        return Expectation("no-verdict", None, "Zeek logged no TCP history and no TLS verdict")
    if "C" in both:
        return Expectation(
            "bad-checksum", None, "Zeek dropped packets with bad checksums that pcapdiag reads"
        )
    if both & {"I", "Q"}:
        return Expectation(
            "odd-flags", None, "inconsistent or SYN+FIN/RST packets: Zeek and pcapdiag read them apart"
        )
    if "H" in s.client or "S" in s.server:
        return Expectation(
            "odd-handshake", None, "the SYN-ACK came from the SYN's sender side (simultaneous open)"
        )
    return None


def _tls_only(s: Shape, ctx: RowContext) -> Expectation | None:
    if s.letters:
        return None
    extra = frozenset() if ctx.syn_in_capture else frozenset({L.PARTIAL})
    if s.ssl:
        return Expectation("tls-established", TLS_DONE | extra)
    return Expectation("tls-not-established", TLS_NOT_DONE | extra)


def _refused(s: Shape, ctx: RowContext) -> Expectation | None:
    if s.client == {"S"} and s.server == {"R"}:
        return Expectation("refused", frozenset({L.REFUSED}))
    return None


def _syn_unanswered(s: Shape, ctx: RowContext) -> Expectation | None:
    if "S" not in s.client or not s.client <= {"S", "F", "R"} or not s.server <= {"A"}:
        return None
    if ctx.icmp:
        return Expectation("syn-unanswered", None, "an ICMP error quotes it; Zeek's S0 does not say which")
    if ctx.timing is None:
        return Expectation("syn-unanswered", None, "the attempt's timing is not known (reused 5-tuple)")
    if ctx.timing.syns >= 2 or ctx.timing.waited_ns >= SYN_SILENCE_NS:
        return Expectation("syn-unanswered", frozenset({L.SYN_TIMEOUT}))
    return Expectation("syn-unanswered", frozenset({L.INCOMPLETE}))


def _client_only(s: Shape, ctx: RowContext) -> Expectation | None:
    if s.server or not s.client:
        return None
    if "S" in s.client:
        return Expectation("client-only", frozenset({L.INCOMPLETE}))
    if "D" in s.client:
        return Expectation("client-only", UNDECIDED | {L.AWAITING_HEADERS})
    return Expectation("client-only", UNDECIDED)


def _server_only(s: Shape, ctx: RowContext) -> Expectation | None:
    if s.client or not s.server:
        return None
    return Expectation("server-only", UNDECIDED)


def _midstream(s: Shape, ctx: RowContext) -> Expectation | None:
    if "S" in s.client or "H" in s.server:
        return None
    client_data, server_data = "D" in s.client, "D" in s.server
    if client_data and server_data:
        return Expectation("midstream", ALL - SETUP_FAILURES - HANDSHAKE_FAILURES)
    if client_data:
        request = s.first("D")
        server_close = s.first("fr")
        client_close = s.first("FR")
        assert request is not None
        if (
            server_close is not None
            and server_close > request
            and (client_close is None or server_close < client_close)
        ):
            return Expectation("midstream", UNDECIDED | {L.SERVER_CLOSED})
        return Expectation("midstream", UNDECIDED | {L.AWAITING_HEADERS})
    return Expectation("midstream", UNDECIDED)


def _handshake(s: Shape, ctx: RowContext) -> Expectation | None:
    if "H" not in s.server:
        return None
    extra = frozenset() if "S" in s.client else frozenset({L.PARTIAL})
    if "D" not in s.client:
        client_close, server_close = s.first("FR"), s.first("fr")
        if client_close is None and server_close is None:
            allowed = frozenset({L.INCOMPLETE})
        elif server_close is None or (client_close is not None and client_close < server_close):
            allowed = frozenset({L.OK, L.INCOMPLETE})
        else:
            allowed = frozenset({L.SERVER_CLOSED, L.INCOMPLETE})
        return Expectation("no-request", allowed | extra)
    if "D" in s.server:
        rule, allowed = "established", ALL - SETUP_FAILURES - {L.PARTIAL}
    elif s.server & {"F", "R"}:
        rule, allowed = "no-server-data", UNANSWERED
    else:
        rule, allowed = "no-server-data", UNANSWERED - {L.SERVER_CLOSED, L.TLS_FAILED}
    if s.ssl is not None:
        rule = "tls-established" if s.ssl else "tls-not-established"
        allowed &= TLS_DONE if s.ssl else TLS_NOT_DONE
    return Expectation(rule, allowed | extra)


def _leftover(s: Shape, ctx: RowContext) -> Expectation | None:
    return Expectation(
        "unmapped", None, "the client's SYN was seen but not the SYN-ACK: handshake half-captured"
    )


RULES: tuple[Rule, ...] = (
    Rule(
        "not comparable",
        "No TCP history and no TLS verdict; or history letter C (Zeek ran without -C and dropped "
        "packets with bad checksums, which pcapdiag reads: checksum offload); or I/Q (packets with "
        "contradictory flags, which the two tools interpret differently); or a SYN-ACK from the "
        "SYN's own side (simultaneous open).",
        _not_comparable,
    ),
    Rule(
        "tls-established / tls-not-established (ssl.log only)",
        "Only Zeek's `ssl.log` verdict is known. T: Zeek saw the TLS handshake complete, which rules "
        "out every TCP-setup label and every handshake-failure label; Zeek cannot see whether the "
        "last request was answered, so ok, incomplete, awaiting-headers and server-closed remain. "
        "F: the handshake started but did not complete: a handshake-failure label or incomplete "
        "(the capture or the client stopped first). Both also allow partial when the capture holds "
        "no SYN for the connection (pcapdiag then judges it mid-stream).",
        _tls_only,
    ),
    Rule(
        "refused",
        "History (in pcapdiag's orientation) is SYNs from the client and only RSTs from the server "
        "(Zeek REJ `Sr`): exactly the `refused` definition, SYN answered by RST. REJ rows with any "
        "other history (Zeek also writes REJ when both sides reset without payload) fall through.",
        _refused,
    ),
    Rule(
        "syn-unanswered",
        "The client sent only SYNs (and maybe its own FIN/RST), the server nothing but bare ACKs "
        "(an ACK without SYN answers no SYN): Zeek S0 `S`, RSTOS0 `SR`/`SaR`, OTH `SaFR`. The label "
        "definition decides: syn-timeout when the SYN was retransmitted (same ISN, more than 10 ms "
        "apart; closer copies are one packet captured twice) or waited at least 1 s (until the "
        "client's FIN/RST, else the end of the capture); incomplete otherwise. Not comparable when "
        "an ICMP error quotes the connection, or when the 5-tuple is reused (the attempt's own "
        "timing is then not known).",
        _syn_unanswered,
    ),
    Rule(
        "client-only",
        "Only the client's packets are in the capture (one-direction capture, or Zeek's record "
        "of the packets after its 5 s connection-attempt timeout). With a SYN and an ACK/data the "
        "client acted on a SYN-ACK the capture lacks, so nothing is decided: incomplete. Without a "
        "SYN: partial or incomplete; if the client sent data, pcapdiag's mid-stream rule may judge "
        "the unanswered request by the timeout, so awaiting-headers is allowed too.",
        _client_only,
    ),
    Rule(
        "server-only",
        "Only the server's packets are in the capture: nothing is decided (incomplete or partial).",
        _server_only,
    ),
    Rule(
        "midstream",
        "Neither the SYN nor the SYN-ACK was captured (Zeek OTH and the like). No TCP-setup or "
        "TLS-handshake label can be proven. Without payload, or with only server payload: partial "
        "or incomplete. With only client payload: partial/incomplete, plus server-closed when the "
        "server's FIN/RST follows the request before any client close, else awaiting-headers. "
        "With payload both ways: any exchange label.",
        _midstream,
    ),
    Rule(
        "no-request / no-server-data / established / tls-established / tls-not-established",
        "The server's SYN-ACK was captured (partial is allowed only when the client's SYN was not). "
        "No client payload (no-request): whoever closed first decides: the client -> ok (a connect "
        "check, or the client left after an unsolicited greeting), the server -> server-closed, "
        "nobody -> incomplete; incomplete is always allowed, since pcapdiag will not prove an "
        "absence when the capture lost bytes. Client payload but none from the server "
        "(no-server-data): the request or ClientHello went unanswered, so server-closed or "
        "tls-failed (only if the server sent a FIN/RST), awaiting-headers or "
        "tls-handshake-timeout (the client waited at least 1 s, or the capture ran past the "
        "timeout), or incomplete. Payload both ways (established): anything but a TCP-setup "
        "failure or partial, since Zeek does not see whether the last request was answered. A "
        "known ssl.log verdict narrows the set: T keeps ok, incomplete, awaiting-headers and "
        "server-closed; F keeps the handshake failures and incomplete.",
        _handshake,
    ),
    Rule(
        "unmapped",
        "Anything else (a SYN whose SYN-ACK was not captured while the server sent more): not comparable.",
        _leftover,
    ),
)


def expectation(shape: Shape, ctx: RowContext) -> Expectation:
    """The first rule that decides what pcapdiag may say for this Zeek verdict."""
    for rule in RULES:
        result = rule.apply(shape, ctx)
        if result is not None:
            return result
    raise AssertionError("the last rule always answers")


# -- comparison -----------------------------------------------------------------------------------


@dataclass(slots=True)
class RowVerdict:
    """How one Zeek row compared with pcapdiag."""

    row: ZeekRow
    status: str
    """'agree', 'disagree', 'not-comparable', 'missing' (pcapdiag lacks the connection),
    'undecodable' (its encapsulation is not one pcapdiag decodes)."""
    rule: str = ""
    allowed: frozenset[Label] | None = None
    why: str = ""
    flows: tuple[FlowReport, ...] = ()


@dataclass(slots=True)
class TraceResult:
    """Everything measured on one trace."""

    trace: str
    run: PcapdiagRun
    facts: CaptureFacts
    rows: list[ZeekRow]
    verdicts: list[RowVerdict] = field(default_factory=list)
    complete_listing: bool = True
    """True when Zeek's rows come from conn.log (every TCP connection); False for ssl.log only."""
    decodable: bool = False
    """At least one of Zeek's connections travels in an encapsulation pcapdiag decodes."""
    set_problems: list[str] = field(default_factory=list)
    set_notes: list[str] = field(default_factory=list)

    @property
    def set_agrees(self) -> bool:
        """pcapdiag found the same connections as Zeek (on the decodable ones)."""
        return self.decodable and not self.set_problems


def _undecodable_reason(row: ZeekRow, facts: CaptureFacts) -> str | None:
    if facts.packets.get(row.key):
        return None
    carriers = facts.carriers.get(row.key, set())
    if carriers & DECODED_ENCAPSULATIONS:
        return None
    if not carriers:
        return "no frame holds both addresses"
    return "carried only in " + ", ".join(sorted(carriers))


def compare_sets(result: TraceResult, decodable_rows: list[ZeekRow]) -> None:
    """Connection sets: the same endpoint pairs, and no finer split than Zeek's or the SYNs justify."""
    facts = result.facts
    zeek = Counter(r.key for r in decodable_rows)
    ours = Counter(flow_key(f) for f in result.run.flows)
    rows_by_key: dict[Key, list[ZeekRow]] = defaultdict(list)
    for r in decodable_rows:
        rows_by_key[r.key].append(r)
    for key, n in zeek.items():
        mine = ours.get(key, 0)
        isns = facts.syn_isns(key)
        where = rows_by_key[key][0].describe()
        if not mine:
            result.set_problems.append(f"missing in pcapdiag: {where}")
        elif mine > max(n, isns):
            result.set_problems.append(
                f"pcapdiag split {where} into {mine} connections; Zeek logged {n} and the capture "
                f"holds {isns} distinct SYN ISN(s)"
            )
        elif mine < isns:
            result.set_problems.append(
                f"pcapdiag merged {isns} SYNs with distinct ISNs of {where} into {mine} connection(s)"
            )
        elif mine < n:
            result.set_notes.append(
                f"Zeek logged {n} records for {hostport(key[0])}-{hostport(key[1])}, pcapdiag {mine}: "
                "Zeek starts a new record for packets after a RST/close or after its 5 s "
                "connection-attempt timeout; pcapdiag splits a 5-tuple only on a new SYN"
            )
    if result.complete_listing:
        for flow in result.run.flows:
            if flow_key(flow) not in zeek:
                result.set_problems.append(
                    f"only in pcapdiag: {flow.client.ip}:{flow.client.port} -> "
                    f"{flow.server.ip}:{flow.server.port} ({flow.label.value}, {flow.history})"
                )


def compare_labels(result: TraceResult, decodable_rows: list[ZeekRow]) -> None:
    """Label agreement, group by group (rows and flows sharing one endpoint pair)."""
    facts = result.facts
    flows_by_key: dict[Key, list[FlowReport]] = defaultdict(list)
    for f in result.run.flows:
        flows_by_key[flow_key(f)].append(f)
    groups: dict[Key, list[ZeekRow]] = defaultdict(list)
    for r in decodable_rows:
        groups[r.key].append(r)
    for key, rows in groups.items():
        flows = tuple(flows_by_key.get(key, ()))
        if not flows:
            result.verdicts.extend(RowVerdict(r, "missing") for r in rows)
            continue
        group = _group_not_comparable(rows, flows, facts, key)
        if group is not None:
            result.verdicts.extend(
                RowVerdict(r, "not-comparable", group.rule, None, group.why, flows) for r in rows
            )
            continue
        client = flow_endpoints(flows[0])[0]
        timing = syn_timing(facts, key, client) if len(rows) == 1 else None
        ctx = RowContext(
            syn_in_capture=any(p.src == client for p in facts.pure_syns(key)),
            icmp=key in facts.icmp,
            timing=timing,
        )
        expectations = []
        for r in rows:
            letters = zeek_letters(r.history)
            if client == r.resp and r.orig != r.resp:
                letters = tuple(c.swapcase() for c in letters)
            expectations.append(expectation(Shape(letters, r.ssl), ctx))
        unknown = [e for e in expectations if e.allowed is None]
        if unknown and len(rows) + len(flows) > 2:
            why = "reused 5-tuple with a row that is not comparable: " + unknown[0].why
            result.verdicts.extend(
                RowVerdict(r, "not-comparable", e.rule, None, why, flows)
                for r, e in zip(rows, expectations, strict=True)
            )
            continue
        union = frozenset().union(*(e.allowed or frozenset() for e in expectations))
        agree = all(f.label in union for f in flows)
        for r, e in zip(rows, expectations, strict=True):
            if e.allowed is None:
                result.verdicts.append(RowVerdict(r, "not-comparable", e.rule, None, e.why, flows))
            else:
                allowed = union if len(rows) > 1 else e.allowed
                status = "agree" if agree else "disagree"
                result.verdicts.append(RowVerdict(r, status, e.rule, allowed, e.why, flows))


def _group_not_comparable(
    rows: list[ZeekRow], flows: tuple[FlowReport, ...], facts: CaptureFacts, key: Key
) -> Expectation | None:
    """Why a group of rows and flows sharing one endpoint pair cannot be compared, if it cannot."""
    if len(flows) > len(rows):
        return Expectation(
            "pcapdiag-split",
            None,
            "pcapdiag reports more connections than Zeek on this 5-tuple (a connection-set "
            "disagreement): which of them Zeek's record describes is unknown",
        )
    clients = {flow_endpoints(f)[0] for f in flows}
    if len(clients) > 1 or any(next(iter(clients)) not in (r.orig, r.resp) for r in rows):
        return Expectation("roles", None, "pcapdiag's connections on this 5-tuple disagree on the client")
    counts = [r.pkts for r in rows]
    raw = len(facts.packets.get(key, ()))
    seen = sum(c or 0 for c in counts)
    if all(c is not None for c in counts) and seen < raw:
        return Expectation(
            "zeek-saw-less",
            None,
            f"Zeek counted {seen} packets, the capture holds {raw}: Zeek saw less of the connection "
            "(bad-checksum packets dropped without -C, or a script stopped analysing it)",
        )
    return None


def analyze_trace(root: Path, trace: str, rows: Sequence[ZeekRow]) -> TraceResult:
    """Run pcapdiag on one trace and compare it with Zeek's rows for that trace."""
    path = root / trace
    run = run_pcapdiag(path, trace)
    try:
        facts = read_facts(path, rows)
    except Exception:
        facts = CaptureFacts(error="indexing failed:\n" + traceback.format_exc())
        if run.traceback is None:
            run.traceback = facts.error
    result = TraceResult(trace, run, facts, list(rows))
    result.complete_listing = all(r.source_kind != "ssl" for r in rows)
    if run.report is None:
        result.verdicts.extend(RowVerdict(r, "missing", why="pcapdiag produced no report") for r in rows)
        result.decodable = True
        result.set_problems.append("pcapdiag produced no report: " + (run.capture_error or "exception"))
        return result
    decodable_rows: list[ZeekRow] = []
    for r in rows:
        reason = _undecodable_reason(r, facts)
        if reason is None:
            decodable_rows.append(r)
        else:
            result.verdicts.append(RowVerdict(r, "undecodable", why=reason))
    result.decodable = bool(decodable_rows)
    try:
        if decodable_rows:
            compare_sets(result, decodable_rows)
        compare_labels(result, decodable_rows)
    except Exception:  # pcapdiag's output could not be read (an address that does not parse, ...)
        run.traceback = run.traceback or "comparing pcapdiag's output failed:\n" + traceback.format_exc()
        result.set_problems.append("pcapdiag's output could not be compared (see the traceback)")
    result.verdicts.sort(key=lambda v: v.row.line)
    return result


def analyze_corpus(root: Path) -> list[TraceResult]:
    """Every trace of the corpus, in TRACES.tsv order."""
    rows = read_manifest(root)
    by_trace: dict[str, list[ZeekRow]] = defaultdict(list)
    for r in rows:
        by_trace[r.trace].append(r)
    return [analyze_trace(root, t, by_trace.get(t, [])) for t in read_traces(root)]


# -- reporting ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Summary:
    """The headline figures."""

    traces: int
    tracebacks: list[str]
    capture_errors: list[str]
    set_agree: int
    set_total: int
    statuses: Counter[str]
    rule_stats: dict[str, Counter[str]]
    narrow: Counter[str]
    """Agree/disagree counts of the rows whose mapping allows at most NARROW labels."""

    @property
    def label_agree(self) -> int:
        """Comparable rows whose label agrees."""
        return self.statuses["agree"]

    @property
    def label_total(self) -> int:
        """Comparable rows."""
        return self.statuses["agree"] + self.statuses["disagree"]


NARROW = 3
"""A mapping that allows at most this many labels says more than one that only rules out setup failures."""


def summarize(results: Iterable[TraceResult]) -> Summary:
    """Aggregate the per-trace results into the headline figures."""
    results = list(results)
    statuses: Counter[str] = Counter()
    narrow: Counter[str] = Counter()
    rule_stats: dict[str, Counter[str]] = defaultdict(Counter)
    for res in results:
        for v in res.verdicts:
            statuses[v.status] += 1
            if v.allowed is not None and len(v.allowed) <= NARROW:
                narrow[v.status] += 1
            if v.status in ("agree", "disagree", "not-comparable"):
                rule_stats[v.rule][v.status] += 1
    decodable = [r for r in results if r.decodable]
    return Summary(
        traces=len(results),
        tracebacks=[r.trace for r in results if r.run.traceback],
        capture_errors=[f"{r.trace}: {r.run.capture_error}" for r in results if r.run.capture_error],
        set_agree=sum(r.set_agrees for r in decodable),
        set_total=len(decodable),
        statuses=statuses,
        rule_stats=dict(sorted(rule_stats.items())),
        narrow=narrow,
    )


def _labels(allowed: frozenset[Label] | None) -> str:
    return "{" + ", ".join(sorted(a.value for a in allowed)) + "}" if allowed else "-"


def _flow_text(flows: Sequence[FlowReport]) -> str:
    return "; ".join(f"{f.label.value} ({f.history or '-'}): {f.explanation}" for f in flows)


def render_text(results: list[TraceResult], s: Summary) -> str:
    """The plain-text report."""
    out = [
        f"traces read: {s.traces}",
        f"tracebacks: {len(s.tracebacks)}" + (f" ({', '.join(s.tracebacks)})" if s.tracebacks else ""),
        f"clean capture errors: {len(s.capture_errors)}",
        f"connection-set agreement: {s.set_agree}/{s.set_total} decodable traces",
        f"label agreement: {s.label_agree}/{s.label_total} comparable rows "
        f"(not comparable {s.statuses['not-comparable']}, missing in pcapdiag "
        f"{s.statuses['missing']}, undecodable encapsulation {s.statuses['undecodable']})",
        f"  of which with at most {NARROW} labels allowed: "
        f"{s.narrow['agree']}/{s.narrow['agree'] + s.narrow['disagree']}",
        "",
        "rows by rule (agree / disagree / not comparable):",
    ]
    for rule, c in s.rule_stats.items():
        out.append(f"  {rule:22} {c['agree']:4} {c['disagree']:4} {c['not-comparable']:4}")
    for res in results:
        if res.run.traceback:
            out += ["", f"TRACEBACK {res.trace}", res.run.traceback]
    out += ["", "connection-set disagreements:"]
    for res in results:
        for p in res.set_problems:
            out.append(f"  {res.trace}: {p}")
    out += ["", "label disagreements:"]
    for res in results:
        for v in res.verdicts:
            if v.status == "disagree":
                out.append(
                    f"  {res.trace}: {v.row.describe()} | rule {v.rule} allows {_labels(v.allowed)}"
                    f" | pcapdiag {_flow_text(v.flows)}"
                )
    out += ["", "not decodable by pcapdiag (excluded):"]
    for res in results:
        for v in res.verdicts:
            if v.status == "undecodable":
                out.append(f"  {res.trace}: {v.row.describe()}: {v.why}")
    out += ["", "notes:"]
    for res in results:
        for n in res.set_notes:
            out.append(f"  {res.trace}: {n}")
        for v in res.verdicts:
            if v.status == "not-comparable":
                out.append(f"  {res.trace}: {v.row.describe()}: not comparable ({v.rule}): {v.why}")
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def pcapdiag_revision() -> str:
    """The repository commit the measurement ran on, marked when analyzer/ had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "analyzer"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision"
    return f"commit {head}" + (" with uncommitted changes under analyzer/" if dirty else "")


def render_markdown(results: list[TraceResult], s: Summary) -> str:
    """The measured part of docs/zeek-agreement.md."""
    out = [
        "# pcapdiag against Zeek's verdicts",
        "",
        "Generated by:",
        "",
        "```",
        COMMAND,
        "```",
        "",
        f"on pcapdiag at {pcapdiag_revision()}, over the Zeek regression-suite corpus "
        "(`shared/corpus/zeek`, Zeek commit `a13de64f`), with pcapdiag's default options (10 s "
        "timeout). The same checks run as `python -m pytest tests/test_zeek_oracle.py`.",
        "",
        "## Figures",
        "",
        "| measure | value |",
        "|---|---|",
        f"| traces read | {s.traces} |",
        f"| tracebacks | {len(s.tracebacks)} |",
        f"| clean capture errors | {len(s.capture_errors)} |",
        f"| connection-set agreement | {s.set_agree}/{s.set_total} traces with a decodable connection |",
        f"| label agreement | {s.label_agree}/{s.label_total} comparable rows |",
        f"| ... of which mappings allowing at most {NARROW} labels | "
        f"{s.narrow['agree']}/{s.narrow['agree'] + s.narrow['disagree']} |",
        f"| rows not comparable | {s.statuses['not-comparable']} |",
        f"| rows missing in pcapdiag | {s.statuses['missing']} |",
        f"| rows in an encapsulation pcapdiag does not decode | {s.statuses['undecodable']} |",
        "",
        "Rows by mapping rule:",
        "",
        "| rule | agree | disagree | not comparable |",
        "|---|---|---|---|",
    ]
    for name, c in s.rule_stats.items():
        out.append(f"| {name} | {c['agree']} | {c['disagree']} | {c['not-comparable']} |")
    out += [
        "",
        "## How the comparison works",
        "",
        "* pcapdiag runs in-process (`analyse_stream(stream, Task(path, Options()))`) on every "
        "trace; an exception or a printed traceback is a failure, a clean `CaptureError` is not.",
        "* Connections are matched on the unordered endpoint pair (Zeek may flip roles). A trace's "
        "connection set agrees when every Zeek connection in a decodable encapsulation has a pcapdiag "
        "connection, pcapdiag reports no connection Zeek lacks (only for conn.log-based rows; ssl.log "
        "lists TLS connections only), and pcapdiag splits a 5-tuple no finer than Zeek did unless "
        "each of its connections starts with its own SYN ISN (and never merges distinct ISNs). "
        "Zeek starting a new record after a RST or its 5 s attempt timeout where pcapdiag keeps one "
        "connection is accepted.",
        "* Decodability is read from the capture: a Zeek connection is decodable when pcapdiag decodes "
        "TCP segments for it, or when a frame holding both its addresses uses an encapsulation "
        "pcapdiag is documented to decode (Teredo recognised by its payload, not its port).",
        "* Labels: each Zeek row maps to the set of labels its verdict allows; rows sharing a 5-tuple "
        "are compared as a group (every pcapdiag connection of the group must carry a label some row "
        "allows). A group is not comparable when Zeek counted fewer packets than the capture holds "
        "(Zeek dropped bad-checksum packets, or a script stopped analysing the connection).",
        "",
        "## Mapping rules",
        "",
        "First matching rule wins; histories are read in pcapdiag's orientation (upper case = "
        "pcapdiag's client), after undoing Zeek's `^` flips.",
        "",
        "| rule | why it is unambiguous |",
        "|---|---|",
    ]
    for rule in RULES:
        out.append(f"| {rule.name} | {_md(rule.doc)} |")
    out += ["", "## Connection-set disagreements", ""]
    problems = [(r.trace, p) for r in results for p in r.set_problems]
    out += [f"* `{t}`: {_md(p)}" for t, p in problems] or ["None."]
    out += ["", "## Label disagreements", ""]
    disagreements = [(r.trace, v) for r in results for v in r.verdicts if v.status == "disagree"]
    if disagreements:
        out += ["| trace | Zeek | rule: allowed | pcapdiag |", "|---|---|---|---|"]
        for t, v in disagreements:
            out.append(
                f"| `{t}` | {_md(v.row.describe())} | {v.rule}: {_labels(v.allowed)} | "
                f"{_md(_flow_text(v.flows))} |"
            )
    else:
        out.append("None.")
    out += ["", "## Rows excluded", ""]
    for r in results:
        for v in r.verdicts:
            if v.status == "undecodable":
                out.append(f"* `{r.trace}` {_md(v.row.describe())}: not decodable, {_md(v.why)}")
            elif v.status == "not-comparable":
                out.append(f"* `{r.trace}` {_md(v.row.describe())}: not comparable, {_md(v.why)}")
    out += ["", "## Zeek records that pcapdiag keeps as one connection", ""]
    notes = [(r.trace, n) for r in results for n in r.set_notes]
    out += [f"* `{t}`: {_md(n)}" for t, n in notes] or ["None."]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the agreement report; exit 1 when anything disagrees or failed, 2 without a corpus."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=None, help=f"corpus folder (default ${CORPUS_ENV})")
    parser.add_argument(
        "--markdown", action="store_true", help="print the measured part of docs/zeek-agreement.md"
    )
    parser.add_argument(
        "--write-doc",
        action="store_true",
        help="rewrite docs/zeek-agreement.md: the measured part, then the hand-written diagnoses kept",
    )
    args = parser.parse_args(argv)
    root = args.corpus or corpus_dir()
    if not (root / "MANIFEST.tsv").is_file():
        print(f"zeek_agreement: no corpus at {root} (set {CORPUS_ENV})", file=sys.stderr)
        return 2
    results = analyze_corpus(root)
    summary = summarize(results)
    if args.write_doc:
        kept = DOC.read_text(encoding="utf-8").partition(HAND_WRITTEN)[2] if DOC.is_file() else "\n"
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(render_markdown(results, summary) + "\n" + HAND_WRITTEN + kept, encoding="utf-8")
    elif args.markdown:
        sys.stdout.write(render_markdown(results, summary))
    else:
        sys.stdout.write(render_text(results, summary))
    failed = (
        summary.tracebacks
        or summary.set_agree != summary.set_total
        or summary.label_agree != summary.label_total
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
