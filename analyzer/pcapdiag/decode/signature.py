"""A segment's signature: 64 bits that equal segments share (decode.columns computes it per block)."""

from __future__ import annotations

import struct

M64 = (1 << 64) - 1
OPTIONS = 40
"""Option bytes a TCP header can carry (the signature covers all of them)."""
FIELD_WEIGHTS = (
    0x9E3779B97F4A7C15,
    0xC2B2AE3D27D4EB4F,
    0x165667B19E3779F9,
    0xD6E8FEB86659FD93,
    0xFF51AFD7ED558CCD,
    0xC4CEB9FE1A85EC53,
    0x27D4EB2F165667C5,
)
"""Odd 64-bit multipliers for seq, ack, flags, payload length, IP ID, window and option length."""
OPTION_WEIGHTS = (
    0x94D049BB133111EB,
    0xBF58476D1CE4E5B9,
    0x85EBCA77C2B2AE63,
    0xA0761D6478BD642F,
    0xE7037ED1A0B428DB,
)
"""One multiplier per 8 bytes of options (little-endian words, zero-padded to 40 bytes)."""
_OPTION_WORDS = struct.Struct("<5Q").unpack


def segment_signature(
    seq: int, ack: int, flags: int, payload_len: int, ip_id: int, window: int, options: bytes
) -> int:
    """A 64-bit identity of a segment's header fields: equal segments give equal signatures (the
    same value decode.columns gives for a whole block at once); see flow.connection's duplicates."""
    k = FIELD_WEIGHTS
    h = (
        seq * k[0]
        + ack * k[1]
        + flags * k[2]
        + payload_len * k[3]
        + ip_id * k[4]
        + window * k[5]
        + len(options) * k[6]
    )
    if options:
        w = OPTION_WEIGHTS
        a, b, c, d, e = _OPTION_WORDS(options[:OPTIONS].ljust(OPTIONS, b"\0"))
        h += a * w[0] + b * w[1] + c * w[2] + d * w[3] + e * w[4]
    return h & M64
