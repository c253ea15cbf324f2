"""What-if: which GPU, price and purchase mix serves the forecast traffic at the SLO cheapest.

Each candidate brings its capacity per GPU at the SLO (measured in a load-test sweep or taken
from the simulator; the caller supplies it), its prices per purchase option and the mix it
would buy. For each month of the forecast:

    replicas = ceil(traffic / (capacity_per_gpu x gpus_per_replica x utilisation_target))
    GPUs     = replicas x gpus_per_replica, split over the mix by largest remainder
    cost     = sum over purchase options of GPUs x price x hours per month
    $/1M     = cost / (traffic x 3600 x hours per month) x 10^6

Traffic is the sustained rate to size for (tokens/s); it grows by ``monthly_growth`` each
month. The cheapest candidate is the one that meets the SLO with the lowest total cost over
the horizon; ties go to fewer GPUs, then to the name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from perfops.errors import PerfopsError
from perfops.finops._money import cents, from_cents, largest_remainder
from perfops.finops.catalog import Purchase
from perfops.finops.roi import gpus_needed

__all__ = ["Candidate", "Forecast", "MonthPlan", "Plan", "Scenario", "plan"]

_RATE = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One configuration to price."""

    name: str
    gpu_type: str
    capacity_per_gpu: float
    """tokens/s one GPU sustains within the SLO"""
    prices: Mapping[Purchase, Decimal]
    """price per GPU-hour of each purchase option (PriceBook.rate(...).hourly)"""
    mix: Mapping[Purchase, float] | None = None
    """fraction of GPUs bought each way; default all on demand"""
    gpus_per_replica: int = 1
    meets_slo: bool = True
    """False when no setting of this candidate met the SLO in the sweep"""

    def __post_init__(self) -> None:
        if not self.capacity_per_gpu > 0 or self.gpus_per_replica < 1:
            raise PerfopsError(f"{self.name}: capacity and GPUs per replica must be positive")
        mix = self.purchase_mix
        if any(f < 0 for f in mix.values()) or abs(sum(mix.values()) - 1) > 1e-9:
            raise PerfopsError(f"{self.name}: the purchase mix {dict(mix)} must add up to 1")
        missing = [p for p, f in mix.items() if f > 0 and p not in self.prices]
        if missing:
            raise PerfopsError(f"{self.name}: no price for {', '.join(missing)}")
        if any(p < 0 for p in self.prices.values()):
            raise PerfopsError(f"{self.name}: a price is negative")

    @property
    def purchase_mix(self) -> Mapping[Purchase, float]:
        return self.mix if self.mix is not None else {"on_demand": 1.0}


@dataclass(frozen=True, slots=True)
class Forecast:
    """Traffic to serve: ``traffic`` tokens/s now, growing ``monthly_growth`` a month."""

    traffic: float
    monthly_growth: float = 0.0
    months: int = 1

    def __post_init__(self) -> None:
        if self.traffic < 0 or self.months < 1 or self.monthly_growth <= -1:
            raise PerfopsError("traffic >= 0, months >= 1 and growth > -100% are needed")

    def at(self, month: int) -> float:
        return self.traffic * (1 + self.monthly_growth) ** month


@dataclass(frozen=True, slots=True)
class MonthPlan:
    month: int
    traffic: float
    gpus: int
    gpus_by_purchase: Mapping[Purchase, int]
    cost: Decimal
    cost_per_1m_tokens: Decimal | None


@dataclass(frozen=True, slots=True)
class Plan:
    """One candidate over the forecast."""

    candidate: Candidate
    months: tuple[MonthPlan, ...]
    total_cost: Decimal
    cost_per_1m_tokens: Decimal | None
    """over the whole horizon"""

    @property
    def peak_gpus(self) -> int:
        return max(m.gpus for m in self.months)

    @property
    def monthly_cost(self) -> Decimal:
        """the last month's cost"""
        return self.months[-1].cost


@dataclass(frozen=True, slots=True)
class Scenario:
    """Every candidate's plan, cheapest first among those meeting the SLO."""

    plans: tuple[Plan, ...]
    cheapest: Plan | None
    """None when no candidate meets the SLO"""


def plan(
    candidates: Sequence[Candidate],
    forecast: Forecast,
    *,
    utilisation_target: float = 0.7,
    hours_per_month: Decimal = Decimal(730),
) -> Scenario:
    """Price every candidate over ``forecast``; see the module docstring for the rules."""
    plans = [_plan(c, forecast, utilisation_target, hours_per_month) for c in candidates]
    plans.sort(
        key=lambda p: (not p.candidate.meets_slo, p.total_cost, p.peak_gpus, p.candidate.name)
    )
    good = [p for p in plans if p.candidate.meets_slo]
    return Scenario(plans=tuple(plans), cheapest=good[0] if good else None)


def _plan(c: Candidate, forecast: Forecast, utilisation: float, hours: Decimal) -> Plan:
    months = tuple(_month(c, m, forecast.at(m), utilisation, hours) for m in range(forecast.months))
    total = sum((m.cost for m in months), Decimal(0))
    tokens = sum(m.traffic for m in months) * 3600 * float(hours)
    return Plan(c, months, total, _per_1m(total, tokens))


def _month(
    c: Candidate, month: int, traffic: float, utilisation: float, hours: Decimal
) -> MonthPlan:
    replicas = gpus_needed(traffic, c.capacity_per_gpu * c.gpus_per_replica, utilisation)
    gpus = replicas * c.gpus_per_replica
    options = list(c.purchase_mix)
    counts = largest_remainder(gpus, [Fraction(repr(c.purchase_mix[p])) for p in options])
    by_purchase = {p: n for p, n in zip(options, counts, strict=True) if n}
    exact = sum(
        (Fraction(c.prices[p]) * n * Fraction(hours) for p, n in by_purchase.items()), Fraction(0)
    )
    cost = from_cents(cents(exact))
    return MonthPlan(
        month, traffic, gpus, by_purchase, cost, _per_1m(cost, traffic * 3600 * float(hours))
    )


def _per_1m(cost: Decimal, tokens: float) -> Decimal | None:
    if tokens <= 0 or not math.isfinite(tokens):
        return None
    value = Fraction(cost) * 1_000_000 / Fraction(repr(tokens))
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        _RATE, rounding=ROUND_HALF_EVEN
    )
