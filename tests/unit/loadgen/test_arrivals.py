"""Arrival schedules: each process has the rate and shape it promises, within statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from perfops.errors import UsageError
from perfops.loadgen import ArrivalSpec, build_schedule, parse_arrival

SEEDS = (0, 1, 2, 3, 4)


def schedule(
    text: str, rate: float | None = None, *, duration: float = 100.0, seed: int = 0, limit=None
) -> np.ndarray:
    spec = parse_arrival(text, rate)
    return np.array(
        build_schedule(
            spec, duration_s=duration, max_requests=limit, rng=np.random.default_rng(seed)
        )
    )


def within(observed: float, expected: float, sigma: float) -> bool:
    """Within 5 standard deviations: a seeded test that fails means a real bias."""
    return abs(observed - expected) <= 5 * sigma


@pytest.mark.parametrize("seed", SEEDS)
def test_poisson_count_mean_and_cv(seed: int) -> None:
    rate, duration = 50.0, 200.0
    times = schedule("poisson", rate, duration=duration, seed=seed)
    expected = rate * duration
    assert within(len(times), expected, math.sqrt(expected))
    gaps = np.diff(times)
    assert within(gaps.mean(), 1 / rate, 1 / rate / math.sqrt(len(gaps)))
    cv = gaps.std() / gaps.mean()
    assert abs(cv - 1.0) < 0.05


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("burstiness", [0.25, 4.0])
def test_gamma_squared_cv_is_the_burstiness(seed: int, burstiness: float) -> None:
    rate = 100.0
    times = schedule(f"gamma:{burstiness}", rate, duration=200.0, seed=seed)
    gaps = np.diff(times)
    assert abs(gaps.mean() * rate - 1) < 0.05
    assert abs(gaps.var() / gaps.mean() ** 2 / burstiness - 1) < 0.15


def test_constant_is_evenly_spaced_from_zero() -> None:
    times = schedule("constant", 4.0, duration=10.0)
    assert times.tolist() == [i / 4 for i in range(40)]


def test_burst_sends_groups_at_each_interval() -> None:
    times = schedule("burst:10/2s", duration=5.0)
    assert times.tolist() == [0.0] * 10 + [2.0] * 10 + [4.0] * 10


@pytest.mark.parametrize("seed", SEEDS)
def test_stages_keep_each_stage_rate(seed: int) -> None:
    times = schedule("stages:30s@5,60s@20,30s@5", duration=1000.0, seed=seed)
    for start, end, rate in [(0, 30, 5), (30, 90, 20), (90, 120, 5)]:
        count = ((times >= start) & (times < end)).sum()
        assert within(count, rate * (end - start), math.sqrt(rate * (end - start)))
    assert times.max() < 120  # arrivals end with the last stage


def test_stages_with_a_pause_send_nothing_in_it() -> None:
    times = schedule("stages:10s@10,10s@0,10s@10", duration=30.0)
    assert not ((times >= 10) & (times < 20)).any()
    assert (times >= 20).sum() > 50


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("text", "first_half"), [("ramp:1..50", 662.5), ("ramp:50..0", 1875.0)])
def test_ramp_rate_moves_linearly(seed: int, text: str, first_half: float) -> None:
    # ramp:1..50 over 100 s: integral of 1 + 0.49 t over [0, 50) is 662.5, of [0, 100) 2550
    times = schedule(text, duration=100.0, seed=seed)
    total = 2550.0 if text == "ramp:1..50" else 2500.0
    early = (times < 50).sum()
    assert within(early, first_half, math.sqrt(first_half))
    assert within(len(times) - early, total - first_half, math.sqrt(total - first_half))


@pytest.mark.parametrize(
    "text",
    ["constant", "poisson", "gamma:3", "burst:7/1s", "ramp:5..10", "stages:3s@20,4s@10"],
)
def test_bounds_order_and_reproducibility(text: str) -> None:
    rate = 20.0 if text.split(":")[0] in ("constant", "poisson", "gamma") else None
    times = schedule(text, rate, duration=5.0, seed=7)
    assert len(times) > 10
    assert (times >= 0).all()
    assert (times < 5.0).all()
    assert (np.diff(times) >= 0).all()
    assert times.tolist() == schedule(text, rate, duration=5.0, seed=7).tolist()
    assert len(schedule(text, rate, duration=5.0, seed=7, limit=10)) == 10
    assert len(schedule(text, rate, duration=5.0, seed=7, limit=0)) == 0


def test_different_seeds_differ() -> None:
    assert schedule("poisson", 10, seed=1).tolist() != schedule("poisson", 10, seed=2).tolist()


def test_request_count_alone_bounds_an_open_ended_run() -> None:
    times = schedule("poisson", 1000.0, duration=math.inf, limit=5000)
    assert len(times) == 5000
    assert within(times[-1], 5.0, math.sqrt(5000) / 1000)


@pytest.mark.parametrize(
    ("text", "rate", "duration", "limit", "message"),
    [
        ("poisson", 1.0, 0.0, None, "duration must be above 0"),
        ("poisson", 1.0, math.inf, None, "needs a limit"),
        ("ramp:1..2", None, math.inf, 10, "finite duration"),
        ("poisson", 1.0, 10.0, -1, "cannot be negative"),
        ("poisson", 1e5, 1e3, None, "more than 10,000,000"),
        ("poisson", 1e6, 10.0, None, "less than or equal to 100000 \\(a request rate one"),
    ],
)
def test_bad_bounds(text: str, rate, duration: float, limit, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        schedule(text, rate, duration=duration, limit=limit)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("poisson", 5.0),
        ("constant", 0.5),
        ("gamma:2", 5.0),
        ("gamma:0.5", 5.0),
        ("burst:10/2s", None),
        ("burst:3/0.5s", None),
        ("ramp:1..50", None),
        ("ramp:0.5..0", None),
        ("stages:30s@5,60s@20,30s@5", None),
    ],
)
def test_parse_round_trips_through_str(text: str, rate: float | None) -> None:
    spec = parse_arrival(text, rate)
    assert str(spec) == text
    assert parse_arrival(str(spec), rate) == spec


def test_parse_reads_each_form() -> None:
    assert parse_arrival("gamma:2.5", 3).burstiness == 2.5
    burst = parse_arrival("burst:10/500ms", None)
    assert (burst.burst_size, burst.burst_interval) == (10, 0.5)
    assert parse_arrival("burst:4/3", None).burst_interval == 3.0
    ramp = parse_arrival("ramp:1..50", None)
    assert (ramp.start_rate, ramp.end_rate) == (1, 50)
    stages = parse_arrival("stages:30s@5, 1m@20", None)
    assert stages.stages == ((30.0, 5.0), (60.0, 20.0))
    assert stages.stages_duration_s == 90.0


@pytest.mark.parametrize(
    ("text", "rate", "message"),
    [
        ("exponential", 1.0, "unknown arrival process"),
        ("poisson", None, "need a rate"),
        ("constant", 0.0, "need a rate"),
        ("poisson:3", 1.0, "takes no argument"),
        ("gamma", 1.0, "gamma needs a burstiness"),
        ("gamma:0", 1.0, "burstiness"),
        ("burst:10", None, "burst needs a size and an interval"),
        ("burst:0/1s", None, "burst_size"),
        ("burst:10/fast", None, "not a duration"),
        ("ramp:50", None, "ramp needs a start and an end"),
        ("ramp:0..0", None, "above 0 at one end"),
        ("stages:30s@5,60s", None, "'60s' is not DURATION@RATE"),
        ("stages:30s@0", None, "above 0 in one stage"),
        ("ramp:1..5", 3.0, "carry their own rate"),
    ],
)
def test_parse_errors_name_the_form(text: str, rate, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        parse_arrival(text, rate)
    assert caught.value.hint
    assert caught.value.exit_code == 2


def test_spec_rejects_fields_its_kind_does_not_use() -> None:
    with pytest.raises(ValidationError, match="poisson arrivals do not use burst_size"):
        ArrivalSpec(kind="poisson", rate=1.0, burst_size=3)
    with pytest.raises(ValidationError, match="gamma arrivals need rate"):
        ArrivalSpec(kind="gamma", burstiness=2.0)
    with pytest.raises(ValidationError):
        ArrivalSpec(kind="poisson", rate=math.inf)
