"""Time series in the lake: series registration, sample appends (one commit each, or grouped
by a writer), raw, per-minute and per-hour queries, and the rollups that serve the last two.

Tables: ``series`` (one row per series, first seen), ``samples`` (partitioned by UTC day),
``samples_1m`` and ``samples_1h`` (rebuilt per day by :meth:`TimeSeries.refresh_rollups`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from perfops._internal.clock import Clock
from perfops._internal.ids import series_id
from perfops.config.selector import Selector
from perfops.store._dedupe import NEW_ROWS_SQL, dedupe_lock, new_rows
from perfops.store._delta import DeltaHandle
from perfops.store._downsample import HOURLY_BUCKETS_SQL, RAW_BUCKETS_SQL
from perfops.store._rollup import HOURLY_SQL, ROLLUP_SQL, raw_counts, stale_days
from perfops.store._sql import LakeSql
from perfops.store._writer import BatchWriter
from perfops.store.records import Matcher, MetricStats, SeriesInfo, parse_matchers

__all__ = ["Matchers", "TimeSeries", "window_range"]

_EPOCH = dt.date(1970, 1, 1)
_DAY_MS = 86_400_000
_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last day a date can name
Matchers = str | Mapping[str, str] | Sequence[Matcher] | Selector | None


def window_range(start_ms: int, end_ms: int, *, closed: bool = False) -> tuple[int, int]:
    """The samples of the Prometheus range from ``start_ms`` to ``end_ms`` (a ``[w]`` range
    evaluated at ``end_ms``, ``w = end_ms - start_ms``) as the half-open ``[lo, hi)`` that the
    queries here take. Prometheus 3.x ranges are left-open, ``(start, end]``: a sample exactly
    on ``start`` is out, one exactly on ``end`` in; on integer milliseconds that is
    ``[start + 1, end + 1)``. Hourly rollups agree: an hour is read from ``samples_1h`` only
    when it lies whole inside ``[lo, hi)``, so the rollup of an hour whose first sample sits
    on a window's start is never used for that window. ``closed`` gives Prometheus 2.x's
    ``[start, end]``, for tests against a 2.x server only."""
    return (start_ms if closed else start_ms + 1, end_ms + 1)


def _day_of(ms: int) -> dt.date:
    """The UTC day of ``ms``, clamped to the dates Python can represent."""
    return _EPOCH + dt.timedelta(days=min(max(ms, 0), _MAX_MS) // _DAY_MS)


def _days(start_ms: int, end_ms: int) -> tuple[dt.date, dt.date]:
    """The first and last day partition of ``[start_ms, end_ms)``."""
    return _day_of(start_ms), _day_of(max(start_ms, end_ms - 1))


def _with_day(table: pa.Table) -> pa.Table:
    if "day" in table.column_names:
        return table
    days = pa.compute.divide(table.column("ts"), _DAY_MS).cast(pa.int32()).cast(pa.date32())
    return table.append_column("day", days)


def _wanted(ids: Iterable[int]) -> pa.Table:
    return pa.table({"series_id": pa.array(list(ids), pa.int64())})


class TimeSeries:
    """The lake's series and samples (``store.timeseries``)."""

    def __init__(self, tables: Mapping[str, DeltaHandle], sql: LakeSql, clock: Clock) -> None:
        self._tables = tables
        self._sql = sql
        self.clock = clock
        self._series: dict[int, SeriesInfo] = {}
        self._series_version = -1
        self._stale: dict[str, tuple[tuple[int, int], list[dt.date]]] = {}

    # -- writing ----------------------------------------------------------------------------------

    def register_series(self, infos: Iterable[SeriesInfo]) -> list[int]:
        """Ids of ``infos``; series not yet in the lake are recorded first."""
        self._load_series()
        ids, new = [], {}
        for info in infos:
            sid = series_id(info.metric, info.labels)
            ids.append(sid)
            if sid not in self._series and sid not in new:
                new[sid] = info
        if new:
            now_ms = self.clock.now_ns() // 1_000_000
            self._tables["series"].append(
                pa.table(
                    {
                        "series_id": pa.array(list(new), pa.int64()),
                        "metric": [i.metric for i in new.values()],
                        "labels": pa.array(
                            [list(i.labels.items()) for i in new.values()],
                            pa.map_(pa.string(), pa.string()),
                        ),
                        "source": [i.source for i in new.values()],
                        "raw_name": [i.raw_name for i in new.values()],
                        "first_seen": pa.array([now_ms] * len(new), pa.int64()),
                    }
                )
            )
            self._series.update(new)
        return ids

    def append_samples(self, table: pa.Table, *, dedupe: bool = False) -> int:
        """Append samples (``ts`` ms, ``series_id``, ``metric``, ``value``) as one commit;
        returns the rows appended. With ``dedupe``, rows whose series and timestamp the lake
        already holds, or that the batch repeats, are left out (an import re-run over its
        range, a re-read of samples that carry their own timestamps): see ``_dedupe``."""
        if not dedupe:
            self._tables["samples"].append(_with_day(table))
            return int(table.num_rows)
        if table.num_rows == 0:
            return 0
        with dedupe_lock(self._tables["samples"].path.parent):
            fresh = new_rows(table, self._absent)
            self._tables["samples"].append(_with_day(fresh))
        return int(fresh.num_rows)

    def _absent(self, numbered: pa.Table) -> list[int]:
        """Row numbers (``_row``) of ``numbered`` to append: see ``NEW_ROWS_SQL``."""
        ts = numbered.column("ts")
        lo, hi = pa.compute.min(ts).as_py(), pa.compute.max(ts).as_py()
        rows = self._sql.run(
            NEW_ROWS_SQL, [*_days(lo, hi + 1), lo, hi], extra={"new_rows": numbered}
        )
        return [int(r) for r in rows.column("_row").to_pylist()]

    def sample_writer(self, *, max_rows: int = 100_000, max_delay_s: float = 1.0) -> BatchWriter:
        """A group-commit writer for samples: ``add()`` many small batches, one commit per
        ``max_rows`` rows or ``max_delay_s`` seconds, and on ``flush()``/exit."""
        return BatchWriter(
            self.append_samples, self.clock, max_rows=max_rows, max_delay_s=max_delay_s
        )

    def append_points(self, points: Iterable[tuple[SeriesInfo, int, float]]) -> int:
        """Record ``(series, ts_ms, value)`` points: series first, then the samples."""
        rows = list(points)
        if not rows:
            return 0
        ids = self.register_series(p[0] for p in rows)
        self.append_samples(
            pa.table(
                {
                    "ts": pa.array([p[1] for p in rows], pa.int64()),
                    "series_id": pa.array(ids, pa.int64()),
                    "metric": [p[0].metric for p in rows],
                    "value": pa.array([p[2] for p in rows], pa.float64()),
                }
            )
        )
        return len(rows)

    # -- series -----------------------------------------------------------------------------------

    def _load_series(self) -> dict[int, SeriesInfo]:
        handle = self._tables["series"]
        snap = handle.snapshot()
        if snap.version() != self._series_version:
            table = snap.to_pyarrow_dataset().to_table()
            for row in table.to_pylist():
                self._series.setdefault(
                    row["series_id"],
                    SeriesInfo(
                        row["metric"],
                        dict(row["labels"]),
                        row["source"] or "",
                        row["raw_name"] or "",
                    ),
                )
            self._series_version = snap.version()
        return self._series

    def series(self, metric: str | None = None, matchers: Matchers = None) -> dict[int, SeriesInfo]:
        """Known series, optionally of one metric and matching every label matcher."""
        found = (
            list(matchers.matchers)
            if isinstance(matchers, Selector)
            else parse_matchers(matchers)
            if isinstance(matchers, str | Mapping | type(None))
            else list(matchers)
        )
        return {
            sid: info
            for sid, info in self._load_series().items()
            if (metric is None or info.metric == metric)
            and all(m.matches(info.labels) for m in found)
        }

    def _ids(self, metric: str, matchers: Matchers) -> pa.Table | None:
        if isinstance(matchers, Selector):
            matchers = matchers.matchers
        if matchers is None or (not isinstance(matchers, str) and len(matchers) == 0):
            return None
        return _wanted(self.series(metric, matchers))

    # -- queries ----------------------------------------------------------------------------------

    def query_samples(
        self, metric: str, start_ms: int, end_ms: int, matchers: Matchers = None
    ) -> pa.Table:
        """Raw samples of ``metric`` in ``[start_ms, end_ms)``: series_id, ts, value."""
        ids = self._ids(metric, matchers)
        if ids is not None and len(ids) == 0:
            return pa.table(
                {
                    "series_id": pa.array([], pa.int64()),
                    "ts": pa.array([], pa.int64()),
                    "value": pa.array([], pa.float64()),
                }
            )
        return self._sql.run(
            "SELECT series_id, ts, value FROM samples"
            f"{' JOIN wanted USING (series_id)' if ids is not None else ''} "
            "WHERE day BETWEEN ? AND ? AND ts >= ? AND ts < ? AND metric = ? "
            "ORDER BY series_id, ts",
            [*_days(start_ms, end_ms), start_ms, end_ms, metric],
            extra=None if ids is None else {"wanted": ids},
        )

    def query_rollups(
        self, metric: str, start_ms: int, end_ms: int, matchers: Matchers = None
    ) -> pa.Table:
        """Per-minute aggregates of ``metric`` (count, sum, min, max, first, last) in the range.
        Days compacted since their last sample come from ``samples_1m``; others are rolled up
        from the raw samples on the fly, so the answer is always complete."""
        ids = self._ids(metric, matchers)
        first, last = _days(start_ms, end_ms)
        stale = [d for d in self.stale_rollup_days() if first <= d <= last]
        join = " JOIN wanted USING (series_id)" if ids is not None else ""
        cols = "ts, series_id, count, sum, min, max, first, last"
        lo = start_ms - start_ms % 60_000
        in_stale = ", ".join(f"DATE '{d.isoformat()}'" for d in stale)
        parts = [
            f"SELECT {cols} FROM samples_1m{join} WHERE day BETWEEN ? AND ? AND ts >= ? "
            "AND ts < ? AND metric = ?" + (f" AND day NOT IN ({in_stale})" if stale else "")
        ]
        params: list[Any] = [first, last, lo, end_ms, metric]
        if stale:
            where = f"day IN ({in_stale}) AND ts >= ? AND ts < ? AND metric = ?"
            parts.append(
                f"SELECT {cols} FROM ({ROLLUP_SQL.format(source='samples', where=where)}){join}"
            )
            params += [lo, end_ms, metric]
        return self._sql.run(
            " UNION ALL ".join(parts) + " ORDER BY ts, series_id",
            params,
            extra=None if ids is None else {"wanted": ids},
        )

    def query_hourly(
        self, metric: str, start_ms: int, end_ms: int, matchers: Matchers = None
    ) -> pa.Table:
        """Per-hour aggregates of ``metric`` for the hours starting in ``[start_ms, end_ms)``:
        ts (hour start), series_id, n (finite samples), first_ts, first, last_ts, last, resets
        (counter-reset correction), nonzero, sum, min, max. Like :meth:`query_rollups`, days
        not compacted since their last sample are rolled up on the fly."""
        ids = self._ids(metric, matchers)
        first, last = _days(start_ms, end_ms)
        stale = [d for d in self.stale_rollup_days("samples_1h") if first <= d <= last]
        join = " JOIN wanted USING (series_id)" if ids is not None else ""
        cols = "ts, series_id, n, first_ts, first, last_ts, last, resets, nonzero, sum, min, max"
        in_stale = ", ".join(f"DATE '{d.isoformat()}'" for d in stale)
        parts = [
            f"SELECT {cols} FROM samples_1h{join} WHERE day BETWEEN ? AND ? AND ts >= ? "
            "AND ts < ? AND metric = ? AND n > 0"
            + (f" AND day NOT IN ({in_stale})" if stale else "")
        ]
        params: list[Any] = [first, last, start_ms, end_ms, metric]
        if stale:
            where = f"day IN ({in_stale}) AND ts >= ? AND ts < ? AND metric = ?"
            parts.append(
                f"SELECT {cols} FROM ({HOURLY_SQL.format(source='samples', where=where)}){join} "
                "WHERE n > 0"
            )
            params += [start_ms - start_ms % 3_600_000, end_ms, metric]
        return self._sql.run(
            " UNION ALL ".join(parts) + " ORDER BY series_id, ts",
            params,
            extra=None if ids is None else {"wanted": ids},
        )

    def query_buckets(
        self,
        metric: str,
        start_ms: int,
        end_ms: int,
        bucket_ms: int,
        series_ids: Iterable[int] | None = None,
    ) -> tuple[pa.Table, str]:
        """``metric`` in ``[start_ms, end_ms)`` per series and bucket of ``bucket_ms`` (aligned
        to the epoch): series_id, t (bucket start), n, min, max, mean, last, increase (counter
        growth, resets counted). Whole-hour buckets come from ``samples_1h`` when no day of
        the range is stale there; returns the table and the name of the table read."""
        if bucket_ms <= 0:
            raise ValueError(f"a bucket is a positive number of milliseconds, not {bucket_ms}")
        ids = None if series_ids is None else _wanted(series_ids)
        first, last = _days(start_ms, end_ms)
        hourly = bucket_ms % 3_600_000 == 0 and not any(
            first <= d <= last for d in self.stale_rollup_days("samples_1h")
        )
        sql, source = (HOURLY_BUCKETS_SQL, "samples_1h") if hourly else (RAW_BUCKETS_SQL, "samples")
        join = " JOIN wanted USING (series_id)" if ids is not None else ""
        table = self._sql.run(
            sql.format(join=join, bucket=int(bucket_ms)),
            [first, last, start_ms, end_ms, metric],
            extra=None if ids is None else {"wanted": ids},
        )
        return table, source

    def count_flagged(
        self, metric: str, series_ids: Iterable[int], start_ms: int, end_ms: int, bits: int
    ) -> int:
        """Finite samples of ``series_ids`` (of ``metric``) in ``[start_ms, end_ms)`` whose
        value, read as an integer bit field (DCGM's clock event reasons), has any of ``bits``."""
        ids = _wanted(series_ids)
        if len(ids) == 0:
            return 0
        table = self._sql.run(
            "SELECT count(*) AS n FROM samples JOIN wanted USING (series_id) "
            "WHERE day BETWEEN ? AND ? AND ts >= ? AND ts < ? AND metric = ? "
            "AND isfinite(value) AND (CAST(value AS BIGINT) & ?) != 0",
            [*_days(start_ms, end_ms), start_ms, end_ms, metric, bits],
            extra={"wanted": ids},
        )
        return int(table.column("n")[0].as_py())

    def metric_stats(self) -> list[MetricStats]:
        """Every stored metric: its series and samples, first and last sample, by name."""
        table = self._sql.run(
            "SELECT metric, count(DISTINCT series_id) AS series, count(*) AS samples, "
            "min(ts) AS first_ms, max(ts) AS last_ms FROM samples GROUP BY metric "
            "ORDER BY metric"
        )
        return [MetricStats(**row) for row in table.to_pylist()]

    # -- rollups ----------------------------------------------------------------------------------

    def stale_rollup_days(self, table: str = "samples_1m") -> list[dt.date]:
        """Days whose rollups in ``table`` do not cover exactly the raw samples of that day."""
        key = (
            self._tables["samples"].snapshot().version(),
            self._tables[table].snapshot().version(),
        )
        cached = self._stale.get(table)
        if cached is None or cached[0] != key:
            cached = self._stale[table] = (key, self._stale_days(table))
        return list(cached[1])

    def _stale_days(self, table: str) -> list[dt.date]:
        raw = raw_counts(self._tables["samples"].add_actions())
        rolled_rows = self._sql.run(f"SELECT day, sum(count) AS n FROM {table} GROUP BY day")
        rolled = {
            str(d): n
            for d, n in zip(
                rolled_rows.column("day").to_pylist(),
                rolled_rows.column("n").to_pylist(),
                strict=True,
            )
        }
        return [dt.date.fromisoformat(str(d)) for d in stale_days(raw, rolled)]

    def refresh_rollups(self) -> dict[str, dict[str, int]]:
        """Rebuild the 1-minute and 1-hour rollups of every day whose raw samples changed;
        returns, per rollup table, the days rebuilt and the rollup rows written."""
        report: dict[str, dict[str, int]] = {}
        for table, query, order in (
            ("samples_1m", ROLLUP_SQL, "metric, series_id, ts"),
            ("samples_1h", HOURLY_SQL, "metric, series_id, ts"),
        ):
            handle = self._tables[table]
            days = rows_written = 0
            for day in self.stale_rollup_days(table):
                rows = self._sql.run(
                    f"{query.format(source='samples', where='day = ?')} ORDER BY {order}", [day]
                )
                handle.overwrite_where(rows, f"day = '{day.isoformat()}'", row_group_rows=8192)
                days, rows_written = days + 1, rows_written + rows.num_rows
            report[table] = {"days_rebuilt": days, "rollup_rows_written": rows_written}
        return report
