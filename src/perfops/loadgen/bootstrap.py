"""The percentile bootstrap over a run's requests, and the verdict on a difference.

The resampling unit is the request: a resample draws each of the run's requests a Poisson(1)
number of times (the Poisson bootstrap: Hanley & MacGibbon 2006; Chamandy et al., Google,
2012), and each request brings all of its samples (one TTFT, or every chunk gap of its
stream), so the gaps of one slow stream stay together, as they happened. Poisson counts,
unlike a draw of exactly n, let the number of requests vary as an open loop's Poisson arrivals
do, which the spread of goodput and tokens/s needs (for a constant-rate schedule they
overstate it a little: conservative). A statistic is the nearest-rank percentile of the
samples, each weighted by how many times its request was drawn: the value at rank
``ceil(q/100 x n)`` in ascending order, an observed value, never interpolated (numpy's
``inverted_cdf``), with the rank computed exactly. The load summary's percentiles are the
same definition, read from its histogram (which rounds up by at most 0.1%).

Why numpy and not ``scipy.stats.bootstrap``: scipy is not a dependency (numpy is), and what it
would bring is small: the statistic (a percentile over request clusters, weighted by the draw)
has to be written here anyway, and what is left, drawing counts and reading the interval off
the sorted replicates, is a few lines of numpy. scipy also resamples by drawing exactly n, and
its default BCa interval needs a jackknife over every request, whose acceleration is unstable
for tail percentiles. The percentile interval is used here, from a seeded
:class:`numpy.random.Generator`, so one seed gives one answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from perfops._internal.percentiles import samples_to_see_tail

__all__ = [
    "batches",
    "block_size",
    "interval",
    "min_samples",
    "resample_counts",
    "verdict",
    "weighted_percentiles",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_CELLS = 2_000_000  # resamples x samples held at once (16 MB of int64)


def min_samples(q: float, confidence: float = 0.95) -> int:
    """The fewest samples for a ``confidence`` interval of the ``q``-th percentile.

    With n samples, the largest is below the q-th percentile with probability (q/100)^n: until
    that is at most (1 - confidence)/2, not even the sample maximum is an upper confidence
    bound, so no interval exists that does not assume the distribution, and a bootstrap (which
    never goes past the sample maximum) only looks precise. For 95%: 6 samples for p50, 36 for
    p90, 368 for p99 (the same reasoning on the low side for q < 50).
    """
    return samples_to_see_tail(q, (1 - confidence) / 2)


def resample_counts(rng: np.random.Generator, n: int, k: int) -> Ints:
    """``k`` Poisson resamples of ``n`` items: row i says how many times resample i drew each
    item, each count an independent Poisson(1) draw."""
    return rng.poisson(1.0, size=(k, n)).astype(np.int64)


def batches(resamples: int, width: int) -> Iterator[int]:
    """Resamples per batch, so that a batch holds at most ~2M cells of ``width``."""
    size = max(1, min(resamples, _CELLS // max(1, width)))
    done = 0
    while done < resamples:
        step = min(size, resamples - done)
        yield step
        done += step


def block_size(samples: int, items: int) -> int:
    """Samples per block in :func:`weighted_percentiles`: about sqrt(samples) blocks, fewer
    when the (items x blocks) table would pass ~4M cells."""
    blocks = max(1, min(math.isqrt(samples) + 1, 4 * _CELLS // max(1, items)))
    return max(1, -(-samples // blocks))


def _ranks(q: float, totals: Ints) -> Ints:
    """Nearest rank ``ceil(q/100 x total)``, exactly (p99.9 of 1,000 is the 999th), at least 1."""
    f = Fraction(str(q))
    ranks = -((-f.numerator * totals) // (f.denominator * 100))
    return np.maximum(ranks, 1)


def weighted_percentiles(values: Floats, owners: Ints, counts: Ints, qs: Sequence[float]) -> Floats:
    """The nearest-rank ``qs`` of ``values`` (ascending; ``owners[i]`` is the item that value i
    belongs to) when each item weighs what its column of ``counts`` says, for each row of
    ``counts`` (k rows, one column per item): a ``(k, len(qs))`` array, NaN where a row weighs
    nothing.

    Exact, and fast on many samples: the values are cut into blocks of consecutive ranks; one
    matrix product gives each row's weight per block, a search on their running sums finds
    the block holding each rank, and only that block is summed value by value.
    """
    k, items = counts.shape
    width = len(values)
    out = np.full((k, len(qs)), np.nan)
    if width == 0:
        return out
    size = block_size(width, items)
    blocks = -(-width // size)
    per_block = np.bincount(
        owners * blocks + np.arange(width) // size, minlength=items * blocks
    ).reshape(items, blocks)
    weights = counts.astype(np.float64)  # integers: every sum below is exact
    mass = weights @ per_block.astype(np.float64)
    running = np.cumsum(mass, axis=1)
    totals = np.rint(running[:, -1]).astype(np.int64)
    rows = np.arange(k)
    steps = np.arange(size)
    for j, q in enumerate(qs):
        rank = _ranks(q, totals).astype(np.float64)[:, None] - 0.5
        block = np.minimum((running < rank).sum(axis=1), blocks - 1)
        start = block * size
        spots = start[:, None] + steps
        inside = np.where(
            spots < width, weights[rows[:, None], owners[np.minimum(spots, width - 1)]], 0.0
        )
        before = running[rows, block] - mass[rows, block]
        offset = (before[:, None] + np.cumsum(inside, axis=1) < rank).sum(axis=1)
        out[:, j] = np.where(totals > 0, values[np.minimum(start + offset, width - 1)], np.nan)
    return out


def interval(replicates: Floats, confidence: float) -> tuple[float, float] | None:
    """The percentile interval: the nearest-rank (1-c)/2 and (1+c)/2 quantiles of the
    replicates (NaN ones dropped); None when fewer than half of them are numbers."""
    finite = np.sort(replicates[np.isfinite(replicates)])
    if finite.size == 0 or finite.size * 2 < replicates.size:
        return None
    n = np.array([finite.size], dtype=np.int64)
    lo, hi = ((1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100)
    low = finite[int(_ranks(round(lo, 9), n)[0]) - 1]
    high = finite[int(_ranks(round(hi, 9), n)[0]) - 1]
    return float(low), float(high)


def verdict(low: float, high: float, *, higher_is_better: bool) -> str:
    """``better`` / ``worse`` when the interval of B - A excludes 0, else ``no significant
    difference``."""
    if low > 0:
        return "better" if higher_is_better else "worse"
    if high < 0:
        return "worse" if higher_is_better else "better"
    return "no significant difference"
