"""Scrape rows into the lake: a group-committing sink, and a writer thread that runs it off the
scrape loop.

:class:`LakeSink` registers new series and group-commits samples, in the caller's thread: a
Delta commit takes from ~15 ms to seconds (a busy disk, a big first commit, a lake on object
storage), and while it runs its caller waits. That is right for an import, which has nothing
else to do, and wrong for the collector: an event loop waiting on a commit scrapes nothing,
and the gap shows in every series. :class:`LakeWriter` therefore hands each scrape's rows to a
bounded queue and returns at once; one thread drains the queue into a :class:`LakeSink`.

Back-pressure is explicit: when the lake falls so far behind that the queue holds
``max_queued`` samples, a new scrape's samples are dropped and counted (its new series are
still registered, so later scrapes of them stay readable); the scrape loop never blocks.
:meth:`LakeWriter.close` commits everything queued. A writer that fails stops taking rows
and keeps the error, which :attr:`LakeWriter.failure` reports as a StoreError.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from perfops.errors import PerfopsError, StoreError
from perfops.store import SeriesInfo, Store
from perfops.telemetry.series import Rows

__all__ = ["LakeSink", "LakeWriter", "WriterStats"]


class LakeSink:
    """Writes scrape rows to the lake: new series at once, samples group-committed every
    ``max_rows`` rows or ``max_delay_s`` seconds (and on flush), so a crash loses at most that
    much and every commit is whole. Rows are buffered as Python lists and turned into Arrow
    once per commit, which keeps the per-scrape cost to list extends.

    Rows that may repeat samples the lake holds (``Rows.stamped``: timestamps from the
    exposition; or every row, with ``dedupe=True``, as an import's) are buffered apart and
    committed without the samples already stored (``append_samples(dedupe=True)``);
    ``duplicates`` counts what was left out. Scrape-stamped rows take the plain append."""

    def __init__(
        self,
        store: Store,
        *,
        max_rows: int = 100_000,
        max_delay_s: float = 1.0,
        dedupe: bool = False,
    ) -> None:
        self.store = store
        self.max_rows = max_rows
        self.max_delay_s = max_delay_s
        self.dedupe = dedupe
        self._bufs = {False: Rows(), True: Rows()}  # keyed by "must be deduplicated"
        self._oldest = 0.0
        self.samples = 0
        self.duplicates = 0
        self.commits = 0

    def __call__(self, rows: Rows) -> None:
        if rows.new_series:
            self.store.timeseries.register_series(
                SeriesInfo(s.metric, s.labels, s.source, s.raw_name) for s in rows.new_series
            )
        if not len(rows):
            return
        if not self._pending():
            self._oldest = time.monotonic()
        buf = self._bufs[self.dedupe or rows.stamped]
        buf.ts.extend(rows.ts)
        buf.series_ids.extend(rows.series_ids)
        buf.metrics.extend(rows.metrics)
        buf.values.extend(rows.values)
        self.samples += len(rows)
        if self._pending() >= self.max_rows or self.due_in() == 0.0:
            self.flush()

    def _pending(self) -> int:
        return len(self._bufs[False]) + len(self._bufs[True])

    def due_in(self) -> float | None:
        """Seconds until what is buffered must be committed (0: now); None when nothing is."""
        if not self._pending():
            return None
        return max(0.0, self._oldest + self.max_delay_s - time.monotonic())

    def flush(self) -> None:
        """Commit what is buffered: one append per kind of row buffered."""
        for dedupe, buf in self._bufs.items():
            if not len(buf):
                continue
            table = pa.table(
                {
                    "ts": pa.array(buf.ts, pa.int64()),
                    "series_id": pa.array(buf.series_ids, pa.int64()),
                    "metric": pa.array(buf.metrics, pa.string()),
                    "value": pa.array(buf.values, pa.float64()),
                }
            )
            written = self.store.timeseries.append_samples(table, dedupe=dedupe)
            self.duplicates += len(buf) - written
            self.samples -= len(buf) - written
            self._bufs[dedupe] = Rows()
            self.commits += 1 if written else 0


@dataclass(frozen=True, slots=True)
class WriterStats:
    """What the writer did: committed samples and commits, what waits in the queue, the most
    that ever waited, and the scrapes whose samples were dropped because the lake was behind
    (or the writer had failed)."""

    samples: int
    commits: int
    duplicates: int  # samples the lake held already (re-read with their own timestamps)
    queued_batches: int
    queued_samples: int
    max_queued_samples: int
    dropped_batches: int
    dropped_samples: int
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LakeWriter:
    """A :class:`LakeSink` run by one thread, fed through a queue bounded at ``max_queued``
    samples. Call it with each scrape's rows from any thread (it never waits for the lake);
    :meth:`close` commits everything and stops the thread."""

    def __init__(
        self,
        store: Store,
        *,
        max_queued: int = 1_000_000,
        max_rows: int = 100_000,
        max_delay_s: float = 1.0,
    ) -> None:
        self.root: Path = store.root
        self.max_queued = max_queued
        self._sink = LakeSink(store, max_rows=max_rows, max_delay_s=max_delay_s)
        self._queue: deque[Rows] = deque()
        self._cond = threading.Condition()
        self._queued = self._max_queued = 0
        self._dropped_batches = self._dropped_samples = 0
        self._closing = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="perfops-lake-writer", daemon=True)
        self._thread.start()

    def __call__(self, rows: Rows) -> None:
        """Queue ``rows`` for the lake; returns at once. Samples that would overfill the queue,
        or that come after the writer failed or closed, are dropped and counted."""
        with self._cond:
            if self._error is not None or self._closing:
                self._drop(rows)
                return
            if self._queued and self._queued + len(rows) > self.max_queued:
                self._drop(rows)
                if not rows.new_series:
                    return
                rows = Rows(new_series=rows.new_series)  # series stay registered
            self._queue.append(rows)
            self._queued += len(rows)
            self._max_queued = max(self._max_queued, self._queued)
            self._cond.notify()

    def _drop(self, rows: Rows) -> None:
        if len(rows):
            self._dropped_batches += 1
            self._dropped_samples += len(rows)

    def close(self, timeout_s: float | None = None) -> None:
        """Commit everything queued and stop the thread (waiting at most ``timeout_s``)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout_s)

    def stats(self) -> WriterStats:
        with self._cond:
            return WriterStats(
                samples=self._sink.samples,
                commits=self._sink.commits,
                duplicates=self._sink.duplicates,
                queued_batches=len(self._queue),
                queued_samples=self._queued,
                max_queued_samples=self._max_queued,
                dropped_batches=self._dropped_batches,
                dropped_samples=self._dropped_samples,
                error=None if self._error is None else _describe(self._error),
            )

    @property
    def failure(self) -> PerfopsError | None:
        """Why the writer stopped before it was closed, as the error to report; else None."""
        error = self._error
        if error is None:
            return None
        if isinstance(error, PerfopsError):
            return error
        return StoreError(
            f"writing telemetry to the lake at {self.root} failed after "
            f"{self._sink.commits} commit(s): {_describe(error)}",
            hint="check that the lake folder is writable and has room (`perfops store info`); "
            "samples scraped since were not stored",
        )

    # -- the thread -------------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            while self._step():
                pass
        except BaseException as exc:  # kept and reported by `failure`, never swallowed
            with self._cond:
                self._error = exc
                for rows in self._queue:
                    self._drop(rows)
                self._queue.clear()
                self._queued = 0

    def _step(self) -> bool:
        """Drain the queue into the sink and commit what is due; False once closed and empty."""
        with self._cond:
            while not self._queue and not self._closing:
                due = self._sink.due_in()
                if due == 0.0:
                    break
                self._cond.wait(due)
            batch = list(self._queue)
            self._queue.clear()
            closing = self._closing
        for rows in batch:
            self._sink(rows)
            with self._cond:
                self._queued -= len(rows)
        if closing and not batch:
            self._sink.flush()
            return False
        if self._sink.due_in() == 0.0:
            self._sink.flush()
        return True


def _describe(error: BaseException) -> str:
    return str(error) if isinstance(error, PerfopsError) else f"{type(error).__name__}: {error}"
