"""Sweeps and the capacity search: the highest request rate whose run meets the SLO.

The search probes upward by doubling until a rate fails, bisects between the last pass and
the first fail until they are within ``tolerance`` of each other, then confirms the best pass
with a second run; a failed confirmation steps down and tries again. Every measured point is
kept, so the report shows the curve, not just the answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from perfops.loadgen.summary import Summary

__all__ = ["CapacityResult", "Point", "find_capacity"]

Measure = Callable[[float], Awaitable[Summary]]


@dataclass(frozen=True, slots=True)
class Point:
    rate: float
    summary: Summary

    @property
    def passed(self) -> bool:
        return bool(self.summary.slo_met) and not self.summary.client_limited


@dataclass
class CapacityResult:
    capacity_rps: float | None  # None: even the lowest rate failed
    confirmed: bool
    points: list[Point] = field(default_factory=list)
    reason: str = ""

    def per_gpu(self, gpus: int | None) -> float | None:
        """Capacity per GPU, the figure FinOps plans with (None without both numbers)."""
        return self.capacity_rps / gpus if self.capacity_rps and gpus else None


async def find_capacity(
    measure: Measure,
    *,
    start_rate: float = 1.0,
    max_rate: float = 1000.0,
    tolerance: float = 0.1,
    max_runs: int = 12,
) -> CapacityResult:
    """Search the highest passing rate in [start_rate, max_rate] with at most ``max_runs``."""
    result = CapacityResult(None, False)

    async def run(rate: float) -> Point:
        point = Point(rate, await measure(rate))
        result.points.append(point)
        return point

    lo, hi = None, None
    rate = start_rate
    while len(result.points) < max_runs:  # probe up
        point = await run(rate)
        if not point.passed:
            hi = rate
            break
        lo = rate
        if rate >= max_rate:
            result.reason = f"still meets the SLO at the maximum rate {max_rate:g} req/s"
            break
        rate = min(rate * 2, max_rate)
    if lo is None:
        first = result.points[0].summary
        why = (
            "the client could not keep its schedule (client-limited)"
            if (first.client_limited and first.slo_met)
            else "the SLO fails"
        )
        result.reason = f"{why} already at {start_rate:g} req/s"
        return result
    while hi is not None and hi - lo > tolerance * lo and len(result.points) < max_runs - 1:
        mid = (lo + hi) / 2
        if (await run(mid)).passed:
            lo = mid
        else:
            hi = mid
    return await _confirm(run, result, lo, max_runs)


async def _confirm(
    run: Callable[[float], Awaitable[Point]], result: CapacityResult, best: float, max_runs: int
) -> CapacityResult:
    """Run the best rate again; step down 10% at a time until a confirmation holds."""
    while len(result.points) < max_runs:
        if (await run(best)).passed:
            result.capacity_rps, result.confirmed = best, True
            return result
        best *= 0.9
    result.capacity_rps = best
    result.reason = result.reason or "out of runs before a confirmation held"
    return result
