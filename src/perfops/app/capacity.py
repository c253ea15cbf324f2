"""Capacity at an SLO, the figure FinOps buys GPUs with: one search (loadgen.search), one judge
(loadgen.judge), two ways to measure a rate. :func:`run_capacity` runs real load tests against
an endpoint; :func:`virtual_capacity` runs `perfops sim`'s model in virtual time, and its
results go through the same judge as a load test's (plain arrays, nearest-rank percentiles).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from perfops._internal.ids import new_id
from perfops.app.load import LoadOptions, LoadResult, run_load
from perfops.app.runtime import Runtime
from perfops.loadgen.judge import (
    MIN_SAMPLES_RULE,
    PERCENTILE_DEFINITION,
    LatencySamples,
    judge,
    min_samples,
)
from perfops.loadgen.search import (
    CapacityResult,
    Point,
    SearchSpec,
    Step,
    find_capacity,
    find_capacity_sync,
)
from perfops.loadgen.slo import Threshold
from perfops.loadgen.summary import Summary
from perfops.sim import EngineConfig
from perfops.sim.profiles import ServingProfile
from perfops.sim.virtual import VirtualResult, poisson_workload, simulate
from perfops.store import RunRecord

__all__ = [
    "capacity_summary",
    "point_of",
    "run_capacity",
    "virtual_capacity",
    "virtual_samples",
]


async def run_capacity(
    rt: Runtime,
    opts: LoadOptions,
    spec: SearchSpec,
    *,
    on_step: Callable[[Step, LoadResult], None] | None = None,
) -> tuple[CapacityResult, str]:
    """The capacity at ``opts.slo`` with its interval and validity; each run is a `load` run,
    the search is journaled as a `capacity` run carrying every repeat."""
    parent = new_id(rt.clock.now_ns(), "capacity-")
    started = rt.clock.now_ns()
    arrival = opts.arrival
    if arrival is None:
        raise ValueError("a capacity search needs an open-loop arrival process")

    async def measure(step: Step) -> Point:
        run = replace(opts, seed=step.seed, arrival=arrival.model_copy(update={"rate": step.rate}))
        result = await run_load(rt, run, kind="load", parent=parent)
        if on_step:
            on_step(step, result)
        return point_of(step, result.summary)

    found = await find_capacity(measure, spec)
    spec_json = {
        "slo": [str(t) for t in opts.slo],
        "gpus": opts.gpus,
        "service": opts.service,
        "duration_s": opts.duration_s,
        "search": asdict(spec),
    }
    summary = capacity_summary(found, opts.gpus)
    rt.store.journal.write_run(
        RunRecord(parent, "capacity", started, "passed", rt.clock.now_ns(), spec_json, summary)
    )
    return found, parent


def capacity_summary(found: CapacityResult, gpus: int | None) -> dict[str, Any]:
    """What a capacity search reports (JSON and journal): the figure, its interval and
    verdict, the definitions behind them, and every run with its seed."""
    return {
        **found.as_dict(gpus),
        "percentile": PERCENTILE_DEFINITION,
        "min_samples": MIN_SAMPLES_RULE,
        "points": [p.as_dict() for p in found.points],
    }


def point_of(step: Step, summary: Summary) -> Point:
    """A load test as the capacity search reads it."""
    margin = summary.slo_margin if summary.slo_margin is not None else math.inf
    return Point(
        step.rate,
        step.seed,
        step.phase,
        bool(summary.slo_met),
        margin,
        tuple(summary.invalid),
        summary,
    )


def virtual_samples(result: VirtualResult) -> LatencySamples:
    """A virtual run as the judge reads a load test: TTFT and E2E from each request's arrival
    (the virtual client has no lag), TPOT per request of two tokens or more, ITL every gap
    weighted by the tokens it stands for; a rejected request is a failed one."""
    t = result.timings
    ok = ~t.rejected
    first, end, arrival = t.first_token[ok], t.end[ok], t.arrival[ok]
    out = t.output_tokens[ok].astype(np.float64)
    multi = out > 1
    return LatencySamples(
        ttft=first - arrival,
        tpot=(end[multi] - first[multi]) / (out[multi] - 1),
        e2e=end - arrival,
        itl=result.itl,
        itl_weights=result.itl_weights,
        requests=len(t),
        failed=int(t.rejected.sum()),
    )


def virtual_capacity(
    profile: ServingProfile,
    slo: Sequence[Threshold],
    spec: SearchSpec,
    *,
    prompt_tokens: int,
    output_tokens: int,
    duration_s: float = 30.0,
    replicas: int = 1,
    config: EngineConfig | None = None,
) -> CapacityResult:
    """The capacity of ``replicas`` engines of ``profile`` at ``slo`` in virtual time: Poisson
    load of fixed sizes, each run at least ``duration_s`` and long enough that its requests
    cover 1.5x the samples the strictest percentile needs (virtual time is cheap)."""
    need = max((min_samples(t.quantile) for t in slo), default=1)

    def measure(step: Step) -> Point:
        seconds = max(duration_s, 1.5 * need / step.rate)
        load = poisson_workload(
            step.rate, seconds, prompt_tokens=prompt_tokens, output_tokens=output_tokens,
            seed=step.seed,
        )  # fmt: skip
        if not load:
            return Point(step.rate, step.seed, step.phase, False, math.inf, ("no request",))
        result = simulate(load, profile, config, replicas=replicas, seed=step.seed)
        verdict = judge(virtual_samples(result), slo)
        summary = {
            "requests": result.summary.requests,
            "completed": result.summary.completed,
            "rejected": result.summary.rejected,
            "virtual_seconds": seconds,
            "slo_detail": {v.threshold.key: v.as_dict() for v in verdict.thresholds},
        }
        return Point(step.rate, step.seed, step.phase, bool(verdict.met), verdict.margin,
                     tuple(verdict.invalid), summary)  # fmt: skip

    return find_capacity_sync(measure, spec)
