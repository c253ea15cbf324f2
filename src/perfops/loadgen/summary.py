"""A load test's results: counts, errors by kind, rates, goodput and latency percentiles, from
HDR-style histograms, with the definitions printed alongside."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from perfops.loadgen.histogram import LatencyHistogram as Histogram
from perfops.loadgen.records import DEFINITIONS, RequestRecord
from perfops.loadgen.slo import Threshold

__all__ = ["LAG_BUDGET_S", "Summary", "meets", "summarize"]

LAG_BUDGET_S = 0.005  # p99 schedule lag above this: the client, not the server, set the pace


def _metric(rec: RequestRecord, name: str) -> float | None:
    return {"ttft": rec.ttft_s, "tpot": rec.tpot_s, "e2e": rec.e2e_s}.get(name)


def meets(rec: RequestRecord, slo: Sequence[Threshold]) -> bool:
    """The request finished and met every threshold, each judged on the request itself (the
    goodput definition): ITL is its largest chunk gap."""
    if not rec.ok:
        return False
    for t in slo:
        if t.metric == "itl":
            if any(g / 1e9 > t.seconds for g in rec.chunk_gaps_ns):
                return False
            continue
        value = _metric(rec, t.metric)
        if value is not None and value > t.seconds:
            return False
    return True


@dataclass
class Summary:
    count: int
    completed: int
    errors: dict[str, int]
    duration_s: float
    requests_per_s: float
    output_tokens: int
    output_tokens_per_s: float
    goodput_rps: float | None
    good_fraction: float | None
    tokens_source: dict[str, int]
    latency_ms: dict[str, dict[str, float]]
    lag_ms: dict[str, float]
    client_limited: bool
    slo: list[str] = field(default_factory=list)
    slo_met: bool | None = None
    slo_detail: dict[str, dict[str, float | bool]] = field(default_factory=dict)
    definitions: dict[str, str] = field(default_factory=lambda: dict(DEFINITIONS))

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        cleaned: dict[str, Any] = _clean(asdict(self))
        return cleaned


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _ms(h: Histogram) -> dict[str, float]:
    out = {k: v * 1000 for k, v in h.percentiles().items()}
    out["mean"] = h.mean * 1000 if h.count else math.nan
    out["count"] = float(h.count)
    return out


def summarize(
    records: Sequence[RequestRecord],
    slo: Sequence[Threshold] = (),
    lag_budget_s: float = LAG_BUDGET_S,
) -> Summary:
    """Aggregate ``records`` (one load test, or one step of a sweep)."""
    hists = {
        k: Histogram()
        for k in ("ttft", "ttft_from_schedule", "tpot", "itl", "e2e", "e2e_from_schedule")
    }
    lag = Histogram()
    ok = [r for r in records if r.ok]
    for r in records:
        lag.record(max(0.0, r.lag_s))
    for r in ok:
        for key, value in (
            ("ttft", r.ttft_s),
            ("ttft_from_schedule", r.ttft_sched_s),
            ("tpot", r.tpot_s),
            ("e2e", r.e2e_s),
            ("e2e_from_schedule", r.e2e_sched_s),
        ):
            if value is not None:
                hists[key].record(max(0.0, value))
        if r.chunk_gaps_ns:
            hists["itl"].record_many([g / 1e9 for g in r.chunk_gaps_ns])
    start = min((r.scheduled_ns for r in records), default=0)
    end = max((r.end_ns or r.sent_ns for r in records), default=0)
    duration = max(0.0, (end - start) / 1e9)
    tokens = sum(r.output_tokens for r in ok)
    per_s = (lambda x: x / duration) if duration > 0 else (lambda x: 0.0)
    good = sum(1 for r in ok if meets(r, slo)) if slo else None
    latency = {k: _ms(h) for k, h in hists.items()}
    lag_ms = {k: v * 1000 for k, v in lag.percentiles().items()}
    detail, met = _judge(slo, hists, len(records), len(ok))
    return Summary(
        count=len(records),
        completed=len(ok),
        errors=dict(Counter(r.error for r in records if r.error is not None)),
        duration_s=duration,
        requests_per_s=per_s(len(ok)),
        output_tokens=tokens,
        output_tokens_per_s=per_s(tokens),
        goodput_rps=per_s(good) if good is not None else None,
        good_fraction=(good / len(records)) if good is not None and records else None,
        tokens_source=dict(Counter(r.tokens_source for r in ok)),
        latency_ms=latency,
        lag_ms=lag_ms,
        client_limited=bool(records) and lag.percentile(99) > lag_budget_s,
        slo=[str(t) for t in slo],
        slo_met=met,
        slo_detail=detail,
    )


def _judge(
    slo: Sequence[Threshold], hists: dict[str, Histogram], count: int, completed: int
) -> tuple[dict[str, dict[str, float | bool]], bool | None]:
    """Each threshold against the run's percentile; errors count against the SLO too (a
    request that failed did not meet it)."""
    if not slo:
        return {}, None
    detail: dict[str, dict[str, float | bool]] = {}
    met = count > 0 and completed == count
    for t in slo:
        h = hists[t.metric]
        observed = h.percentile(t.quantile) * 1000 if h.count else math.nan
        ok = not math.isnan(observed) and observed <= t.seconds * 1000
        detail[t.key] = {"observed_ms": observed, "limit_ms": t.seconds * 1000, "met": ok}
        met = met and ok
    return detail, met
