"""Waiting for the moment a request is due: to tens of microseconds, without spinning.

Event-loop timers are good to a millisecond or so (uvloop's count whole milliseconds and may
fire up to one early), too coarse for schedule lag; spinning through the last millisecond
(yielding to the loop until the moment comes) fixes the lag but costs ~150 loop iterations,
about a millisecond of CPU, per request: more than streaming its answer. On Linux a timerfd
armed at the exact monotonic moment wakes the loop through its selector instead, once per
request, as precisely as the kernel's high-resolution timers allow. Where there is no
timerfd the pacer sleeps to a millisecond before the moment and spins the rest, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import sys
import time

from perfops.loadgen.client import WallClock

__all__ = ["Pacer"]

_SLICE_NS = 100_000_000  # the longest single wait: ``stop`` is noticed within this
_SPIN_NS = 1_000_000  # without a timerfd, the last millisecond is spent yielding
_TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


class _Itimerspec(ctypes.Structure):
    _fields_ = (("it_interval", _Timespec), ("it_value", _Timespec))


class _TimerFd:
    """A one-shot CLOCK_MONOTONIC timerfd (Linux), armed at absolute nanoseconds."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        create, self._settime = libc.timerfd_create, libc.timerfd_settime
        create.argtypes, create.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
        self._settime.argtypes = (
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_Itimerspec),
            ctypes.c_void_p,
        )
        self._settime.restype = ctypes.c_int
        self.fd = create(time.CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._spec = _Itimerspec()

    def arm(self, monotonic_ns: int) -> None:
        value = self._spec.it_value
        value.tv_sec, value.tv_nsec = divmod(monotonic_ns, 1_000_000_000)
        if self._settime(self.fd, _TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None) < 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")

    def clear(self) -> None:
        with contextlib.suppress(BlockingIOError):  # woken for nothing: it had not expired
            os.read(self.fd, 8)

    def close(self) -> None:
        os.close(self.fd)


def _timerfd() -> _TimerFd | None:
    """A timerfd on the clock the wall clock advances with, or None where there is none."""
    if sys.platform != "linux":
        return None
    if "CLOCK_MONOTONIC" not in time.get_clock_info("perf_counter").implementation:
        return None
    try:
        return _TimerFd()
    except (OSError, AttributeError):
        return None


class Pacer:
    """``await pacer.until(due_ns)`` returns at ``due_ns`` on ``clock`` or just after, or once
    ``stop`` is set (noticed within 0.1 s). Never early. :meth:`close` when done."""

    def __init__(self, clock: WallClock, stop: asyncio.Event) -> None:
        self._clock, self._stop = clock, stop
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None
        self._timer = _timerfd()
        if self._timer is not None:
            try:
                self._loop.add_reader(self._timer.fd, self._expired)
            except NotImplementedError:  # a loop without readers
                self._timer.close()
                self._timer = None

    @property
    def precise(self) -> bool:
        """True when waits end on a timerfd rather than by spinning."""
        return self._timer is not None

    async def until(self, due_ns: int) -> None:
        clock, stop = self._clock, self._stop
        while not stop.is_set():
            left = due_ns - clock()
            if left <= 0:
                return
            if left > _SLICE_NS:  # coarse timers, never past the last slice
                await asyncio.sleep(min(_SLICE_NS, left - _SLICE_NS) / 1e9)
            elif self._timer is not None:
                await self._wake_at(due_ns)
            elif left > _SPIN_NS:
                await asyncio.sleep((left - _SPIN_NS) / 1e9)
            else:
                await asyncio.sleep(0)

    async def _wake_at(self, due_ns: int) -> None:
        assert self._timer is not None
        self._timer.arm(due_ns - self._clock.offset_ns)
        self._waiter = waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _expired(self) -> None:
        assert self._timer is not None
        self._timer.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        if self._timer is not None:
            self._loop.remove_reader(self._timer.fd)
            self._timer.close()
            self._timer = None
