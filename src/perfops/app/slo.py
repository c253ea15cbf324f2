"""`perfops slo` over the lake: each SLO's events per window, then the pure engine's verdict.

Latency and goodput SLIs are exact, from the load-test request records of the service's
endpoint; availability and histogram latency SLIs come from the scraped counters (Prometheus'
``increase`` semantics); GPU health from the DCGM series. Ratio SLIs are PromQL and are
evaluated by the generated recording rules in Prometheus, not here.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from perfops._internal.durations import format_duration
from perfops.app.runtime import Runtime
from perfops.config import SLO, Service
from perfops.config.models import AvailabilitySLI, GoodputSLI, GpuHealthSLI, LatencySLI
from perfops.errors import UsageError
from perfops.slo import (
    AlertState,
    Budget,
    error_budget,
    evaluate_alerts,
    feasibility,
    load_window_set,
)
from perfops.slo.engine import burn_rate, increase

__all__ = ["SloStatus", "period_of", "slo_history", "slo_status"]

Counts = Callable[[int, int], tuple[float, float]]  # (start_ms, end_ms) -> (good, total)
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


def _request_counts(rt: Runtime, svc: Service, slo: SLO) -> Counts:
    """Good and total requests of the service's endpoint in a time range, from ``requests``."""
    checks = _request_checks(slo)

    def counts(start_ms: int, end_ms: int) -> tuple[float, float]:
        table = rt.store.sql(
            "SELECT error, sent_ns, first_token_ns, end_ns, output_tokens, chunk_gaps_us "
            "FROM requests WHERE target = ? AND scheduled_ns >= ? AND scheduled_ns < ?",
            [svc.endpoint, start_ms * 1_000_000, end_ms * 1_000_000],
        )
        total = table.num_rows
        good = sum(
            1
            for row in table.to_pylist()
            if row["error"] is None and all(check(row) for check in checks)
        )
        return float(good), float(total)

    return counts


def _request_checks(slo: SLO) -> list[Callable[[dict[str, Any]], bool]]:
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


def _increase_sum(
    rt: Runtime, metric: str, matchers: str | dict[str, str], start_ms: int, end_ms: int
) -> float:
    """Sum over series of Prometheus-style increase() in [start, end)."""
    table = rt.store.query_samples(metric, start_ms - 300_000, end_ms, matchers)
    series: dict[int, tuple[list[int], list[float]]] = {}
    for sid, ts, value in zip(
        table.column("series_id").to_pylist(),
        table.column("ts").to_pylist(),
        table.column("value").to_pylist(),
        strict=True,
    ):
        entry = series.setdefault(sid, ([], []))
        entry[0].append(ts)
        entry[1].append(value)
    total = 0.0
    for ts_list, values in series.values():
        # Prometheus 2.x (the one `make test` installs) selects [t - w, t]; increase() takes
        # (start, end] as Prometheus 3 does, so start 1 ms early to keep the boundary sample.
        grew = increase(ts_list, values, start_ms - 1, end_ms) if len(ts_list) > 1 else 0.0
        total += 0.0 if math.isnan(grew) else grew
    return total


def _histogram_counts(rt: Runtime, svc: Service, sli: LatencySLI) -> Counts:
    """Requests at or under the threshold from the engine's histogram: the threshold must be
    one of the live bucket boundaries, as in Prometheus."""
    family = _HISTOGRAMS[sli.metric]
    bounds = sorted(
        {
            float(i.labels["le"])
            for i in rt.store.series(f"{family}_bucket", {"service": svc.name}).values()
            if "le" in i.labels
        }
    )
    match = next((b for b in bounds if math.isclose(b, sli.threshold, rel_tol=1e-9)), None)
    if bounds and match is None:
        below = max((b for b in bounds if b < sli.threshold), default=None)
        above = min((b for b in bounds if b > sli.threshold), default=None)
        raise UsageError(
            f"{sli.threshold:g}s is not a bucket boundary of {family} for service {svc.name}",
            hint=f"the nearest boundaries are {below}s and {above}s; use one, or "
            "source: requests for an exact SLI",
        )
    le_text = next(
        (
            i.labels["le"]
            for i in rt.store.series(f"{family}_bucket", {"service": svc.name}).values()
            if float(i.labels.get("le", "nan")) == match
        ),
        "",
    )

    def counts(start_ms: int, end_ms: int) -> tuple[float, float]:
        if not bounds:
            return 0.0, 0.0
        good = _increase_sum(
            rt, f"{family}_bucket", {"service": svc.name, "le": le_text}, start_ms, end_ms
        )
        total = _increase_sum(rt, f"{family}_count", {"service": svc.name}, start_ms, end_ms)
        return good, total

    return counts


