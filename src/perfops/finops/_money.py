"""Exact money: decimals at face value, rounding to cents, largest-remainder splits.

Every amount perfops reports is a :class:`~decimal.Decimal` of whole cents. A total is rounded
once (half up, as invoices are); its parts are then split from that total by the largest
remainder method, so the parts always add back to the total exactly and none is negative.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CENT",
    "cents",
    "decimal_of",
    "from_cents",
    "largest_remainder",
    "split_cents",
]

CENT = Decimal("0.01")


def decimal_of(value: float | int | str | Decimal, *, what: str = "amount") -> Decimal:
    """``value`` at its decimal face value (6.88, not the nearest binary double)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{what} {value!r} is not a finite number")
        value = repr(value)
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{what} {value!r} is not a finite number")
    return result


def cents(amount: Decimal | Fraction) -> int:
    """``amount`` rounded half up to whole cents."""
    exact = Fraction(amount) * 100
    whole = math.floor(exact)
    return whole + 1 if exact - whole >= Fraction(1, 2) else whole


def from_cents(count: int) -> Decimal:
    """``count`` cents as a Decimal with two places."""
    return Decimal(count).scaleb(-2).quantize(CENT, rounding=ROUND_HALF_UP)


def largest_remainder(total: int, weights: Sequence[Fraction]) -> list[int]:
    """``total`` (cents, GPUs) split in whole units in proportion to exact ``weights``."""
    whole = sum(weights, Fraction(0))
    if total == 0 or whole == 0:
        if total:
            raise ValueError(f"cannot split {total} cents over weights that are all zero")
        return [0] * len(weights)
    shares = [Fraction(total) * w / whole for w in weights]
    parts = [math.floor(s) for s in shares]
    left = total - sum(parts)
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return parts


def split_cents(total: int, weights: NDArray[np.float64]) -> NDArray[np.int64]:
    """``total`` cents split in proportion to non-negative float ``weights``.

    The parts add up to ``total`` exactly; a zero weight gets zero cents. Ties in the
    remainders go to the earlier position, so the split is deterministic.
    """
    out = np.zeros(len(weights), dtype=np.int64)
    if total == 0:
        return out
    live = np.flatnonzero(weights > 0)
    if total < 0 or len(live) == 0:
        raise ValueError(f"cannot split {total} cents over {len(live)} positive weights")
    w = weights[live]
    shares = w / float(w.sum()) * total
    parts = np.floor(shares).astype(np.int64)
    left = total - int(parts.sum())
    if left < 0:  # float rounding overshot: take cents back from the smallest remainders
        order = np.argsort(shares - parts, kind="stable")
        order = order[parts[order] > 0]
        parts[order[:-left]] -= 1
    elif left:
        parts += left // len(live)
        order = np.argsort(-(shares - np.floor(shares)), kind="stable")
        parts[order[: left % len(live)]] += 1
    out[live] = parts
    return out
