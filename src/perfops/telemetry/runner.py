"""The collect loop: every target on its own cadence, bounded concurrency, health per target.

Each target is scraped every ``interval`` seconds from a fixed offset within the interval
(seeded jitter, so targets do not all fire at once), with its own timeout; a target that
hangs, refuses or returns garbage is marked down with the reason and its series are marked
stale, and no target can delay another. Every scrape also yields ``up``,
``scrape_duration_seconds`` and ``scrape_samples_scraped`` with ``job`` and ``instance`` labels,
as Prometheus writes them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

from perfops._internal.ids import series_id
from perfops.config import SCRAPE_BODY_BYTES, SCRAPE_SAMPLES
from perfops.telemetry.catalog import Catalog
from perfops.telemetry.exposition import LineCache
from perfops.telemetry.scrape import ScrapeOutcome, scrape
from perfops.telemetry.series import Rows, Series, SeriesMapper

__all__ = ["CollectRunner", "TargetHealth", "TargetSpec"]

Sink = Callable[[Rows], None]


@dataclass(frozen=True, slots=True)
class TargetSpec:
    name: str
    url: str
    kind: str = "prometheus"
    interval: float = 15.0
    timeout: float = 5.0
    labels: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    max_body_bytes: int = SCRAPE_BODY_BYTES
    """the largest answer read; the scrape fails beyond it (telemetry.max_body_bytes)"""
    max_samples: int = SCRAPE_SAMPLES
    """the most samples one answer may hold (telemetry.max_samples)"""

    def target_labels(self) -> dict[str, str]:
        return {"job": self.name, "instance": urlsplit(self.url).netloc, **self.labels}


@dataclass(slots=True)
class TargetHealth:
    """What the live table shows for a target."""

    name: str
    url: str
    up: bool | None = None
    last_error: str | None = None
    last_scrape_ms: int | None = None
    last_duration_s: float = 0.0
    samples_last: int = 0
    samples_total: int = 0
    scrapes: int = 0
    failures: int = 0


class CollectRunner:
    """Scrapes ``targets`` until stopped and hands each scrape's rows to ``sink``."""

    def __init__(
        self,
        targets: Sequence[TargetSpec],
        catalog: Catalog,
        sink: Sink,
        *,
        concurrency: int = 16,
        jitter: float = 0.1,
        seed: int = 0,
    ) -> None:
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            raise ValueError(f"target names must be unique, got {names}")
        self.targets = list(targets)
        self.sink = sink
        self.jitter = jitter
        self._rng = random.Random(seed)
        self._gate = asyncio.Semaphore(concurrency)
        self.health = {t.name: TargetHealth(t.name, t.url) for t in targets}
        self._mappers = {
            t.name: SeriesMapper(catalog, source=t.kind, target_labels=t.target_labels())
            for t in targets
        }
        self._meta_known: set[int] = set()
        self._line_caches = {t.name: LineCache() for t in targets}

    async def run(
        self, *, duration: float | None = None, stop: asyncio.Event | None = None
    ) -> None:
        """Scrape until ``duration`` seconds pass or ``stop`` is set."""
        stop = stop or asyncio.Event()
        timeout = aiohttp.ClientTimeout(total=None)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            loops = [asyncio.create_task(self._loop(session, t, stop)) for t in self.targets]
            try:
                await asyncio.wait_for(stop.wait(), timeout=duration)
            except TimeoutError:
                pass
            finally:
                stop.set()
                for task in loops:
                    task.cancel()
                await asyncio.gather(*loops, return_exceptions=True)

    async def _loop(
        self, session: aiohttp.ClientSession, target: TargetSpec, stop: asyncio.Event
    ) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self._rng.random() * self.jitter * target.interval
        while not stop.is_set():
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.scrape_once(session, target)
            next_at += target.interval
            behind = loop.time() - next_at
            if behind > 0:  # a slow scrape: skip the missed slots, keep the phase
                next_at += target.interval * (int(behind // target.interval) + 1)

    async def scrape_once(self, session: aiohttp.ClientSession, target: TargetSpec) -> Rows:
        """One scrape of ``target``: rows handed to the sink (and returned)."""
        async with self._gate:
            outcome = await scrape(
                session,
                target.url,
                timeout_s=min(target.timeout, target.interval),
                headers=dict(target.headers),
                max_body_bytes=target.max_body_bytes,
                max_samples=target.max_samples,
                line_cache=self._line_caches[target.name],
            )
        rows = self._rows(target, outcome)
        self.sink(rows)
        return rows

    def _rows(self, target: TargetSpec, outcome: ScrapeOutcome) -> Rows:
        mapper = self._mappers[target.name]
        health = self.health[target.name]
        health.scrapes += 1
        health.last_scrape_ms = outcome.started_ms
        health.last_duration_s = outcome.duration_s
        health.up = outcome.up
        if outcome.exposition is not None:
            rows = mapper.rows(outcome.exposition, outcome.started_ms)
            scraped = len(outcome.exposition)
            health.last_error = None
        else:
            rows = mapper.all_stale(outcome.started_ms)
            scraped = 0
            health.failures += 1
            health.last_error = outcome.error
        health.samples_last = scraped
        health.samples_total += scraped
        self._meta(rows, target, outcome, scraped)
        return rows

    def _meta(self, rows: Rows, target: TargetSpec, outcome: ScrapeOutcome, scraped: int) -> None:
        labels = target.target_labels()
        for metric, value in (
            ("up", 1.0 if outcome.up else 0.0),
            ("scrape_duration_seconds", outcome.duration_s),
            ("scrape_samples_scraped", float(scraped)),
        ):
            sid = series_id(metric, labels)
            if sid not in self._meta_known:
                self._meta_known.add(sid)
                rows.new_series.append(Series(metric, labels, "perfops", metric))
            rows.add(outcome.started_ms, sid, metric, value)
