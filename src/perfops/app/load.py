"""`perfops load` wiring: workload + schedule -> runner -> lake (requests, runs), with the
server's /metrics and DCGM scraped during the run so it can be read against them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from perfops._internal.ids import new_id
from perfops.app.runtime import Runtime
from perfops.errors import PerfopsError
from perfops.loadgen.arrivals import ArrivalSpec, build_schedule
from perfops.loadgen.client import Target
from perfops.loadgen.records import RequestRecord
from perfops.loadgen.runner import Plan, payloads_for, run_closed_loop, run_open_loop
from perfops.loadgen.slo import Threshold
from perfops.loadgen.summary import LAG_BUDGET_S, Summary, summarize
from perfops.loadgen.workers import run_workers
from perfops.loadgen.workload import (
    LengthSpec,
    Prompt,
    SyntheticSpec,
    from_jsonl,
    from_sharegpt,
    from_trace,
    synthetic,
)
from perfops.store import RunRecord
from perfops.telemetry.runner import TargetSpec

__all__ = [
    "LoadOptions",
    "LoadResult",
    "WorkloadSource",
    "describe_schedule",
    "run_load",
    "run_sweep",
]


@dataclass(frozen=True)
class WorkloadSource:
    """Where prompts come from: synthetic lengths, a dataset file, or a trace to replay."""

    prompt: LengthSpec
    output: LengthSpec
    prefix_tokens: int = 0
    prefix_groups: int = 1
    turns: int = 1
    dataset: Path | None = None  # JSONL prompts or ShareGPT
    trace: Path | None = None  # Azure CSV or Mooncake JSONL, with its own timing
    speed: float = 1.0


@dataclass(frozen=True)
class LoadOptions:
    target: Target
    workload: WorkloadSource
    arrival: ArrivalSpec | None  # None: a trace's own timing, or closed loop at ``concurrency``
    duration_s: float
    max_requests: int
    concurrency: int | None = None
    max_in_flight: int | None = None
    slo: tuple[Threshold, ...] = ()
    seed: int = 0
    scrape: tuple[TargetSpec, ...] = ()
    gpus: int | None = None
    service: str | None = None
    workers: int = 1  # processes sharing the schedule (open loop)


@dataclass
class LoadResult:
    run_id: str
    summary: Summary
    records: list[RequestRecord] = field(default_factory=list)
    server: dict[str, float] = field(default_factory=dict)
    scrape_error: str | None = None  # why the server's telemetry stopped being recorded


def describe_schedule(opts: LoadOptions) -> str:
    """How requests are sent, as the output and the journal name it: ``poisson at 5 req/s``,
    ``ramp:1..50 req/s``, ``burst:10/2s``, ``trace replay of FILE at 2x``, ``closed loop x4``."""
    w = opts.workload
    if w.trace is not None:
        return f"trace replay of {w.trace.name}" + (f" at {w.speed:g}x" if w.speed != 1 else "")
    if opts.arrival is None:
        return f"closed loop x{opts.concurrency or 1}"
    arrival = opts.arrival
    if arrival.rate is not None:
        return f"{arrival} at {arrival.rate:g} req/s"
    return str(arrival) if arrival.kind == "burst" else f"{arrival} req/s"


def prompts_for(source: WorkloadSource, n: int, rng: np.random.Generator) -> list[Prompt]:
    if source.trace is not None:
        return from_trace(source.trace, speed=source.speed, limit=n)
    if source.dataset is not None:
        text = source.dataset.read_text(encoding="utf-8", errors="replace")[:4096]
        if '"conversations"' in text:
            return from_sharegpt(source.dataset, rng)[:n]
        return from_jsonl(source.dataset, source.output, rng)[:n]
    spec = SyntheticSpec(
        prompt=source.prompt,
        output=source.output,
        prefix_tokens=source.prefix_tokens,
        prefix_groups=source.prefix_groups,
        turns=source.turns,
    )
    return synthetic(spec, n, rng)


def _plan(opts: LoadOptions, rng: np.random.Generator) -> tuple[list[Prompt], list[float]]:
    if opts.workload.trace is not None:
        prompts = [
            p
            for p in prompts_for(opts.workload, opts.max_requests, rng)
            if (p.arrival_s or 0.0) < opts.duration_s
        ]
        return prompts, [p.arrival_s or 0.0 for p in prompts]
    assert opts.arrival is not None
    offsets = build_schedule(
        opts.arrival, duration_s=opts.duration_s, max_requests=opts.max_requests, rng=rng
    )
    prompts = prompts_for(opts.workload, len(offsets), rng)
    if len(prompts) < len(offsets):  # a short dataset: cycle through it
        prompts = [prompts[i % len(prompts)] for i in range(len(offsets))] if prompts else []
    return prompts, offsets


async def _drive(
    opts: LoadOptions, stop: asyncio.Event, on_record: Callable[[RequestRecord], None] | None
) -> list[RequestRecord]:
    rng = np.random.default_rng(opts.seed)
    if opts.arrival is None and opts.workload.trace is None:
        prompts = prompts_for(opts.workload, opts.max_requests, rng)
        return await run_closed_loop(
            opts.target,
            payloads_for(opts.target, prompts),
            opts.concurrency or 1,
            opts.duration_s,
            stop=stop,
            on_record=on_record,
        )
    prompts, offsets = _plan(opts, rng)
    plan = Plan(payloads_for(opts.target, prompts), offsets, opts.duration_s, opts.max_in_flight)
    if opts.workers > 1:
        # each worker process runs its own loop; records are seen once all are back (Ctrl-C
        # reaches every worker, which returns what it measured)
        records = await run_workers(opts.target, plan, opts.workers)
        if on_record is not None:
            for rec in records:
                on_record(rec)
        return records
    return await run_open_loop(opts.target, plan, stop=stop, on_record=on_record)


async def run_load(
    rt: Runtime,
    opts: LoadOptions,
    *,
    stop: asyncio.Event | None = None,
    on_record: Callable[[RequestRecord], None] | None = None,
    kind: str = "load",
    parent: str | None = None,
) -> LoadResult:
    """One load test: journaled in ``runs``, one row per request in ``requests``, the server's
    telemetry scraped into the lake while it runs. Interrupted runs keep what they measured."""
    stop = stop or asyncio.Event()
    started = rt.clock.now_ns()
    run_id = new_id(started, f"{kind}-")
    spec = _spec(opts, parent)
    rt.store.journal.write_run(RunRecord(run_id, kind, started, "running", spec=spec))
    scraper = await _scraper(rt, opts)
    records: list[RequestRecord] = []
    status = "failed"
    try:
        records = await _drive(opts, stop, on_record)
        status = "interrupted" if stop.is_set() else "passed"
    finally:
        scrape_error = await _stop_scraper(scraper)
        summary = summarize(records, opts.slo)
        _store_requests(rt, run_id, opts.target.base_url, records)
        server = _server_view(rt, opts, started, rt.clock.now_ns())
        extra = {"scrape_error": scrape_error} if scrape_error else {}
        summary.flag_target(server.get("loop_steps", 0.0), server.get("loop_steps_late", 0.0))
        rt.store.journal.write_run(
            RunRecord(
                run_id,
                kind,
                started,
                status,
                rt.clock.now_ns(),
                spec,
                {**summary.as_dict(), "server": server, **extra},
            )
        )
    return LoadResult(run_id, summary, records, server, scrape_error)


def _spec(opts: LoadOptions, parent: str | None) -> dict[str, Any]:
    w = opts.workload
    return {
        "url": opts.target.base_url,
        "model": opts.target.model,
        "endpoint": opts.target.endpoint,
        "schedule": describe_schedule(opts),
        "arrival": opts.arrival.model_dump() if opts.arrival else None,
        "concurrency": opts.concurrency,
        "duration_s": opts.duration_s,
        "max_requests": opts.max_requests,
        "max_in_flight": opts.max_in_flight,
        "slo": [str(t) for t in opts.slo],
        "seed": opts.seed,
        "service": opts.service,
        "gpus": opts.gpus,
        "workers": opts.workers,
        "parent": parent,
        "workload": {
            "prompt": w.prompt.model_dump(),
            "output": w.output.model_dump(),
            "prefix_tokens": w.prefix_tokens,
            "prefix_groups": w.prefix_groups,
            "turns": w.turns,
            "dataset": str(w.dataset) if w.dataset else None,
            "trace": str(w.trace) if w.trace else None,
            "speed": w.speed,
        },
        "scraped": [t.url for t in opts.scrape],
    }


class _Scraper:
    """Scrapes the server during the run from a thread with its own event loop, so that the
    catalog load, series registration and lake commits never stall the load generator's loop
    (a stalled loop would show up as schedule lag and skew every latency)."""

    def __init__(self, rt: Runtime, targets: Sequence[TargetSpec]) -> None:
        import threading

        self._done = threading.Event()
        self.ready = threading.Event()  # set once the first scrape is in (warm caches)
        self.error: str | None = None  # why scraping (or writing it to the lake) stopped
        self._thread = threading.Thread(
            target=self._main, args=(rt, list(targets)), name="perfops-load-scrape", daemon=True
        )
        self._thread.start()

    def _main(self, rt: Runtime, targets: list[TargetSpec]) -> None:
        from perfops.app.collect import run_collect

        async def until_done() -> None:
            stop = asyncio.Event()

            async def watch() -> None:
                await asyncio.to_thread(self._done.wait)
                stop.set()

            watcher = asyncio.create_task(watch())
            await run_collect(
                rt,
                targets,
                duration=None,
                stop=stop,
                on_tick=lambda _: self.ready.set(),
                tick_s=0.5,
            )
            watcher.cancel()

        try:
            asyncio.run(until_done())
        except Exception as exc:  # the load test goes on; the failure is reported with it
            self.error = str(exc) if isinstance(exc, PerfopsError) else repr(exc)
        finally:
            self.ready.set()

    async def stop(self) -> None:
        self._done.set()
        await asyncio.to_thread(self._thread.join, 30)


async def _scraper(rt: Runtime, opts: LoadOptions) -> _Scraper | None:
    """Start scraping and let its first round finish (catalog loaded, series registered)
    before the first request is due, so its one-off work cannot show as schedule lag."""
    if not opts.scrape:
        return None
    scraper = _Scraper(rt, opts.scrape)
    await asyncio.to_thread(scraper.ready.wait, 5.0)
    return scraper


async def _stop_scraper(scraper: _Scraper | None) -> str | None:
    """Stop scraping (everything scraped is committed); why it failed, if it did."""
    if scraper is None:
        return None
    await scraper.stop()
    return scraper.error


_SERVER_METRICS = {
    "queue_max": ("llm.requests_waiting", max),
    "running_max": ("llm.requests_running", max),
    "kv_cache_usage_max": ("llm.kv_cache_usage", max),
    "gpu_util_mean": ("gpu.util", None),
}


def _server_view(rt: Runtime, opts: LoadOptions, start_ns: int, end_ns: int) -> dict[str, float]:
    """What the server's own telemetry said during the run (when it was scraped)."""
    if not opts.scrape:
        return {}
    out: dict[str, float] = {}
    lo, hi = start_ns // 1_000_000, end_ns // 1_000_000 + 1
    for key, (metric, agg) in _SERVER_METRICS.items():
        values = [
            v
            for v in rt.store.timeseries.query_samples(metric, lo, hi).column("value").to_pylist()
            if v == v
        ]
        if values:
            out[key] = float(agg(values)) if agg else sum(values) / len(values)
    out.update(_loop_lag(rt, lo, hi))
    return out


