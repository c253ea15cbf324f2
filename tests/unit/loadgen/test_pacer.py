"""The open-loop pacer: never early, and a stop ends a long wait."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from perfops.loadgen._pacer import Pacer
from perfops.loadgen.client import WallClock


class _NoReaders(asyncio.SelectorEventLoop):
    """An event loop that cannot watch file descriptors (as on Windows' proactor)."""

    def add_reader(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError


def _run(main: Callable[[], Coroutine[Any, Any, Any]], precise: bool) -> Any:
    if precise:
        return asyncio.run(main())
    loop = _NoReaders()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


@pytest.mark.parametrize("precise", [True, False], ids=["timerfd", "sleep-and-spin"])
def test_every_wait_ends_at_or_after_its_moment(precise: bool) -> None:
    if precise and sys.platform != "linux":
        pytest.skip("timerfd is Linux's")

    async def main() -> list[int]:
        clock = WallClock()
        pacer = Pacer(clock, asyncio.Event())
        assert pacer.precise is precise
        start = clock() + 20_000_000
        lates = []
        try:
            for i in range(40):  # 0.5 ms apart, then a few at the same moment, then 30 ms
                due = start + min(i, 30) * 500_000 + (i == 39) * 30_000_000
                await asyncio.wait_for(pacer.until(due), timeout=20)
                lates.append(clock() - due)
        finally:
            pacer.close()
        return lates

    assert min(_run(main, precise)) >= 0


def test_a_timerfd_on_linux_else_sleep_and_spin() -> None:
    async def precise() -> bool:
        pacer = Pacer(WallClock(), asyncio.Event())
        try:
            return pacer.precise
        finally:
            pacer.close()

    assert _run(precise, precise=True) is (sys.platform == "linux")
    assert _run(precise, precise=False) is False


@pytest.mark.parametrize("precise", [True, False], ids=["timerfd", "sleep-and-spin"])
def test_stop_ends_a_long_wait(precise: bool) -> None:
    async def main() -> int:
        clock, stop = WallClock(), asyncio.Event()
        pacer = Pacer(clock, stop)
        asyncio.get_running_loop().call_later(0.05, stop.set)
        due = clock() + 60_000_000_000
        try:
            await asyncio.wait_for(pacer.until(due), timeout=20)
        finally:
            pacer.close()
        return due - clock()

    assert _run(main, precise) > 30_000_000_000  # back long before the minute was up
