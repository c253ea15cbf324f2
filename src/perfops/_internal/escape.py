"""Escaping, one function per target language: every value perfops places into PromQL, a
Prometheus template, YAML, Markdown, HTML or a terminal goes through the function for that
language here, so that no value (a model name, a scraped label value, an error message from
a server) can change the meaning of the text around it.

* PromQL: :func:`promql_label_value` (a double-quoted string literal), :func:`promql_matcher`
  and :func:`promql_selector`; label names are validated, never escaped
  (:func:`promql_label_name`): a bad one is a configuration error.
* PromQL inside a Grafana dashboard: :func:`grafana_promql_label_value` and
  :func:`grafana_promql_selector` (Grafana interpolates ``$var``, ``${var}`` and ``[[var]]``
  in a query before Prometheus sees it).
* Alertmanager matchers: :func:`alertmanager_matcher`.
* Prometheus text exposition and the lake's canonical series form:
  :func:`exposition_label_value`.
* Go templates (Prometheus alert annotations and labels are expanded as templates):
  :func:`go_template_text`.
* YAML: :func:`yaml_dump`, a dumper; perfops never writes YAML by string formatting, except
  comments (:func:`yaml_comment`).
* Markdown: :func:`markdown_text`; HTML: :func:`html_text`, :func:`html_attr`; Slack's
  ``mrkdwn``: :func:`slack_mrkdwn`.
* A terminal: :func:`terminal_text`. Rich markup is escaped by the CLI's renderers
  (``perfops.cli._terminal``), the only layer that imports rich.

Control characters (C0 but newline and tab, DEL, C1), bidirectional-text controls (which can
make text read differently from what it is, as in "Trojan Source") and the Unicode line and
paragraph separators are shown visibly escaped (``\\x1b``, ``\\u202e``) wherever text is
meant to be read: terminals, Markdown, HTML, YAML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

import yaml

__all__ = [
    "LABEL_NAME",
    "alertmanager_matcher",
    "exposition_label_value",
    "go_template_text",
    "grafana_promql_label_value",
    "grafana_promql_selector",
    "html_attr",
    "html_text",
    "markdown_text",
    "promql_label_name",
    "promql_label_value",
    "promql_matcher",
    "promql_selector",
    "slack_mrkdwn",
    "terminal_text",
    "yaml_comment",
    "yaml_dump",
]

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
"""A Prometheus label name (the data model's ``[a-zA-Z_][a-zA-Z0-9_]*``)."""

# Bidirectional formatting characters (Unicode TR9): embeddings and overrides U+202A-U+202E,
# isolates U+2066-U+2069, marks U+200E, U+200F and U+061C.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_SEPARATORS = "\u2028\u2029"
_CONTROLS = [c for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if chr(c) not in "\n\t"]
# Lone surrogates are bytes that were not UTF-8 (Python decodes them with surrogateescape):
# written out, they would reach the terminal as raw bytes.
_SURROGATES = range(0xD800, 0xE000)
_VISIBLE = {c: f"\\x{c:02x}" for c in _CONTROLS} | {
    c: f"\\u{c:04x}" for c in (*map(ord, _BIDI + _SEPARATORS), *_SURROGATES)
}
_UNSAFE = re.compile(
    "[" + re.escape("".join(chr(c) for c in _VISIBLE if c not in _SURROGATES)) + "\ud800-\udfff]"
)


def terminal_text(value: str) -> str:
    """``value`` with every control character (but newline and tab), bidi control, line
    separator and lone surrogate (a byte that was not UTF-8) shown as a visible escape: ESC
    becomes ``\\x1b``, U+202E ``\\u202e``. Nothing a value holds can then move the cursor,
    clear the screen, set a title or a hyperlink (ANSI CSI and OSC sequences), or reorder
    what the reader sees. For display: not reversible."""
    return value.translate(_VISIBLE)


# -- PromQL ---------------------------------------------------------------------------------------

_PROMQL_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\t"): "\\t"} | {
    c: f"\\u{c:04x}" for c in _VISIBLE
}


def promql_label_value(value: str) -> str:
    """``value`` as a PromQL double-quoted string literal, quotes included: backslash, double
    quote and newline escaped as the PromQL spec (Go's string literal) requires, and every
    other control or bidi character as ``\\uXXXX`` so that rule files read true."""
    return '"' + value.translate(_PROMQL_ESCAPES) + '"'


def promql_label_name(name: str) -> str:
    """``name`` if it is a valid Prometheus label name; else ValueError (a label name cannot
    be escaped: the caller reports it as a configuration error)."""
    if not LABEL_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a Prometheus label name: use letters, digits and '_', not "
            "starting with a digit"
        )
    return name


def promql_matcher(name: str, value: str, op: str = "=") -> str:
    """One label matcher, ``name op "value"``, e.g. ``model_name="llama"``. ``op`` is one of
    ``=``, ``!=``; a regular-expression matcher needs a value escaped for RE2 too, which no
    perfops matcher builds from user data."""
    if op not in ("=", "!="):
        raise ValueError(f"matcher operator {op!r}: use = or !=")
    return f"{promql_label_name(name)}{op}{promql_label_value(value)}"


