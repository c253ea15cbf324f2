"""What the lake holds, metric by metric, and the business KPIs computed from it."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perfops.app.runtime import Runtime
from perfops.config import Config, Service
from perfops.errors import UsageError
from perfops.store import SeriesInfo, parse_matchers
from perfops.telemetry.catalog import LABEL_RENAMES
from perfops.telemetry.kpis import KpiRow, covered_seconds, increase, kpi_row

__all__ = [
    "MetricSummary",
    "SeriesView",
    "as_json",
    "kpis",
    "list_metrics",
    "owner_of",
    "owners",
    "show_metric",
]


@dataclass(frozen=True, slots=True)
class MetricSummary:
    metric: str
    series: int
    samples: int
    first_ms: int
    last_ms: int
    sources: tuple[str, ...]
    raw_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SeriesView:
    series_id: int
    labels: Mapping[str, str]
    raw_name: str
    samples: int
    last_ts_ms: int | None
    last: float | None
    min: float | None
    mean: float | None
    max: float | None
    points: tuple[tuple[int, float], ...]


def list_metrics(rt: Runtime) -> list[MetricSummary]:
    """Every stored metric: series, samples, time span, sources, vendor names."""
    stats = rt.store.timeseries.metric_stats()
    series = rt.store.timeseries.series()
    by_metric: dict[str, list[SeriesInfo]] = defaultdict(list)
    for info in series.values():
        by_metric[info.metric].append(info)
    return [
        MetricSummary(
            s.metric,
            s.series,
            s.samples,
            s.first_ms,
            s.last_ms,
            tuple(sorted({i.source for i in by_metric[s.metric]})),
            tuple(sorted({i.raw_name for i in by_metric[s.metric]})),
        )
        for s in stats
    ]


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if not math.isnan(v)]


def show_metric(
    rt: Runtime, metric: str, start_ms: int, end_ms: int, matchers: str | None = None
) -> list[SeriesView]:
    """Each series of ``metric`` in the range, with its last value and min/mean/max; bad
    label ``matchers`` are a UsageError."""
    try:
        parse_matchers(matchers)
    except ValueError as exc:
        raise UsageError(f"labels {matchers!r}: {exc}") from None
    infos = rt.store.timeseries.series(metric, matchers)
    table = rt.store.timeseries.query_samples(metric, start_ms, end_ms, matchers)
    points: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for sid, ts, value in zip(
        table.column("series_id").to_pylist(),
        table.column("ts").to_pylist(),
        table.column("value").to_pylist(),
        strict=True,
    ):
        points[sid].append((ts, value))
    out = []
    for sid, info in sorted(infos.items(), key=lambda kv: sorted(kv[1].labels.items())):
        pts = points.get(sid, [])
        live = [(t, v) for t, v in pts if not math.isnan(v)]
        vals = [v for _, v in live]
        out.append(
            SeriesView(
                sid,
                info.labels,
                info.raw_name,
                len(pts),
                live[-1][0] if live else None,
                vals[-1] if vals else None,
                min(vals) if vals else None,
                sum(vals) / len(vals) if vals else None,
                max(vals) if vals else None,
                tuple(pts),
            )
        )
    return out


def owners(config: Config) -> Callable[[Mapping[str, str]], Service | None]:
    """The service a stored series belongs to: the first whose series selector (engine
    series) or GPU selector (GPU series) matches its labels, the same selectors that
    ``perfops slo status`` and the generated rules read (no ``service`` label needed)."""
    chosen = [
        (svc, svc.series_selector.renamed(LABEL_RENAMES), config.gpu_selector(svc))
        for svc in config.services
    ]
    chosen = [
        (svc, engine, gpus.renamed(LABEL_RENAMES) if gpus else None) for svc, engine, gpus in chosen
    ]

    def owner(labels: Mapping[str, str]) -> Service | None:
        for svc, engine, gpus in chosen:
            if engine.matches(labels) or (gpus is not None and gpus.matches(labels)):
                return svc
        return None

    return _remembered(owner)


_OWNER_OF: dict[int, tuple[Config, Callable[[Mapping[str, str]], Service | None]]] = {}
_MEMO_MAX = 100_000


def _remembered(
    owner: Callable[[Mapping[str, str]], Service | None],
) -> Callable[[Mapping[str, str]], Service | None]:
    """``owner`` answering each label set once (a page or report asks about the same series
    for every panel)."""
    memo: dict[tuple[tuple[str, str], ...], Service | None] = {}

    def remembered(labels: Mapping[str, str]) -> Service | None:
        key = tuple(sorted(labels.items()))
        if key not in memo:
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            memo[key] = owner(labels)
        return memo[key]

    return remembered


def owner_of(labels: Mapping[str, str], config: Config) -> Service | None:
    """:func:`owners` for one series; the selectors are built once per config, and each label
    set is matched once."""
    entry = _OWNER_OF.get(id(config))
    if entry is None or entry[0] is not config:
        if len(_OWNER_OF) >= 8:
            _OWNER_OF.clear()
        entry = _OWNER_OF[id(config)] = (config, owners(config))
    return entry[1](labels)


_COUNTERS = {
    "requests": "llm.requests_total",
    "prompt_tokens": "llm.prompt_tokens_total",
    "output_tokens": "llm.generation_tokens_total",
    "energy": "gpu.energy_joules_total",
}
_PRESENCE = "gpu.util"


def kpis(
    rt: Runtime, start_ms: int, end_ms: int, by: str = "service", max_gap_s: float = 300.0
) -> list[KpiRow]:
    """Requests/s, tokens/s, tokens per joule and GPU-hours per service, model or team."""
    if by not in ("service", "model", "team"):
        raise ValueError(f"group by service, model or team, not {by!r}")
    owner = owners(rt.config)
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for key, metric in [*_COUNTERS.items(), ("gpu_seconds", _PRESENCE)]:
        per_series = _by_series(rt, metric, start_ms, end_ms)
        infos = rt.store.timeseries.series(metric)
        for sid, (ts, values) in per_series.items():
            svc = owner(infos[sid].labels) if sid in infos else None
            group = (
                "unattributed"
                if svc is None
                else (svc.name if by == "service" else svc.model if by == "model" else svc.team)
            )
            if key == "gpu_seconds":
                totals[group][key] += covered_seconds(ts, values, max_gap_s)
            else:
                totals[group][key] += increase(values)
    window = (end_ms - start_ms) / 1000
    return [
        kpi_row(
            g,
            window,
            requests=t["requests"],
            prompt_tokens=t["prompt_tokens"],
            output_tokens=t["output_tokens"],
            energy_joules=t["energy"],
            gpu_seconds=t["gpu_seconds"],
        )
        for g, t in sorted(totals.items())
    ]


def _by_series(
    rt: Runtime, metric: str, start_ms: int, end_ms: int
) -> dict[int, tuple[list[int], list[float]]]:
    table = rt.store.timeseries.query_samples(metric, start_ms, end_ms)
    out: dict[int, tuple[list[int], list[float]]] = {}
    for sid, ts, value in zip(
        table.column("series_id").to_pylist(),
        table.column("ts").to_pylist(),
        table.column("value").to_pylist(),
        strict=True,
    ):
        entry = out.setdefault(sid, ([], []))
        entry[0].append(ts)
        entry[1].append(value)
    return out


def as_json(value: Any) -> Any:
    """Dataclasses to JSON-ready dicts (NaN to None)."""
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return {k: as_json(v) for k, v in asdict(value).items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    return value
