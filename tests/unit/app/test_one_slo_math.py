"""Each piece of SLO math has one owner: the chaos steady state, drills' budget and the SLO
engine give the same numbers on the same events, and every request-based figure judges a
request with the same function."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfops.app.slo import request_good, request_limits
from perfops.chaos import steady
from perfops.chaos.steady import Outcome, bad_events, burn, fault_impact
from perfops.config.models import SLO
from perfops.loadgen.records import RequestRecord
from perfops.loadgen.summary import meets, meets_limits
from perfops.slo.engine import budget_spent, burn_rate, error_budget
from perfops.slo.engine import burn_rate as engine_burn_rate
from perfops.store import LoggedRequest

S = 1_000_000_000


def _outcomes(n: int, bad: int, seed: int) -> list[Outcome]:
    rng = random.Random(seed)
    flags = [True] * bad + [False] * (n - bad)
    rng.shuffle(flags)
    return [Outcome(i * S, False, not f, {"x": not f}) for i, f in enumerate(flags)]


def test_chaos_uses_the_engines_burn_rate_and_budget_functions() -> None:
    assert steady.burn_rate is engine_burn_rate
    assert steady.budget_spent is budget_spent


@given(
    st.integers(1, 5000),
    st.integers(0, 5000),
    st.sampled_from([90.0, 99.0, 99.5, 99.9, 99.95]),
)
def test_steady_state_burn_equals_the_engine_on_the_same_events(
    n: int, bad: int, objective: float
) -> None:
    bad = min(bad, n)
    outcomes = _outcomes(n, bad, seed=n * 7 + bad)
    assert bad_events(outcomes, "x") == bad
    assert burn(outcomes, "x", objective) == burn_rate(bad, n, objective)
    # the status' budget over these events spends what the engine's budget_spent says
    assert error_budget(objective, n - bad, n).consumed == budget_spent(bad, n, objective)


def test_a_faults_budget_share_is_the_engines_budget_spent() -> None:
    outcomes = _outcomes(600, 36, seed=1)
    (impact,) = fault_impact(
        outcomes, [("f", 0, 600 * S)], {"x": 99.9}, baseline_goodput_rps=1.0,
        period_s={"x": 28 * 86400.0}, traffic_rps=1.0, cost_per_s=None,
    )  # fmt: skip
    expected = 100 * budget_spent(36, 1.0 * 28 * 86400, 99.9)
    assert impact.budget_consumed_pct["x"] == expected
    # 36 bad of a 28-day budget of 0.1% x 2,419,200 requests = 2,419.2 allowed
    assert impact.budget_consumed_pct["x"] == pytest.approx(100 * 36 / 2419.2)


def _pair(first_ms: float | None, end_ms: float | None, tokens: int, gaps_ms: list[float],
          *, failed: bool = False) -> tuple[RequestRecord, LoggedRequest]:  # fmt: skip
    sent = 10 * S
    first = None if first_ms is None else sent + int(first_ms * 1e6)
    end = None if end_ms is None else sent + int(end_ms * 1e6)
    gaps = [int(g * 1e6) for g in gaps_ms]
    rec = RequestRecord(0, sent, sent, first, end, 10, tokens, "usage", 200,
                        "http_503" if failed else None, gaps)  # fmt: skip
    logged = LoggedRequest(sent, failed, sent, first, end, 10, tokens, max(gaps, default=0) / 1e9)
    return rec, logged


@pytest.mark.parametrize(
    ("first_ms", "end_ms", "tokens", "gaps_ms", "failed", "good"),
    [
        (100, 900, 9, [100.0] * 8, False, True),  # fast: meets every limit
        (400, 900, 9, [60.0] * 8, False, False),  # TTFT over 300 ms
        (100, 3000, 9, [360.0] * 8, False, False),  # TPOT over 100 ms, a gap over 250 ms
        (None, 900, 0, [], False, False),  # no first token: did not meet TTFT
        (100, 900, 1, [], False, True),  # one token: TPOT 0, no gap
        (100, 900, 9, [100.0] * 8, True, False),  # failed: meets nothing
    ],
)
def test_one_judge_for_load_goodput_chaos_status_and_cost(
    first_ms: float | None,
    end_ms: float,
    tokens: int,
    gaps_ms: list[float],
    failed: bool,
    good: bool,
) -> None:
    slo = SLO.model_validate(
        {"name": "g", "service": "chat", "objective": 99,
         "sli": {"kind": "goodput", "thresholds": {"ttft": "300ms", "tpot": "100ms",
                                                   "itl": "250ms"}}}
    )  # fmt: skip
    rec, logged = _pair(first_ms, end_ms, tokens, gaps_ms, failed=failed)
    from perfops.loadgen.slo import parse_slo

    load = parse_slo("ttft_p99=300ms,tpot_p99=100ms,itl_p99=250ms")
    verdicts = {
        meets(rec, load),  # load runs' goodput
        meets_limits(rec, request_limits(slo)),  # chaos and drills' per-SLO judgement
        request_good(slo)(logged),  # slo status and SLO-compliant tokens, from the lake
    }
    assert verdicts == {good}
