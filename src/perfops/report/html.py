"""The leadership report as one self-contained HTML page: inline CSS, charts as inline SVG,
no script and no external request, so it opens offline, mails as one file and prints to
the PDF (:mod:`perfops.report.pdf`) with the same content. Every figure links its footnote
in the appendix, which gives the call, the SQL and the table versions behind it. Text from
the lake and perfops.yaml is escaped (Jinja2 autoescape)."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

from perfops._internal.provenance import Figure
from perfops.report.charts import chart_svg
from perfops.report.model import Part, Report

__all__ = ["render_html"]

_STATES = {"healthy", "recovering", "at risk", "breached", "no data"}


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("perfops.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def _utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


class _Cite:
    def __init__(self, numbers: dict[int, int]) -> None:
        self.numbers = numbers

    def part(self, part: Part) -> Markup:
        if isinstance(part, Figure):
            n = self.numbers[id(part)]
            return Markup('<span class="fig">{}<sup><a href="#fn-{}">{}</a></sup></span>').format(
                part.text, n, n
            )
        return escape(part)

    def cell(self, part: Part) -> Markup:
        text = part.text if isinstance(part, Figure) else part
        if text in _STATES:
            css = text.replace(" ", "-")
            return Markup('<span class="state {}">{}</span>').format(css, self.part(part))
        return self.part(part)


def render_html(report: Report) -> str:
    """The report page (UTF-8 text)."""
    numbers, order = report.footnotes()
    cite = _Cite(numbers)
    charts: dict[int, Markup] = {
        id(c): Markup(chart_svg(c)) for s in report.sections for c in s.charts
    }
    context: dict[str, Any] = {
        "r": report,
        "cite": cite,
        "svg": lambda chart: charts[id(chart)],
        "footnotes": list(enumerate(order, 1)),
        "period": f"{_utc(report.start_ms)} to {_utc(report.end_ms)}",
        "generated": _utc(report.generated_ns // 1_000_000),
    }
    return _env().get_template("report.html.j2").render(context)
