"""The simulated fleet over HTTP: one port per replica, a front port that balances, and a
dcgm-exporter port. Binds 127.0.0.1 unless given a token.

    front   :PORT        OpenAI API, least-outstanding-requests balancing, /admin/faults
    replica :PORT+1+i    OpenAI API, /metrics (vLLM names), /health, /admin/faults
    dcgm    :DCGM_PORT   /metrics (dcgm-exporter names), one series set per simulated GPU

:class:`Fleet` composes the parts: the replicas (:mod:`perfops.sim.realtime`, on the real
monotonic clock), the balancer, the OpenAI routes, the faults and their admin API, the GPU
sampler, and the listening ports. Faults, ``created`` stamps and GPU sampling run on the
fleet's :class:`~perfops._internal.clock.Clock`, so tests move time instead of waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from perfops._internal.clock import Clock, SystemClock
from perfops._internal.net import is_loopback
from perfops.errors import UsageError
from perfops.sim._balancer import Balancer
from perfops.sim._fault_admin import FaultControl
from perfops.sim._gpu_sampling import GpuSampler
from perfops.sim._http import guarded
from perfops.sim._listeners import Listeners
from perfops.sim._openai_routes import OpenAIRoutes
from perfops.sim._records import EngineConfig
from perfops.sim.dcgm import GpuState
from perfops.sim.faults import ActiveFault, FaultBoard
from perfops.sim.profiles import ServingProfile
from perfops.sim.realtime import Replica

__all__ = ["Fleet", "FleetOptions"]


@dataclass(frozen=True)
class FleetOptions:
    model_name: str
    replicas: int = 2
    host: str = "127.0.0.1"
    port: int = 8000  # 0: every port ephemeral (tests)
    dcgm_port: int | None = 9400  # None: no GPU metrics endpoint; 0: ephemeral
    seed: int = 0
    token: str | None = None
    hostname: str = "sim-node"
    engine: EngineConfig = field(default_factory=EngineConfig)
    dcgm_interval: float = 1.0  # seconds of the fleet's clock between GPU samples


class Fleet:
    """Replicas, their ports, the fault board and the GPU telemetry, in one event loop."""

    def __init__(
        self, profile: ServingProfile, options: FleetOptions, *, clock: Clock | None = None
    ) -> None:
        if not is_loopback(options.host) and not options.token:
            raise UsageError(
                f"binding {options.host} exposes the simulator beyond this machine",
                hint="pass --token (clients then send it as their API key)",
            )
        self.profile, self.options = profile, options
        self.clock: Clock = clock or SystemClock()
        self.replicas = [
            Replica(i, profile, options.engine, seed=options.seed, model_name=options.model_name)
            for i in range(options.replicas)
        ]
        self.balancer = Balancer(self.replicas)
        self.listeners = Listeners(options.host)
        self.faults = FaultControl(self.replicas, profile.tensor_parallel, self.clock,
                                   lambda: self.listeners.sync(self.replicas))  # fmt: skip
        self.sampler = GpuSampler(profile, self.replicas, self.faults.board, self.clock,
                                  hostname=options.hostname, seed=options.seed)  # fmt: skip
        self.routes = OpenAIRoutes(
            model_name=options.model_name, engine=options.engine, seed=options.seed,
            replicas=self.replicas, balancer=self.balancer, board=self.faults.board,
            clock=self.clock,
        )  # fmt: skip
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        opts = self.options
        await self.listeners.listen("front", self._app(None), opts.port)
        for r in self.replicas:
            r.start()
            port = opts.port + 1 + r.index if opts.port else 0
            await self.listeners.listen(f"replica-{r.index}", self._app(r.index), port)
        if opts.dcgm_port is not None:
            app = web.Application()
            app.router.add_get("/metrics", guarded(self.sampler.metrics, opts.token))
            await self.listeners.listen("dcgm", app, opts.dcgm_port)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.faults.run_expiry()),
            loop.create_task(self.sampler.run(opts.dcgm_interval)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for r in self.replicas:
            await r.stop()
        await self.listeners.close()

    def _app(self, replica: int | None) -> web.Application:
        """The front port's app (``replica`` None) or one replica's."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self.routes.add(app, replica, self.options.token)
        self.faults.add_routes(app, replica, self.options.token)
        return app

    # -- where it listens ---------------------------------------------------------------------

    @property
    def ports(self) -> dict[str, int]:
        return self.listeners.ports

    def url(self, name: str) -> str:
        return self.listeners.url(name)

    def endpoints(self) -> dict[str, str]:
        out = {"openai": self.url("front") + "/v1"}
        for r in self.replicas:
            out[f"replica-{r.index}"] = self.url(f"replica-{r.index}") + "/v1"
            out[f"replica-{r.index}-metrics"] = self.url(f"replica-{r.index}") + "/metrics"
        if "dcgm" in self.ports:
            out["dcgm-metrics"] = self.url("dcgm") + "/metrics"
        return out

    # -- the parts, for Python callers (tests, in-process drivers); call on the fleet's loop --

    @property
    def board(self) -> FaultBoard:
        return self.faults.board

    @property
    def gpus(self) -> list[GpuState]:
        return self.sampler.gpus

    def pick(self) -> Replica | None:
        """Least outstanding requests among replicas that are up and healthy."""
        return self.balancer.pick()

    def inject(self, spec_data: dict[str, Any]) -> ActiveFault:
        """Inject a fault (``spec_data`` as the admin API takes it, ``id`` optional)."""
        return self.faults.inject(spec_data)

    def revert(self, fault_id: str) -> ActiveFault | None:
        return self.faults.revert(fault_id)

    async def expire_faults(self) -> list[ActiveFault]:
        """End the faults whose time is up on the fleet's clock (the fleet also does this by
        itself every 50 ms of its clock); the ports of restarted replicas are open again."""
        return await self.faults.expire()

    def sample_gpus(self) -> None:
        """Advance every simulated GPU's readings to now (the fleet also samples by itself
        every ``dcgm_interval`` of its clock)."""
        self.sampler.sample()
