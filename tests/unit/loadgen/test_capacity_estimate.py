"""The capacity interval, computed as the output says it is, by hand on fixed margins."""

from __future__ import annotations

import math

import pytest

from perfops.loadgen.search import INTERVAL_METHOD, Point, SearchSpec, run_budget, walk

LO, HI = 10.0, 11.0
A = [0.90, 0.95, 0.85]  # margins of the three runs at LO: mean 0.9
B = [1.10, 1.05, 1.15]  # at HI: mean 1.1


def bracket(a: list[float], b: list[float], extra: tuple[Point, ...] = ()) -> list[Point]:
    return [
        *extra,
        *(Point(LO, i, "repeat", m <= 1, m) for i, m in enumerate(a)),
        *(Point(HI, i, "repeat", m <= 1, m) for i, m in enumerate(b)),
    ]


def test_interval_by_hand() -> None:
    from perfops.loadgen._capacity_estimate import estimate

    found = estimate(bracket(A, B), LO, HI, flaws=[])
    # c = 10 + 1 x (1 - 0.9) / (1.1 - 0.9) = 10.5
    # pooled s^2 = (0.005 + 0.005) / (3 + 3 - 2) = 0.0025
    # se = 1 x sqrt(0.1^2 x 0.0025/3 + 0.1^2 x 0.0025/3) / 0.2^2 = 0.10206
    # half-width = t(0.975, 4) x se = 2.776 x 0.10206 = 0.28332
    assert found.capacity_rps == pytest.approx(10.5)
    assert found.low_rps == pytest.approx(10.5 - 0.28332, abs=1e-4)
    assert found.high_rps == pytest.approx(10.5 + 0.28332, abs=1e-4)
    assert found.valid, found.invalid
    assert found.text(2) == "10.5 req/s [10.2, 10.8] per 2 GPUs (95%)"
    assert found.per_gpu(2) == pytest.approx(5.25)
    assert "t(0.975, 2n-2)" in INTERVAL_METHOD


def test_a_run_that_contradicts_the_interval_makes_it_invalid() -> None:
    from perfops.loadgen._capacity_estimate import estimate

    # one run missing the SLO below the interval is the scatter of single runs
    one = (
        Point(9.0, 0, "repeat", False, 1.2),
        *(Point(9.0, i, "repeat", True, 0.8) for i in (1, 2)),
    )
    assert estimate(bracket(A, B, one), LO, HI, flaws=[]).valid
    # most runs at a rate below the interval missing it is a contradiction
    most = (
        *(Point(9.0, i, "repeat", False, 1.2) for i in (0, 1)),
        Point(9.0, 2, "repeat", True, 0.8),
    )
    found = estimate(bracket(A, B, most), LO, HI, flaws=[])
    assert not found.valid
    assert found.invalid == [
        "repeats disagree beyond the interval: 2 of 3 runs at 9.00 req/s missed the SLO, "
        "below the interval's 10.22"
    ]


def test_decisive_flaws_are_counted_by_kind() -> None:
    from perfops.loadgen._capacity_estimate import estimate

    points = bracket(A, B)
    points[0] = Point(LO, 0, "repeat", True, 0.9, ("too short: ttft_p99 rests on 40 samples",))
    found = estimate(points, LO, HI, flaws=[])
    assert found.invalid == [
        "too short: 1 of the 6 decisive runs (e.g. 10.00 req/s, seed 0: ttft_p99 rests on "
        "40 samples)"
    ]
    assert found.verdict_text().startswith("INVALID: too short")


def test_no_margin_to_interpolate_leaves_the_bracket() -> None:
    from perfops.loadgen._capacity_estimate import estimate

    found = estimate(bracket(A, [1.1, math.inf, 1.2]), LO, HI, flaws=[])
    assert (found.capacity_rps, found.low_rps, found.high_rps) == (LO, LO, HI)
    assert found.method == "bracket"
    assert found.text() == "10.0 req/s [10.0, 11.0] (bracket)"


def test_walk_repeats_both_bracketing_rates_with_new_seeds() -> None:
    """Fed a knee at 10.3 req/s (margin = rate / 10.3, a little worse with each seed), the walk
    probes, bisects, repeats at both bracketing rates, and shifts the bracket when the repeats
    say the lower rate fails on average."""
    spec = SearchSpec(start_rate=1.0, max_rate=100.0, tolerance=0.1, max_runs=16, repeats=3)
    steps = walk(spec)
    step, seen = next(steps), []
    try:
        while True:
            seen.append(step)
            margin = step.rate / 10.3 * (1 + 0.01 * step.seed)
            step = steps.send(Point(step.rate, step.seed, step.phase, margin <= 1, margin))
    except StopIteration as done:
        found = done.value
    assert [s.rate for s in seen if s.phase == "probe"] == [1, 2, 4, 8, 16]
    lo, hi = found.bracket
    for rate in (lo, hi):
        assert sorted(s.seed for s in seen if s.rate == rate) == [0, 1, 2]
    assert lo <= 10.3 <= hi
    assert hi - lo <= 0.1 * lo * (1 + 1e-9)
    assert found.low_rps <= found.capacity_rps <= found.high_rps
    assert len(seen) <= run_budget(spec)[0]
