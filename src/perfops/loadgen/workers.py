"""Several worker processes sharing one schedule, for rates one event loop cannot keep up with.

Every worker gets every N-th request of the same schedule, anchored to the same wall-clock
start, so together they send exactly the plan; each runs its own event loop (and uvloop when
installed). Ctrl-C reaches every worker, and each returns what it measured.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from typing import Any

from perfops.loadgen.client import Target
from perfops.loadgen.records import RequestRecord
from perfops.loadgen.runner import Plan, run_open_loop

__all__ = ["PER_WORKER_RPS", "auto_workers", "run_workers"]

PER_WORKER_RPS = 800.0  # sustained by one worker on this class of machine (bench/loadgen_overhead)
_SPAWN_S = 3.0  # head start for the workers to import and connect before the first request


def auto_workers(rate: float, cpus: int | None = None) -> int:
    """How many workers a rate needs: one per PER_WORKER_RPS, at most one per CPU."""
    return max(1, min(cpus or os.cpu_count() or 1, math.ceil(rate / PER_WORKER_RPS)))


def _loop_runner() -> Any:
    try:
        import uvloop

        return uvloop.run
    except ImportError:
        return asyncio.run


def _worker(
    target: Target, plan: Plan, start_wall_ns: int, indices: list[int]
) -> list[RequestRecord]:
    async def main() -> list[RequestRecord]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await run_open_loop(target, plan, stop=stop, start_wall_ns=start_wall_ns)

    records: list[RequestRecord] = _loop_runner()(main())
    return [replace(rec, index=indices[rec.index]) for rec in records]


async def run_workers(target: Target, plan: Plan, workers: int) -> list[RequestRecord]:
    """Run ``plan`` across ``workers`` processes; records come back in schedule order."""
    if workers <= 1:
        return await run_open_loop(target, plan)
    start = time.time_ns() + int(_SPAWN_S * 1e9)
    shares = []
    for k in range(workers):
        idx = list(range(k, len(plan.offsets), workers))
        shares.append(
            (
                replace(
                    plan,
                    payloads=[plan.payloads[i] for i in idx],
                    offsets=[plan.offsets[i] for i in idx],
                ),
                idx,
            )
        )
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = [
            loop.run_in_executor(pool, _worker, target, share, start, idx) for share, idx in shares
        ]
        results: Sequence[list[RequestRecord]] = await asyncio.gather(*futures)
    return sorted((rec for part in results for rec in part), key=lambda r: r.index)
