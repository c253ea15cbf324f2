"""What-if planning, worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perfops.config import Pricing
from perfops.errors import PerfopsError
from perfops.finops import Candidate, Forecast, load_catalog, plan, price_book


def test_twice_the_gpus_at_half_the_price_costs_the_same() -> None:
    # 10,000 tok/s at 50% utilisation target.
    # big:   2,000 tok/s per GPU at $6.88 -> ceil(10,000 / 1,000) = 10 GPUs;
    #        10 x 6.88 x 730 = $50,224.00 a month.
    # small: 1,000 tok/s per GPU at $3.44 -> 20 GPUs; 20 x 3.44 x 730 = $50,224.00.
    # Both: $50,224 / (10,000 x 3,600 x 730 = 26.28e9 tokens) x 1e6 = $1.911111 per 1M.
    # A tie goes to fewer GPUs: big.
    big = Candidate("big", "H100", 2_000.0, {"on_demand": Decimal("6.88")})
    small = Candidate("small", "L40S", 1_000.0, {"on_demand": Decimal("3.44")})
    result = plan([small, big], Forecast(10_000.0), utilisation_target=0.5)
    costs = {p.candidate.name: (p.peak_gpus, p.monthly_cost) for p in result.plans}
    assert costs == {"big": (10, Decimal("50224.00")), "small": (20, Decimal("50224.00"))}
    assert all(p.cost_per_1m_tokens == Decimal("1.911111") for p in result.plans)
    assert result.cheapest is not None
    assert result.cheapest.candidate.name == "big"


def test_purchase_mix_and_tensor_parallel_replicas() -> None:
    # 70B model at TP=2: 600 tok/s per GPU -> 1,200 per replica; 5,000 tok/s at 70%:
    # ceil(5,000 / 840) = 6 replicas = 12 GPUs; 1/3 spot -> 4 spot, 8 on demand.
    # 4 x 3.32 x 730 + 8 x 7.91 x 730 = 9,694.40 + 46,194.40 = $55,888.80.
    c = Candidate(
        "h200-tp2",
        "H200",
        600.0,
        {"on_demand": Decimal("7.91"), "spot": Decimal("3.32")},
        mix={"on_demand": 2 / 3, "spot": 1 / 3},
        gpus_per_replica=2,
    )
    month = plan([c], Forecast(5_000.0)).plans[0].months[0]
    assert (month.gpus, dict(month.gpus_by_purchase)) == (12, {"on_demand": 8, "spot": 4})
    assert month.cost == Decimal("55888.80")


def test_growth_and_the_candidate_that_misses_the_slo() -> None:
    # 1,000 tok/s growing 50% a month for 3 months: 1,000, 1,500, 2,250 tok/s.
    # At 1,000 tok/s per GPU and 100% target: 1, 2, 3 GPUs at $1 -> $730, $1,460, $2,190.
    ok = Candidate("ok", "L40S", 1_000.0, {"on_demand": Decimal(1)})
    cheap = Candidate("cheap", "L40S", 1_000.0, {"on_demand": Decimal("0.5")}, meets_slo=False)
    result = plan(
        [cheap, ok], Forecast(1_000.0, monthly_growth=0.5, months=3), utilisation_target=1
    )
    assert result.cheapest is not None
    assert result.cheapest.candidate.name == "ok"
    months = result.cheapest.months
    assert [(m.gpus, m.cost) for m in months] == [
        (1, Decimal("730.00")),
        (2, Decimal("1460.00")),
        (3, Decimal("2190.00")),
    ]
    assert result.cheapest.total_cost == Decimal("4380.00")
    assert result.plans[-1].candidate.name == "cheap"  # listed, after those meeting the SLO


def test_nothing_meets_the_slo() -> None:
    c = Candidate("x", "L40S", 100.0, {"on_demand": Decimal(1)}, meets_slo=False)
    assert plan([c], Forecast(10.0)).cheapest is None


def test_prices_from_the_price_book() -> None:
    prices = price_book(Pricing(provider="gcp"), load_catalog())
    spot, on_demand = prices.rate("H200", purchase="spot"), prices.rate("H200")
    c = Candidate(
        "gcp-h200",
        "H200",
        1_000.0,
        {"spot": spot.hourly, "on_demand": on_demand.hourly},
        mix={"spot": 0.5, "on_demand": 0.5},
    )
    # 2 GPUs: 1 spot $6.26 + 1 on demand $10.44 = $16.70/h x 730 = $12,191.00
    assert plan([c], Forecast(1_400.0)).plans[0].monthly_cost == Decimal("12191.00")


def test_a_mix_that_does_not_add_up_is_refused() -> None:
    with pytest.raises(PerfopsError, match="add up to 1"):
        Candidate("x", "H100", 1.0, {"on_demand": Decimal(1)}, mix={"on_demand": 0.5})
    with pytest.raises(PerfopsError, match="no price for spot"):
        Candidate("x", "H100", 1.0, {"on_demand": Decimal(1)}, mix={"spot": 1.0})
