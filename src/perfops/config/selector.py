"""Label selectors: how a service's series are found, as PromQL writes them.

``{model_name="llama-3.1-8b", job=~"vllm.*"}`` is parsed once, when perfops.yaml is loaded,
into :class:`Selector`, a tuple of :class:`Matcher`. The same object renders the PromQL of
``perfops slo rules`` and the Grafana panels (:meth:`Selector.promql`) and is what the store
matches stored series' labels against (:meth:`Selector.matches`), so the rules and
``perfops slo status`` read the same series.

Semantics follow Prometheus: ``=``, ``!=``, ``=~``, ``!~``; a label a series lacks is the
empty string; regular expressions are fully anchored and ``.`` matches a newline too
(Prometheus 3.x). Only the RE2 syntax that Python reads the same way is accepted: no
lookaround, backreference, conditional, atomic group or possessive quantifier, which RE2
(and so Prometheus) rejects.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from perfops._internal.escape import promql_label_name, promql_label_value

__all__ = ["Matcher", "Op", "Selector", "parse_selector"]

Op = Literal["=", "!=", "=~", "!~"]
_OPS: tuple[Op, ...] = ("=~", "!~", "!=", "=")
_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Python-only regex syntax RE2 rejects, each with what it is
_NOT_RE2 = (
    (re.compile(r"\(\?<?[=!]"), "lookaround"),
    (re.compile(r"\\[1-9]|\(\?P="), "backreference"),
    (re.compile(r"\(\?\("), "conditional group"),
    (re.compile(r"\(\?>"), "atomic group"),
    (re.compile(r"(?<!\\)[*+?}]\+"), "possessive quantifier"),
    (re.compile(r"\\Z"), r"\Z (RE2 writes \z)"),
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"} | {
    "a": "\a", "b": "\b", "f": "\f", "v": "\v",
}  # fmt: skip
_HEX = {"x": 2, "u": 4, "U": 8}  # Go's \xXX, \uXXXX, \UXXXXXXXX


@dataclass(frozen=True, slots=True)
class Matcher:
    """A PromQL label matcher: ``=``, ``!=``, ``=~`` or ``!~`` (regexes fully anchored)."""

    name: str
    op: Op
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~") and self._regex is None:
            object.__setattr__(self, "_regex", _compile(self.value))

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self._regex is None:
            return (actual == self.value) == (self.op == "=")
        found = self._regex.fullmatch(actual) is not None
        return found == (self.op == "=~")

    def promql(self) -> str:
        return f"{promql_label_name(self.name)}{self.op}{promql_label_value(self.value)}"

    def renamed(self, names: Mapping[str, str]) -> Matcher:
        """The same matcher on ``names[name]`` (a label the lake stores renamed)."""
        return Matcher(names.get(self.name, self.name), self.op, self.value, self._regex)


@dataclass(frozen=True, slots=True)
class Selector:
    """Label matchers that a series must all meet."""

    matchers: tuple[Matcher, ...] = ()

    @classmethod
    def equal(cls, labels: Mapping[str, str]) -> Selector:
        return cls(tuple(Matcher(k, "=", v) for k, v in labels.items()))

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def promql(self, *extra: str) -> str:
        """``{a="x",b=~"y.*"}``, plus ``extra`` matchers already in PromQL form."""
        return "{" + ",".join([*(m.promql() for m in self.matchers), *extra]) + "}"

    def renamed(self, names: Mapping[str, str]) -> Selector:
        return Selector(tuple(m.renamed(names) for m in self.matchers))

    def example(self) -> dict[str, str]:
        """Labels of a series this selector matches (for synthetic test series); ValueError
        when no simple value meets a regex."""
        labels: dict[str, str] = {}
        for m in self.matchers:
            if m.op == "=" and m.value:
                labels[m.name] = m.value
            elif m.op == "!=" and not m.value:
                labels[m.name] = "x"
            elif m.op in ("=~", "!~"):
                wanted = m.op == "=~"
                found = next((c for c in _candidates(m.value) if m.matches({m.name: c})), None)
                if found is None:
                    raise ValueError(f"no example value for {m.promql()}")
                if found or wanted:
                    labels[m.name] = found
        if not self.matches(labels):
            raise ValueError(f"no example series for {self}")
        return {k: v for k, v in labels.items() if v}

    def __str__(self) -> str:
        return self.promql()


def _candidates(regex: str) -> list[str]:
    """Strings likely to meet (or miss) ``regex``: its first alternative with the regex
    syntax taken out, then a few plain ones."""
    first = regex.split("|", 1)[0].strip("^$()")
    plain = re.sub(r"\.\*|\.\+|\\(.)|\[([^\]])[^\]]*\]|[?*+]", _literal, first)
    return [plain, plain + "x", "", "x", "0", "_"]


def _literal(m: re.Match[str]) -> str:
    text = m.group(0)
    if text == ".+":
        return "x"
    return m.group(1) or m.group(2) or ""


def _compile(regex: str) -> re.Pattern[str]:
    for pattern, what in _NOT_RE2:
        if pattern.search(regex):
            raise ValueError(
                f"regex {regex!r} uses a {what}, which Prometheus' RE2 does not support"
            )
    try:
        return re.compile(regex, re.DOTALL)
    except re.error as exc:
        raise ValueError(f"regex {regex!r} does not compile: {exc}") from None


def _string(text: str, pos: int) -> tuple[str, int]:
    """The quoted string at ``text[pos]`` (double or single quotes, Go's backslash escapes)
    and the position after it."""
    quote = text[pos]
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            nxt = text[i + 1 : i + 2]
            width = _HEX.get(nxt, 0)
            digits = text[i + 2 : i + 2 + width]
            if width and len(digits) == width and all(c in string.hexdigits for c in digits):
                out.append(chr(int(digits, 16)))
                i += 2 + width
                continue
            if nxt not in _ESCAPES:
                raise ValueError(
                    f"unknown escape \\{nxt} in {text[pos:]!r}: write \\\\ for a backslash "
                    "(a regex \\. is written \\\\. inside the quotes, as in PromQL)"
                )
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise ValueError(f"unterminated string {text[pos:]!r}")


def _matcher(text: str, pos: int) -> tuple[Matcher, int]:
    name = _NAME.match(text, pos)
    if name is None:
        raise ValueError(f"expected a label name at {text[pos:]!r}")
    pos = _skip(text, name.end())
    op = next((o for o in _OPS if text.startswith(o, pos)), None)
    if op is None:
        raise ValueError(f"expected =, !=, =~ or !~ after {name.group()!r}, at {text[pos:]!r}")
    pos = _skip(text, pos + len(op))
    if text[pos : pos + 1] not in ('"', "'"):
        raise ValueError(f'the value of {name.group()!r} must be quoted, e.g. {name.group()}="x"')
    value, pos = _string(text, pos)
    return Matcher(name.group(), op, value), pos


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def parse_selector(text: str, *, strict: bool = True) -> Selector:
    """``{model_name="x", job=~"vllm.*"}`` (braces optional) as a Selector; ValueError naming
    the malformed part. ``strict`` (a service's selector) wants at least one matcher, and not
    only matchers that an empty label meets (Prometheus refuses a selector that would match
    every series); a filter of stored series may be empty."""
    body = text.strip()
    if body.startswith("{") != body.endswith("}"):
        raise ValueError(f"unbalanced braces in {text!r}")
    body = body.removeprefix("{").removesuffix("}")
    matchers: list[Matcher] = []
    pos = _skip(body, 0)
    while pos < len(body):
        matcher, pos = _matcher(body, pos)
        matchers.append(matcher)
        pos = _skip(body, pos)
        if pos < len(body):
            if body[pos] != ",":
                raise ValueError(f"expected ',' between matchers, at {body[pos:]!r}")
            pos = _skip(body, pos + 1)
    if strict and not matchers:
        raise ValueError('a selector needs at least one matcher, e.g. {model_name="llama"}')
    if strict and all(m.matches({}) for m in matchers):
        raise ValueError(
            f"{text!r} matches every series (each matcher accepts an empty label); add one "
            'that needs a value, e.g. model_name="llama"'
        )
    return Selector(tuple(matchers))
