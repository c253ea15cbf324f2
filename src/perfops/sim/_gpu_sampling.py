"""The fleet's simulated GPUs: their readings advanced from what each replica did since the
last sample, and served as dcgm-exporter's ``/metrics``.

What a replica did (its busy share, its compute share, its KV cache) is measured on its
engine's own clock; the interval the readings integrate over (energy, temperature) is the
fleet's clock, so a test that moves a manual clock 40 s sees 40 s of heat and energy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from aiohttp import web

from perfops._internal.clock import Clock
from perfops.sim import dcgm
from perfops.sim.faults import FaultBoard
from perfops.sim.profiles import ServingProfile
from perfops.sim.realtime import Replica

__all__ = ["GpuSampler"]


class GpuSampler:
    """``tensor_parallel`` GPUs per replica, numbered replica by replica, eight to a host."""

    def __init__(
        self,
        profile: ServingProfile,
        replicas: Sequence[Replica],
        board: FaultBoard,
        clock: Clock,
        *,
        hostname: str,
        seed: int,
    ) -> None:
        self.profile, self.replicas, self.board, self.clock = profile, replicas, board, clock
        tp = profile.tensor_parallel
        self.gpus = [
            dcgm.new_gpu(g, profile.gpu, f"{hostname}-{g // 8}", seed)
            for g in range(len(replicas) * tp)
        ]
        self._at = clock.monotonic()
        self._engine = [(r.now(), 0.0, 0.0) for r in replicas]  # (at, busy, compute) per replica

    async def run(self, interval: float) -> None:
        """Sample every ``interval`` seconds of the fleet's clock, until cancelled."""
        while True:
            self.sample()
            await self.clock.sleep(interval)

    def sample(self) -> None:
        """Advance every GPU's readings to now."""
        now = self.clock.monotonic()
        dt, self._at = max(0.0, now - self._at), now
        for r in self.replicas:
            self._sample_replica(r, dt)

    def _sample_replica(self, r: Replica, dt: float) -> None:
        tp = self.profile.tensor_parallel
        at = r.now()
        busy, compute = r.engine.busy_seconds(at), r.compute_seconds
        at0, busy0, compute0 = self._engine[r.index]
        self._engine[r.index] = (at, busy, compute)
        used = busy - busy0
        stats = r.engine.stats()
        xids = self.board.xids(r.index)
        for k in range(tp):
            activity = dcgm.GpuActivity(
                busy=0.0 if r.down else used / max(1e-9, at - at0),
                compute=(compute - compute0) / used if used > 0 else 0.0,
                kv_used_bytes=0 if r.down else stats.kv_used_bytes,
                weight_bytes=0 if r.down else int(self.profile.model.weight_bytes / tp),
                clock_factor=self.board.clock_factor(r.index),
                xid=xids.get(k, 0),
            )
            g = r.index * tp + k
            state = dcgm.advance(self.gpus[g], activity, self.profile.gpu, dt)
            self.gpus[g] = state if xids.get(k) or not state.xid else replace(state, xid=0)

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=dcgm.exposition(self.gpus), content_type="text/plain")