_LOOP_LAG = "perfops_sim_loop_lag_seconds_bucket"


def _loop_lag(rt: Runtime, lo_ms: int, hi_ms: int) -> dict[str, float]:
    """How many engine steps the server ran between its first and last scrape of the run, and
    how many ended more than LAG_BUDGET_S late (perfops sim's loop-lag histogram: bucket
    counts subtracted between the two scrapes, added over replicas). Empty for a server that
    does not export it."""
    ts = rt.store.timeseries
    les = {sid: info.labels.get("le") for sid, info in ts.series(_LOOP_LAG).items()}
    if not les:
        return {}
    table = ts.query_samples(_LOOP_LAG, lo_ms, hi_ms).to_pydict()
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for sid, value in zip(table["series_id"], table["value"], strict=True):
        first.setdefault(sid, value)
        last[sid] = value
    by_le: dict[str, float] = {}
    for sid, end in last.items():
        delta = end - first[sid] if end >= first[sid] else end  # a reset counts from zero
        le = les.get(sid) or ""
        by_le[le] = by_le.get(le, 0.0) + delta
    steps = by_le.get("+Inf", 0.0)
    within = next((v for le, v in by_le.items() if _is_budget(le)), steps)
    return {"loop_steps": steps, "loop_steps_late": steps - within}


