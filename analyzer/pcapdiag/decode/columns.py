"""The common frames of a whole block decoded at once, field by field, into numpy columns.

A record is "common" when decode.fast.tcp_fields would take it (Ethernet or Linux SLL2, IPv4
without options or fragmentation, or IPv6 without extension headers, then TCP): for those the
columns hold exactly the fields tcp_fields gives, and ``segment_fields(i)`` rebuilds its tuple.
Every other record (``common[i]`` False) is left to decode(), one at a time.

Decoding a block costs a few dozen array operations whatever its size: the first bytes of every
record are gathered into a matrix with one indexing call, and each field is a column of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from pcapdiag.capture.linktype import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2
from pcapdiag.decode.fast import SegmentFields
from pcapdiag.decode.ip import IPV4_OFFSET_MASK, PROTO_TCP
from pcapdiag.decode.link import ETH_IPV4, ETH_IPV6

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
Bools = npt.NDArray[np.bool_]

_LINKS = {LINKTYPE_ETHERNET: (14, 12), LINKTYPE_LINUX_SLL2: (20, 0)}
"""LINKTYPE -> (where the IP header starts, where the EtherType/protocol field is)."""


def _windows(arr: U8, starts: I64, width: int) -> U8:
    """The ``width`` bytes of ``arr`` from each start, as rows (zeros past the end of ``arr``)."""
    n = len(arr)
    if n >= width:
        view = np.lib.stride_tricks.as_strided(arr, (n - width + 1, width), (1, 1), writeable=False)
        if not len(starts) or int(starts.max()) <= n - width:
            return view[starts]
    # Rows that run past the end: from a zero-padded copy of the tail.
    base = max(0, n - width)
    tail = np.zeros(n - base + width, np.uint8)
    tail[: n - base] = arr[base:]
    padded = np.lib.stride_tricks.as_strided(tail, (n - base + 1, width), (1, 1), writeable=False)
    out: U8 = padded[np.clip(starts, base, n) - base]
    if n >= width:
        inside = starts <= n - width
        out[inside] = view[starts[inside]]
    return out


def _be16(m: U8, col: int) -> I64:
    return (m[:, col].astype(np.int64) << 8) | m[:, col + 1]


def _be32x(m: U8, col: int, count: int) -> I64:
    """``count`` big-endian 32-bit fields from column ``col`` on, as an (n, count) array."""
    words = np.ascontiguousarray(m[:, col : col + 4 * count]).view(">u4")
    return words.astype(np.int64)


def _be64x(m: U8, col: int, count: int) -> U64:
    words = np.ascontiguousarray(m[:, col : col + 8 * count]).view(">u8")
    return words.astype(np.uint64)


OPTIONS = 40
"""Option bytes a TCP header can carry."""


class Columns:
    """The common frames of one block, decoded: one array per field, one entry per record."""

    __slots__ = (
        "a_hi",
        "a_lo",
        "ack",
        "addr_len",
        "b_hi",
        "b_lo",
        "buf",
        "common",
        "dport",
        "dst_at",
        "family",
        "flags",
        "ip_id",
        "opt_at",
        "opt_len",
        "pay_at",
        "pay_len",
        "seen_len",
        "seq",
        "sport",
        "src_at",
        "src_first",
        "ttl",
        "window",
    )

    def __init__(
        self,
        buf: bytes,
        starts: Sequence[int] | I64,
        caplens: Sequence[int] | I64,
        linktypes: Sequence[int] | int,
    ) -> None:
        self.buf = buf
        n = len(starts)
        arr = np.frombuffer(buf, np.uint8)
        start = np.asarray(starts, np.int64)
        caplen = np.asarray(caplens, np.int64)
        if isinstance(linktypes, int) or len(set(linktypes)) == 1:
            kind = linktypes if isinstance(linktypes, int) else linktypes[0]
            ip_at, type_at = _LINKS.get(kind, (0, 0))
            known: Bools | bool = kind in _LINKS
            l3: I64 | int = ip_at
            type_pos = start + type_at
        else:
            lt = np.asarray(linktypes)
            known = np.zeros(n, np.bool_)
            l3 = np.zeros(n, np.int64)
            type_pos = start.copy()
            for kind, (ip_at, field_at) in _LINKS.items():
                here = lt == kind
                l3[here] = ip_at
                type_pos[here] += field_at
                known |= here
        last = max(len(arr) - 1, 0)
        if len(arr):
            ethertype = (arr[np.minimum(type_pos, last)].astype(np.int64) << 8) | arr[
                np.minimum(type_pos + 1, last)
            ]
        else:
            ethertype = np.zeros(n, np.int64)
        ip = _windows(arr, start + l3, 40)
        length4 = _be16(ip, 2)
        v4 = (
            (ethertype == ETH_IPV4)
            & (caplen >= l3 + 40)
            & (ip[:, 0] == 0x45)
            & (ip[:, 9] == PROTO_TCP)
            & ((_be16(ip, 6) & IPV4_OFFSET_MASK) == 0)
            & (length4 != 0)
            & known
        )
        any6 = bool((ethertype == ETH_IPV6).any())
        if any6:
            length6 = _be16(ip, 4)
            v6 = (
                (ethertype == ETH_IPV6)
                & (caplen >= l3 + 60)
                & ((ip[:, 0] >> 4) == 6)
                & (ip[:, 6] == PROTO_TCP)
                & (length6 != 0)
                & known
            )
            l4 = l3 + np.where(v6, 40, 20)
            wire = np.where(v6, length6, length4 - 20)
        else:
            v6 = np.zeros(n, np.bool_)
            l4 = l3 + np.full(n, 20, np.int64)
            wire = length4 - 20
        tcp = _windows(arr, start + l4, 20 + OPTIONS)
        header = (tcp[:, 12] >> 4).astype(np.int64) << 2
        end = np.minimum(l4 + wire, caplen)
        payload = l4 + header
        self.common: Bools = (v4 | v6) & (header >= 20) & (header <= wire) & (payload <= end)
        self.family = np.where(v6, 6, 4) if any6 else np.full(n, 4, np.int64)
        self.addr_len = np.where(v6, 16, 4) if any6 else np.full(n, 4, np.int64)
        self.src_at = start + l3 + (np.where(v6, 8, 12) if any6 else 12)
        self.dst_at = self.src_at + self.addr_len
        self.sport = _be16(tcp, 0)
        self.dport = _be16(tcp, 2)
        seq_ack = _be32x(tcp, 4, 2)
        self.seq = seq_ack[:, 0]
        self.ack = seq_ack[:, 1]
        self.flags = tcp[:, 13].astype(np.int64)
        self.window = _be16(tcp, 14)
        if any6:
            self.ttl = np.where(v6, ip[:, 7], ip[:, 8]).astype(np.int64)
            self.ip_id = np.where(v6, 0, _be16(ip, 4))
        else:
            self.ttl = ip[:, 8].astype(np.int64)
            self.ip_id = _be16(ip, 4)
        self.pay_at = start + payload
        self.pay_len = wire - header
        self.seen_len = np.maximum(end - payload, 0)
        self.opt_at = start + l4 + 20
        self.opt_len = np.clip(header - 20, 0, OPTIONS)
        # Endpoints as (hi, lo) big-endian words: IPv4 in lo, so words compare as the bytes do.
        addr4 = _be32x(ip, 12, 2).astype(np.uint64)
        if any6:
            ip6 = _windows(arr, start + l3 + 8, 32)
            addr6 = _be64x(ip6, 0, 4)
            zero = np.zeros(n, np.uint64)
            self.a_hi = np.where(v6, addr6[:, 0], zero)
            self.a_lo = np.where(v6, addr6[:, 1], addr4[:, 0])
            self.b_hi = np.where(v6, addr6[:, 2], zero)
            self.b_lo = np.where(v6, addr6[:, 3], addr4[:, 1])
        else:
            self.a_hi = self.b_hi = np.zeros(n, np.uint64)
            self.a_lo = addr4[:, 0]
            self.b_lo = addr4[:, 1]
        # Which end comes first in the connection key (flow.key.canonical): the source, or the destination.
        a_hi, b_hi, a_lo, b_lo = self.a_hi, self.b_hi, self.a_lo, self.b_lo
        self.src_first: Bools = (a_hi < b_hi) | (
            (a_hi == b_hi) & ((a_lo < b_lo) | ((a_lo == b_lo) & (self.sport <= self.dport)))
        )

    def src(self, i: int) -> bytes:
        """Record ``i``'s packed source address."""
        at = int(self.src_at[i])
        return self.buf[at : at + int(self.addr_len[i])]

    def dst(self, i: int) -> bytes:
        """Record ``i``'s packed destination address."""
        at = int(self.dst_at[i])
        return self.buf[at : at + int(self.addr_len[i])]

    def segment_fields(self, i: int, src: bytes, dst: bytes) -> SegmentFields:
        """The tuple tcp_fields gives for common record ``i`` (its addresses already cut)."""
        pay = int(self.pay_at[i])
        opt = int(self.opt_at[i])
        return (
            int(self.family[i]),
            src,
            dst,
            int(self.sport[i]),
            int(self.dport[i]),
            int(self.seq[i]),
            int(self.ack[i]),
            int(self.flags[i]),
            int(self.window[i]),
            self.buf[pay : pay + int(self.seen_len[i])],
            int(self.pay_len[i]),
            int(self.ip_id[i]),
            int(self.ttl[i]),
            self.buf[opt : opt + int(self.opt_len[i])],
        )
