"""TCP toxics at work on one direction of one connection, computed in virtual time.

Bytes travel as items ``(data, t)``: ``t`` is the loop time at which the item may leave. A
stage maps items to items, moving ``t`` later (latency, bandwidth, slicer), dropping data
(timeout, limit_data) or adding a signal; only the connection's pump sleeps, once per item, so
delays pipeline as on a real link (a chunk that arrives 1 ms after another leaves 1 ms after
it) instead of adding up.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from enum import Enum
from typing import TypeAlias

from perfops.chaos.toxics import (
    Bandwidth,
    Latency,
    LimitData,
    ResetPeer,
    Slicer,
    SlowClose,
    TcpToxicSpec,
    Timeout,
    Toxic,
)

__all__ = ["Item", "Signal", "Stage", "make_stage"]


class Signal(Enum):
    EOF = "eof"  # the source half-closed: half-close the sink
    CLOSE = "close"  # close the whole connection (FIN both ways)
    RESET = "reset"  # reset the whole connection (RST both ways)


Item: TypeAlias = tuple[bytes | Signal, float]
Later: TypeAlias = Callable[[float, Callable[[], None]], Callable[[], None]]  # -> cancel


class Stage:
    """One toxic on one link. ``feed`` is pure bookkeeping; timers come from ``start``."""

    serial = False  # True: a chunk starts only once the one before has left (a queue)

    def __init__(self, toxic: Toxic, rng: random.Random) -> None:
        self.toxic = toxic
        self.rng = rng
        self.last = 0.0  # items leave in order: never before the previous one

    def feed(self, items: list[Item]) -> list[Item]:
        out: list[Item] = []
        for data, t in items:
            if self.serial:
                t = max(t, self.last)
            if isinstance(data, Signal):
                out.append(self.signal(data, t))
            else:
                out.extend(self.data(data, t))
            if out and out[-1][1] < self.last:
                out[-1] = (out[-1][0], self.last)
            if out:
                self.last = out[-1][1]
        return out

    def data(self, data: bytes, t: float) -> list[Item]:
        return [(data, t)]

    def signal(self, signal: Signal, t: float) -> Item:
        return (signal, t)

    def start(self, later: Later, close: Callable[[Signal], None]) -> None:
        """Called once attached to a live link; ``later(delay, fn)`` schedules ``fn``."""

    def stop(self) -> None:
        """Called once detached: cancel timers."""


class _Latency(Stage):
    def data(self, data: bytes, t: float) -> list[Item]:
        spec = self.toxic.spec
        assert isinstance(spec, Latency)
        delay = spec.latency
        if spec.jitter:
            delay += self.rng.uniform(-spec.jitter, spec.jitter)
        return [(data, t + max(0.0, delay) / 1000)]


class _Bandwidth(Stage):
    """Bytes leave as the link would finish sending them; big chunks go in 100 ms slices."""

    serial = True

    def data(self, data: bytes, t: float) -> list[Item]:
        spec = self.toxic.spec
        assert isinstance(spec, Bandwidth)
        rate = spec.rate * 1000
        step = max(1, int(rate / 10))
        out: list[Item] = []
        for i in range(0, len(data), step):
            piece = data[i : i + step]
            t = t + len(piece) / rate
            out.append((piece, t))
        return out


class _SlowClose(Stage):
    def signal(self, signal: Signal, t: float) -> Item:
        spec = self.toxic.spec
        assert isinstance(spec, SlowClose)
        return (signal, t + spec.delay / 1000)


class _Slicer(Stage):
    serial = True

    def data(self, data: bytes, t: float) -> list[Item]:
        spec = self.toxic.spec
        assert isinstance(spec, Slicer)
        out: list[Item] = []
        i, step = 0, spec.delay / 1e6
        while i < len(data):
            size = spec.average_size
            if spec.size_variation:
                size += self.rng.randint(-spec.size_variation, spec.size_variation)
            out.append((data[i : i + size], t))
            i += size
            t += step
        return out


class _LimitData(Stage):
    def __init__(self, toxic: Toxic, rng: random.Random) -> None:
        super().__init__(toxic, rng)
        assert isinstance(toxic.spec, LimitData)
        self.left = toxic.spec.bytes
        self.done = False

    def data(self, data: bytes, t: float) -> list[Item]:
        if self.done:
            return []
        if len(data) < self.left:
            self.left -= len(data)
            return [(data, t)]
        self.done = True
        head = [(data[: self.left], t)] if self.left else []
        return [*head, (Signal.CLOSE, t)]

    def signal(self, signal: Signal, t: float) -> Item:
        return (signal, t)

    def start(self, later: Later, close: Callable[[Signal], None]) -> None:
        if self.left == 0:
            self.done = True
            later(0.0, lambda: close(Signal.CLOSE))


class _Timer(Stage):
    """Timeout (drop data; close after the delay, never when 0) and reset_peer (data passes;
    RST after the delay)."""

    def __init__(self, toxic: Toxic, rng: random.Random) -> None:
        super().__init__(toxic, rng)
        self.cancel: Callable[[], None] | None = None

    def data(self, data: bytes, t: float) -> list[Item]:
        return [] if isinstance(self.toxic.spec, Timeout) else [(data, t)]

    def start(self, later: Later, close: Callable[[Signal], None]) -> None:
        spec = self.toxic.spec
        assert isinstance(spec, Timeout | ResetPeer)
        if isinstance(spec, Timeout) and spec.timeout == 0:
            return
        signal = Signal.CLOSE if isinstance(spec, Timeout) else Signal.RESET
        self.cancel = later(spec.timeout / 1000, lambda: close(signal))

    def stop(self) -> None:
        if self.cancel is not None:
            self.cancel()
            self.cancel = None


_STAGES: dict[type[TcpToxicSpec], type[Stage]] = {
    Latency: _Latency,
    Bandwidth: _Bandwidth,
    SlowClose: _SlowClose,
    Slicer: _Slicer,
    LimitData: _LimitData,
    Timeout: _Timer,
    ResetPeer: _Timer,
}


def make_stage(toxic: Toxic, rng: random.Random) -> Stage:
    spec = toxic.spec
    assert isinstance(spec, TcpToxicSpec)
    return _STAGES[type(spec)](toxic, rng)
