"""Clocks passed into the cores, so that tests and simulations control time.

Code that reads the time, waits for a moment or expires something takes a :class:`Clock`;
:class:`SystemClock` is the real one, and a test passes a :class:`ManualClock` and moves it,
as trio's ``MockClock`` or rich's injected ``get_time`` let one do, instead of sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """Wall time in nanoseconds since the Unix epoch, a monotonic time in seconds, and a way
    to wait for time to pass."""

    def now_ns(self) -> int: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


_Sleeper = tuple[int, int, asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class ManualClock:
    """A clock that moves only when told to; for tests and virtual-time drivers.

    ``sleep`` waits until :meth:`advance` has moved the clock to the end of the sleep (like
    trio's ``MockClock`` without autojump): a test moves time by the seconds it needs, and
    whatever was waiting for them runs, in order of deadline. A sleep never moves the clock
    itself, so a polling loop under this clock waits instead of spinning, and concurrent
    sleepers wake in the order of their deadlines. ``advance`` may be called from another
    thread than the sleepers' event loop (a server in a background thread)."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._ns = start_ns
        self._start = start_ns
        self._lock = threading.Lock()
        self._sleepers: list[_Sleeper] = []  # a heap by deadline, then arrival
        self._order = itertools.count()

    def now_ns(self) -> int:
        return self._ns

    def monotonic(self) -> float:
        return (self._ns - self._start) / 1e9

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on and wake the sleeps that have ended."""
        with self._lock:
            self._ns += round(seconds * 1e9)
            due = []
            while self._sleepers and self._sleepers[0][0] <= self._ns:
                due.append(heapq.heappop(self._sleepers))
        for _, _, loop, future in due:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_wake, future)

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock has been advanced by ``seconds``; a sleep of zero or less
        only yields to the other tasks."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            deadline = self._ns + round(seconds * 1e9)
            heapq.heappush(self._sleepers, (deadline, next(self._order), loop, future))
        await future  # a cancelled sleep stays in the heap until its deadline, then is skipped


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
