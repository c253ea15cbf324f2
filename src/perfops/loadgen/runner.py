"""Open-loop and closed-loop drivers: every request leaves at its scheduled time (open loop) or
when a virtual user is free (closed loop, named as such). Both stop by themselves at the
duration or request limit, and on ``stop`` (Ctrl-C) keep everything measured so far."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from perfops.loadgen._pacer import Pacer
from perfops.loadgen.client import Target, body, send, wall_clock
from perfops.loadgen.records import RequestRecord

__all__ = ["Plan", "payloads_for", "run_closed_loop", "run_open_loop"]

OnRecord = Callable[[RequestRecord], None]


@dataclass(frozen=True, slots=True)
class Plan:
    """What to send: payloads in order, and for open loop when (seconds from the start)."""

    payloads: Sequence[dict[str, Any]]
    offsets: Sequence[float] = ()
    duration_s: float = 60.0
    max_in_flight: int | None = None  # a client-side cap: waiting for it is schedule lag
    grace_s: float = 30.0  # how long in-flight requests may finish after the duration


def _session(limit: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, ttl_dns_cache=300, force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))


async def _settle_tasks(tasks: set[asyncio.Task[Any]], limit_s: float, stop: asyncio.Event) -> None:
    """Let ``tasks`` finish for up to ``limit_s`` (or until ``stop``), then cancel the rest."""
    if not tasks:
        return
    everything: asyncio.Future[Any] = asyncio.gather(*tasks, return_exceptions=True)
    stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait(
            {everything, stopped}, timeout=limit_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        stopped.cancel()
        for task in tasks:
            task.cancel()
        await everything


async def run_open_loop(
    target: Target,
    plan: Plan,
    *,
    stop: asyncio.Event | None = None,
    on_record: OnRecord | None = None,
    start_wall_ns: int | None = None,
) -> list[RequestRecord]:
    """Send payload ``i`` at ``offsets[i]``, whatever happened to earlier requests."""
    stop = stop or asyncio.Event()
    clock = wall_clock()
    loop = asyncio.get_running_loop()
    start = start_wall_ns or clock() + 50_000_000  # leave 50 ms to set up
    records = [RequestRecord(i, start + round(off * 1e9)) for i, off in enumerate(plan.offsets)]
    gate = asyncio.Semaphore(plan.max_in_flight) if plan.max_in_flight else None
    tasks: set[asyncio.Task[RequestRecord]] = set()

    async def one(rec: RequestRecord, payload: dict[str, Any]) -> RequestRecord:
        if gate is None:
            await send(session, target, payload, rec, clock)
        else:
            async with gate:
                await send(session, target, payload, rec, clock)
        if on_record:
            on_record(rec)
        return rec

    pacer = Pacer(clock, stop)
    try:
        async with _session(limit=0) as session:
            for rec, payload in zip(records, plan.payloads, strict=False):
                await pacer.until(rec.scheduled_ns)
                if stop.is_set():
                    break
                task = loop.create_task(one(rec, payload))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await _settle_tasks(set(tasks), plan.grace_s, stop)
    finally:
        pacer.close()
    return _settle(records)


async def run_closed_loop(
    target: Target,
    payloads: Sequence[dict[str, Any]],
    concurrency: int,
    duration_s: float,
    *,
    stop: asyncio.Event | None = None,
    on_record: OnRecord | None = None,
) -> list[RequestRecord]:
    """``concurrency`` virtual users, each sending its next request when the last one ends.
    A request's scheduled time is the moment its user became free (so lag measures only the
    client), which is exactly why closed-loop latency hides queueing: use open loop for SLOs."""
    stop = stop or asyncio.Event()
    clock = wall_clock()
    deadline = clock() + round(duration_s * 1e9)
    records: list[RequestRecord] = []
    cursor = iter(range(len(payloads)))

    async def user(session: aiohttp.ClientSession) -> None:
        for i in cursor:
            now = clock()
            if now >= deadline or stop.is_set():
                return
            rec = RequestRecord(i, now)
            records.append(rec)
            await send(session, target, payloads[i], rec, clock)
            if on_record:
                on_record(rec)

    async with _session(limit=concurrency) as session:
        users = {asyncio.create_task(user(session)) for _ in range(concurrency)}
        await _settle_tasks(users, duration_s + target.timeout_s, stop)
    return _settle(sorted(records, key=lambda r: r.index))


def _settle(records: list[RequestRecord]) -> list[RequestRecord]:
    """Requests never sent (stopped early) are dropped; ones cut off mid-flight are marked."""
    out = []
    for rec in records:
        if rec.sent_ns == 0:
            continue
        if rec.end_ns is None:
            rec.error = rec.error or "cancelled"
        out.append(rec)
    return out


def payloads_for(target: Target, prompts: Sequence[Any]) -> list[dict[str, Any]]:
    """Request bodies for ``prompts`` (loadgen.workload.Prompt objects)."""
    return [body(target, p.completion_prompt(), p.messages, p.max_tokens) for p in prompts]
