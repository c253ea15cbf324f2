"""Behaviour of the iteration-level engine model, one engine at a time."""

from __future__ import annotations

import random
import statistics

import numpy as np
import pytest

from perfops.errors import ConfigError
from perfops.sim import (
    Engine,
    EngineConfig,
    FinishedRequest,
    Request,
    RequestRejected,
    load_profiles,
    prefix_block_hashes,
    serving_profile,
)

H100_8B = serving_profile("H100-SXM", "llama-3.1-8b")


def engine(seed: int = 0, config: EngineConfig | None = None) -> Engine:
    return Engine(H100_8B, config, rng=np.random.default_rng(seed))


def drain(e: Engine, now: float = 0.0) -> tuple[list[FinishedRequest], list[float], float]:
    """Step until idle: (finished requests, every inter-token gap, end time)."""
    done: list[FinishedRequest] = []
    gaps: list[float] = []
    while e.has_work:
        step = e.step(now)
        done.extend(step.finished)
        gaps.extend(step.next_token_gaps)
        now = step.end
    return done, gaps, now


def test_idle_8b_h100_matches_published_ttft_and_itl() -> None:
    e = engine()
    e.submit(Request("r", prompt_tokens=1024, max_tokens=100, arrival=0.0))
    (done,), gaps, _ = drain(e)
    assert 0.060 <= done.ttft <= 0.120  # llm-d: 8B on H100, TTFT 60-120 ms
    assert 0.010 <= statistics.median(gaps) <= 0.015  # ITL 10-15 ms
    assert done.output_tokens == 100
    assert done.tpot == pytest.approx(statistics.mean(gaps))


def test_same_seed_same_timings_other_seed_differs() -> None:
    def run(seed: int) -> list[tuple[str, float, float]]:
        e = engine(seed)
        for i in range(20):
            e.submit(Request(str(i), 300 + 40 * i, 20 + i, arrival=0.0))
        return [(f.request_id, f.first_token, f.end) for f in drain(e)[0]]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_random_random_works_as_the_rng() -> None:
    e = Engine(H100_8B, rng=random.Random(3))
    e.submit(Request("r", 100, 10, 0.0))
    assert len(drain(e)[0]) == 1


def test_throttle_slowdown_stretches_every_step() -> None:
    def e2e(slowdown: float) -> float:
        e = engine(seed=1)
        e.slowdown = slowdown
        e.submit(Request("r", 512, 50, 0.0))
        return drain(e)[0][0].e2e

    assert e2e(2.0) == pytest.approx(2 * e2e(1.0))


def test_kv_usage_rises_with_load() -> None:
    def usage_after_prefill(concurrency: int) -> float:
        e = engine()
        for i in range(concurrency):
            e.submit(Request(str(i), 2000, 500, 0.0))
        now = 0.0
        for _ in range(20):
            now = e.step(now).end
        return e.kv_usage

    light, heavy = usage_after_prefill(2), usage_after_prefill(100)
    assert 0 < light < heavy <= 1
    assert engine().kv_usage == 0


def test_short_kv_cache_preempts_newest_and_still_finishes_everyone() -> None:
    e = engine()
    e.set_kv_capacity_fraction(0.02)  # ~9k tokens of KV for 12 x 1.3k-token requests
    for i in range(12):
        e.submit(Request(str(i), 1000, 300, 0.0))
    now, done = 0.0, []
    while e.has_work:
        step = e.step(now)
        if step.preempted:  # the newest running request goes first
            assert min(map(int, step.preempted)) > max(map(int, step.next_tokens))
        done += step.finished
        now = step.end
    assert e.stats().preemptions > 0
    assert sorted(int(f.request_id) for f in done) == list(range(12))
    assert all(f.reason == "length" and f.output_tokens == 300 for f in done)
    assert any(f.preemptions for f in done)
    assert e.kv_usage == 0


def test_shrinking_kv_mid_run_preempts_at_the_next_step() -> None:
    e = engine()
    for i in range(8):
        e.submit(Request(str(i), 3000, 400, 0.0))
    now = 0.0
    for _ in range(10):
        now = e.step(now).end
    e.set_kv_capacity_fraction(0.01)
    step = e.step(now)
    assert step.preempted
    assert e.num_waiting == len(step.preempted)


