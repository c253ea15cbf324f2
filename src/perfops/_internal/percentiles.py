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

__all__ = ["PERCENTILE_DEFINITION", "nearest_rank"]

PERCENTILE_DEFINITION = (
    "nearest rank: the q-th percentile of n samples is the value at rank ceil(q/100 x n) "
    "in ascending order (an observed value, never interpolated; numpy 'inverted_cdf')"
)


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
    order = np.argsort(data, kind="stable")
    ranked = data[order]
    if weights is None:
        cum = np.arange(1, len(ranked) + 1, dtype=np.float64)
    else:
        cum = np.cumsum(np.asarray(weights, dtype=np.float64).reshape(-1)[order])
    total = float(cum[-1]) if len(cum) else 0.0
    if total <= 0:
        return [math.nan for _ in qs]
    out = []
    for q in qs:
        # exact rank: p99.9 of 1,000 samples is the 999th (float q/100*n says the 1,000th)
        rank = max(1, math.ceil(Fraction(str(q)) * Fraction(repr(total)) / 100))
        index = int(np.searchsorted(cum, rank, side="left"))
        out.append(float(ranked[min(index, len(ranked) - 1)]))
    return out
