"""Return on a change: two runs (before, after) compared in capacity and money.

A run is summed up by its capacity at the SLO per GPU (from a load-test sweep), its price per
GPU-hour and its GPU count. At a given traffic each run needs
``ceil(traffic / (capacity_per_gpu x utilisation_target))`` GPUs; the difference in what those
cost per month is the saving, and a one-off cost (engineering time, a migration) pays back in
``one_off / monthly saving`` months.

$/1M tokens is the measured figure when given (from attribution, reconciled to the bill);
otherwise it is derived from capacity: price / (capacity x 3600 x utilisation) x 10^6
(reference/finops.md section 4, formula 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Literal

from perfops.errors import PerfopsError
from perfops.finops._money import cents, decimal_of, from_cents

__all__ = ["Roi", "RunEconomics", "compare", "gpus_needed"]

_RATE = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class RunEconomics:
    """One side of a comparison."""

    capacity_per_gpu: float
    """tokens/s (or requests/s) one GPU sustains within the SLO"""
    price_per_gpu_hour: Decimal
    gpus: int
    cost_per_1m: Decimal | None = None
    """measured $ per 1M tokens (or requests); derived from capacity when None"""

    def __post_init__(self) -> None:
        if not self.capacity_per_gpu > 0 or not math.isfinite(self.capacity_per_gpu):
            raise PerfopsError(f"capacity per GPU must be positive, got {self.capacity_per_gpu}")
        if self.price_per_gpu_hour < 0 or self.gpus < 0:
            raise PerfopsError("price per GPU-hour and GPU count cannot be negative")


@dataclass(frozen=True, slots=True)
class Roi:
    """What a change bought."""

    capacity_change: float
    """after / before - 1, per GPU at the SLO (0.25 = 25% more)"""
    fleet_capacity_change: float
    """the same for the whole fleet (capacity x GPUs)"""
    cost_per_1m_before: Decimal
    cost_per_1m_after: Decimal
    cost_per_1m_change: Decimal
    """after - before; negative is cheaper"""
    gpus_before: int
    gpus_after: int
    """GPUs each needs at ``traffic``"""
    monthly_cost_before: Decimal
    monthly_cost_after: Decimal
    monthly_savings: Decimal
    """before - after; negative when the change costs more"""
    payback_months: Decimal | None
    """one-off cost / monthly savings; None when nothing is saved"""
    unit: Literal["tokens", "requests"]


def gpus_needed(traffic: float, capacity_per_gpu: float, utilisation_target: float = 1.0) -> int:
    """GPUs to serve ``traffic`` with each at most ``utilisation_target`` of its capacity.

    Computed on the decimal face values, so 10,000 / (2,000 x 0.5) is 10, never 11.
    """
    if not 0 < utilisation_target <= 1:
        raise PerfopsError(f"utilisation target {utilisation_target} is not in (0, 1]")
    if traffic < 0 or capacity_per_gpu <= 0:
        raise PerfopsError("traffic cannot be negative and capacity must be positive")
    exact = _face(traffic) / (_face(capacity_per_gpu) * _face(utilisation_target))
    return math.ceil(exact)


def compare(
    before: RunEconomics,
    after: RunEconomics,
    *,
    traffic: float,
    one_off_cost: Decimal | float = 0,
    utilisation_target: float = 1.0,
    hours_per_month: Decimal = Decimal(730),
    unit: Literal["tokens", "requests"] = "tokens",
) -> Roi:
    """Compare two runs at ``traffic`` (tokens/s or requests/s, as ``unit``)."""
    one_off = decimal_of(one_off_cost, what="one-off cost")
    if one_off < 0:
        raise PerfopsError(f"a one-off cost cannot be negative ({one_off})")
    n_before = gpus_needed(traffic, before.capacity_per_gpu, utilisation_target)
    n_after = gpus_needed(traffic, after.capacity_per_gpu, utilisation_target)
    month_before = _monthly(n_before, before.price_per_gpu_hour, hours_per_month)
    month_after = _monthly(n_after, after.price_per_gpu_hour, hours_per_month)
    savings = month_before - month_after
    per_1m_before = _per_1m(before, utilisation_target)
    per_1m_after = _per_1m(after, utilisation_target)
    return Roi(
        capacity_change=after.capacity_per_gpu / before.capacity_per_gpu - 1,
        fleet_capacity_change=_ratio(
            after.capacity_per_gpu * after.gpus, before.capacity_per_gpu * before.gpus
        ),
        cost_per_1m_before=per_1m_before,
        cost_per_1m_after=per_1m_after,
        cost_per_1m_change=per_1m_after - per_1m_before,
        gpus_before=n_before,
        gpus_after=n_after,
        monthly_cost_before=month_before,
        monthly_cost_after=month_after,
        monthly_savings=savings,
        payback_months=_payback(one_off, savings),
        unit=unit,
    )


def _face(value: float) -> Fraction:
    return Fraction(repr(float(value)))


def _monthly(gpus: int, price: Decimal, hours: Decimal) -> Decimal:
    return from_cents(cents(Fraction(price) * gpus * Fraction(hours)))


def _per_1m(run: RunEconomics, utilisation: float) -> Decimal:
    if run.cost_per_1m is not None:
        return run.cost_per_1m
    per_hour = _face(run.capacity_per_gpu) * 3600 * _face(utilisation)
    value = Fraction(run.price_per_gpu_hour) / per_hour * 1_000_000
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        _RATE, rounding=ROUND_HALF_EVEN
    )


def _ratio(after: float, before: float) -> float:
    return after / before - 1 if before > 0 else math.inf if after > 0 else 0.0


def _payback(one_off: Decimal, savings: Decimal) -> Decimal | None:
    if savings <= 0:
        return None
    return (one_off / savings).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
