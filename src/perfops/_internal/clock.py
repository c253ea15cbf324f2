"""Clocks passed into the cores, so that tests and simulations control time."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """Wall time in nanoseconds since the Unix epoch, and a monotonic time in seconds."""

    def now_ns(self) -> int: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clock."""

    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to; for tests and virtual-time drivers."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._ns = start_ns
        self._start = start_ns

    def now_ns(self) -> int:
        return self._ns

    def monotonic(self) -> float:
        return (self._ns - self._start) / 1e9

    def advance(self, seconds: float) -> None:
        self._ns += round(seconds * 1e9)
