"""The steady-state hypothesis, stop conditions and fault impact, worked by hand."""

from __future__ import annotations

import pytest

from perfops.chaos.steady import (
    Outcome,
    burn,
    check_hypothesis,
    fault_impact,
    stop_reason,
)
from perfops.config.experiment import BurnStop, ErrorStop, Hypothesis, HypothesisSLO

S = 1_000_000_000  # ns


def _requests(n: int, bad: int, *, start: int = 0, errors: int = 0) -> list[Outcome]:
    """``n`` requests a second apart; the first ``bad`` miss the SLO, the first ``errors`` fail."""
    return [Outcome(start + i * S, i < errors, i >= bad, {"ttft": i >= bad}) for i in range(n)]


def test_burn_rate_is_the_error_ratio_over_the_budget() -> None:
    # 5 bad of 100 at 99%: error ratio 5%, budget 1% -> 5x
    assert burn(_requests(100, 5), "ttft", 99.0) == pytest.approx(5.0)
    assert burn([], "ttft", 99.0) is None


def test_the_hypothesis_lists_what_broke() -> None:
    hyp = Hypothesis(slos=(HypothesisSLO(slo="ttft", max_burn_rate=2),), max_error_ratio=0.01)
    held = check_hypothesis(_requests(100, 1), hyp, {"ttft": 99.0})
    assert held.met  # 1x burn, no errors
    broken = check_hypothesis(_requests(100, 3, errors=2), hyp, {"ttft": 99.0})
    assert not broken.met  # 3x burn, 2% errors
    assert [c.name for c in broken.checks if not c.met] == ["ttft burn rate", "error ratio"]
    too_few = check_hypothesis(_requests(3, 0), hyp, {"ttft": 99.0})
    assert not too_few.met  # three requests judge nothing
    assert too_few.broken() == ["requests 3 (broken; limit 5)"]


def test_stop_conditions_look_at_their_own_window() -> None:
    # 20 s of requests; the last 5 all slow and failing
    items = _requests(15, 0) + [
        Outcome((15 + i) * S, True, False, {"ttft": False}) for i in range(5)
    ]
    now = 20 * S
    page = BurnStop(kind="burn_rate", slo="ttft", above=14.4, window=5.0)
    assert stop_reason(items, [page], {"ttft": 99.0}, now) is not None  # 100x over 5 s
    wide = BurnStop(kind="burn_rate", slo="ttft", above=30, window=30.0)
    assert stop_reason(items, [wide], {"ttft": 99.0}, now) is None  # 25x over 30 s
    errors = ErrorStop(kind="error_ratio", above=0.5, window=5.0)
    reason = stop_reason(items, [errors], {}, now)
    assert reason == "error ratio 100.0% over 5s (stop above 50.0%)"


def test_fault_impact_budget_goodput_and_cost() -> None:
    # 10 requests in a 10 s fault window at 1 req/s, 4 bad; 99% over a 100 s period:
    # budget = 1% x 1 req/s x 100 s = 1 bad event, so 4 bad spend 400% of it
    items = _requests(10, 4, start=10 * S)
    (impact,) = fault_impact(
        items,
        [("slow", 10 * S, 20 * S)],
        {"ttft": 99.0},
        baseline_goodput_rps=1.0,
        period_s={"ttft": 100.0},
        traffic_rps=1.0,
        cost_per_s=0.5,
    )
    assert impact.requests == 10
    assert impact.bad == {"ttft": 4}
    assert impact.budget_consumed_pct["ttft"] == pytest.approx(400.0)
    assert impact.goodput_rps == pytest.approx(0.6)
    assert impact.goodput_lost == pytest.approx(4.0)  # 10 expected at baseline, 6 good
    assert impact.wasted_cost == pytest.approx(2.0)  # $5 of GPU time, 40% of it missed