def promql_selector(labels: Mapping[str, str]) -> str:
    """``{a="x",b="y"}``: an equality matcher per label, in the mapping's order."""
    return "{" + ",".join(promql_matcher(k, v) for k, v in labels.items()) + "}"


# Grafana has no escape for its variable syntax; inside a PromQL string, "$" and "[" can be
# written as Go hex escapes, which Prometheus reads back and Grafana does not recognise.
_GRAFANA_ESCAPES = {ord("$"): "\\x24", ord("["): "\\x5b"}


def grafana_promql_label_value(value: str) -> str:
    """:func:`promql_label_value` for a query Grafana interpolates first: ``$`` and ``[`` as
    ``\\x24`` and ``\\x5b``, so no value can name a dashboard variable (``$__user``)."""
    return promql_label_value(value).translate(_GRAFANA_ESCAPES)


def grafana_promql_selector(labels: Mapping[str, str]) -> str:
    """:func:`promql_selector` for a query in a Grafana panel."""
    matchers = (
        f"{promql_label_name(k)}={grafana_promql_label_value(v)}" for k, v in labels.items()
    )
    return "{" + ",".join(matchers) + "}"


# -- Prometheus text exposition -----------------------------------------------------------------

_EXPOSITION_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n"}


def exposition_label_value(value: str) -> str:
    """``value`` escaped for a label value in the Prometheus text format (backslash, double
    quote, newline), without the quotes. Also the lake's canonical series form."""
    return value.translate(_EXPOSITION_ESCAPES)


def alertmanager_matcher(name: str, value: str) -> str:
    """An Alertmanager equality matcher, ``name="value"``: Alertmanager's matcher syntax reads
    only ``\\\\``, ``\\"`` and ``\\n`` as escapes (unlike PromQL, no ``\\u``)."""
    return f'{promql_label_name(name)}="{exposition_label_value(value)}"'


# -- Go templates --------------------------------------------------------------------------------


def go_template_text(value: str) -> str:
    """``value`` as literal text in a Go template (Prometheus expands alert annotations and
    labels as templates): every ``{`` is written as the action ``{{"{"}}``, so no ``{{ }}``
    in a value (``{{ query "..." }}``) is ever executed, and the expansion is ``value``."""
    return value.replace("{", '{{"{"}}')


# -- YAML ----------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """A safe dumper that writes multi-line strings as literal blocks and shows control and
    bidi characters escaped in a double-quoted scalar, whatever ``allow_unicode`` says."""

    def write_double_quoted(self, text: str, split: bool = True) -> None:
        keep = self.allow_unicode
        self.allow_unicode = bool(keep) and not _UNSAFE.search(text)
        try:
            super().write_double_quoted(text, split)
        finally:
            self.allow_unicode = keep


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if _UNSAFE.search(value) else "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def yaml_dump(data: Any, *, width: int = 200) -> str:
    """``data`` (plain dicts, lists, strings, numbers) as YAML: keys in the given order,
    multi-line strings as literal blocks, control and bidi characters escaped. Round-trips
    through ``yaml.safe_load``."""
    text: str = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=width,
    )
    return text


def yaml_comment(text: str) -> str:
    """``text`` as one YAML comment line, ``# text``, newlines and controls shown escaped."""
    return "# " + terminal_text(text).replace("\n", "\\n")


# -- Markdown and HTML ----------------------------------------------------------------------------

_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def markdown_text(value: str) -> str:
    """``value`` as literal inline Markdown text: every ASCII punctuation character
    backslash-escaped (CommonMark allows it for each, so ``*``, ``_``, ``[``, `` ` ``, ``<``,
    ``&``, ``|``, ``$`` and HTML tags all show as typed), newlines folded into spaces (a value
    cannot start a block or break a table row), controls and bidi characters shown escaped."""
    flat = re.sub(r"\r\n|[\n\r\v\f]", " ", value).replace("\t", " ")
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", terminal_text(flat))


def html_text(value: str) -> str:
    """``value`` as HTML text content: ``& < > " '`` as entities, controls and bidi
    characters shown escaped."""
    return html.escape(terminal_text(value), quote=True)


def html_attr(value: str) -> str:
    """``value`` for a double- or single-quoted HTML attribute: as :func:`html_text`, and
    newline and tab as character references, so they survive attribute normalisation."""
    return html_text(value).replace("\n", "&#10;").replace("\t", "&#9;")


_SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def slack_mrkdwn(value: str) -> str:
    """``value`` as literal text in a Slack message (``mrkdwn``): ``&``, ``<`` and ``>``
    escaped as Slack's formatting rules require, so that no value can write a link, a user
    or channel mention (``<!channel>``) or a date token; control characters shown."""
    return terminal_text(value).translate(_SLACK_ESCAPES)
