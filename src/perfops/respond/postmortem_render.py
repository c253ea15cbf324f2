"""A :class:`~perfops.respond.postmortem.Postmortem` to Markdown (the Jinja2 template
``templates/postmortem.md.j2``) and the Markdown to one standalone HTML page
(``templates/postmortem.html.j2``: inline style, no external asset, no script).

Footnotes: each distinct :class:`~perfops.respond.postmortem.Source` is numbered in the order
the page first cites it, and written ``[^n]`` after the figure with its definition at the end
(GitHub's footnote syntax). User text goes through the ``md`` filter
(:func:`perfops._internal.escape.markdown_text`); markdown-it renders the page with raw HTML
off, so whatever the lake holds shows as text.
"""

from __future__ import annotations

import re
from typing import Any

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from perfops._internal.durations import format_duration
from perfops._internal.escape import markdown_text
from perfops.respond.postmortem import HUMAN, Figure, Postmortem, Source, utc

__all__ = ["render_html", "render_markdown"]


class _Notes:
    """Footnote numbers, one per distinct source, in order of first citation."""

    def __init__(self) -> None:
        self.sources: list[Source] = []

    def number(self, source: Source) -> int:
        if source not in self.sources:
            self.sources.append(source)
        return self.sources.index(source) + 1

    def cite(self, figure: Figure | None) -> str:
        """``figure``'s text (escaped) and its footnote mark; *n/a* for no figure."""
        if figure is None:
            return "*n/a*"
        return f"{_md(figure.text)}[^{self.number(figure.source)}]"

    def mark(self, source: Source) -> str:
        return f"[^{self.number(source)}]"


_PLAIN = re.compile(r"[A-Za-z0-9 .,:;%/+='()-]*")


def _md(value: object) -> str:
    """``value`` as literal Markdown text: as is when it holds only letters, digits, spaces
    and punctuation no Markdown construct starts with, else
    :func:`~perfops._internal.escape.markdown_text` (every punctuation mark escaped)."""
    text = str(value)
    return text if _PLAIN.fullmatch(text) else markdown_text(text)


def _code(text: str) -> str:
    """``text`` as one inline code span (a fence longer than any backtick run inside)."""
    flat = " ".join(str(text).split())
    fence = "`" * (max((len(r) for r in re.findall(r"`+", flat)), default=0) + 1)
    return f"{fence} {flat} {fence}"


def _duration(ns: int | None) -> str:
    return "*n/a*" if ns is None else format_duration(max(0, ns) / 1e9)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("perfops.respond", "templates"),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(md=_md, code=_code, utc=utc)
    env.globals.update(HUMAN=HUMAN, duration=_duration)
    return env


_ENV = _environment()


def render_markdown(pm: Postmortem) -> str:
    """The postmortem as Markdown, footnotes at the end."""
    notes = _Notes()
    body = _ENV.get_template("postmortem.md.j2").render(pm=pm, cite=notes.cite, mark=notes.mark)
    defs = [_definition(n, s) for n, s in enumerate(notes.sources, 1)]
    return body.rstrip("\n") + "\n\n" + "\n\n".join(defs) + "\n"


def _definition(number: int, source: Source) -> str:
    parts = [_code(source.call)]
    if source.query:
        parts.append("SQL (DuckDB over the lake): " + _code(source.query))
    if source.tables:
        parts.append("lake tables read: " + ", ".join(f"{t} v{v}" for t, v in source.tables))
    return f"[^{number}]: " + "; ".join(parts) + "."


_FOOTNOTE_DEF = re.compile(r"<p>\[\^(\d+)\]: ")
_FOOTNOTE_REF = re.compile(r"\[\^(\d+)\]")


def render_html(markdown: str, title: str) -> str:
    """``markdown`` (from :func:`render_markdown`) as one standalone HTML page titled
    ``title``: tables and footnotes, no raw HTML taken from the Markdown."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    body = md.enable("table").render(markdown)
    body = _FOOTNOTE_DEF.sub(r'<p class="footnote" id="fn-\1"><sup>\1</sup> ', body)
    body = _FOOTNOTE_REF.sub(r'<sup class="ref"><a href="#fn-\1">\1</a></sup>', body)
    page: Any = _ENV.get_template("postmortem.html.j2")
    return str(page.render(title=title, body=Markup(body)))  # noqa: S704 (markdown-it escaped it)
