"""The Jinja2 environment of the HTML and SVG reports: templates in report/templates/, escaping by default."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from pcapdiag.report.ladder import printable

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

_CODE = re.compile(r"`([^`]+)`")


def _finalize(value: Any) -> Any:
    """Every text a template writes is made printable on one line (a capture's control characters
    shown as escapes) before autoescaping: markup the templates built themselves passes untouched."""
    from markupsafe import Markup

    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return printable(value)


def code_spans(text: str) -> Markup:
    """Our own prose with its `code` spans as <code> (the text escaped): 'capture again with
    `tcpdump -s 0`' shows no literal backticks."""
    from markupsafe import Markup, escape

    parts = _CODE.split(printable(text))
    return Markup("").join(
        escape(p) if i % 2 == 0 else Markup("<code>%s</code>") % p for i, p in enumerate(parts)
    )


@functools.cache
def environment() -> jinja2.Environment:
    """The one environment (built on first use: a text report never imports Jinja2)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pcapdiag.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters["code"] = code_spans
    return env


def render(name: str, **context: Any) -> str:
    """Render the template ``name`` with ``context``."""
    return environment().get_template(name).render(**context)
