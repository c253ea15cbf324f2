"""`perfops slo` over the lake: each SLO's events per window, then the pure engine's verdict.

Latency and goodput SLIs are exact, from the load-test request records of the service's
endpoint; availability and histogram latency SLIs come from the scraped counters (Prometheus'
``increase`` semantics); GPU health from the DCGM series. Ratio SLIs are PromQL and are
evaluated by the generated recording rules in Prometheus, not here.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from perfops._internal.durations import format_duration
from perfops.app._sli import Counts, Reader, Window, request_counts
from perfops.app.runtime import Runtime
from perfops.config import SLO, Service
from perfops.config.models import AvailabilitySLI, GoodputSLI, GpuHealthSLI, LatencySLI
from perfops.errors import UsageError
from perfops.slo import (
    AlertState,
    Budget,
    WindowSet,
    error_budget,
    evaluate_alerts,
    feasibility,
    load_window_set,
)
from perfops.slo.engine import burn_rate
from perfops.store import window_range

__all__ = [
    "SloStatus",
    "counts_for",
    "period_of",
    "request_checks",
    "slo_history",
    "slo_status",
    "slo_statuses",
]

_GOOD_OUTCOMES = ("stop", "length", "success")


@dataclass
class SloStatus:
    name: str
    service: str
    kind: str
    objective_pct: float
    period: str
    sli_pct: float | None
    good: float
    total: float
    budget: Budget | None
    burn_rates: dict[str, float] = field(default_factory=dict)
    alerts: list[AlertState] = field(default_factory=list)
    note: str = ""

    @property
    def firing(self) -> list[str]:
        return [
            f"{a.severity} {format_duration(a.long_window)}/{format_duration(a.short_window)}"
            for a in self.alerts
            if a.firing
        ]


def period_of(slo: SLO, now_ms: int) -> tuple[int, str]:
    """Start of the SLO period in ms, and its name (rolling 28d, or the calendar week/month)."""
    if isinstance(slo.window, str):
        now = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        start = (
            day - dt.timedelta(days=now.weekday()) if slo.window == "week" else day.replace(day=1)
        )
        return int(start.timestamp() * 1000), f"calendar {slo.window}"
    return now_ms - int(slo.window * 1000), f"rolling {format_duration(slo.window)}"


def request_checks(slo: SLO) -> list[Callable[[dict[str, Any]], bool]]:
    sli = slo.sli
    thresholds = (
        {sli.metric: sli.threshold}
        if isinstance(sli, LatencySLI)
        else dict(sli.thresholds)
        if isinstance(sli, GoodputSLI)
        else {}
    )
    return [_check(metric, limit) for metric, limit in thresholds.items()]


def _check(metric: str, limit: float) -> Callable[[dict[str, Any]], bool]:
    def value(row: dict[str, Any]) -> float:
        sent: int = row["sent_ns"]
        first: int | None = row["first_token_ns"]
        end: int | None = row["end_ns"]
        if metric == "itl":
            gaps: list[int] = row["chunk_gaps_us"] or []
            return max(gaps) / 1e6 if gaps else 0.0
        if first is None or end is None:
            return math.inf
        if metric == "ttft":
            return (first - sent) / 1e9
        if metric == "e2e":
            return (end - sent) / 1e9
        out = int(row["output_tokens"] or 0)
        return (end - first) / 1e9 / (out - 1) if out > 1 else 0.0

    return lambda row: value(row) <= limit + 1e-12


_HISTOGRAMS = {
    "ttft": "llm.ttft_seconds",
    "itl": "llm.itl_seconds",
    "e2e": "llm.e2e_seconds",
    "tpot": "llm.tpot_seconds",
}


class _Lake:
    """One :class:`Reader` for all windows asked of the SLOs at hand; a window it was not
    built for gets a reader of its own."""

    def __init__(self, rt: Runtime, windows: list[Window], *, closed: bool = False) -> None:
        self.rt = rt
        self.reader = Reader(rt.store, windows, closed=closed)
        self.windows = windows

    def read(self, window: Window) -> Reader:
        if window in self.reader.windows:
            return self.reader
        return Reader(self.rt.store, [window], closed=self.reader.closed)

    def ids(self, metric: str, matchers: str | dict[str, str]) -> list[int]:
        return list(self.rt.store.timeseries.series(metric, matchers))


def _histogram_counts(lake: _Lake, svc: Service, sli: LatencySLI) -> Counts:
    """Requests at or under the threshold from the engine's histogram: the threshold must be
    one of the live bucket boundaries, as in Prometheus."""
    family = _HISTOGRAMS[sli.metric]
    buckets = lake.rt.store.timeseries.series(f"{family}_bucket", {"service": svc.name})
    bounds = sorted({float(i.labels["le"]) for i in buckets.values() if "le" in i.labels})
    match = next((b for b in bounds if math.isclose(b, sli.threshold, rel_tol=1e-9)), None)
    if bounds and match is None:
        below = max((b for b in bounds if b < sli.threshold), default=None)
        above = min((b for b in bounds if b > sli.threshold), default=None)
        raise UsageError(
            f"{sli.threshold:g}s is not a bucket boundary of {family} for service {svc.name}",
            hint=f"the nearest boundaries are {below}s and {above}s; use one, or "
            "source: requests for an exact SLI",
        )
    good_ids = [sid for sid, i in buckets.items() if float(i.labels.get("le", "nan")) == match]
    total_ids = lake.ids(f"{family}_count", {"service": svc.name})

    def counts(start_ms: int, end_ms: int) -> tuple[float, float]:
        reader = lake.read((start_ms, end_ms))
        good = reader.increase(f"{family}_bucket", good_ids, (start_ms, end_ms))
        total = reader.increase(f"{family}_count", total_ids, (start_ms, end_ms))
        return good, total

    return counts


def _counter_counts(lake: _Lake, svc: Service) -> Counts:
    """Finished requests by outcome, from the scraped ``llm.requests_total`` (vLLM counts
    aborts and errors there too: only stop, length and success are good)."""
    metric = "llm.requests_total"
    total_ids = lake.ids(metric, {"service": svc.name})
    good_ids = lake.ids(metric, f'service="{svc.name}",outcome=~"{"|".join(_GOOD_OUTCOMES)}"')

    def counts(start_ms: int, end_ms: int) -> tuple[float, float]:
        reader = lake.read((start_ms, end_ms))
        total = reader.increase(metric, total_ids, (start_ms, end_ms))
        good = reader.increase(metric, good_ids, (start_ms, end_ms))
        return good, total

    return counts


_THROTTLED = 0xEC  # clocks event reasons that slow a GPU: power cap, HW slowdown, thermal


def _gpu_counts(lake: _Lake, svc: Service) -> Counts:
    """GPU-time free of XID errors and throttling: of the samples of ``gpu.xid``, those that
    are zero and whose GPU's ``gpu.clocks_event_reasons`` shows no throttle bit. The two are
    scraped together, so the bad samples are the XID ones plus the throttled ones, capped at
    all samples (a sample both throttled and in XID would count twice otherwise)."""
    ids = lake.ids("gpu.xid", {"service": svc.name})
    reasons = lake.ids("gpu.clocks_event_reasons", {"service": svc.name})

    def throttled(start_ms: int, end_ms: int) -> int:
        if not reasons:
            return 0
        return lake.rt.store.timeseries.count_flagged(
            "gpu.clocks_event_reasons", reasons, *window_range(start_ms, end_ms), _THROTTLED
        )

    def counts(start_ms: int, end_ms: int) -> tuple[float, float]:
        n, bad = lake.read((start_ms, end_ms)).sample_counts("gpu.xid", ids, (start_ms, end_ms))
        bad = min(n, bad + throttled(start_ms, end_ms))
        return float(n - bad), float(n)

    return counts


def counts_for(rt: Runtime, slo: SLO, lake: _Lake | None = None) -> Counts | None:
    lake = lake or _Lake(rt, [])
    svc = rt.config.service(slo.service)
    sli = slo.sli
    if isinstance(sli, GoodputSLI) or (isinstance(sli, LatencySLI) and sli.source == "requests"):
        checks = request_checks(slo)
        return request_counts(
            rt.store, svc.endpoint, lambda row: all(c(row) for c in checks), lake.windows
        )
    if isinstance(sli, LatencySLI):
        return _histogram_counts(lake, svc, sli)
    if isinstance(sli, AvailabilitySLI):
        return _counter_counts(lake, svc)
    if isinstance(sli, GpuHealthSLI):
        return _gpu_counts(lake, svc)
    return None


def _status_windows(slo: SLO, now_ms: int) -> tuple[int, str, WindowSet, list[Window]]:
    start_ms, period = period_of(slo, now_ms)
    windows = load_window_set(
        slo.alerting,
        period_s=(now_ms - start_ms) / 1000 if isinstance(slo.window, str) else slo.window,
    )
    wanted = [(start_ms, now_ms)] + [
        (now_ms - int(w * 1000), now_ms) for w in windows.window_lengths()
    ]
    return start_ms, period, windows, wanted


def slo_statuses(
    rt: Runtime, slos: Sequence[SLO], *, min_events: int = 10, at_ms: int | None = None
) -> list[SloStatus]:
    """:func:`slo_status` of many SLOs, their windows read from the lake together."""
    now_ms = rt.clock.now_ns() // 1_000_000 if at_ms is None else at_ms
    plans = [_status_windows(slo, now_ms) for slo in slos]
    lake = _Lake(rt, [w for plan in plans for w in plan[3]])
    return [
        _status(rt, slo, lake, plan, min_events=min_events)
        for slo, plan in zip(slos, plans, strict=True)
    ]


def slo_status(
    rt: Runtime, slo: SLO, *, min_events: int = 10, at_ms: int | None = None
) -> SloStatus:
    """The SLO now (or as of ``at_ms``, every window ending there): SLI over its period,
    budget left, burn rate per alert window, alerts."""
    return slo_statuses(rt, [slo], min_events=min_events, at_ms=at_ms)[0]


def _status(
    rt: Runtime,
    slo: SLO,
    lake: _Lake,
    plan: tuple[int, str, WindowSet, list[Window]],
    *,
    min_events: int,
) -> SloStatus:
    start_ms, period, windows, wanted = plan
    counts = counts_for(rt, slo, lake)
    if counts is None:
        return SloStatus(
            slo.name,
            slo.service,
            slo.sli.kind,
            slo.objective,
            period,
            None,
            0,
            0,
            None,
            note="PromQL ratio SLI: evaluated by the generated rules",
        )
    good, total = counts(*wanted[0])
    lengths = windows.window_lengths()
    by_window = {w: counts(*window) for w, window in zip(lengths, wanted[1:], strict=True)}
    alerts = evaluate_alerts(by_window, slo.objective, windows, min_events=min_events)
    warnings = feasibility(slo.objective, windows)
    burns = {
        format_duration(w): burn_rate(t - g, t, slo.objective) for w, (g, t) in by_window.items()
    }
    return SloStatus(
        slo.name,
        slo.service,
        slo.sli.kind,
        slo.objective,
        period,
        100.0 * good / total if total else None,
        good,
        total,
        error_budget(slo.objective, good, total),
        burns,
        alerts,
        "; ".join([*warnings, *([] if total else ["no events in the period yet"])]),
    )


def slo_history(
    rt: Runtime, slo: SLO, *, at_ms: int | None = None
) -> list[tuple[str, float, float, float | None]]:
    """Per day of the period ending now (or at ``at_ms``): (day, good, total, budget
    remaining % at the end of the day)."""
    now_ms = rt.clock.now_ns() // 1_000_000 if at_ms is None else at_ms
    start_ms, _ = period_of(slo, now_ms)
    day_ms = 86_400_000
    days = range(start_ms - start_ms % day_ms, now_ms + 1, day_ms)
    spans = [(max(day, start_ms), min(day + day_ms, now_ms)) for day in days]
    counts = counts_for(rt, slo, _Lake(rt, spans))
    if counts is None:
        return []
    out, good_sum, total_sum = [], 0.0, 0.0
    for day, (lo, hi) in zip(days, spans, strict=True):
        good, total = counts(lo, hi)
        good_sum, total_sum = good_sum + good, total_sum + total
        left = error_budget(slo.objective, good_sum, total_sum).remaining_pct if total_sum else None
        stamp = dt.datetime.fromtimestamp(day / 1000, dt.UTC).date().isoformat()
        out.append((stamp, good, total, left))
    return out
