"""TCP toxics in virtual time: delays pipeline like a real link, pieces reassemble exactly."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from perfops.chaos import parse_toxic
from perfops.chaos._stages import Item, Signal, Stage, make_stage
from perfops.chaos.toxics import Toxic


def stage(**spec: object) -> Stage:
    return make_stage(Toxic(parse_toxic(spec), 1, 0.0), random.Random(1))


def data_of(items: list[Item]) -> bytes:
    return b"".join(d for d, _ in items if isinstance(d, bytes))


def test_latency_counts_from_arrival_and_does_not_add_up() -> None:
    s = stage(kind="latency", latency=100)
    out = s.feed([(b"a", 0.0), (b"b", 0.001)]) + s.feed([(b"c", 0.002)])
    assert [t for _, t in out] == pytest.approx([0.1, 0.101, 0.102])


def test_jitter_stays_in_range_and_keeps_order() -> None:
    s = stage(kind="latency", latency=50, jitter=40)
    times = [t for _, t in s.feed([(b"x", i * 0.001) for i in range(500)])]
    assert times == sorted(times)
    assert all(t - i * 0.001 >= 0.01 - 1e-9 for i, t in enumerate(times))
    assert max(t - i * 0.001 for i, t in enumerate(times)) <= 0.09 + 1e-9
    assert len({round(t - i * 0.001, 6) for i, t in enumerate(times)}) > 100


def test_bandwidth_queues_and_slices_big_chunks() -> None:
    s = stage(kind="bandwidth", rate=10)  # 10 KB/s: 1000-byte slices every 100 ms
    out = s.feed([(b"x" * 2500, 0.0)])
    assert [len(d) for d, _ in out if isinstance(d, bytes)] == [1000, 1000, 500]
    assert [t for _, t in out] == pytest.approx([0.1, 0.2, 0.25])
    later = s.feed([(b"y" * 100, 0.1)])  # queues behind the first chunk
    assert later[0][1] == pytest.approx(0.26)


def test_slicer_cuts_into_pieces_that_reassemble() -> None:
    s = stage(kind="slicer", average_size=10, size_variation=4, delay=1000)
    payload = bytes(range(256)) * 4
    out = s.feed([(payload, 0.0)])
    assert data_of(out) == payload
    sizes = [len(d) for d, _ in out if isinstance(d, bytes)]
    assert all(6 <= n <= 14 for n in sizes[:-1])
    assert [t for _, t in out] == pytest.approx([i * 0.001 for i in range(len(out))])


def test_limit_data_passes_exactly_n_bytes_then_closes() -> None:
    s = stage(kind="limit_data", bytes=25)
    out = s.feed([(b"x" * 10, 0.0), (b"y" * 10, 0.0), (b"z" * 10, 0.0)])
    assert data_of(out) == b"x" * 10 + b"y" * 10 + b"z" * 5
    assert out[-1][0] is Signal.CLOSE
    assert s.feed([(b"more", 1.0)]) == []


def test_timeout_drops_data_and_closes_by_timer() -> None:
    s = stage(kind="timeout", timeout=250)
    assert s.feed([(b"lost", 0.0)]) == []
    timers: list[tuple[float, Callable[[], None]]] = []
    closed: list[Signal] = []

    def later(delay: float, fn: Callable[[], None]) -> Callable[[], None]:
        timers.append((delay, fn))
        return lambda: None

    s.start(later, closed.append)
    assert timers[0][0] == pytest.approx(0.25)
    timers[0][1]()
    assert closed == [Signal.CLOSE]


def test_timeout_zero_never_closes_and_reset_peer_resets() -> None:
    timers: list[float] = []
    closed: list[Signal] = []
    stage(kind="timeout", timeout=0).start(
        lambda d, fn: timers.append(d) or (lambda: None), closed.append
    )
    assert timers == []
    reset = stage(kind="reset_peer", timeout=0)
    reset.start(lambda d, fn: fn() or (lambda: None), closed.append)
    assert closed == [Signal.RESET]
    assert reset.feed([(b"passes", 0.0)]) == [(b"passes", 0.0)]


def test_slow_close_delays_only_the_close() -> None:
    s = stage(kind="slow_close", delay=300)
    out = s.feed([(b"data", 0.0), (Signal.EOF, 0.01)])
    assert out == [(b"data", 0.0), (Signal.EOF, pytest.approx(0.31))]
