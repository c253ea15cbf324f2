"""A latency histogram in the HDR style: 3 significant digits from 1 µs to 1 hour, O(1) record.

Values are seconds, counted in integer nanoseconds. Below 2,048 ns every nanosecond has its own
bucket; above, each power of two is split into 1,024 equal buckets, so a bucket is never wider
than 1/1,024 of its lower edge (0.098%). Values below 0 count as 0; values above one hour count
in the top bucket; min, max and mean stay exact.

Percentiles are nearest-rank (the value at rank ``ceil(q/100 * count)``, as
``numpy.percentile(method="inverted_cdf")`` gives, with the rank computed exactly) on bucket
upper edges clamped to the maximum; the lowest rank is the exact minimum. A percentile is never
below the true value and at most 0.1% above it from 1 µs up. Histograms of worker processes
combine with :meth:`LatencyHistogram.merge`, through JSON with ``to_dict``/``from_dict``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["LatencyHistogram"]

_SUB_BITS = 10  # 1,024 buckets per power of two: 3 significant decimal digits
_SUB = 1 << _SUB_BITS
_LINEAR_BITS = _SUB_BITS + 1  # values below 2**11 ns get 1 ns buckets
_NS = 1e9
_TOP_NS = 3600 * 10**9  # one hour
_DEFAULT_QS = (50.0, 90.0, 95.0, 99.0, 99.9)


def _index(ns: int) -> int:
    shift = max(ns.bit_length() - _LINEAR_BITS, 0)
    return (shift << _SUB_BITS) + (ns >> shift)


_SIZE = _index(_TOP_NS) + 1


def _upper_ns(index: int) -> int:
    """The exclusive upper edge of bucket ``index``, in ns."""
    shift = max((index >> _SUB_BITS) - 1, 0)
    return ((index - (shift << _SUB_BITS)) + 1) << shift


class LatencyHistogram:
    """Counts of latencies (seconds) in log-linear buckets; see the module docstring."""

    __slots__ = ("_counts", "_max", "_min", "_n", "_sum")

    def __init__(self) -> None:
        self._counts: npt.NDArray[np.int64] = np.zeros(_SIZE, dtype=np.int64)
        self._n = 0
        self._sum = 0.0
        self._min = math.inf
        self._max = -math.inf

    def record(self, value: float, count: int = 1) -> None:
        """Count ``value`` seconds ``count`` times."""
        if not value > 0.0:
            if value != value:  # NaN
                raise ValueError("cannot record NaN")
            value = 0.0
        if value < 3600.0:
            ns = int(value * _NS)
        elif value == math.inf:
            raise ValueError("cannot record an infinite latency")
        else:
            ns = _TOP_NS
        shift = ns.bit_length() - _LINEAR_BITS
        if shift < 0:
            shift = 0
        self._counts[(shift << _SUB_BITS) + (ns >> shift)] += count
        self._n += count
        self._sum += value * count
        if value < self._min:
            self._min = value
        if value > self._max:
            self._max = value

    def record_many(self, values: npt.ArrayLike) -> None:
        """Count each of ``values`` (seconds) once: a vectorised :meth:`record`."""
        data = np.asarray(values, dtype=np.float64).reshape(-1)
        if data.size == 0:
            return
        if not np.isfinite(data).all():
            raise ValueError("cannot record NaN or an infinite latency")
        data = np.maximum(data, 0.0)
        ns = (np.minimum(data, 3600.0) * _NS).astype(np.int64)
        _, exponent = np.frexp(ns.astype(np.float64))  # bit length, exact below 2**53
        shift = np.maximum(exponent - _LINEAR_BITS, 0).astype(np.int64)
        np.add.at(self._counts, (shift << _SUB_BITS) + (ns >> shift), 1)
        self._n += int(data.size)
        self._sum += float(data.sum())
        self._min = min(self._min, float(data.min()))
        self._max = max(self._max, float(data.max()))

    @property
    def count(self) -> int:
        """Number of values recorded."""
        return self._n

    @property
    def sum(self) -> float:
        """Sum of the values recorded (seconds)."""
        return self._sum

    @property
    def min(self) -> float:
        """Smallest value recorded, NaN when empty."""
        return self._min if self._n else math.nan

    @property
    def max(self) -> float:
        """Largest value recorded, NaN when empty."""
        return self._max if self._n else math.nan

    @property
    def mean(self) -> float:
        """Mean of the values recorded, NaN when empty."""
        return self._sum / self._n if self._n else math.nan

    def percentile(self, q: float) -> float:
        """The nearest-rank ``q``-th percentile (``q`` in 0..100), NaN when empty."""
        return self.percentiles((q,))[f"p{q:g}"]

    def percentiles(self, qs: Iterable[float] = _DEFAULT_QS) -> dict[str, float]:
        """``{"p50": ..., "p99.9": ...}`` for each of ``qs``, in one pass."""
        qs = list(qs)
        bad = [q for q in qs if not 0 <= q <= 100]
        if bad:
            raise ValueError(f"a percentile is between 0 and 100, got {bad[0]}")
        if not self._n:
            return {f"p{q:g}": math.nan for q in qs}
        # exact ranks: p99.9 of 1,000 values is the 999th (float q/100*n says the 1,000th)
        ranks = [math.ceil(Fraction(str(q)) * self._n / 100) for q in qs]
        indices = np.searchsorted(np.cumsum(self._counts), ranks).tolist()
        return {
            f"p{q:g}": self._min if rank <= 1 else min(_upper_ns(i) / _NS, self._max)
            for q, rank, i in zip(qs, ranks, indices, strict=True)
        }

    def merge(self, other: LatencyHistogram) -> None:
        """Add ``other``'s counts to this histogram."""
        self._counts += other._counts
        self._n += other._n
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: the non-empty buckets and the exact totals."""
        nonzero = np.flatnonzero(self._counts)
        return {
            "version": 1,
            "count": self._n,
            "sum": self._sum,
            "min": self._min if self._n else None,
            "max": self._max if self._n else None,
            "buckets": nonzero.tolist(),
            "counts": self._counts[nonzero].tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatencyHistogram:
        """The histogram :meth:`to_dict` described; ValueError on anything else."""
        if data.get("version") != 1:
            raise ValueError(f"unknown histogram version {data.get('version')!r}, expected 1")
        hist = cls()
        buckets = np.asarray(data["buckets"], dtype=np.int64)
        counts = np.asarray(data["counts"], dtype=np.int64)
        bad = buckets.shape != counts.shape or (buckets.size and not buckets.min() >= 0)
        if bad or (buckets.size and buckets.max() >= _SIZE) or (counts < 0).any():
            raise ValueError("histogram buckets and counts do not match this histogram's layout")
        np.add.at(hist._counts, buckets, counts)
        hist._n = int(counts.sum())
        if hist._n != data["count"]:
            raise ValueError(f"histogram counts sum to {hist._n}, not {data['count']}")
        if hist._n:
            hist._sum, hist._min, hist._max = (float(data[k]) for k in ("sum", "min", "max"))
        return hist

    def __repr__(self) -> str:
        return f"LatencyHistogram(count={self._n}, min={self.min:g}, max={self.max:g})"
