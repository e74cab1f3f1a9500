"""Labels as a closed vocabulary, computed by one pure function of a connection's evidence."""

from pcapdiag.classify.labels import LABELS, Label, LabelInfo
from pcapdiag.classify.limits import capture_limits
from pcapdiag.classify.rules import Context, Verdict, classify
from pcapdiag.classify.timers import (
    Anchor,
    BudgetSource,
    Phase,
    SynSchedule,
    Timer,
    Timing,
    infer_timing,
)

__all__ = [
    "LABELS",
    "Anchor",
    "BudgetSource",
    "Context",
    "Label",
    "LabelInfo",
    "Phase",
    "SynSchedule",
    "Timer",
    "Timing",
    "Verdict",
    "capture_limits",
    "classify",
    "infer_timing",
]
