"""`perfops collect` wiring: targets from perfops.yaml, the runner, the lake as its sink."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import pyarrow as pa

from perfops.app.runtime import Runtime
from perfops.config import Config
from perfops.errors import UsageError
from perfops.store import RunRecord, SeriesInfo, Store
from perfops.telemetry.catalog import Catalog, load_catalog
from perfops.telemetry.runner import CollectRunner, TargetSpec
from perfops.telemetry.series import Rows

__all__ = ["LakeSink", "run_collect", "targets_from_config"]


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


class LakeSink:
    """Writes scrape rows to the lake: new series at once, samples group-committed every
    ``max_rows`` rows or ``max_delay_s`` seconds (and on flush), so a crash loses at most that
    much and every commit is whole. Rows are buffered as Python lists and turned into Arrow
    once per commit, which keeps the per-scrape cost to list extends."""

    def __init__(self, store: Store, *, max_rows: int = 100_000, max_delay_s: float = 1.0) -> None:
        self.store = store
        self.max_rows = max_rows
        self.max_delay_s = max_delay_s
        self._buf = Rows()
        self._oldest = 0.0
        self.samples = 0
        self.commits = 0

    def __call__(self, rows: Rows) -> None:
        if rows.new_series:
            self.store.timeseries.register_series(
                SeriesInfo(s.metric, s.labels, s.source, s.raw_name) for s in rows.new_series
            )
        if not len(rows):
            return
        buf = self._buf
        if not len(buf):
            self._oldest = time.monotonic()
        buf.ts.extend(rows.ts)
        buf.series_ids.extend(rows.series_ids)
        buf.metrics.extend(rows.metrics)
        buf.values.extend(rows.values)
        self.samples += len(rows)
        if len(buf) >= self.max_rows or time.monotonic() - self._oldest >= self.max_delay_s:
            self.flush()

    def flush(self) -> None:
        """Commit what is buffered, as one append."""
        buf = self._buf
        if not len(buf):
            return
        self.store.timeseries.append_samples(
            pa.table(
                {
                    "ts": pa.array(buf.ts, pa.int64()),
                    "series_id": pa.array(buf.series_ids, pa.int64()),
                    "metric": pa.array(buf.metrics, pa.string()),
                    "value": pa.array(buf.values, pa.float64()),
                }
            )
        )
        self._buf = Rows()
        self.commits += 1


async def run_collect(
    rt: Runtime,
    targets: Sequence[TargetSpec],
    *,
    duration: float | None,
    stop: asyncio.Event | None = None,
    catalog: Catalog | None = None,
    on_tick: Callable[[CollectRunner], None] | None = None,
    tick_s: float = 1.0,
) -> CollectRunner:
    """Scrape ``targets`` into the lake until ``duration`` passes or ``stop`` is set; the run
    is journaled, and whatever was scraped is committed even if the run is interrupted."""
    from perfops._internal.ids import new_id

    sink = LakeSink(rt.store)
    runner = CollectRunner(
        targets,
        catalog or load_catalog(),
        sink,
        concurrency=rt.config.telemetry.concurrency,
        jitter=rt.config.telemetry.jitter,
    )
    started = rt.clock.now_ns()
    run_id = new_id(started, "collect-")
    spec = {
        "targets": [
            {"name": t.name, "url": t.url, "kind": t.kind, "interval": t.interval} for t in targets
        ],
        "duration": duration,
    }
    rt.store.journal.write_run(RunRecord(run_id, "collect", started, "running", spec=spec))
    stop = stop or asyncio.Event()
    status = "failed"

    async def ticker() -> None:
        while not stop.is_set():
            await asyncio.sleep(tick_s)
            sink.flush()
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
        sink.flush()
        summary = {
            "samples": sink.samples,
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
        rt.store.journal.write_run(
            RunRecord(run_id, "collect", started, status, rt.clock.now_ns(), spec, summary)
        )
    return runner
