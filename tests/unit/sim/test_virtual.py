"""Behaviour of the virtual-time fleet driver."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import astuple

import numpy as np
import pytest

from perfops.sim import (
    Engine,
    EngineConfig,
    Request,
    VirtualSummary,
    WorkloadRequest,
    poisson_workload,
    serving_profile,
    simulate,
)
from perfops.sim._stepwise import simulate_stepwise

H100_8B = serving_profile("H100-SXM", "llama-3.1-8b")


def load(rate: float, duration: float = 20.0, **kwargs: int) -> list[WorkloadRequest]:
    sizes = {"prompt_tokens": 1024, "output_tokens": 128, **kwargs}
    return poisson_workload(rate, duration, seed=3, **sizes)


def plain_driver(workload: list[WorkloadRequest], seed: int) -> dict[int, tuple[float, float]]:
    """One replica, stepped by hand: submit what has arrived, run one step, repeat."""
    engine = Engine(H100_8B, rng=np.random.default_rng([seed, 0]))
    ends: dict[int, tuple[float, float]] = {}
    now, i = 0.0, 0
    while i < len(workload) or engine.has_work:
        if not engine.has_work:
            now = max(now, workload[i].arrival)
        while i < len(workload) and workload[i].arrival <= now:
            w = workload[i]
            engine.submit(Request(str(i), w.prompt_tokens, w.output_tokens, w.arrival))
            i += 1
        step = engine.step(now)
        ends.update({int(f.request_id): (f.first_token, f.end) for f in step.finished})
        now = step.end
    return ends


def test_matches_a_plain_step_by_step_driver() -> None:
    """The fast path (decode runs, cut when a request arrives) changes nothing, and the
    stepwise reference driver is that plain driver exactly."""
    workload = load(8.0, duration=15.0, output_tokens=80)
    ends = plain_driver(workload, seed=11)
    fast = simulate(workload, H100_8B, seed=11)
    reference = simulate_stepwise(workload, H100_8B, seed=11)
    assert len(ends) == len(workload)
    for t, r in zip(fast.timings, reference.timings, strict=True):
        assert (t.first_token, t.end) == pytest.approx(ends[t.request_index], rel=1e-9)
        assert (r.first_token, r.end) == ends[r.request_index]


TIGHT_KV = EngineConfig(gpu_memory_utilization=0.21)  # ~12k tokens of KV: decode preempts
Check = Callable[[VirtualSummary], bool]
CASES: dict[str, tuple[Callable[[], list[WorkloadRequest]], EngineConfig | None, int, Check]] = {
    "8 replicas, routing": (lambda: load(40.0, duration=10.0), None, 8, lambda s: s.steps > 0),
    "preemptions": (
        lambda: load(3.0, output_tokens=1024),
        TIGHT_KV,
        2,
        lambda s: s.preemptions > 10,
    ),
    "prefix cache": (
        lambda: poisson_workload(
            6.0,
            20.0,
            prompt_tokens=3000,
            output_tokens=128,
            seed=3,
            shared_prefix_tokens=2048,
            prefix_groups=2,
        ),
        None,
        2,
        lambda s: s.prefix_cache_hit_rate > 0.5,
    ),
    "full queues": (
        lambda: load(100.0, duration=5.0),
        EngineConfig(max_waiting=10),
        1,
        lambda s: s.rejected > 0,
    ),
    "batch limit": (
        lambda: load(30.0, duration=10.0),
        EngineConfig(max_num_seqs=16),
        3,
        lambda s: s.queue_time.p90 > 0.1,
    ),
    "chunked prefill": (
        lambda: load(3.0, prompt_tokens=12000, output_tokens=64),
        EngineConfig(max_num_batched_tokens=2048),
        1,
        lambda s: s.ttft.p50 > 0.3,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fast_driver_equals_the_stepwise_reference(case: str) -> None:
    """Every request's replica, tokens, cache hits, preemptions and refusal are the same;
    its times agree to the nanosecond (the fast driver sums a run's step times in closed
    form, the reference one step at a time: they differ only in rounding)."""
    make, config, replicas, exercised = CASES[case]
    workload = make()
    fast = simulate(workload, H100_8B, config, replicas=replicas, seed=7)
    reference = simulate_stepwise(workload, H100_8B, config, replicas=replicas, seed=7)
    a, b = fast.timings, reference.timings
    for column in ("replica", "output_tokens", "cached_tokens", "preemptions", "rejected"):
        assert np.array_equal(getattr(a, column), getattr(b, column)), column
    for column in ("first_token", "end", "queue_time"):
        assert np.allclose(
            getattr(a, column), getattr(b, column), rtol=0, atol=1e-9, equal_nan=True
        )
    s, r = fast.summary, reference.summary
    assert exercised(s), f"the workload no longer exercises {case}"
    assert (s.completed, s.rejected, s.preemptions, s.steps) == (
        r.completed,
        r.rejected,
        r.preemptions,
        r.steps,
    )
    assert s.prefix_cache_hit_rate == r.prefix_cache_hit_rate
    for name in ("ttft", "itl", "tpot", "e2e", "queue_time"):
        got, want = astuple(getattr(s, name)), astuple(getattr(r, name))
        assert got == pytest.approx(want, rel=1e-9, nan_ok=True), name


def test_ttft_grows_with_queue_depth_past_saturation() -> None:
    light = simulate(load(2.0), H100_8B).summary
    saturated = simulate(load(30.0), H100_8B).summary
    assert light.ttft.p50 < 0.15
    assert saturated.queue_time.p50 > 10 * light.queue_time.p50
    assert saturated.ttft.p50 > 10 * light.ttft.p50


def test_output_throughput_saturates() -> None:
    def tokens_per_s(rate: float) -> float:
        return simulate(load(rate), H100_8B).summary.output_throughput

    low, mid, high, higher = (tokens_per_s(r) for r in (2.0, 6.0, 30.0, 60.0))
    assert low < mid < high
    assert mid / low > 2.4  # linear while there is room
    assert higher / high < 1.15  # flat past saturation


def test_kv_usage_and_busy_time_rise_with_load() -> None:
    light = simulate(load(1.0), H100_8B).summary
    heavy = simulate(load(20.0), H100_8B).summary
    assert light.gpu_busy_fraction < heavy.gpu_busy_fraction <= 1.0


def test_same_seed_same_result() -> None:
    workload = load(10.0, duration=10.0)
    a = simulate(workload, H100_8B, replicas=3, seed=4)
    b = simulate(workload, H100_8B, replicas=3, seed=4)
    c = simulate(workload, H100_8B, replicas=3, seed=5)
    assert a.summary == b.summary
    assert np.array_equal(a.timings.end, b.timings.end)
    assert a.summary.ttft != c.summary.ttft


def test_least_outstanding_routing_spreads_the_load() -> None:
    result = simulate(load(40.0, duration=10.0), H100_8B, replicas=4)
    per_replica = Counter(result.timings.replica.tolist())
    assert sorted(per_replica) == [0, 1, 2, 3]
    assert max(per_replica.values()) < 1.2 * min(per_replica.values())


def test_more_replicas_serve_more() -> None:
    one = simulate(load(40.0), H100_8B, replicas=1).summary
    four = simulate(load(40.0), H100_8B, replicas=4).summary
    assert four.ttft.p90 < one.ttft.p90 / 10
    assert four.output_throughput > 2 * one.output_throughput


def test_shared_prefixes_hit_the_cache_and_cut_ttft() -> None:
    plain = simulate(load(4.0, prompt_tokens=3000), H100_8B).summary
    shared = simulate(
        poisson_workload(
            4.0,
            20.0,
            prompt_tokens=3000,
            output_tokens=128,
            seed=3,
            shared_prefix_tokens=2048,
            prefix_groups=2,
        ),
        H100_8B,
    ).summary
    assert plain.prefix_cache_hit_rate == 0
    assert shared.prefix_cache_hit_rate > 0.5
    assert shared.ttft.p50 < 0.7 * plain.ttft.p50


def test_full_queues_reject_and_rejections_have_no_latency() -> None:
    result = simulate(load(100.0, duration=5.0), H100_8B, EngineConfig(max_waiting=10))
    summary = result.summary
    assert summary.rejected > 0
    assert summary.completed + summary.rejected == summary.requests
    timings = result.timings
    assert timings.rejected.sum() == summary.rejected
    assert np.isnan(timings.ttft[timings.rejected]).all()
    assert (timings.replica[timings.rejected] == -1).all()
    assert not np.isnan(timings.ttft[~timings.rejected]).any()


def test_short_kv_cache_shows_preemptions() -> None:
    workload = load(4.0, output_tokens=512)
    roomy = simulate(workload, H100_8B).summary
    # 0.23 x 80 GB leaves ~2 GB (about 16k tokens) of KV cache beside 16 GB of weights
    tight = simulate(workload, H100_8B, EngineConfig(gpu_memory_utilization=0.23)).summary
    assert roomy.preemptions == 0
    assert tight.preemptions > 0
    assert tight.e2e.p50 > roomy.e2e.p50
    assert tight.completed == roomy.completed == len(workload)


def test_itl_and_tpot_agree_without_contention() -> None:
    summary = simulate(load(0.5, duration=40.0), H100_8B).summary
    assert summary.itl.mean == pytest.approx(summary.tpot.mean, rel=0.02)
    assert 0.010 <= summary.itl.p50 <= 0.015


def test_fleet_scale_serves_every_request() -> None:
    """64 replicas at 100 req/s (how fast: bench/sim_throughput.py, `virtual`)."""
    workload = poisson_workload(100.0, 10.0, prompt_tokens=1024, output_tokens=200, seed=1)
    result = simulate(workload, H100_8B, replicas=64, seed=1)
    assert result.summary.completed == len(workload)
    assert result.summary.rejected == 0
    assert sorted(set(result.timings.replica.tolist())) == list(range(64))
