"""`pcapdiag extract`, sans-IO: which frames of a capture belong to the chosen connections, redacted."""

from __future__ import annotations

import ipaddress

from pcapdiag.capture import Frame
from pcapdiag.capture.writer import pcap_header, pcap_record, pcapng_header, pcapng_record
from pcapdiag.decode import IcmpError, TcpSegment, decode
from pcapdiag.decode.packet import SYN
from pcapdiag.flow.key import FlowKey, canonical
from pcapdiag.report import FlowReport
from pcapdiag.report.redact import Pseudonyms
from pcapdiag.tls.scrub import StreamScrubber


def _packed(ip: str) -> bytes:
    return ipaddress.ip_address(ip).packed


def payload_offset(data: bytes, payload: bytes) -> int:
    """Where a segment's payload starts in its frame (frames may carry link-layer padding)."""
    if not payload or data.endswith(payload):
        return len(data) - len(payload)
    found = data.rfind(payload)
    return found if found >= 0 else len(data)


def redact_frame(
    data: bytes, seg: TcpSegment | None, pseudonyms: Pseudonyms, addresses: set[bytes], scrubbed: bytes | None
) -> bytes:
    """The frame with every known address replaced by its pseudonym and the payload scrubbed."""
    start = payload_offset(data, seg.payload) if seg is not None else len(data)
    head = data[:start]
    for addr in sorted(addresses, key=len, reverse=True):
        head = head.replace(addr, pseudonyms.ip_packed(addr))
    body = scrubbed if scrubbed is not None else data[start:]
    return head + body + data[start + len(body) :]


class _Direction:
    """One direction of a chosen connection, redacted: its payload scrubber and where its stream begins."""

    __slots__ = ("base", "scrubber")

    def __init__(self) -> None:
        self.scrubber = StreamScrubber()
        self.base: int | None = None
        """Sequence number of the direction's first payload byte (its SYN's + 1), once known."""


class Selection:
    """Frames in, the chosen connections' frames out (with --redact: pseudonyms for addresses, payload
    scrubbed with its TLS framing kept); then the evidence capture's bytes."""

    def __init__(self, chosen: list[FlowReport], pseudonyms: Pseudonyms | None = None) -> None:
        self.chosen = chosen
        self.pseudonyms = pseudonyms
        self._wanted: dict[FlowKey, FlowReport] = {
            canonical(_packed(f.client.ip), f.client.port, _packed(f.server.ip), f.server.port): f
            for f in chosen
        }
        self._ranges = [(f.first_frame, f.last_frame) for f in chosen]
        self._addresses = {_packed(f.client.ip) for f in chosen} | {_packed(f.server.ip) for f in chosen}
        self._directions: dict[tuple[FlowKey, bool], _Direction] = {}
        self.kept: list[tuple[Frame, bytes]] = []

    def take(self, frame: Frame) -> None:
        """Keep the frame if it belongs to a chosen connection."""
        if not any(lo <= frame.number <= hi for lo, hi in self._ranges):
            return
        d = decode(frame.linktype, frame.data)
        pseudonyms = self.pseudonyms
        if isinstance(d, TcpSegment):
            key = canonical(d.src, d.sport, d.dst, d.dport)
            if key not in self._wanted:
                return
            data = frame.data
            if pseudonyms is not None:
                side = self._directions.setdefault((key, (d.src, d.sport) < (d.dst, d.dport)), _Direction())
                if d.flags & SYN:
                    side.base = (d.seq + 1) & 0xFFFFFFFF
                elif side.base is None:
                    side.base = d.seq
                offset = (d.seq - side.base) & 0xFFFFFFFF if d.payload else 0
                scrubbed = side.scrubber.scrub(offset, d.payload) if d.payload else None
                data = redact_frame(data, d, pseudonyms, self._addresses, scrubbed)
            self.kept.append((frame, data))
        elif isinstance(d, IcmpError):
            key = canonical(d.quoted_src, d.quoted_sport, d.quoted_dst, d.quoted_dport)
            if key in self._wanted:
                data = frame.data
                if pseudonyms is not None:
                    self._addresses.add(d.reporter)
                    data = redact_frame(data, None, pseudonyms, self._addresses, None)
                self.kept.append((frame, data))

    def capture(self) -> bytes:
        """The kept frames as a capture file: pcap for one link type, pcapng for several."""
        kept = self.kept
        linktypes = sorted({frame.linktype for frame, _ in kept})
        if len(linktypes) == 1:
            return pcap_header(linktypes[0]) + b"".join(pcap_record(f, data) for f, data in kept)
        index = {lt: i for i, lt in enumerate(linktypes)}
        records = b"".join(pcapng_record(f, index[f.linktype], data) for f, data in kept)
        return pcapng_header(linktypes) + records

    def summary(self) -> str:
        """What was kept, in one line."""
        chosen = self.chosen
        what = ", ".join(f"#{f.id} {f.label.value}" for f in chosen[:10])
        what += " ..." if len(chosen) > 10 else ""
        return f"{len(self.kept)} packets of {len(chosen)} connection(s) ({what})"
