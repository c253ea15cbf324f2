"""A seeded stream of multiplicative step-time jitter, readable one value or many at a time."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = ["Jitter"]

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


class Jitter:
    """Lognormal factors drawn in fixed-size chunks.

    Whether a caller takes them one by one (:meth:`next`) or in runs (:meth:`peek` then
    :meth:`advance`), the n-th factor is the same, so stepping an engine once per iteration or
    a run at a time gives the same timings for the same seed.
    """

    __slots__ = ("_draw", "_list", "_pos")

    def __init__(self, rng: np.random.Generator | random.Random, sigma: float) -> None:
        if not (sigma >= 0 and math.isfinite(sigma)):
            raise ValueError(f"jitter sigma must be a finite number >= 0, got {sigma}")
        self._draw = _drawer(rng, sigma)
        self._list: list[float] = []
        self._pos = 0

    def _ensure(self, k: int) -> None:
        if self._pos + k <= len(self._list):
            return
        values = self._list[self._pos :]
        while len(values) < k:
            values += self._draw(_CHUNK).tolist()
        self._list = values
        self._pos = 0

    def next(self) -> float:
        self._ensure(1)
        value = self._list[self._pos]
        self._pos += 1
        return value

    def peek(self, k: int) -> list[float]:
        """The next ``k`` factors, without consuming them."""
        self._ensure(k)
        return self._list[self._pos : self._pos + k]

    def advance(self, k: int) -> None:
        self._pos += k
