"""The collector keeps its cadence whatever the lake does: commits run on the writer's thread,
a full queue drops and counts instead of blocking, and a failed writer is reported.

A slow lake is the real store with every time-series commit made slower by a sleep (a busy
disk, object storage); what is tested is our scheduling around it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from tests._servers import quirky_targets

from perfops._internal.clock import SystemClock
from perfops.app import Runtime
from perfops.app.collect import LakeWriter, run_collect
from perfops.config import parse_config
from perfops.errors import StoreError
from perfops.store import SeriesInfo, Store, TimeSeries
from perfops.telemetry.runner import TargetSpec


class SlowCommits:
    """``store.timeseries`` whose commits (series and samples) each take ``delay_s`` longer,
    or fail with ``error`` once ``fail_after`` sample commits went through."""

    def __init__(
        self,
        inner: TimeSeries,
        delay_s: float,
        *,
        error: Exception | None = None,
        fail_after: int = 0,
    ) -> None:
        self.inner = inner
        self.delay_s = delay_s
        self.error = error
        self.fail_after = fail_after
        self.sample_commits = 0

    def register_series(self, infos: Iterable[SeriesInfo]) -> list[int]:
        infos = list(infos)
        time.sleep(self.delay_s)
        return self.inner.register_series(infos)

    def append_samples(self, table: pa.Table, *, dedupe: bool = False) -> int:
        time.sleep(self.delay_s)
        if self.error is not None and self.sample_commits >= self.fail_after:
            raise self.error
        written = self.inner.append_samples(table, dedupe=dedupe)
        self.sample_commits += 1
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def slow_runtime(tmp: Path, delay_s: float, **kw: Any) -> tuple[Runtime, SlowCommits]:
    store = Store(tmp / "lake")
    slow = SlowCommits(store.timeseries, delay_s, **kw)
    store.timeseries = slow  # type: ignore[assignment]
    config = parse_config("apiVersion: perfops/v1\ntelemetry: {jitter: 0}\n")
    return Runtime(config=config, store=store, clock=SystemClock()), slow


def scrape_times(rt: Runtime, job: str) -> list[int]:
    """Start times (ms) of every scrape of ``job`` that reached the lake, from its `up`."""
    ups = rt.store.timeseries.inner.query_samples("up", 0, 2**62, {"job": job})  # type: ignore[attr-defined]
    return sorted(ups.column("ts").to_pylist())


def test_a_slow_lake_never_delays_a_scrape(tmp_path: Path) -> None:
    rt, slow = slow_runtime(tmp_path, delay_s=3.0)
    with quirky_targets() as quirky:
        target = TargetSpec("good", quirky.url("/good"), interval=1.0, timeout=0.5)
        runner = asyncio.run(run_collect(rt, [target], duration=6.0))
    scrapes = runner.health["good"].scrapes
    assert scrapes >= 5  # one a second from the start, while every commit took 3 s
    times = scrape_times(rt, "good")
    assert len(times) == scrapes  # and every one of them reached the lake
    gaps = [(b - a) / 1000 for a, b in zip(times, times[1:], strict=False)]
    assert max(gaps) <= 1.8, gaps
    temps = rt.store.timeseries.inner.query_samples("temp", 0, 2**62)  # type: ignore[attr-defined]
    assert temps.num_rows == 3 * scrapes
    assert slow.sample_commits >= 2  # grouped: fewer commits than scrapes, none lost
    (run,) = rt.store.journal.runs(kind="collect")
    assert run.status == "passed"
    lake = run.summary["lake"]
    assert lake["samples"] == 6 * scrapes  # temp x3, up, scrape_duration, scrape_samples
    assert (lake["dropped_batches"], lake["queued_samples"], lake["error"]) == (0, 0, None)
    assert lake["max_queued_samples"] >= 12  # scrapes waited for the lake, not the other way


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    rt, _ = slow_runtime(tmp_path, delay_s=1.5)
    writer = LakeWriter(rt.store, max_queued=6)  # one scrape of /good
    with quirky_targets() as quirky:
        target = TargetSpec("good", quirky.url("/good"), interval=0.5, timeout=0.4)
        runner = asyncio.run(run_collect(rt, [target], duration=4.0, writer=writer))
    scrapes = runner.health["good"].scrapes
    assert scrapes >= 6  # the scrape loop kept its pace
    stats = writer.stats()
    assert stats.dropped_batches > 0
    assert stats.dropped_samples == 6 * stats.dropped_batches
    assert len(scrape_times(rt, "good")) + stats.dropped_batches == scrapes
    assert len(rt.store.timeseries.series("temp")) == 3  # the series themselves are kept
    (run,) = rt.store.journal.runs(kind="collect")
    assert run.summary["lake"]["dropped_batches"] == stats.dropped_batches


def test_a_failed_writer_ends_the_run_and_is_reported(tmp_path: Path) -> None:
    rt, _ = slow_runtime(tmp_path, delay_s=0.0, error=OSError(28, "No space left on device"))
    with quirky_targets() as quirky:
        target = TargetSpec("good", quirky.url("/good"), interval=0.5, timeout=0.4)
        started = time.monotonic()
        with pytest.raises(StoreError, match="No space left on device") as caught:
            asyncio.run(run_collect(rt, [target], duration=60.0))
    assert time.monotonic() - started < 30  # the run stopped instead of scraping into the void
    assert str(tmp_path / "lake") in str(caught.value)
    (run,) = rt.store.journal.runs(kind="collect")
    assert run.status == "failed"
    assert "No space left on device" in run.summary["lake"]["error"]
