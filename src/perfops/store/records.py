"""Plain records the store reads and writes, and the label matchers its queries take."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from perfops.config.selector import Matcher, parse_selector

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


def parse_matchers(spec: str | Mapping[str, str] | None) -> list[Matcher]:
    """``{'gpu': '0'}`` or ``'gpu="0",modelName=~"H100.*"'`` to matchers (PromQL's
    semantics: :mod:`perfops.config.selector`). Raises ValueError naming the malformed part."""
    if spec is None:
        return []
    if isinstance(spec, Mapping):
        return [Matcher(k, "=", v) for k, v in spec.items()]
    try:
        return list(parse_selector(spec, strict=False).matchers)
    except ValueError as exc:
        raise ValueError(
            f'bad label matcher: {exc}; write name="value", name!="value", name=~"regex" or '
            'name!~"regex", comma-separated'
        ) from None
