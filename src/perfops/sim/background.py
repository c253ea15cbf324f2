"""Run the simulated fleet in a background thread, for synchronous callers (demo, tests)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, Self, TypeVar

from perfops._internal.clock import Clock
from perfops.sim._records import EngineConfig
from perfops.sim.profiles import serving_profile
from perfops.sim.server import Fleet, FleetOptions

__all__ = ["FleetThread", "SimProcess", "running_fleet"]

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

    def on_loop(self, fn: Callable[[], T], timeout: float = 30) -> T:
        """Run ``fn`` on the fleet's loop (where its state lives) and return its result."""

        async def run() -> T:
            return fn()

        return self.call(run(), timeout)

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
    clock: Clock | None = None,
    token: str | None = None,
    **engine: Any,
) -> Iterator[FleetThread]:
    """A fleet on ephemeral 127.0.0.1 ports for the duration of the block; ``clock`` (default
    the system's) runs its faults, ``created`` stamps and GPU sampling; ``token``, when given,
    guards its API and admin API as ``perfops sim --token`` does."""
    profile = serving_profile(gpu, model, tensor_parallel)
    options = FleetOptions(
        model_name=model,
        replicas=replicas,
        port=0,
        dcgm_port=0,
        seed=seed,
        engine=EngineConfig(**engine),
        dcgm_interval=dcgm_interval,
        token=token,
    )
    with thread(Fleet(profile, options, clock=clock)) as running:
        yield running


class SimProcess:
    """`perfops sim` in a child process on free 127.0.0.1 ports: the fleet gets its own core
    and GIL, so a load generator in this process measures it without interference."""

    def __init__(
        self,
        *,
        gpu: str,
        model: str,
        replicas: int,
        seed: int,
        tensor_parallel: int = 1,
        port: int | None = None,
        dcgm_port: int | None = None,
    ) -> None:
        self.profile = serving_profile(gpu, model, tensor_parallel)
        self.replicas = replicas
        self.port = port or _free_block(replicas + 2)  # front, replicas, then the DCGM port
        self.dcgm_port = dcgm_port or self.port + replicas + 1
        self._args = [
            sys.executable,
            "-m",
            "perfops",
            "sim",
            "--gpu",
            gpu,
            "--model",
            model,
            "--tp",
            str(tensor_parallel),
            "--replicas",
            str(replicas),
            "--port",
            str(self.port),
            "--dcgm-port",
            str(self.dcgm_port),
            "--seed",
            str(seed),
            "--duration",
            "3600",
        ]
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, name: str = "openai") -> str:
        base = "http://127.0.0.1"
        if name == "openai":
            return f"{base}:{self.port}/v1"
        if name == "dcgm-metrics":
            return f"{base}:{self.dcgm_port}/metrics"
        index = int(name.split("-")[1])
        suffix = "/metrics" if name.endswith("-metrics") else "/v1"
        return f"{base}:{self.port + 1 + index}{suffix}"

    def __enter__(self) -> Self:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERFOPS")}
        self._proc = subprocess.Popen(
            self._args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"perfops sim exited: {err.strip()}")
            try:
                socket.create_connection(
                    ("127.0.0.1", self.port + self.replicas), timeout=0.2
                ).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("perfops sim did not start within 60 s")

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.communicate()


def _free_block(n: int) -> int:
    """A port p such that p .. p+n-1 are free on 127.0.0.1 now."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            start = int(probe.getsockname()[1])
        if start + n < 65535 and all(_free(p) for p in range(start, start + n)):
            return start
    raise RuntimeError("no block of free ports on 127.0.0.1")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
