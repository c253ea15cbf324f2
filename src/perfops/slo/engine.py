"""Error budgets, burn rates and multiwindow, multi-burn-rate alerts as pure functions.

Definitions (SRE workbook, "Alerting on SLOs"): budget B = 1 - objective; error ratio
E(w) = bad/total over window w; burn rate E(w)/B; an alert with factor b fires when
E(long) > b·B and E(short) > b·B.

Objectives are read at their decimal face value (99.9 means exactly 999/1000) and the ratios
are computed with exact fractions, so 72 bad of 5,000 at 99.9% is a burn rate of exactly 14.4
and does *not* exceed a 14.4x threshold (the comparison is strict, as in Sloth's ``>``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from perfops._internal.durations import format_duration
from perfops._internal.error_budget import budget_fraction, budget_spent, burn_rate, error_ratio
from perfops.slo.windows import AlertWindow, Severity, WindowSet

__all__ = [
    "AlertState",
    "Budget",
    "budget_spent",
    "CounterSpan",
    "burn_rate",
    "detection_time_s",
    "error_budget",
    "evaluate_alerts",
    "feasibility",
    "extrapolated_increase",
    "increase",
    "join_spans",
    "span_of",
    "window_counts",
]


@dataclass(frozen=True, slots=True)
class Budget:
    """An error budget over the SLO window.

    ``total_fraction`` is the budget as a share of events (1 - objective); ``consumed`` the share
    of the budget spent (bad/total over the budget). ``remaining_fraction`` = 1 - consumed and
    goes negative once the SLO is missed: -0.5 means 150% of the budget is spent.
    """

    total_fraction: float
    consumed: float
    remaining_fraction: float
    remaining_pct: float


@dataclass(frozen=True, slots=True)
class AlertState:
    """The verdict of one multiwindow alert; windows in seconds, burns as multiples of budget."""

    severity: Severity
    long_window: float
    short_window: float
    factor: float
    long_burn: float
    short_burn: float
    firing: bool
    reason: str


_budget = budget_fraction
_ratio = error_ratio


def error_budget(objective_pct: float, good: float, total: float) -> Budget:
    """The budget left after ``good`` of ``total`` events met the objective.

    No events spend nothing. A 100% objective has no budget: any bad event spends infinitely much.
    """
    budget = _budget(objective_pct)
    bad = total - good
    consumed = 0.0 if total <= 0 else budget_spent(bad, total, objective_pct)
    remaining = 1.0 - consumed
    return Budget(float(budget), consumed, remaining, remaining * 100.0)


def evaluate_alerts(
    counts_by_window: Mapping[float, tuple[float, float]],
    objective_pct: float,
    window_set: WindowSet,
    *,
    min_events: int,
) -> list[AlertState]:
    """Evaluate every alert of ``window_set``, in its order.

    ``counts_by_window`` maps a window length in seconds to its ``(good, total)`` events; it needs
    every length in ``window_set.window_lengths()``. An alert fires when both windows' error
    ratios exceed factor × budget, unless its long window saw fewer than ``min_events`` events
    (the low-traffic guard, sloth PR #459).
    """
    missing = [w for w in window_set.window_lengths() if w not in counts_by_window]
    if missing:
        names = ", ".join(format_duration(w) for w in missing)
        raise ValueError(f"no (good, total) counts for window(s) {names}")
    return [_evaluate(w, counts_by_window, objective_pct, min_events) for w in window_set.windows]


def _evaluate(
    window: AlertWindow,
    counts: Mapping[float, tuple[float, float]],
    objective_pct: float,
    min_events: int,
) -> AlertState:
    long_counts, short_counts = counts[window.long_s], counts[window.short_s]
    long_burn = burn_rate(long_counts[1] - long_counts[0], long_counts[1], objective_pct)
    short_burn = burn_rate(short_counts[1] - short_counts[0], short_counts[1], objective_pct)
    firing, reason = _verdict(window, long_counts, short_counts, objective_pct, min_events)
    return AlertState(
        window.severity, window.long_s, window.short_s, window.factor,
        long_burn, short_burn, firing, reason,
    )  # fmt: skip


def _verdict(
    window: AlertWindow,
    long_counts: tuple[float, float],
    short_counts: tuple[float, float],
    objective_pct: float,
    min_events: int,
) -> tuple[bool, str]:
    long_name, short_name = format_duration(window.long_s), format_duration(window.short_s)
    if long_counts[1] < min_events:
        return False, (
            f"low traffic: {long_name} window has {long_counts[1]:g} events, "
            f"fewer than min_events={min_events}"
        )
    named = ((long_name, long_counts), (short_name, short_counts))
    empty = [name for name, (_, total) in named if total <= 0]
    if empty:
        return False, f"no events in the {' and '.join(empty)} window"
    threshold = Fraction(repr(window.factor)) * _budget(objective_pct)
    slow = [name for name, (good, total) in named if not _ratio(total - good, total) > threshold]
    if slow:
        return False, f"{' and '.join(slow)} burn not above {window.factor:g}x"
    return True, f"{long_name} and {short_name} burn both above {window.factor:g}x"


def feasibility(objective_pct: float, window_set: WindowSet) -> list[str]:
    """Warnings for alerts that can never fire: an error ratio cannot exceed 1, so b·B >= 1
    makes E > b·B impossible. Each names the alert and the objective it needs (above 1 - 1/b).
    """
    budget = _budget(objective_pct)
    warnings = []
    for w in window_set.windows:
        factor = Fraction(repr(w.factor))
        if factor * budget >= 1:
            warnings.append(
                f"{w.severity} alert {format_duration(w.long_s)}/{format_duration(w.short_s)} at "
                f"{w.factor:g}x can never fire on a {objective_pct:g}% objective: "
                f"{w.factor:g} x {float(budget) * 100:g}% budget = "
                f"{float(factor * budget) * 100:.4g}% error ratio, above 100%; it needs an "
                f"objective above {float(1 - 1 / factor) * 100:.2f}% (1 - 1/{w.factor:g})"
            )
    return warnings


def detection_time_s(
    error_rate: float, factor: float, budget: float, long_window_s: float
) -> float:
    """Seconds until an alert fires at a constant ``error_rate``: t = b·B·L/e.

    ``budget`` is a fraction (0.001 for 99.9%). 14.4 x 0.001 x 3600 s / 1.0 = 51.84 s for a total
    outage. Infinite when ``error_rate`` is 0; the short window is assumed to fill first.
    """
    if error_rate <= 0:
        return math.inf
    return factor * budget * long_window_s / error_rate


@dataclass(frozen=True, slots=True)
class CounterSpan:
    """A stretch of one counter's samples, summarised so that stretches combine exactly:
    ``n`` samples from ``first`` at ``first_ts`` to ``last`` at ``last_ts`` (ms), and
    ``resets``, the sum of the values just before each drop (Prometheus' reset correction).
    Raw samples, hourly rollups and minutes at a window's edge all become spans."""

    first_ts: int
    first: float
    last_ts: int
    last: float
    n: int
    resets: float = 0.0

    def then(self, later: CounterSpan) -> CounterSpan:
        """This span followed by ``later``: a drop across the seam is a reset as well."""
        seam = self.last if later.first < self.last else 0.0
        return CounterSpan(
            self.first_ts,
            self.first,
            later.last_ts,
            later.last,
            self.n + later.n,
            self.resets + seam + later.resets,
        )


def span_of(ts_ms: Sequence[int], values: Sequence[float]) -> CounterSpan | None:
    """The span of time-ordered samples (non-finite values, such as staleness markers, are
    skipped as Prometheus skips them); None when there is no finite sample."""
    points = [(t, v) for t, v in zip(ts_ms, values, strict=True) if math.isfinite(v)]
    if not points:
        return None
    vals = [v for _, v in points]
    return CounterSpan(
        points[0][0], vals[0], points[-1][0], vals[-1], len(points), _reset_correction(vals)
    )


def join_spans(spans: Iterable[CounterSpan | None]) -> CounterSpan | None:
    """Consecutive spans of one counter as one."""
    out: CounterSpan | None = None
    for span in spans:
        if span is not None:
            out = span if out is None else out.then(span)
    return out


def extrapolated_increase(span: CounterSpan | None, start_ms: int, end_ms: int) -> float:
    """Prometheus' ``increase(counter[end-start])`` at ``end_ms`` from the span of the samples
    in the range: see :func:`increase`."""
    if span is None or span.n < 2:
        return math.nan
    result = span.last - span.first + span.resets
    sampled = (span.last_ts - span.first_ts) / 1000
    average = sampled / (span.n - 1)
    threshold = average * 1.1
    to_start = (span.first_ts - start_ms) / 1000
    to_end = (end_ms - span.last_ts) / 1000
    if to_start >= threshold:
        to_start = average / 2
    if result > 0 and span.first >= 0:
        to_start = min(to_start, sampled * (span.first / result))
    if to_end >= threshold:
        to_end = average / 2
    return result * ((sampled + to_start + to_end) / sampled)


def increase(ts_ms: Sequence[int], values: Sequence[float], start_ms: int, end_ms: int) -> float:
    """Prometheus' ``increase(counter[end-start])`` evaluated at ``end_ms``.

    Follows ``extrapolatedRate`` in prometheus/promql/functions.go (3.x): samples in the
    left-open range (start, end] (Prometheus 2.x used a closed range); NaN with fewer than two
    (where Prometheus returns no sample); a drop in value is a counter reset, adding the value
    before it; the result extrapolates to each range edge when the first/last sample lies within
    1.1 x the average sample interval of it, else by half an interval; and the start is never
    extrapolated past the counter's zero point. Same float64 operations in the same order, so
    results agree with Prometheus to within float rounding (relative 1e-12 in the tests).
    """
    inside = [(t, v) for t, v in zip(ts_ms, values, strict=True) if start_ms < t <= end_ms]
    span = span_of([t for t, _ in inside], [v for _, v in inside])
    return extrapolated_increase(span, start_ms, end_ms)


def _reset_correction(values: Sequence[float]) -> float:
    return sum(prev for prev, cur in zip(values, values[1:], strict=False) if cur < prev)


def window_counts(
    ts_ms: Sequence[int],
    good: Sequence[float],
    total: Sequence[float],
    *,
    end_ms: int,
    windows_s: Sequence[float],
) -> dict[float, tuple[float, float]]:
    """``(good, total)`` increases over each window ending at ``end_ms``, for
    :func:`evaluate_alerts`. ``good`` and ``total`` are counters scraped at the same ``ts_ms``.
    """
    counts = {}
    for window in windows_s:
        start_ms = end_ms - round(window * 1000)
        counts[window] = (
            increase(ts_ms, good, start_ms, end_ms),
            increase(ts_ms, total, start_ms, end_ms),
        )
    return counts
