"""`perfops collect` wiring: targets from perfops.yaml, the runner, the lake as its sink."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from perfops.app._lake_writer import LakeSink, LakeWriter, WriterStats
from perfops.app.runtime import Runtime
from perfops.config import Config
from perfops.errors import UsageError
from perfops.store import RunRecord
from perfops.telemetry.catalog import Catalog, load_catalog
from perfops.telemetry.runner import CollectRunner, TargetSpec

__all__ = ["LakeSink", "LakeWriter", "WriterStats", "run_collect", "targets_from_config"]


def targets_from_config(config: Config, names: Sequence[str] = ()) -> list[TargetSpec]:
    """Telemetry targets plus each service's engine /metrics URLs, optionally filtered."""
    tel = config.telemetry
    specs = [
        TargetSpec(
            t.name,
            t.url,
            t.kind,
            t.interval or tel.interval,
            t.timeout or tel.timeout,
            {**t.labels, **({"service": t.service} if t.service else {})},
            max_body_bytes=t.max_body_bytes or tel.max_body_bytes,
            max_samples=t.max_samples or tel.max_samples,
        )
        for t in config.telemetry.targets
    ]
    for svc in config.services:
        for i, url in enumerate(svc.metrics):
            name = (
                f"{svc.name}-{svc.engine}-{i}"
                if len(svc.metrics) > 1
                else f"{svc.name}-{svc.engine}"
            )
            specs.append(
                TargetSpec(
                    name,
                    url,
                    svc.engine,
                    tel.interval,
                    tel.timeout,
                    {"service": svc.name, **svc.labels},
                    max_body_bytes=tel.max_body_bytes,
                    max_samples=tel.max_samples,
                )
            )
    if names:
        known = {s.name for s in specs}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UsageError(
                f"unknown target(s) {', '.join(unknown)}",
                hint=f"targets in perfops.yaml: {', '.join(sorted(known))}",
            )
        specs = [s for s in specs if s.name in names]
    if not specs:
        raise UsageError(
            "nothing to collect: perfops.yaml has no telemetry targets and no service metrics URLs",
            hint="add telemetry.targets or services[].metrics",
        )
    return specs


async def run_collect(
    rt: Runtime,
    targets: Sequence[TargetSpec],
    *,
    duration: float | None,
    stop: asyncio.Event | None = None,
    catalog: Catalog | None = None,
    on_tick: Callable[[CollectRunner], None] | None = None,
    tick_s: float = 1.0,
    writer: LakeWriter | None = None,
) -> CollectRunner:
    """Scrape ``targets`` into the lake until ``duration`` passes or ``stop`` is set; the run
    is journaled, and whatever was scraped is committed even if the run is interrupted.

    Scrapes never wait for the lake: their rows go to ``writer`` (a :class:`LakeWriter` on
    ``rt.store`` unless given; either way this closes it), whose thread commits them. A writer
    that fails ends the run, which is journaled as failed, and its error is raised here."""
    from perfops._internal.ids import new_id

    writer = writer or LakeWriter(rt.store)
    try:
        runner = CollectRunner(
            targets,
            catalog or load_catalog(),
            writer,
            concurrency=rt.config.telemetry.concurrency,
            jitter=rt.config.telemetry.jitter,
        )
        started = rt.clock.now_ns()
        run_id = new_id(started, "collect-")
        spec = {
            "targets": [
                {"name": t.name, "url": t.url, "kind": t.kind, "interval": t.interval}
                for t in targets
            ],
            "duration": duration,
        }
        rt.store.journal.write_run(RunRecord(run_id, "collect", started, "running", spec=spec))
    except BaseException:
        writer.close()
        raise
    stop = stop or asyncio.Event()
    status = "failed"

    async def ticker() -> None:
        while not stop.is_set():
            await asyncio.sleep(tick_s)
            if writer.failure is not None:
                stop.set()  # nothing scraped from now on could be stored
            if on_tick:
                on_tick(runner)

    tick = asyncio.create_task(ticker())
    try:
        await runner.run(duration=duration, stop=stop)
        status = "passed"
    except asyncio.CancelledError:
        status = "interrupted"
        raise
    finally:
        stop.set()
        tick.cancel()
        writer.close()  # the scrape loops are done: waiting here delays no scrape
        failure = writer.failure
        if failure is not None:
            status = "failed"
        rt.store.journal.write_run(
            RunRecord(
                run_id,
                "collect",
                started,
                status,
                rt.clock.now_ns(),
                spec,
                _summary(runner, writer.stats()),
            )
        )
    if failure is not None:
        raise failure
    return runner


def _summary(runner: CollectRunner, lake: WriterStats) -> dict[str, Any]:
    return {
        "samples": lake.samples,
        "lake": lake.as_dict(),
        "targets": {
            h.name: {
                "up": h.up,
                "scrapes": h.scrapes,
                "failures": h.failures,
                "last_error": h.last_error,
                "samples": h.samples_total,
            }
            for h in runner.health.values()
        },
    }
