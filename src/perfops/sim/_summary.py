"""Aggregate latency and throughput figures of a virtual run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from perfops._internal.percentiles import nearest_rank
from perfops.sim._records import EngineStats

if TYPE_CHECKING:
    from perfops.sim.virtual import RequestTimings

__all__ = ["Percentiles", "VirtualSummary", "summarize"]


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Mean and percentiles of a latency, in seconds (NaN when there is no sample); nearest
    rank, the one percentile definition of perfops (:mod:`perfops._internal.percentiles`)."""

    mean: float
    p50: float
    p90: float
    p99: float

    @classmethod
    def of(
        cls, values: NDArray[np.float64], weights: NDArray[np.float64] | None = None
    ) -> Percentiles:
        """Weighted when ``weights`` is given (a value counted ``weight`` times)."""
        if len(values) == 0:
            return cls(math.nan, math.nan, math.nan, math.nan)
        p50, p90, p99 = nearest_rank(values, (50, 90, 99), weights)
        mean = float(values.mean() if weights is None else np.dot(values, weights) / weights.sum())
        return cls(mean, p50, p90, p99)


@dataclass(frozen=True, slots=True)
class VirtualSummary:
    """What a load test against the simulated fleet would report.

    TTFT and E2E run from each request's arrival; ITL is the token-weighted distribution of
    gaps between consecutive tokens of a request; TPOT = (E2E - TTFT) / (output_tokens - 1).
    """

    requests: int
    completed: int
    rejected: int
    duration_s: float  # first arrival to last completion
    request_throughput: float  # completed requests per second
    output_throughput: float  # output tokens per second
    ttft: Percentiles
    itl: Percentiles
    tpot: Percentiles
    e2e: Percentiles
    queue_time: Percentiles
    preemptions: int
    prefix_cache_hit_rate: float  # hits / queries, in tokens
    gpu_busy_fraction: float  # mean over replicas of busy time / duration
    steps: int


def summarize(
    timings: RequestTimings,
    itl_values: NDArray[np.float64],
    itl_weights: NDArray[np.float64],
    engines: Sequence[EngineStats],
) -> VirtualSummary:
    ok = ~timings.rejected
    arrival, first, end = timings.arrival[ok], timings.first_token[ok], timings.end[ok]
    out = timings.output_tokens[ok].astype(float)
    start = float(timings.arrival.min()) if len(timings) else 0.0
    duration = float(end.max() - start) if len(end) else 0.0
    multi = out > 1
    queries = sum(e.prefix_cache_queries for e in engines)
    return VirtualSummary(
        requests=len(timings),
        completed=len(end),
        rejected=len(timings) - len(end),
        duration_s=duration,
        request_throughput=len(end) / duration if duration > 0 else 0.0,
        output_throughput=float(out.sum()) / duration if duration > 0 else 0.0,
        ttft=Percentiles.of(first - arrival),
        itl=Percentiles.of(itl_values, itl_weights),
        tpot=Percentiles.of((end[multi] - first[multi]) / (out[multi] - 1)),
        e2e=Percentiles.of(end - arrival),
        queue_time=Percentiles.of(timings.queue_time[ok]),
        preemptions=sum(e.preemptions for e in engines),
        prefix_cache_hit_rate=sum(e.prefix_cache_hits for e in engines) / queries
        if queries
        else 0.0,
        gpu_busy_fraction=float(np.mean([e.busy_seconds for e in engines])) / duration
        if duration > 0
        else 0.0,
        steps=sum(e.steps for e in engines),
    )
