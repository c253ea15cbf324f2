"""The clocks: a ManualClock's sleeps end when a test moves it (in deadline order, from any
thread), never by themselves; the SystemClock sleeps for real."""

from __future__ import annotations

import asyncio
import threading

from perfops._internal.clock import ManualClock, SystemClock


def test_a_sleep_ends_only_when_the_clock_is_moved_past_it() -> None:
    clock = ManualClock()

    async def main() -> list[float]:
        woke: list[float] = []

        async def sleeper(seconds: float) -> None:
            await clock.sleep(seconds)
            woke.append(clock.monotonic())

        tasks = [asyncio.create_task(sleeper(s)) for s in (3.0, 1.0, 2.0)]
        for _ in range(10):
            await asyncio.sleep(0)
        assert woke == []  # nobody moved the clock: nothing ends, nothing spins
        clock.advance(1.5)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert woke == [1.5]  # the 1 s sleep, at the time the clock was moved to
        clock.advance(10)
        await asyncio.gather(*tasks)
        return woke

    assert asyncio.run(main()) == [1.5, 11.5, 11.5]
    assert clock.monotonic() == 11.5


def test_sleepers_wake_in_deadline_order() -> None:
    clock = ManualClock()

    async def main() -> list[str]:
        order: list[str] = []

        async def sleeper(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            order.append(name)

        tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 3), ("a", 1), ("b", 2))]
        await asyncio.sleep(0)
        clock.advance(5)
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(main()) == ["a", "b", "c"]


def test_another_thread_moves_the_clock_of_a_loop() -> None:
    clock = ManualClock()
    started = threading.Event()

    async def main() -> float:
        started.set()
        await clock.sleep(30)
        return clock.monotonic()

    mover = threading.Thread(target=lambda: (started.wait(10), clock.advance(30)))
    mover.start()
    assert asyncio.run(asyncio.wait_for(main(), 30)) == 30.0
    mover.join(10)


def test_a_cancelled_sleep_and_a_zero_sleep_are_harmless() -> None:
    clock = ManualClock()

    async def main() -> None:
        task = asyncio.create_task(clock.sleep(1))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        clock.advance(2)  # its deadline passes: skipped, no error
        await clock.sleep(0)
        await clock.sleep(-1)

    asyncio.run(main())
    assert clock.monotonic() == 2.0


def test_the_system_clock_sleeps_for_real() -> None:
    clock = SystemClock()
    before_mono, before_ns = clock.monotonic(), clock.now_ns()
    asyncio.run(clock.sleep(0.02))
    assert clock.monotonic() - before_mono >= 0.015  # asyncio may wake a tick early
    assert clock.now_ns() > before_ns