def test_prefix_cache_hits_cut_ttft_for_a_shared_prefix() -> None:
    system = prefix_block_hashes(list(range(2048)))  # a 2k-token shared system prompt

    def second_ttft(shared: bool) -> float:
        e = engine()
        e.submit(Request("a", 2100, 5, 0.0, block_hashes=system))
        drain(e)
        hashes = system if shared else prefix_block_hashes(list(range(5000, 7048)))
        e.submit(Request("b", 2100, 5, 10.0, block_hashes=hashes))
        return drain(e, 10.0)[0][0].ttft

    assert second_ttft(shared=True) < 0.5 * second_ttft(shared=False)
    e = engine()
    for i in range(2):
        e.submit(Request(str(i), 2100, 5, float(i), block_hashes=system))
        drain(e, float(i))
    stats = e.stats()
    assert stats.prefix_cache_queries == 2 * 2100
    assert stats.prefix_cache_hits == 2048


def test_prefix_caching_can_be_disabled() -> None:
    system = prefix_block_hashes(list(range(1024)))
    e = engine(config=EngineConfig(enable_prefix_caching=False))
    for i in range(2):
        e.submit(Request(str(i), 1100, 5, float(i), block_hashes=system))
        drain(e, float(i))
    assert e.stats().prefix_cache_hits == 0


def test_long_prompt_is_chunked_and_running_requests_keep_decoding() -> None:
    e = engine()
    e.submit(Request("short", 100, 50, 0.0))
    now = e.step(0.0).end
    e.submit(Request("long", 20_000, 5, now))
    firsts, steps = [], 0
    while not firsts:
        step = e.step(now)
        assert "short" in step.next_tokens  # decode continues beside each prompt chunk
        assert step.prefill_tokens + step.decode_tokens <= 8192
        firsts, now, steps = list(step.first_tokens), step.end, steps + 1
    assert firsts == ["long"]
    assert steps == 3  # 20k tokens at 8,192 batched tokens per step


def test_compute_fraction_separates_prefill_from_decode() -> None:
    e = engine()
    e.submit(Request("r", 4000, 3, 0.0))
    prefill = e.step(0.0)
    decode = e.step(prefill.end)
    assert prefill.compute_fraction > 0.8
    assert decode.compute_fraction == 0


def test_full_queue_refuses_and_impossible_requests_raise() -> None:
    e = engine(config=EngineConfig(max_waiting=2, max_model_len=4096))
    assert e.submit(Request("a", 10, 10, 0.0))
    assert e.submit(Request("b", 10, 10, 0.0))
    assert not e.submit(Request("c", 10, 10, 0.0))
    with pytest.raises(RequestRejected, match="max_model_len 4096"):
        e.submit(Request("d", 4000, 200, 0.0))
    dup = engine()
    dup.submit(Request("x", 10, 10, 0.0))
    with pytest.raises(RequestRejected, match="already in flight"):
        dup.submit(Request("x", 10, 10, 0.0))


def test_abort_frees_the_request_and_its_blocks() -> None:
    e = engine()
    e.submit(Request("a", 5000, 100, 0.0))
    e.submit(Request("b", 10, 10, 0.0))
    e.step(0.0)
    assert e.kv_usage > 0
    gone = e.abort("a", 0.5)
    assert gone is not None
    assert gone.reason == "abort"
    assert e.abort("a", 0.5) is None
    e.abort("b", 0.5)
    assert not e.has_work
    assert e.kv_usage == 0


