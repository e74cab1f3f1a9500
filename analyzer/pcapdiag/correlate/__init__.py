"""Several captures of the same traffic: match each connection across them and say what each capture saw."""

from pcapdiag.correlate.facts import view_of
from pcapdiag.correlate.match import CaptureInfo, Correlation, Group, Offset, match_captures

__all__ = [
    "CaptureInfo",
    "Correlation",
    "Group",
    "Offset",
    "match_captures",
    "view_of",
]
