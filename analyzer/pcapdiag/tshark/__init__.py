"""tshark as a second engine: the values pcapdiag.decode produces, from tshark's dissection (pyshark)."""

from __future__ import annotations

from pcapdiag.tshark.dissection import decoded, decoded_packet
from pcapdiag.tshark.reader import FileInfo, TsharkCapture, TsharkError, TsharkUnavailable, check_available

__all__ = [
    "FileInfo",
    "TsharkCapture",
    "TsharkError",
    "TsharkUnavailable",
    "check_available",
    "decoded",
    "decoded_packet",
]