def test_decode_runs_equal_stepping_one_by_one() -> None:
    def run(planned: bool) -> tuple[list[tuple[str, float]], int, int]:
        e = engine(seed=5)
        for i in range(6):
            e.submit(Request(str(i), 400 + 100 * i, 30 + 17 * i, 0.0))
        now, out = 0.0, []
        while e.has_work:
            plan = e.plan_decode(now) if planned else None
            if plan is None:
                step = e.step(now)
                now, finished = step.end, step.finished
            else:
                run_ = e.commit_decode(plan, plan.steps)
                assert run_.durations() == pytest.approx(plan.durations())
                now, finished = run_.end, run_.finished
            out += [(f.request_id, f.end) for f in finished]
        return out, e.stats().steps, e.stats().generation_tokens

    (stepped, *counts), (planned, *planned_counts) = run(False), run(True)
    assert counts == planned_counts
    assert [r for r, _ in stepped] == [r for r, _ in planned]
    assert [t for _, t in planned] == pytest.approx([t for _, t in stepped], rel=1e-12)


def test_a_decode_plan_goes_stale_when_the_engine_changes() -> None:
    e = engine()
    e.submit(Request("a", 100, 50, 0.0))
    now = e.step(0.0).end
    plan = e.plan_decode(now)
    assert plan is not None
    assert plan.steps == 49
    assert plan.steps_started_before(now) == 0
    assert plan.steps_started_before(plan.end) == plan.steps
    e.slowdown = 1.5
    with pytest.raises(ValueError, match="stale"):
        e.commit_decode(plan, 1)


def test_busy_seconds_give_utilisation() -> None:
    e = engine()
    e.submit(Request("r", 1000, 20, 0.0))
    _, _, end = drain(e)
    assert e.busy_seconds(end) == pytest.approx(end)
    assert e.busy_seconds(2 * end) / (2 * end) == pytest.approx(0.5)


def test_bad_knobs_are_refused() -> None:
    e = engine()
    with pytest.raises(ValueError, match="slowdown"):
        e.slowdown = 0
    with pytest.raises(ValueError, match="fraction"):
        e.set_kv_capacity_fraction(1.5)
    with pytest.raises(ConfigError, match="max_num_seqs"):
        EngineConfig(max_num_seqs=0)
    with pytest.raises(ConfigError, match="gpu_memory_utilization"):
        EngineConfig(gpu_memory_utilization=1.5)


def test_70b_on_one_l40s_is_refused_with_the_valid_choices() -> None:
    with pytest.raises(ConfigError) as info:
        serving_profile("L40S", "llama-3.1-70b", 1)
    text = str(info.value)
    assert "do not fit in one 48 GB L40S" in text
    assert "tensor_parallel 4, 8" in text
    assert "H100-SXM/llama-3.1-8b/tp1" in text


def test_unknown_names_list_what_exists() -> None:
    with pytest.raises(ConfigError) as info:
        serving_profile("B200", "llama-3.1-9b")
    assert "valid GPUs: A100-80GB, H100-SXM, H200, L40S" in str(info.value)
    assert "valid models: llama-3.1-70b, llama-3.1-8b" in str(info.value)


def test_profile_file_is_consistent_with_the_model() -> None:
    catalog = load_profiles()
    assert catalog.version >= 1
    assert catalog.sources
    for profile in catalog.deployments.values():
        coef = profile.coefficients
        assert len(coef.source) > 20
        e = Engine(profile, rng=np.random.default_rng(0))
        ttft = e.base_step_time(1024, 1024, 1)
        itl = e.base_step_time(0, 1100, 1)
        assert ttft * 1000 == pytest.approx(coef.idle_ttft_1k_ms, rel=0.03), profile.name
        assert itl * 1000 == pytest.approx(coef.idle_itl_ms, rel=0.03), profile.name
        assert profile.kv_capacity_blocks(0.9, 16) > 0
    for gpu, model, tp in catalog.unsupported:
        budget = catalog.gpus[gpu].memory_bytes * tp * 0.9
        assert catalog.models[model].weight_bytes > budget


def test_faster_memory_means_faster_decode() -> None:
    def idle_itl(gpu: str) -> float:
        return Engine(serving_profile(gpu, "llama-3.1-8b"), rng=random.Random(0)).base_step_time(
            0, 1100, 1
        )

    assert idle_itl("H200") < idle_itl("H100-SXM") < idle_itl("A100-80GB") < idle_itl("L40S")
