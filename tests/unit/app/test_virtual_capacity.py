"""The capacity search on the virtual-time driver: the interval holds the model's knee, and the
virtual runs are judged by the load test's judge (ITL p95 at p95, not p90)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perfops.app.capacity import virtual_capacity, virtual_samples
from perfops.app.cost_plan import simulated_capacity
from perfops.loadgen.judge import judge
from perfops.loadgen.search import SearchSpec
from perfops.loadgen.slo import Threshold, parse_slo
from perfops.sim import EngineConfig, serving_profile, simulate
from perfops.sim.virtual import poisson_workload

PROFILE = serving_profile("H100-SXM", "llama-3.1-8b")
SMALL = EngineConfig(max_num_seqs=4)  # a knee of a few req/s: cheap to sweep finely
PROMPT, OUTPUT, LIMIT = 256, 32, 0.4  # ttft_p99 <= 400 ms


def p99_margin(rate: float, seed: int) -> float:
    """One virtual run's TTFT p99 over the limit, computed here by hand (sorted, rank
    ceil(0.99 n)), on a run as long as the search's (30 s, or 1.5 x 299 requests)."""
    seconds = max(30.0, 1.5 * 299 / rate)
    load = poisson_workload(rate, seconds, prompt_tokens=PROMPT, output_tokens=OUTPUT, seed=seed)
    t = simulate(load, PROFILE, SMALL, seed=seed).timings
    if t.rejected.any():
        return math.inf
    ttft = np.sort(t.first_token - t.arrival)
    return float(ttft[math.ceil(0.99 * len(ttft)) - 1]) / LIMIT


def swept_knee(lo: float, hi: float) -> float:
    """The knee from a fine sweep with eight other seeds: where the mean margin crosses 1."""
    rates = np.linspace(lo, hi, 17)
    means = [np.mean([p99_margin(r, seed) for seed in range(10, 18)]) for r in rates]
    points = list(zip(rates, means, strict=True))
    for (r0, m0), (r1, m1) in zip(points, points[1:], strict=False):
        if m0 <= 1 < m1:
            return float(r0 + (r1 - r0) * (1 - m0) / (m1 - m0))
    raise AssertionError(f"no crossing in the sweep {points}")


def test_interval_contains_the_knee_of_a_fine_sweep() -> None:
    found = virtual_capacity(
        PROFILE, [Threshold("ttft", 99, LIMIT)], SearchSpec(1.0, 64.0, 0.05, 24, 3),
        prompt_tokens=PROMPT, output_tokens=OUTPUT, config=SMALL,
    )  # fmt: skip
    assert found.capacity_rps is not None, found.reason
    assert found.valid, found.invalid
    low, high = found.low_rps, found.high_rps
    assert low is not None
    assert high is not None
    knee = swept_knee(0.5 * found.capacity_rps, 1.5 * found.capacity_rps)
    assert low <= knee <= high, (knee, found.text())
    lo, hi = found.bracket or (0, 0)
    for rate in (lo, hi):  # the decisive runs: three seeds at each bracketing rate
        assert sorted(p.seed for p in found.points if p.rate == rate) == [0, 1, 2]
    for p in found.points:  # virtual runs are always long enough for their p99
        if p.rate in (lo, hi):
            assert p.summary["completed"] + p.summary["rejected"] >= 299


def test_itl_p95_is_judged_at_the_95th_percentile() -> None:
    """A virtual run's ITL distribution (token-weighted) by hand: a limit between its p90 and
    p95 must fail an itl_p95 SLO and pass an itl_p90 one."""
    load = poisson_workload(18.0, 30.0, prompt_tokens=512, output_tokens=64, seed=5)
    result = simulate(load, PROFILE, seed=5)
    gaps = np.sort(np.repeat(result.itl, result.itl_weights.astype(np.int64)))
    p90, p95 = (float(gaps[math.ceil(q * len(gaps)) - 1]) for q in (0.90, 0.95))
    assert p90 < p95
    limit = (p90 + p95) / 2
    samples = virtual_samples(result)
    assert judge(samples, [Threshold("itl", 95, limit)]).met is False
    assert judge(samples, [Threshold("itl", 90, limit)]).met is True
    (verdict,) = judge(samples, [Threshold("itl", 95, limit)]).thresholds
    assert verdict.observed_s == pytest.approx(p95)


def test_cost_capacity_of_an_itl_p95_slo_sits_between_p90_and_p99() -> None:
    """`perfops cost scenario`'s simulated capacity: the same ITL limit at p95 is a stricter
    SLO than at p90 (it was judged at p90 before), and a looser one than at p99."""
    caps = {
        q: simulated_capacity(
            "H100-SXM",
            "llama-3.1-8b",
            parse_slo(f"itl_p{q}=60ms"),
            prompt_tokens=512,
            output_tokens=64,
        )  # fmt: skip
        for q in (90, 95, 99)
    }
    interval = {q: c.search["interval_rps"] for q, c in caps.items() if c.search}
    assert interval[95][1] < interval[90][0]  # the whole p95 interval below p90's
    assert interval[99][1] < interval[95][0]
    assert caps[95].source == "simulated"
    assert caps[95].search is not None
    assert caps[95].search["valid"]
