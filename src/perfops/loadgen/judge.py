"""The one judge of a run against a latency SLO, for load tests and the virtual-time driver.

A run is given as plain arrays (:class:`LatencySamples`): TTFT, TPOT and E2E per request,
ITL per inter-token gap (optionally weighted), and how many requests failed. Each threshold
``metric_pQ <= limit`` is judged on the nearest-rank percentile of its metric (one definition,
:data:`PERCENTILE_DEFINITION`); a failed request fails the SLO (it did not meet it).

**Too short to judge.** A threshold at percentile q needs at least
``n_min(q) = ceil(ln 0.05 / ln(q/100))`` samples (:func:`min_samples`): with fewer, there is
a better than 5% chance that not one sample came from the slowest (100 - q)% of the
distribution, so the run's p_q may not have seen the tail it claims to measure. Put the other
way, at n_min the run's largest sample is a 95% upper confidence bound of the true q-th
percentile. Since ln 20 is about 3, n_min is about 3 x 100 / (100 - q): p50 needs 5
samples, p90 29, p95 59, p99 299, p99.9 2,995. A shorter run still gets its percentiles,
but its verdict is marked invalid with that reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from perfops._internal.percentiles import (
    PERCENTILE_DEFINITION,
    nearest_rank,
    samples_to_see_tail,
)
from perfops.loadgen.slo import Threshold

__all__ = [
    "MIN_SAMPLES_RULE",
    "PERCENTILE_DEFINITION",
    "LatencySamples",
    "ThresholdVerdict",
    "Verdict",
    "judge",
    "min_samples",
    "request_meets",
]

_CONFIDENCE_MISS = 0.05  # the chance of a run seeing none of its tail that we accept

MIN_SAMPLES_RULE = (
    "a threshold at percentile q needs n >= ln(0.05)/ln(q/100) samples (about 3 x 100/(100-q): "
    "p50 5, p90 29, p95 59, p99 299, p99.9 2995): with fewer, there is a better than 5% chance "
    "that no sample came from the slowest (100-q)%, so the percentile may not have seen the "
    "tail it judges"
)


def min_samples(quantile: float) -> int:
    """The fewest samples that can support a verdict at percentile ``quantile`` (percent).
    The maximum (q = 100) is judged on the run as observed: one sample."""
    if not 0 < quantile <= 100:
        raise ValueError(f"a percentile is in (0, 100], got {quantile}")
    if quantile >= 100:
        return 1
    return samples_to_see_tail(quantile, _CONFIDENCE_MISS)


@dataclass(frozen=True)
class LatencySamples:
    """One run's latencies in seconds, as plain arrays (failed requests not included)."""

    ttft: npt.NDArray[np.float64]
    tpot: npt.NDArray[np.float64]
    e2e: npt.NDArray[np.float64]
    itl: npt.NDArray[np.float64]
    itl_weights: npt.NDArray[np.float64] | None = None  # None: one sample per gap
    requests: int = 0  # every request of the run, failed or not
    failed: int = 0

    def values(self, metric: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
        if metric == "itl":
            return self.itl, self.itl_weights
        return {"ttft": self.ttft, "tpot": self.tpot, "e2e": self.e2e}[metric], None

    def count(self, metric: str) -> int:
        values, weights = self.values(metric)
        return int(round(float(np.sum(weights)))) if weights is not None else len(values)


@dataclass(frozen=True)
class ThresholdVerdict:
    """One threshold against the run's percentile of its metric."""

    threshold: Threshold
    observed_s: float  # NaN when there is no sample
    samples: int
    min_samples: int

    @property
    def met(self) -> bool:
        return not math.isnan(self.observed_s) and self.observed_s <= self.threshold.seconds

    @property
    def margin(self) -> float:
        """observed / limit: at most 1 when met; inf when there is nothing to judge."""
        if math.isnan(self.observed_s):
            return math.inf
        return self.observed_s / self.threshold.seconds if self.threshold.seconds else math.inf

    @property
    def too_short(self) -> bool:
        return self.samples < self.min_samples

    def as_dict(self) -> dict[str, float | int | bool | None]:
        observed = None if math.isnan(self.observed_s) else self.observed_s * 1000
        return {
            "observed_ms": observed,
            "limit_ms": self.threshold.seconds * 1000,
            "met": self.met,
            "margin": None if math.isinf(self.margin) else self.margin,
            "samples": self.samples,
            "min_samples": self.min_samples,
        }


@dataclass(frozen=True)
class Verdict:
    """The run against every threshold. ``met`` is None without an SLO."""

    thresholds: list[ThresholdVerdict] = field(default_factory=list)
    requests: int = 0
    failed: int = 0

    @property
    def met(self) -> bool | None:
        if not self.thresholds:
            return None
        return self.requests > 0 and self.failed == 0 and all(t.met for t in self.thresholds)

    @property
    def margin(self) -> float:
        """The worst threshold's observed/limit (<= 1 when met); inf when a request failed or
        a metric had no sample: the number the capacity search interpolates on."""
        if not self.thresholds or self.failed or not self.requests:
            return math.inf
        return max(t.margin for t in self.thresholds)

    @property
    def invalid(self) -> list[str]:
        """Why this verdict cannot be trusted (empty when it can), each ``kind: detail``."""
        return [
            f"too short: {t.threshold.key} rests on {t.samples} samples, fewer than the "
            f"{t.min_samples} a p{t.threshold.quantile:g} needs"
            for t in self.thresholds
            if t.too_short
        ]


def judge(samples: LatencySamples, slo: Sequence[Threshold]) -> Verdict:
    """Each threshold of ``slo`` against the nearest-rank percentile of its metric."""
    out = []
    for t in slo:
        values, weights = samples.values(t.metric)
        (observed,) = nearest_rank(values, [t.quantile], weights)
        out.append(ThresholdVerdict(t, observed, samples.count(t.metric), min_samples(t.quantile)))
    return Verdict(out, samples.requests, samples.failed)


def request_meets(
    limits: Iterable[tuple[str, float]],
    *,
    failed: bool,
    sent_ns: int,
    first_token_ns: int | None,
    end_ns: int | None,
    output_tokens: int,
    max_gap_s: float,
) -> bool:
    """Whether one request met every ``(metric, seconds)`` limit, judged on the request
    itself: the one "was this request good" of goodput, of request-based SLIs (status,
    chaos, drills, SLO-compliant tokens). A failed request meets nothing; TTFT and E2E are
    from the send, and one without a first token or an end did not meet them; TPOT of a
    request with fewer than two tokens is 0; ITL is its largest chunk gap (0 without one)."""
    if failed:
        return False
    for metric, limit in limits:
        if metric == "itl":
            value = max_gap_s
        elif metric == "tpot":
            if first_token_ns is None or end_ns is None:
                return False
            value = (
                (end_ns - first_token_ns) / 1e9 / (output_tokens - 1) if output_tokens > 1 else 0.0
            )
        else:
            done = first_token_ns if metric == "ttft" else end_ns
            if done is None:
                return False
            value = (done - sent_ns) / 1e9
        if value > limit + 1e-12:
            return False
    return True
