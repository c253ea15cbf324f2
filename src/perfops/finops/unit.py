"""Unit economics: what a token, a request and a good (SLO-compliant) token cost.

Definitions (after OpenCost's inference cost, ``pkg/inferencecost/calculator.go``):

* $/1M tokens = cost / (input + output tokens) x 10^6.
* Input vs output: input cost = cost x prefill time / (prefill + decode time) when both are
  known; otherwise output tokens are priced 2.5x input tokens, as OpenCost does.
* $/1M SLO-compliant tokens = cost / tokens of requests that met every SLO x 10^6 (goodput, as
  AIPerf defines it); SLO waste = cost x (1 - SLO-compliant tokens / all tokens).
* Tokens per joule and energy cost when the energy used is known.

A rate with nothing to divide by (no tokens, no requests) is None, shown as "n/a", never a
division by zero. Costs are whole cents; rates carry six decimal places.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Literal

from perfops.errors import PerfopsError
from perfops.finops._money import cents, decimal_of, from_cents, largest_remainder
from perfops.finops.attribution import IDLE, SHARED, Attribution, CostLine

__all__ = [
    "OUTPUT_TOKEN_WEIGHT",
    "GroupField",
    "ServedWork",
    "UnitCosts",
    "UnitRow",
    "unit_costs",
    "unit_economics",
]

OUTPUT_TOKEN_WEIGHT = Fraction(5, 2)
"""an output token costs 2.5 input tokens when prefill/decode times are unknown (OpenCost)"""
GroupField = Literal["service", "model", "team", "tenant"]
_RATE = Decimal("0.000001")
_JOULES_PER_KWH = 3_600_000


@dataclass(frozen=True, slots=True)
class ServedWork:
    """What was served for the money: tokens, requests, SLO-compliant tokens, time, energy."""

    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    slo_tokens: int | None = None
    """input + output tokens of the requests that met every SLO; None when not measured"""
    prefill_seconds: float | None = None
    decode_seconds: float | None = None
    energy_joules: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and value < 0:
                raise PerfopsError(f"{f.name} is negative ({value})")
        if self.slo_tokens is not None and self.slo_tokens > self.tokens:
            raise PerfopsError(
                f"{self.slo_tokens} SLO-compliant tokens exceed the {self.tokens} tokens served",
                hint="count both from the same requests",
            )

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: ServedWork) -> ServedWork:
        """Both together; a measurement missing on either side is missing in the sum."""

        def add(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        slo = self.slo_tokens, other.slo_tokens
        return ServedWork(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            requests=self.requests + other.requests,
            slo_tokens=None if slo[0] is None or slo[1] is None else slo[0] + slo[1],
            prefill_seconds=add(self.prefill_seconds, other.prefill_seconds),
            decode_seconds=add(self.decode_seconds, other.decode_seconds),
            energy_joules=add(self.energy_joules, other.energy_joules),
        )


@dataclass(frozen=True, slots=True)
class UnitCosts:
    """Unit costs of one cost over the work it paid for; None where undefined."""

    cost: Decimal
    input_cost: Decimal | None
    output_cost: Decimal | None
    split: Literal["timing", "ratio"] | None
    """how input and output cost were told apart: prefill/decode time, or the 2.5x ratio"""
    per_1m_input_tokens: Decimal | None
    per_1m_output_tokens: Decimal | None
    per_1m_tokens: Decimal | None
    per_request: Decimal | None
    per_1m_slo_tokens: Decimal | None
    slo_waste: Decimal | None
    tokens_per_joule: float | None
    energy_cost: Decimal | None


def unit_costs(
    cost: Decimal, work: ServedWork, *, energy_per_kwh: Decimal | float | None = None
) -> UnitCosts:
    """The unit costs of ``cost`` (a total in the workspace currency) over ``work``."""
    if cost < 0:
        raise PerfopsError(f"a cost cannot be negative ({cost})")
    exact = Fraction(cost)
    split, shares = _input_output(work)
    input_cost = output_cost = per_input = per_output = None
    if shares is not None:
        parts = largest_remainder(cents(cost), list(shares))
        input_cost, output_cost = from_cents(parts[0]), from_cents(parts[1])
        in_share = shares[0] / sum(shares)
        per_input = _rate(exact * in_share, work.input_tokens)
        per_output = _rate(exact * (1 - in_share), work.output_tokens)
    slo = work.slo_tokens
    waste = None
    if slo is not None and work.tokens:
        waste = from_cents(cents(exact * (1 - Fraction(slo, work.tokens))))
    return UnitCosts(
        cost=cost,
        input_cost=input_cost,
        output_cost=output_cost,
        split=split,
        per_1m_input_tokens=per_input,
        per_1m_output_tokens=per_output,
        per_1m_tokens=_rate(exact, work.tokens),
        per_request=_rate(exact, work.requests, per=1),
        per_1m_slo_tokens=None if slo is None else _rate(exact, slo),
        slo_waste=waste,
        tokens_per_joule=(
            work.tokens / work.energy_joules if work.energy_joules and work.tokens else None
        ),
        energy_cost=_energy_cost(work.energy_joules, energy_per_kwh),
    )


def _input_output(
    work: ServedWork,
) -> tuple[Literal["timing", "ratio"] | None, tuple[Fraction, Fraction] | None]:
    prefill, decode = work.prefill_seconds, work.decode_seconds
    if prefill is not None and decode is not None and prefill + decode > 0:
        return "timing", (Fraction(prefill), Fraction(decode))
    if work.tokens == 0:
        return None, None
    return "ratio", (Fraction(work.input_tokens), OUTPUT_TOKEN_WEIGHT * work.output_tokens)


def _rate(cost: Fraction, count: int, *, per: int = 1_000_000) -> Decimal | None:
    if count <= 0:
        return None
    value = cost * per / count
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        _RATE, rounding=ROUND_HALF_EVEN
    )


def _energy_cost(joules: float | None, per_kwh: Decimal | float | None) -> Decimal | None:
    if joules is None or per_kwh is None:
        return None
    price = decimal_of(per_kwh, what="energy price per kWh")
    return from_cents(cents(Fraction(price) * Fraction(joules) / _JOULES_PER_KWH))


@dataclass(frozen=True, slots=True)
class UnitRow:
    """The unit costs of one group (e.g. a service) in one bucket (e.g. a day)."""

    start_ms: int
    end_ms: int
    group: tuple[str | None, ...]
    work: ServedWork
    costs: UnitCosts


def unit_economics(
    attribution: Attribution | Iterable[CostLine],
    work: Mapping[tuple[int, *tuple[str | None, ...]], ServedWork],
    *,
    by: Sequence[GroupField] = ("service",),
    energy_per_kwh: Decimal | float | None = None,
) -> tuple[UnitRow, ...]:
    """Unit costs per bucket and group, from attribution lines and the work served.

    Each group's cost is its lines' total (GPU + idle share + shared share: the allocation
    basis, which reconciles to the bill); ``__idle__`` and ``__shared__`` lines belong to no
    group. ``work`` is keyed by ``(bucket start_ms, *values of by)``; a group with cost but no
    work gets zero work (every rate n/a).
    """
    lines = attribution.lines if isinstance(attribution, Attribution) else tuple(attribution)
    totals: dict[tuple[int, int, tuple[str | None, ...]], Decimal] = {}
    for line in lines:
        if line.service in (IDLE, SHARED):
            continue
        key = (line.start_ms, line.end_ms, tuple(getattr(line, f) for f in by))
        totals[key] = totals.get(key, Decimal(0)) + line.total
    rows = []
    for (start, end, group), cost in totals.items():
        served = work.get((start, *group), ServedWork())
        rows.append(
            UnitRow(
                start, end, group, served, unit_costs(cost, served, energy_per_kwh=energy_per_kwh)
            )
        )
    return tuple(rows)
