"""Business KPIs from stored series, computed at query time (pure functions).

Counter increases follow Prometheus' ``increase()`` without its extrapolation: a drop in value
is a counter reset (the counter restarted from zero), NaN and staleness markers are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["KpiRow", "covered_seconds", "increase", "kpi_row"]


def increase(values: Sequence[float]) -> float:
    """How much a counter grew over ``values`` (in time order), across resets."""
    total, prev = 0.0, None
    for v in values:
        if math.isnan(v):
            continue
        if prev is not None:
            total += v - prev if v >= prev else v
        prev = v
    return total


def covered_seconds(ts_ms: Sequence[int], values: Sequence[float], max_gap_s: float) -> float:
    """Seconds a series was present: gaps between consecutive live samples, a gap longer than
    ``max_gap_s`` (or ending at a staleness marker) counting as absence."""
    total, prev = 0.0, None
    for ts, v in zip(ts_ms, values, strict=True):
        if math.isnan(v):
            prev = None
            continue
        if prev is not None:
            gap = (ts - prev) / 1000
            if gap <= max_gap_s:
                total += gap
        prev = ts
    return total


@dataclass(frozen=True, slots=True)
class KpiRow:
    group: str
    window_s: float
    requests: float
    requests_per_s: float
    prompt_tokens: float
    output_tokens: float
    output_tokens_per_s: float
    energy_joules: float
    output_tokens_per_joule: float | None
    gpu_hours: float


def kpi_row(
    group: str,
    window_s: float,
    *,
    requests: float,
    prompt_tokens: float,
    output_tokens: float,
    energy_joules: float,
    gpu_seconds: float,
) -> KpiRow:
    per_s = (lambda x: x / window_s) if window_s > 0 else (lambda x: 0.0)
    return KpiRow(
        group,
        window_s,
        requests,
        per_s(requests),
        prompt_tokens,
        output_tokens,
        per_s(output_tokens),
        energy_joules,
        output_tokens / energy_joules if energy_joules > 0 else None,
        gpu_seconds / 3600,
    )