def _is_budget(le: str) -> bool:
    try:
        return abs(float(le) - LAG_BUDGET_S) < 1e-12
    except ValueError:
        return False


def _store_requests(
    rt: Runtime, run_id: str, target: str, records: Sequence[RequestRecord]
) -> None:
    if not records:
        return
    rt.store.journal.append_requests(
        pa.table(
            {
                "run_id": [run_id] * len(records),
                "request_id": [f"{run_id}/{r.index}" for r in records],
                "target": [target] * len(records),
                "scheduled_ns": pa.array([r.scheduled_ns for r in records], pa.int64()),
                "sent_ns": pa.array([r.sent_ns for r in records], pa.int64()),
                "first_token_ns": pa.array([r.first_token_ns for r in records], pa.int64()),
                "end_ns": pa.array([r.end_ns for r in records], pa.int64()),
                "prompt_tokens": pa.array([r.prompt_tokens for r in records], pa.int32()),
                "output_tokens": pa.array([r.output_tokens for r in records], pa.int32()),
                "tokens_source": [r.tokens_source for r in records],
                "status": pa.array([r.status for r in records], pa.int32()),
                "error": [r.error for r in records],
                "chunk_gaps_us": pa.array(
                    [[min(g // 1000, 2**31 - 1) for g in r.chunk_gaps_ns] for r in records],
                    pa.list_(pa.int32()),
                ),
            }
        )
    )


async def run_sweep(
    rt: Runtime,
    opts: LoadOptions,
    rates: Sequence[float],
    *,
    concurrency: bool = False,
    stop: asyncio.Event | None = None,
    on_step: Callable[[float, LoadResult], None] | None = None,
) -> list[tuple[float, LoadResult]]:
    """One run per rate (or per concurrency), journaled under one `sweep` run."""
    stop = stop or asyncio.Event()
    parent = new_id(rt.clock.now_ns(), "sweep-")
    out = []
    for value in rates:
        if stop.is_set():
            break
        step = (
            replace(opts, concurrency=int(value), arrival=None)
            if concurrency
            else replace(
                opts,
                arrival=opts.arrival.model_copy(update={"rate": value}) if opts.arrival else None,
            )
        )
        result = await run_load(rt, step, stop=stop, kind="load", parent=parent)
        out.append((value, result))
        if on_step:
            on_step(value, result)
    rt.store.journal.write_run(
        RunRecord(
            parent,
            "sweep",
            rt.clock.now_ns(),
            "passed",
            rt.clock.now_ns(),
            {"rates": list(rates), "concurrency": concurrency},
            {
                "steps": [
                    {"value": v, "run_id": r.run_id, "summary": r.summary.as_dict()} for v, r in out
                ]
            },
        )
    )
    return out
