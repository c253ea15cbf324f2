"""The capacity search: the highest request rate whose run meets the SLO, as an interval.

One search for every driver: ``perfops load capacity`` and the demo measure a rate with a real
load test, ``perfops cost scenario`` with the virtual-time simulator. The walk is a plain
generator (:func:`walk`) that says which rate and seed to run next and takes back the judged
run (:class:`Point`); :func:`find_capacity` (async) and :func:`find_capacity_sync` feed it.

1. **Probe**: from ``start_rate``, double until a run misses the SLO (or ``max_rate`` passes).
2. **Bisect** between the last pass and the first miss until they are within ``tolerance``.
3. **Repeat** the decisive steps: ``repeats`` runs (different seeds) at the last passing rate
   and at the next rate up. If the repeats move the crossing out of the bracket (the lower
   rate fails on average, or the upper one passes), the bracket shifts by ``tolerance`` and
   the new rate gets its repeats.
4. **Estimate** the capacity and its 95% interval from the repeats' margins, and the verdict:
   INVALID, with each reason, when a decisive run was too short for its percentile,
   client-limited, target-limited, or the repeats disagree beyond the interval
   (:mod:`perfops.loadgen._capacity_estimate` has the method).

Runs for the repeats are reserved: probing and bisecting stop ``2 (repeats - 1)`` runs short
of ``max_runs``. Every run is kept, so the report shows the curve, not just the answer.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from perfops._internal.durations import format_duration
from perfops.loadgen._capacity_estimate import (
    INTERVAL_METHOD,
    CapacityResult,
    estimate,
    no_capacity,
    unbounded,
)

__all__ = [
    "INTERVAL_METHOD",
    "CapacityResult",
    "Point",
    "SearchSpec",
    "Step",
    "budget_text",
    "find_capacity",
    "find_capacity_sync",
    "run_budget",
    "walk",
]


@dataclass(frozen=True, slots=True)
class Step:
    """One run the search asks for."""

    rate: float
    seed: int
    phase: str  # probe | bisect | repeat


@dataclass(frozen=True)
class Point:
    """One judged run: the judge's verdict and margin, and why it may not count."""

    rate: float
    seed: int
    phase: str
    passed: bool  # the SLO judge's verdict
    margin: float  # worst threshold's observed/limit; inf when a request failed
    invalid: tuple[str, ...] = ()  # too short, client-limited, target-limited
    summary: Any = field(default=None, compare=False)  # the run's own report

    def as_dict(self) -> dict[str, Any]:
        summary = self.summary.as_dict() if hasattr(self.summary, "as_dict") else self.summary
        return {
            "rate": self.rate,
            "seed": self.seed,
            "phase": self.phase,
            "passed": self.passed,
            "margin": self.margin if math.isfinite(self.margin) else None,
            "valid": not self.invalid,
            "invalid": list(self.invalid),
            "summary": summary,
        }


@dataclass(frozen=True)
class SearchSpec:
    start_rate: float = 1.0
    max_rate: float = 1000.0
    tolerance: float = 0.1
    max_runs: int = 16
    repeats: int = 3  # runs at each bracketing rate, each with its own seed
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.start_rate <= self.max_rate:
            raise ValueError("need 0 < start_rate <= max_rate")
        if self.repeats < 1 or self.tolerance <= 0:
            raise ValueError("need repeats >= 1 and tolerance > 0")
        if self.max_runs < 2 * self.repeats:
            raise ValueError(f"max_runs must leave room for the repeats: >= {2 * self.repeats}")


def run_budget(spec: SearchSpec) -> tuple[int, dict[str, int]]:
    """The most runs the search can take, and how they split (probe, bisect, repeat)."""
    probe = 1 + max(0, math.ceil(math.log2(spec.max_rate / spec.start_rate) - 1e-9))
    if probe == 1:  # one rate: nothing to bisect, its repeats confirm it
        bisect, repeat = 0, spec.repeats - 1
    else:  # a bracket [r, 2r] halved until within tolerance, then both ends repeated
        bisect = max(0, math.ceil(math.log2(1 / spec.tolerance) - 1e-9))
        repeat = 2 * (spec.repeats - 1)
    parts = {"probe": probe, "bisect": bisect, "repeat": repeat}
    return min(spec.max_runs, probe + bisect + repeat), parts


def budget_text(spec: SearchSpec, duration_s: float) -> str:
    """The time the search may take, to say before it starts."""
    runs, parts = run_budget(spec)
    split = ", ".join(f"{v} {k}" for k, v in parts.items())
    return (
        f"time budget: at most {runs} runs x {format_duration(duration_s)} = "
        f"{format_duration(runs * duration_s)} of load (up to {split}; max runs "
        f"{spec.max_runs}), plus a few seconds per run to start and store it"
    )


