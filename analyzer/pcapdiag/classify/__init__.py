"""Labels as a closed vocabulary, computed by one pure function of a connection's evidence."""

from pcapdiag.classify.labels import LABELS, Label, LabelInfo
from pcapdiag.classify.rules import Context, Verdict, classify

__all__ = ["LABELS", "Context", "Label", "LabelInfo", "Verdict", "classify"]
