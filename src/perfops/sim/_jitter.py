"""A seeded stream of multiplicative step-time jitter, readable one value or many at a time."""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = ["Jitter", "JitterWindow"]

_CHUNK = 4096


def _drawer(
    rng: np.random.Generator | random.Random, sigma: float
) -> Callable[[int], NDArray[np.float64]]:
    mu = -sigma * sigma / 2  # mean 1: jitter never shifts the average step time
    if sigma == 0:
        return lambda k: np.ones(k)
    if isinstance(rng, np.random.Generator):
        return lambda k: rng.lognormal(mu, sigma, k)
    return lambda k: np.array([rng.lognormvariate(mu, sigma) for _ in range(k)])


def _flat(values: NDArray[np.float64], start: float | None = None) -> array[float]:
    out = array("d") if start is None else array("d", [start])
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return out


class JitterWindow:
    """``length`` consecutive factors of a :class:`Jitter`, with O(1) weighted sums."""

    __slots__ = ("_offset", "_p0", "_p1", "_x", "length")

    def __init__(
        self, x: array[float], p0: array[float], p1: array[float], offset: int, length: int
    ) -> None:
        self._x, self._p0, self._p1, self._offset, self.length = x, p0, p1, offset, length

    def linear_sum(self, steps: int, first: float, inc: float) -> float:
        """``sum((first + inc * i) * x[i] for i in range(steps))`` in constant time."""
        o, p0, p1 = self._offset, self._p0, self._p1
        plain = p0[o + steps] - p0[o]
        ramp = p1[o + steps] - p1[o] - o * plain  # sum(i * x[i]), i counted from the window
        return first * plain + inc * ramp

    def first_reaching(
        self, steps: int, start: float, scale: float, first: float, inc: float, t: float
    ) -> int:
        """The least ``j`` in ``0..steps`` with ``start + scale * linear_sum(j, first, inc)``
        not below ``t``, by bisection (the sums rise with ``j``), computed exactly as
        :meth:`linear_sum` computes them."""
        o, p0, p1 = self._offset, self._p0, self._p1
        p0o, p1o = p0[o], p1[o]
        lo, hi = 0, steps
        while lo < hi:
            mid = (lo + hi) // 2
            plain = p0[o + mid] - p0o
            ramp = p1[o + mid] - p1o - o * plain
            if start + scale * (first * plain + inc * ramp) < t:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def values(self, steps: int | None = None) -> array[float]:
        end = self._offset + (self.length if steps is None else steps)
        return self._x[self._offset : end]


class Jitter:
    """Lognormal factors drawn in fixed-size chunks.

    Whether a caller takes them one by one (:meth:`next`) or as a window (:meth:`window`
    then :meth:`advance`), the n-th factor is the same, so stepping an engine once per
    iteration or a run at a time gives the same timings for the same seed. Prefix sums kept
    beside the factors make the length of any run of steps an O(1) sum. All three are flat
    ``array('d')`` copies of NumPy's results: indexing one gives a Python float as a list
    would, and refilling costs a copy of bytes rather than a Python float per value.
    """

    __slots__ = ("_draw", "_p0", "_p1", "_pos", "_x")

    def __init__(self, rng: np.random.Generator | random.Random, sigma: float) -> None:
        if not (sigma >= 0 and math.isfinite(sigma)):
            raise ValueError(f"jitter sigma must be a finite number >= 0, got {sigma}")
        self._draw = _drawer(rng, sigma)
        self._x: array[float] = array("d")
        self._p0: array[float] = array("d", [0.0])  # p0[k] = sum(x[:k])
        self._p1: array[float] = array("d", [0.0])  # p1[k] = sum(i * x[i] for i < k)
        self._pos = 0

    def _ensure(self, k: int) -> None:
        if self._pos + k <= len(self._x):
            return
        parts = [np.frombuffer(self._x, dtype=float)[self._pos :]]
        have = len(parts[0])
        while have < k:
            parts.append(self._draw(_CHUNK))
            have += _CHUNK
        x = np.concatenate(parts)
        self._x = _flat(x)
        self._p0 = _flat(np.cumsum(x), start=0.0)
        self._p1 = _flat(np.cumsum(np.arange(len(x)) * x), start=0.0)
        self._pos = 0

    def next(self) -> float:
        self._ensure(1)
        value = self._x[self._pos]
        self._pos += 1
        return value

    def window(self, k: int) -> JitterWindow:
        """The next ``k`` factors, without consuming them."""
        self._ensure(k)
        return JitterWindow(self._x, self._p0, self._p1, self._pos, k)

    def advance(self, k: int) -> None:
        self._pos += k
