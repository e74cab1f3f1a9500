"""Labels as a closed vocabulary, computed by one pure function of a connection's facts."""

from pcapdiag.classify.decide import Basis, classify
from pcapdiag.classify.diagnosis import Candidate, Diagnosis, Location, Step, Undecided, Where
from pcapdiag.classify.facts import (
    AppFacts,
    ConnectionFacts,
    H2Facts,
    IcmpFacts,
    SideFacts,
    SnapFacts,
    facts_of,
)
from pcapdiag.classify.labels import LABELS, Label, LabelInfo
from pcapdiag.classify.limits import capture_limits
from pcapdiag.classify.rules import Context
from pcapdiag.classify.timers import (
    Anchor,
    BudgetSource,
    Phase,
    SynSchedule,
    Timer,
    Timing,
    infer_timing,
)
from pcapdiag.classify.where import Pairing, SideView, View

__all__ = [
    "LABELS",
    "Anchor",
    "AppFacts",
    "Basis",
    "BudgetSource",
    "Candidate",
    "ConnectionFacts",
    "Context",
    "Diagnosis",
    "H2Facts",
    "IcmpFacts",
    "Label",
    "LabelInfo",
    "Location",
    "Pairing",
    "Phase",
    "SideFacts",
    "SideView",
    "SnapFacts",
    "Step",
    "SynSchedule",
    "Timer",
    "Timing",
    "Undecided",
    "View",
    "Where",
    "capture_limits",
    "classify",
    "facts_of",
    "infer_timing",
]
