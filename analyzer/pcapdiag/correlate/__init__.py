"""Several captures of the same traffic: match each connection across them and say where it failed."""

from pcapdiag.correlate.facts import FlowFacts, SideView, flow_facts
from pcapdiag.correlate.match import CaptureInfo, Correlation, Group, Offset, match_captures
from pcapdiag.correlate.where import Location, Where, localise

__all__ = [
    "CaptureInfo",
    "Correlation",
    "FlowFacts",
    "Group",
    "Location",
    "Offset",
    "SideView",
    "Where",
    "flow_facts",
    "localise",
    "match_captures",
]
