"""The one percentile definition of perfops: nearest rank, never interpolated.

The q-th percentile of n samples is the value at rank ``ceil(q/100 * n)`` of the samples in
ascending order (rank 1 for q = 0): a value that was observed, as ``numpy.percentile(...,
method="inverted_cdf")`` gives. With weights, a sample of weight w counts as w samples (the
token-weighted ITL of the virtual-time driver). Load tests, the simulator's summaries and the
SLO judge all use this function, so one run's p99 is the same number wherever it is shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import numpy.typing as npt

__all__ = ["PERCENTILE_DEFINITION", "nearest_rank", "samples_to_see_tail"]

PERCENTILE_DEFINITION = (
    "nearest rank: the q-th percentile of n samples is the value at rank ceil(q/100 x n) "
    "in ascending order (an observed value, never interpolated; numpy 'inverted_cdf')"
)


def samples_to_see_tail(q: float, miss: float) -> int:
    """The fewest samples for which the chance that none lies beyond the ``q``-th percentile
    (below it, for q < 50) is at most ``miss``: ``ceil(ln miss / ln(max(q, 100-q)/100))``.
    The one rule behind both the judge's minimum (a verdict must have seen the tail it judges,
    ``miss`` 5%) and the bootstrap's (a two-sided 95% interval needs the sample maximum to be
    an upper bound, ``miss`` 2.5%)."""
    if not 0 < q < 100:
        raise ValueError(f"a percentile here is strictly between 0 and 100, got {q}")
    if not 0 < miss < 1:
        raise ValueError(f"a chance is strictly between 0 and 1, got {miss}")
    p = max(q, 100 - q) / 100
    return max(1, math.ceil(math.log(miss) / math.log(p) - 1e-9))


def nearest_rank(
    values: npt.ArrayLike,
    qs: Sequence[float],
    weights: npt.ArrayLike | None = None,
) -> list[float]:
    """The nearest-rank ``q``-th percentile of ``values`` for each of ``qs`` (0..100); NaN for
    each when there are no values (or no weight)."""
    bad = [q for q in qs if not 0 <= q <= 100]
    if bad:
        raise ValueError(f"a percentile is between 0 and 100, got {bad[0]}")
    data = np.asarray(values, dtype=np.float64).reshape(-1)
    w = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    counts = w is None or bool(np.all(w == np.floor(w)))
    if len(data) >= _BINNED_FROM and counts:
        binned = _binned(data, qs, w)
        if binned is not None:
            return binned
    order = np.argsort(data, kind="stable")
    ranked = data[order]
    cum = np.arange(1, len(ranked) + 1, dtype=np.float64) if w is None else np.cumsum(w[order])
    total = float(cum[-1]) if len(cum) else 0.0
    if total <= 0:
        return [math.nan for _ in qs]
    out = []
    for q in qs:
        # counts: the exact integer rank; other weights: the first value whose cumulative
        # weight reaches q% of the total (the same rule, without a rank to round to)
        target = _rank(q, total) if counts else max(q / 100 * total, float(cum[cum > 0][0]))
        index = int(np.searchsorted(cum, target, side="left"))
        out.append(float(ranked[min(index, len(ranked) - 1)]))
    return out


def _rank(q: float, total: float) -> int:
    # exact rank: p99.9 of 1,000 samples is the 999th (float q/100*n says the 1,000th)
    return max(1, math.ceil(Fraction(str(q)) * Fraction(repr(total)) / 100))


_BINNED_FROM = 4096
_BINS = 4096


def _binned(
    data: npt.NDArray[np.float64], qs: Sequence[float], w: npt.NDArray[np.float64] | None
) -> list[float] | None:
    """What sorting gives, in linear time, for integer weights (counts sum exactly in any
    order): values are binned by a monotone map, the binned cumulative weight finds the bin
    holding each rank, and only that bin is sorted. None when the values cannot be binned
    (not finite, or all equal) or carry no weight; the caller then sorts."""
    lo, hi = float(data.min()), float(data.max())
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(hi - lo)) or hi == lo:
        return None
    weight = np.ones_like(data) if w is None else w
    total = float(weight.sum())
    if total <= 0:
        return None
    bins = np.minimum(((data - lo) * (_BINS / (hi - lo))).astype(np.int64), _BINS - 1)
    reached = np.cumsum(np.bincount(bins, weights=weight, minlength=_BINS))
    out = []
    for q in qs:
        rank = _rank(q, total)
        # the first bin reaching the rank holds weight, so values; the top bin holds ``hi``
        b = min(int(np.searchsorted(reached, rank, side="left")), _BINS - 1)
        inside = bins == b
        order = np.argsort(data[inside], kind="stable")
        ranked = data[inside][order]
        cum = (reached[b - 1] if b else 0.0) + np.cumsum(weight[inside][order])
        pick = min(int(np.searchsorted(cum, rank, side="left")), len(ranked) - 1)
        out.append(float(ranked[pick]))
    return out
