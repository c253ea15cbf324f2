"""A load test's results: counts, errors by kind, rates, goodput and latency percentiles, with
the definitions printed alongside. Percentiles are exact nearest-rank over the run's requests
(the one definition, shared with the SLO judge), and the SLO verdict is the judge's."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perfops._internal.percentiles import nearest_rank
from perfops.loadgen.judge import (
    MIN_SAMPLES_RULE,
    PERCENTILE_DEFINITION,
    LatencySamples,
    Verdict,
    judge,
    request_meets,
)
from perfops.loadgen.records import DEFINITIONS, RequestRecord
from perfops.loadgen.slo import Threshold

__all__ = [
    "LAG_BUDGET_S",
    "TARGET_LATE_SHARE",
    "Summary",
    "latency_samples",
    "meets",
    "meets_limits",
    "summarize",
]

LAG_BUDGET_S = 0.005  # p99 schedule lag above this: the client, not the server, set the pace
# The target's own lag (perfops sim's perfops_sim_loop_lag_seconds): more than this share of
# its engine steps ending over LAG_BUDGET_S late (its p99 over budget) means its CPU, not its
# model, set the latencies: the run is target-limited.
TARGET_LATE_SHARE = 0.01
_QS = (50.0, 90.0, 95.0, 99.0, 99.9)


def meets(rec: RequestRecord, slo: Sequence[Threshold]) -> bool:
    """The request finished and met every threshold, each judged on the request itself (the
    goodput definition, :func:`~perfops.loadgen.judge.request_meets`)."""
    return meets_limits(rec, [(t.metric, t.seconds) for t in slo])


def meets_limits(rec: RequestRecord, limits: Iterable[tuple[str, float]]) -> bool:
    """:func:`meets` for ``(metric, seconds)`` limits (an SLO's, rather than a load's)."""
    return request_meets(
        limits,
        failed=not rec.ok,
        sent_ns=rec.sent_ns,
        first_token_ns=rec.first_token_ns,
        end_ns=rec.end_ns,
        output_tokens=rec.output_tokens,
        max_gap_s=max(rec.chunk_gaps_ns, default=0) / 1e9,
    )


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
    slo_detail: dict[str, dict[str, Any]] = field(default_factory=dict)
    slo_margin: float | None = None  # worst threshold's observed/limit (None: nothing judged)
    target_limited: bool | None = None  # None: the server's loop lag was not scraped
    invalid: list[str] = field(default_factory=list)  # why the verdict cannot be trusted
    definitions: dict[str, str] = field(
        default_factory=lambda: {
            **DEFINITIONS,
            "percentile": PERCENTILE_DEFINITION,
            "min_samples": MIN_SAMPLES_RULE,
        }
    )

    @property
    def valid(self) -> bool:
        return not self.invalid

    def flag_target(self, steps: float, late: float) -> None:
        """Judge the target's own loop lag during the run: ``late`` of its ``steps`` engine
        iterations ended more than LAG_BUDGET_S behind. A limited target invalidates the run."""
        if steps <= 0:
            return
        share = late / steps
        self.target_limited = share > TARGET_LATE_SHARE
        if self.target_limited:
            self.invalid.append(
                f"target-limited: {share:.1%} of the server's engine steps ended more than "
                f"{LAG_BUDGET_S * 1000:g} ms late (budget {TARGET_LATE_SHARE:.0%}): its CPU, "
                "not its model, set these latencies"
            )

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        cleaned: dict[str, Any] = _clean({**asdict(self), "valid": self.valid})
        return cleaned


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _array(values: Sequence[float | None]) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.maximum(np.array([v for v in values if v is not None], dtype=np.float64), 0.0)


def latency_samples(records: Sequence[RequestRecord]) -> LatencySamples:
    """What the judge reads of a load test: latencies of the completed requests, from the
    send (service time), one ITL sample per chunk gap."""
    ok = [r for r in records if r.ok]
    return LatencySamples(
        ttft=_array([r.ttft_s for r in ok]),
        tpot=_array([r.tpot_s for r in ok]),
        e2e=_array([r.e2e_s for r in ok]),
        itl=_array([g / 1e9 for r in ok for g in r.chunk_gaps_ns]),
        requests=len(records),
        failed=len(records) - len(ok),
    )


def _ms(values: np.ndarray[Any, np.dtype[np.float64]]) -> dict[str, float]:
    out = {f"p{q:g}": v * 1000 for q, v in zip(_QS, nearest_rank(values, _QS), strict=True)}
    out["mean"] = float(values.mean()) * 1000 if len(values) else math.nan
    out["count"] = float(len(values))
    return out


def summarize(
    records: Sequence[RequestRecord],
    slo: Sequence[Threshold] = (),
    lag_budget_s: float = LAG_BUDGET_S,
) -> Summary:
    """Aggregate ``records`` (one load test, or one step of a sweep)."""
    samples = latency_samples(records)
    ok = [r for r in records if r.ok]
    sched = {
        "ttft_from_schedule": _array([r.ttft_sched_s for r in ok]),
        "e2e_from_schedule": _array([r.e2e_sched_s for r in ok]),
    }
    latency = {k: _ms(samples.values(k)[0]) for k in ("ttft", "tpot", "itl", "e2e")}
    latency.update({k: _ms(v) for k, v in sched.items()})
    lag = _array([r.lag_s for r in records])
    (lag_p99,) = nearest_rank(lag, [99.0])
    start = min((r.scheduled_ns for r in records), default=0)
    end = max((r.end_ns or r.sent_ns for r in records), default=0)
    duration = max(0.0, (end - start) / 1e9)
    tokens = sum(r.output_tokens for r in ok)
    per_s = (lambda x: x / duration) if duration > 0 else (lambda x: 0.0)
    good = sum(1 for r in ok if meets(r, slo)) if slo else None
    verdict = judge(samples, slo)
    client_limited = bool(records) and lag_p99 > lag_budget_s
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
        lag_ms={
            k: v * 1000
            for k, v in zip((f"p{q:g}" for q in _QS), nearest_rank(lag, _QS), strict=True)
        },  # fmt: skip
        client_limited=client_limited,
        slo=[str(t) for t in slo],
        slo_met=verdict.met,
        slo_detail={t.threshold.key: t.as_dict() for t in verdict.thresholds},
        slo_margin=verdict.margin if slo else None,
        invalid=_invalid(verdict, client_limited, lag_p99, lag_budget_s),
    )


def _invalid(verdict: Verdict, client_limited: bool, lag_p99: float, budget: float) -> list[str]:
    out = list(verdict.invalid)
    if client_limited:
        out.append(
            f"client-limited: p99 schedule lag {lag_p99 * 1000:.1f} ms is over the "
            f"{budget * 1000:g} ms budget, so the client, not the server, set the pace"
        )
    return out
