"""A seeded stream of multiplicative step-time jitter, readable one value or many at a time."""

from __future__ import annotations

import math
import random
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


class JitterWindow:
    """``length`` consecutive factors of a :class:`Jitter`, with O(1) weighted sums."""

    __slots__ = ("_offset", "_p0", "_p1", "_x", "length")

    def __init__(
        self, x: list[float], p0: list[float], p1: list[float], offset: int, length: int
    ) -> None:
        self._x, self._p0, self._p1, self._offset, self.length = x, p0, p1, offset, length

    def linear_sum(self, steps: int, first: float, inc: float) -> float:
        """``sum((first + inc * i) * x[i] for i in range(steps))`` in constant time."""
        o, p0, p1 = self._offset, self._p0, self._p1
        plain = p0[o + steps] - p0[o]
        ramp = p1[o + steps] - p1[o] - o * plain  # sum(i * x[i]), i counted from the window
        return first * plain + inc * ramp

    def values(self, steps: int | None = None) -> list[float]:
        end = self._offset + (self.length if steps is None else steps)
        return self._x[self._offset : end]


class Jitter:
    """Lognormal factors drawn in fixed-size chunks.

    Whether a caller takes them one by one (:meth:`next`) or as a window (:meth:`window`
    then :meth:`advance`), the n-th factor is the same, so stepping an engine once per
    iteration or a run at a time gives the same timings for the same seed. Prefix sums kept
    beside the factors make the length of any run of steps an O(1) sum.
    """

    __slots__ = ("_draw", "_p0", "_p1", "_pos", "_x")

    def __init__(self, rng: np.random.Generator | random.Random, sigma: float) -> None:
        if not (sigma >= 0 and math.isfinite(sigma)):
            raise ValueError(f"jitter sigma must be a finite number >= 0, got {sigma}")
        self._draw = _drawer(rng, sigma)
        self._x: list[float] = []
        self._p0: list[float] = [0.0]  # p0[k] = sum(x[:k])
        self._p1: list[float] = [0.0]  # p1[k] = sum(i * x[i] for i < k)
        self._pos = 0

    def _ensure(self, k: int) -> None:
        if self._pos + k <= len(self._x):
            return
        parts = [np.asarray(self._x[self._pos :], dtype=float)]
        have = len(parts[0])
        while have < k:
            parts.append(self._draw(_CHUNK))
            have += _CHUNK
        x = np.concatenate(parts)
        self._x = x.tolist()
        self._p0 = [0.0, *np.cumsum(x).tolist()]
        self._p1 = [0.0, *np.cumsum(np.arange(len(x)) * x).tolist()]
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
