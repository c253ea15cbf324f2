"""Plain records the store reads and writes, and the label matchers its queries take."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "EventRecord",
    "Matcher",
    "MetricStats",
    "RunRecord",
    "SeriesInfo",
    "TableInfo",
    "parse_matchers",
]


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """A time series: canonical metric name, labels, where it came from, the vendor's name."""

    metric: str
    labels: Mapping[str, str]
    source: str = ""
    raw_name: str = ""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run journal entry. Writing it again with the same id records a newer state."""

    run_id: str
    kind: str
    started_ns: int
    status: str
    ended_ns: int | None = None
    spec: Mapping[str, Any] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventRecord:
    ts_ns: int
    kind: str
    title: str
    service: str | None = None
    severity: str | None = None
    run_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class MetricStats:
    """What the lake holds of one metric: series, samples, first and last sample time (ms)."""

    metric: str
    series: int
    samples: int
    first_ms: int
    last_ms: int


@dataclass(frozen=True, slots=True)
class TableInfo:
    name: str
    rows: int
    files: int
    bytes: int
    version: int
    first_ns: int | None
    last_ns: int | None


@dataclass(frozen=True, slots=True)
class Matcher:
    """A PromQL-style label matcher: ``=``, ``!=``, ``=~`` or ``!~`` (regexes fully anchored)."""

    name: str
    op: Literal["=", "!=", "=~", "!~"]
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found


_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_matchers(spec: str | Mapping[str, str] | None) -> list[Matcher]:
    """``{'gpu': '0'}`` or ``'gpu="0",modelName=~"H100.*"'`` to matchers.

    Raises ValueError naming the malformed part."""
    if spec is None:
        return []
    if isinstance(spec, Mapping):
        return [Matcher(k, "=", v) for k, v in spec.items()]
    text, out, pos = spec.strip().strip("{}"), [], 0
    while pos < len(text):
        m = _MATCHER.match(text, pos)
        if not m:
            raise ValueError(
                f'bad label matcher at {text[pos:]!r}; write name="value", '
                'name!="value", name=~"regex" or name!~"regex", comma-separated'
            )
        out.append(Matcher(m.group(1), m.group(2), m.group(3).replace('\\"', '"')))  # type: ignore[arg-type]
        pos = m.end()
    return out
