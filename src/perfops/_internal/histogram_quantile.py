"""Quantiles estimated from a cumulative histogram, as Prometheus' ``histogram_quantile``.

This is not perfops' percentile (:mod:`perfops._internal.percentiles`, nearest rank of the
samples themselves): an engine's histogram keeps only counts per bucket, so a quantile is an
estimate, linear within the bucket that holds the rank. The dashboard shows these next to the
load tests' exact percentiles and names which is which. The rules follow Prometheus (and its
promtool gives the same answers, which the tests check):

- buckets are sorted by upper bound; equal bounds are merged; the highest must be ``+Inf``,
  else there is no answer (NaN); fewer than two buckets, or no observations, NaN too;
- cumulative counts that decrease (a scrape between bucket updates) are raised to the
  running maximum;
- the rank ``q x total`` falls in the first bucket whose count reaches it; in the ``+Inf``
  bucket the answer is the highest finite bound; in the first bucket the lower bound is 0
  (or the bucket's own bound when that is not positive);
- ``q`` below 0 gives -Inf, above 1 +Inf, NaN gives NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["histogram_quantile"]


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float:
    """The ``q`` quantile (0..1) of a histogram given as ``(upper bound, cumulative count)``
    pairs in any order; NaN when the histogram cannot answer (see the module's rules)."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    merged: dict[float, float] = {}
    for bound, count in buckets:
        merged[bound] = merged.get(bound, 0.0) + count
    bounds = sorted(merged)
    if len(bounds) < 2 or not math.isinf(bounds[-1]) or bounds[-1] < 0:
        return math.nan
    counts: list[float] = []
    for b in bounds:
        counts.append(max(merged[b], counts[-1]) if counts else merged[b])
    total = counts[-1]
    if not total > 0:
        return math.nan
    rank = q * total
    i = next((k for k in range(len(bounds) - 1) if counts[k] >= rank), len(bounds) - 1)
    if i == len(bounds) - 1:
        return bounds[-2]
    if i == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end, count = 0.0, bounds[i], counts[i]
    if i > 0:
        start = bounds[i - 1]
        count -= counts[i - 1]
        rank -= counts[i - 1]
    if count == 0:  # q = 0 with an empty first bucket: 0/0, NaN in Prometheus' float math
        return math.nan
    return start + (end - start) * (rank / count)
