"""pcapdiag: label every client-to-server TCP/TLS connection in a packet capture."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["AnalysisError", "Limits", "Options", "Report", "__version__", "analyze"]

if TYPE_CHECKING:
    from pcapdiag.api import AnalysisError, analyze
    from pcapdiag.drive import Limits
    from pcapdiag.pipeline import Options
    from pcapdiag.report import Report

_LAZY = {
    "analyze": "pcapdiag.api",
    "AnalysisError": "pcapdiag.api",
    "Limits": "pcapdiag.drive",
    "Options": "pcapdiag.pipeline",
    "Report": "pcapdiag.report",
}


def __getattr__(name: str) -> Any:
    """The library's entry points, imported when first used (``import pcapdiag`` stays cheap)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pcapdiag' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
