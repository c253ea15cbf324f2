"""Run the simulated fleet in a background thread, for synchronous callers (demo, tests)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, Self, TypeVar

from perfops.sim._records import EngineConfig
from perfops.sim.profiles import serving_profile
from perfops.sim.server import Fleet, FleetOptions

__all__ = ["FleetThread", "running_fleet"]

T = TypeVar("T")


class FleetThread:
    """A Fleet serving from its own event loop in a daemon thread."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, daemon=True, name="perfops-sim"
        )

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the fleet's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> Self:
        self.thread.start()
        self.call(self.fleet.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self.fleet.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def url(self, name: str = "openai") -> str:
        """An endpoint URL by name (see Fleet.endpoints)."""
        return self.fleet.endpoints()[name]


@contextmanager
def running_fleet(
    *,
    gpu: str = "H100-SXM",
    model: str = "llama-3.1-8b",
    tensor_parallel: int = 1,
    replicas: int = 2,
    seed: int = 0,
    dcgm_interval: float = 1.0,
    thread: type[FleetThread] = FleetThread,
    **engine: Any,
) -> Iterator[FleetThread]:
    """A fleet on ephemeral 127.0.0.1 ports for the duration of the block."""
    profile = serving_profile(gpu, model, tensor_parallel)
    options = FleetOptions(
        model_name=model,
        replicas=replicas,
        port=0,
        dcgm_port=0,
        seed=seed,
        engine=EngineConfig(**engine),
        dcgm_interval=dcgm_interval,
    )
    with thread(Fleet(profile, options)) as running:
        yield running