def _counter_counts(rt: Runtime, svc: Service) -> Counts:
    """Finished requests by outcome, from the scraped ``llm.requests_total`` (vLLM counts
    aborts and errors there too: only stop, length and success are good)."""
    good_matchers = f'service="{svc.name}",outcome=~"{"|".join(_GOOD_OUTCOMES)}"'

    def counts(start_ms: int, end_ms: int) -> tuple[float, float]:
        total = _increase_sum(rt, "llm.requests_total", {"service": svc.name}, start_ms, end_ms)
        good = _increase_sum(rt, "llm.requests_total", good_matchers, start_ms, end_ms)
        return good, total

    return counts


def _gpu_counts(rt: Runtime, svc: Service) -> Counts:
    """GPU-time free of XID errors and throttling, in samples of ``gpu.xid``/``gpu.sm_clock_hz``."""

    def counts(start_ms: int, end_ms: int) -> tuple[float, float]:
        xids = rt.store.query_samples("gpu.xid", start_ms, end_ms, {"service": svc.name})
        values = [v for v in xids.column("value").to_pylist() if not math.isnan(v)]
        bad = sum(1 for v in values if v != 0)
        return float(len(values) - bad), float(len(values))

    return counts


def _counts_for(rt: Runtime, slo: SLO) -> Counts | None:
    svc = rt.config.service(slo.service)
    sli = slo.sli
    if isinstance(sli, GoodputSLI) or (isinstance(sli, LatencySLI) and sli.source == "requests"):
        return _request_counts(rt, svc, slo)
    if isinstance(sli, LatencySLI):
        return _histogram_counts(rt, svc, sli)
    if isinstance(sli, AvailabilitySLI):
        return _counter_counts(rt, svc)
    if isinstance(sli, GpuHealthSLI):
        return _gpu_counts(rt, svc)
    return None


def slo_status(rt: Runtime, slo: SLO, *, min_events: int = 10) -> SloStatus:
    """The SLO now: SLI over its period, budget left, burn rate per alert window, alerts."""
    now_ms = rt.clock.now_ns() // 1_000_000
    start_ms, period = period_of(slo, now_ms)
    counts = _counts_for(rt, slo)
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
    good, total = counts(start_ms, now_ms + 1)
    windows = load_window_set(
        slo.alerting,
        period_s=(now_ms - start_ms) / 1000 if isinstance(slo.window, str) else slo.window,
    )
    by_window = {w: counts(now_ms - int(w * 1000), now_ms + 1) for w in windows.window_lengths()}
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


def slo_history(rt: Runtime, slo: SLO) -> list[tuple[str, float, float, float | None]]:
    """Per day of the period: (day, good, total, budget remaining % at the end of the day)."""
    now_ms = rt.clock.now_ns() // 1_000_000
    start_ms, _ = period_of(slo, now_ms)
    counts = _counts_for(rt, slo)
    if counts is None:
        return []
    out, good_sum, total_sum = [], 0.0, 0.0
    day_ms = 86_400_000
    day = start_ms - start_ms % day_ms
    while day <= now_ms:
        lo, hi = max(day, start_ms), min(day + day_ms, now_ms + 1)
        good, total = counts(lo, hi)
        good_sum, total_sum = good_sum + good, total_sum + total
        left = error_budget(slo.objective, good_sum, total_sum).remaining_pct if total_sum else None
        stamp = dt.datetime.fromtimestamp(day / 1000, dt.UTC).date().isoformat()
        out.append((stamp, good, total, left))
        day += day_ms
    return out