Walk = Generator[Step, Point, CapacityResult]


def walk(spec: SearchSpec) -> Walk:
    """The search as a generator: yields each :class:`Step`, is sent its :class:`Point`,
    returns the :class:`CapacityResult`."""
    points: list[Point] = []
    reserve = 2 * (spec.repeats - 1)

    def run(rate: float, phase: str) -> Generator[Step, Point, Point]:
        seed = spec.seed + sum(1 for p in points if p.rate == rate)
        point = yield Step(rate, seed, phase)
        points.append(point)
        return point

    lo, hi, rate = None, None, spec.start_rate
    while len(points) < spec.max_runs - reserve or not points:
        if not (yield from run(rate, "probe")).passed:
            hi = rate
            break
        lo = rate
        if rate >= spec.max_rate:
            break
        rate = min(rate * 2, spec.max_rate)
    if lo is None:
        return no_capacity(points, spec.start_rate)
    if hi is None:
        yield from _repeat(run, points, lo, spec)
        short = _count(points, lo) < spec.repeats
        return unbounded(points, lo, out_of_runs=short, at_max=lo >= spec.max_rate)
    while hi - lo > spec.tolerance * lo and len(points) < spec.max_runs - reserve:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (yield from run(mid, "bisect")).passed else (lo, mid)
    lo, hi = yield from _decide(run, points, lo, hi, spec)
    return estimate(points, lo, hi, flaws=_unfinished(points, lo, hi, spec))


Run = Callable[[float, str], Generator[Step, Point, Point]]


def _unfinished(points: list[Point], lo: float, hi: float, spec: SearchSpec) -> list[str]:
    """What ``max_runs`` cut short: the bisection, or the repeats."""
    out = []
    if hi - lo > spec.tolerance * lo * (1 + 1e-9):
        out.append(
            f"out of runs: the bracket {lo:.2f}-{hi:.2f} req/s is {hi / lo - 1:.0%} wide, "
            f"wider than the {spec.tolerance:.0%} tolerance, so the straight line between "
            "its ends is a guess (raise --max-runs)"
        )
    if min(_count(points, lo), _count(points, hi)) < spec.repeats:
        out.append(
            f"out of runs before both bracketing rates had their {spec.repeats} repeats "
            "(raise --max-runs)"
        )
    return out


def _count(points: list[Point], rate: float) -> int:
    return sum(1 for p in points if p.rate == rate)


def _mean_margin(points: list[Point], rate: float) -> float:
    margins = [p.margin for p in points if p.rate == rate]
    return sum(margins) / len(margins)


def _repeat(
    run: Run, points: list[Point], rate: float, spec: SearchSpec
) -> Generator[Step, Point, None]:
    while _count(points, rate) < spec.repeats and len(points) < spec.max_runs:
        yield from run(rate, "repeat")


def _decide(
    run: Run, points: list[Point], lo: float, hi: float, spec: SearchSpec
) -> Generator[Step, Point, tuple[float, float]]:
    """Repeat at both bracketing rates; shift the bracket while the repeats move the
    crossing out of it and runs are left."""
    while True:
        yield from _repeat(run, points, lo, spec)
        yield from _repeat(run, points, hi, spec)
        room = len(points) + spec.repeats <= spec.max_runs
        if room and _mean_margin(points, lo) > 1:
            lo, hi = lo / (1 + spec.tolerance), lo
        elif room and _mean_margin(points, hi) <= 1 and hi < spec.max_rate:
            lo, hi = hi, min(hi * (1 + spec.tolerance), spec.max_rate)
        else:
            return lo, hi


async def find_capacity(
    measure: Callable[[Step], Awaitable[Point]], spec: SearchSpec
) -> CapacityResult:
    """Run the search with an async ``measure`` (a real load test)."""
    steps = walk(spec)
    try:
        step = next(steps)
        while True:
            step = steps.send(await measure(step))
    except StopIteration as done:
        result: CapacityResult = done.value
        return result


def find_capacity_sync(measure: Callable[[Step], Point], spec: SearchSpec) -> CapacityResult:
    """Run the search with a synchronous ``measure`` (the virtual-time driver)."""
    steps = walk(spec)
    try:
        step = next(steps)
        while True:
            step = steps.send(measure(step))
    except StopIteration as done:
        result: CapacityResult = done.value
        return result
