"""Unit economics golden cases: $/1M tokens, input vs output, goodput tokens, energy."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perfops.errors import PerfopsError
from perfops.finops import (
    DAY_MS,
    IDLE,
    ServedWork,
    UsageRow,
    attribute,
    unit_costs,
    unit_economics,
)

H = 3_600_000


def test_output_tokens_priced_two_and_a_half_times_input_without_timing() -> None:
    # $100 over 2M input + 0.8M output tokens. Weights 2M : 2.5 x 0.8M = 2M : 2M, so
    # input $50 ($25 per 1M input), output $50 ($62.50 per 1M output); $100 / 2.8M tokens
    # = $35.714286 per 1M; 1,000 requests -> $0.10 each.
    work = ServedWork(input_tokens=2_000_000, output_tokens=800_000, requests=1_000)
    unit = unit_costs(Decimal("100.00"), work)
    assert unit.split == "ratio"
    assert (unit.input_cost, unit.output_cost) == (Decimal("50.00"), Decimal("50.00"))
    assert unit.per_1m_input_tokens == Decimal("25.000000")
    assert unit.per_1m_output_tokens == Decimal("62.500000")
    assert unit.per_1m_tokens == Decimal("35.714286")
    assert unit.per_request == Decimal("0.100000")


def test_prefill_and_decode_time_split_the_cost() -> None:
    # Prefill 30 s, decode 90 s: input gets 25% of $12 = $3.00 over 1M tokens -> $3 per 1M;
    # output $9.00 over 0.5M -> $18 per 1M.
    work = ServedWork(1_000_000, 500_000, 100, prefill_seconds=30.0, decode_seconds=90.0)
    unit = unit_costs(Decimal("12.00"), work)
    assert unit.split == "timing"
    assert (unit.input_cost, unit.output_cost) == (Decimal("3.00"), Decimal("9.00"))
    assert unit.per_1m_input_tokens == Decimal("3.000000")
    assert unit.per_1m_output_tokens == Decimal("18.000000")


def test_slo_compliant_tokens_and_waste() -> None:
    # $10 for 4M tokens, 3M of them from requests that met the SLO:
    # $2.50 per 1M tokens, $3.333333 per 1M good tokens, waste $10 x (1 - 3/4) = $2.50.
    work = ServedWork(2_000_000, 2_000_000, 4_000, slo_tokens=3_000_000)
    unit = unit_costs(Decimal("10.00"), work)
    assert unit.per_1m_tokens == Decimal("2.500000")
    assert unit.per_1m_slo_tokens == Decimal("3.333333")
    assert unit.slo_waste == Decimal("2.50")


def test_energy() -> None:
    # 36 MJ = 10 kWh at $0.12 = $1.20; 1.8M tokens / 36M J = 0.05 tokens per joule.
    work = ServedWork(1_000_000, 800_000, energy_joules=36_000_000.0)
    unit = unit_costs(Decimal("5.00"), work, energy_per_kwh=0.12)
    assert unit.energy_cost == Decimal("1.20")
    assert unit.tokens_per_joule == pytest.approx(0.05)


def test_zero_work_gives_no_rates_not_a_division_by_zero() -> None:
    unit = unit_costs(Decimal("7.00"), ServedWork())
    assert unit.cost == Decimal("7.00")
    assert unit.per_1m_tokens is None
    assert unit.per_request is None
    assert unit.per_1m_input_tokens is None
    assert unit.per_1m_slo_tokens is None
    assert unit.slo_waste is None
    assert unit.tokens_per_joule is None


def test_no_good_tokens_means_all_waste_and_no_goodput_rate() -> None:
    unit = unit_costs(Decimal("4.00"), ServedWork(10, 10, 1, slo_tokens=0))
    assert unit.per_1m_slo_tokens is None
    assert unit.slo_waste == Decimal("4.00")


def test_work_adds_up_and_a_missing_measurement_stays_missing() -> None:
    day1 = ServedWork(10, 20, 2, slo_tokens=25, energy_joules=100.0)
    day2 = ServedWork(5, 5, 1, slo_tokens=10)
    assert day1 + day2 == ServedWork(15, 25, 3, slo_tokens=35, energy_joules=None)


def test_impossible_work_is_refused() -> None:
    with pytest.raises(PerfopsError, match="exceed"):
        ServedWork(10, 10, slo_tokens=21)
    with pytest.raises(PerfopsError, match="negative"):
        ServedWork(-1)


def test_unit_economics_per_service_and_day_from_attribution() -> None:
    # Day 0: chat holds an $4/h GPU for 2 h ($8) and idle costs $4, shared by weight -> chat $12.
    # Day 1: chat holds it 1 h ($4). 2M and 1M tokens: $6.00 and $4.00 per 1M tokens.
    rows = [
        UsageRow(0, 2 * H, "g0", "H100", "chat"),
        UsageRow(0, H, "g1", "H100", None),
        UsageRow(DAY_MS, DAY_MS + H, "g0", "H100", "chat"),
    ]
    result = attribute(rows, {"H100": Decimal(4)}.__getitem__, idle="weighted")
    work = {
        (0, "chat"): ServedWork(1_000_000, 1_000_000),
        (DAY_MS, "chat"): ServedWork(0, 1_000_000),
    }
    rows_out = unit_economics(result, work)
    assert [(r.start_ms, r.group, r.costs.cost, r.costs.per_1m_tokens) for r in rows_out] == [
        (0, ("chat",), Decimal("12.00"), Decimal("6.000000")),
        (DAY_MS, ("chat",), Decimal("4.00"), Decimal("4.000000")),
    ]


def test_unit_economics_leaves_idle_out_and_tolerates_missing_work() -> None:
    rows = [UsageRow(0, H, "g0", "H100", "chat", team="a"), UsageRow(0, H, "g1", "H100", None)]
    result = attribute(rows, {"H100": Decimal(4)}.__getitem__)
    out = unit_economics(result, {}, by=("service", "team"))
    assert [r.group for r in out] == [("chat", "a")]
    assert IDLE not in {r.group[0] for r in out}
    assert out[0].costs.per_1m_tokens is None
