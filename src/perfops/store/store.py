"""The lake: Delta tables under one folder, queried with DuckDB over Arrow datasets."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from perfops._internal.clock import Clock, SystemClock
from perfops._internal.ids import new_id, series_id
from perfops.errors import StoreError
from perfops.store._delta import DeltaHandle
from perfops.store._rollup import HOURLY_SQL, ROLLUP_SQL, raw_counts, stale_days
from perfops.store._writer import BatchWriter
from perfops.store.records import (
    EventRecord,
    Matcher,
    RunRecord,
    SeriesInfo,
    TableInfo,
    parse_matchers,
)
from perfops.store.schema import TABLES

__all__ = ["Store"]

_EPOCH = dt.date(1970, 1, 1)
_DAY_MS = 86_400_000
Matchers = str | Mapping[str, str] | Sequence[Matcher] | None


_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last day a date can name


def day_of(ms: int) -> dt.date:
    """The UTC day of ``ms``, clamped to the dates Python can represent."""
    return _EPOCH + dt.timedelta(days=min(max(ms, 0), _MAX_MS) // _DAY_MS)


def _with_day(table: pa.Table) -> pa.Table:
    if "day" in table.column_names:
        return table
    days = pa.compute.divide(table.column("ts"), _DAY_MS).cast(pa.int32()).cast(pa.date32())
    return table.append_column("day", days)


class Store:
    """The perfops lake at ``root``. Safe to use from several processes at once: each append is
    one atomic commit, and readers see whole commits only."""

    def __init__(self, root: str | Path, *, clock: Clock | None = None) -> None:
        self.root = Path(root)
        self.clock = clock or SystemClock()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the lake at {self.root}: {exc.strerror}",
                hint="set workspace.lake in perfops.yaml to a writable folder",
            ) from None
        self._tables = {name: DeltaHandle(self.root, spec) for name, spec in TABLES.items()}
        self._duck = duckdb.connect()
        self._lock = threading.Lock()
        self._series: dict[int, SeriesInfo] = {}
        self._series_version = -1
        self._stale: dict[str, tuple[tuple[int, int], list[dt.date]]] = {}

    def table(self, name: str) -> DeltaHandle:
        try:
            return self._tables[name]
        except KeyError:
            raise StoreError(f"no table {name!r}", hint=f"tables: {', '.join(TABLES)}") from None

    # -- SQL ------------------------------------------------------------------------------------

    def sql(
        self, query: str, params: Sequence[Any] = (), *, extra: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        """Run DuckDB SQL over the lake's tables (each name is a view of its latest snapshot)."""
        names = [n for n in TABLES if re.search(rf"\b{n}\b", query)]
        with self._lock:
            return self._sql_locked(query, params, extra, names)

    def _sql_locked(
        self,
        query: str,
        params: Sequence[Any],
        extra: Mapping[str, pa.Table] | None,
        names: list[str],
    ) -> pa.Table:
        cur = self._duck.cursor()
        try:
            for name in names:
                scan = self._tables[name].scan_sql()
                if scan is None:
                    cur.register(name, TABLES[name].schema.empty_table())
                else:
                    cur.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {scan}")
            for name, value in (extra or {}).items():
                cur.register(name, value)
            return cur.sql(query, params=list(params)).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"query failed: {exc}") from None
        finally:
            cur.close()

    # -- series and samples -----------------------------------------------------------------------

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

    def append_samples(self, table: pa.Table) -> None:
        """Append samples (``ts`` ms, ``series_id``, ``metric``, ``value``) as one commit."""
        self._tables["samples"].append(_with_day(table))

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
            parse_matchers(matchers)
            if isinstance(matchers, str | Mapping | type(None))
            else list(matchers)
        )
        return {
            sid: info
            for sid, info in self._load_series().items()
            if (metric is None or info.metric == metric)
            and all(m.matches(info.labels) for m in found)
        }

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
        return self.sql(
            "SELECT series_id, ts, value FROM samples"
            f"{' JOIN wanted USING (series_id)' if ids is not None else ''} "
            "WHERE day BETWEEN ? AND ? AND ts >= ? AND ts < ? AND metric = ? "
            "ORDER BY series_id, ts",
            [day_of(start_ms), day_of(max(start_ms, end_ms - 1)), start_ms, end_ms, metric],
            extra=None if ids is None else {"wanted": ids},
        )

    def query_rollups(
        self, metric: str, start_ms: int, end_ms: int, matchers: Matchers = None
    ) -> pa.Table:
        """Per-minute aggregates of ``metric`` (count, sum, min, max, first, last) in the range.
        Days compacted since their last sample come from ``samples_1m``; others are rolled up
        from the raw samples on the fly, so the answer is always complete."""
        ids = self._ids(metric, matchers)
        first, last = day_of(start_ms), day_of(max(start_ms, end_ms - 1))
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
        return self.sql(
            " UNION ALL ".join(parts) + " ORDER BY ts, series_id",
            params,
            extra=None if ids is None else {"wanted": ids},
        )

    def _ids(self, metric: str, matchers: Matchers) -> pa.Table | None:
        if matchers is None or (not isinstance(matchers, str) and len(matchers) == 0):
            return None
        return pa.table({"series_id": pa.array(list(self.series(metric, matchers)), pa.int64())})

    def query_hourly(
        self, metric: str, start_ms: int, end_ms: int, matchers: Matchers = None
    ) -> pa.Table:
        """Per-hour aggregates of ``metric`` for the hours starting in ``[start_ms, end_ms)``:
        ts (hour start), series_id, n (finite samples), first_ts, first, last_ts, last, resets
        (counter-reset correction), nonzero, sum, min, max. Like :meth:`query_rollups`, days
        not compacted since their last sample are rolled up on the fly."""
        ids = self._ids(metric, matchers)
        first, last = day_of(start_ms), day_of(max(start_ms, end_ms - 1))
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
        return self.sql(
            " UNION ALL ".join(parts) + " ORDER BY series_id, ts",
            params,
            extra=None if ids is None else {"wanted": ids},
        )

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
        rolled_rows = self.sql(f"SELECT day, sum(count) AS n FROM {table} GROUP BY day")
        rolled = {
            str(d): n
            for d, n in zip(
                rolled_rows.column("day").to_pylist(),
                rolled_rows.column("n").to_pylist(),
                strict=True,
            )
        }
        return [dt.date.fromisoformat(str(d)) for d in stale_days(raw, rolled)]

    def refresh_rollups(self) -> list[dt.date]:
        """Rebuild the 1-minute and 1-hour rollups of every day whose raw samples changed;
        returns those days."""
        changed: set[dt.date] = set()
        for table, query, order in (
            ("samples_1m", ROLLUP_SQL, "metric, series_id, ts"),
            ("samples_1h", HOURLY_SQL, "metric, series_id, ts"),
        ):
            handle = self._tables[table]
            for day in self.stale_rollup_days(table):
                rows = self.sql(
                    f"{query.format(source='samples', where='day = ?')} ORDER BY {order}", [day]
                )
                handle.overwrite_where(rows, f"day = '{day.isoformat()}'", row_group_rows=8192)
                changed.add(day)
        return sorted(changed)

    # -- runs, events, requests, costs ------------------------------------------------------------

    def write_run(self, run: RunRecord) -> None:
        self._tables["runs"].append(
            pa.table(
                {
                    "run_id": [run.run_id],
                    "kind": [run.kind],
                    "started_ns": [run.started_ns],
                    "ended_ns": pa.array([run.ended_ns], pa.int64()),
                    "status": [run.status],
                    "spec": [json.dumps(run.spec, default=str)],
                    "summary": [json.dumps(run.summary, default=str)],
                    "updated_ns": [self.clock.now_ns()],
                }
            )
        )

    def runs(self, kind: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Newest state of each run, newest run first."""
        table = self.sql(
            "SELECT * FROM runs WHERE (? IS NULL OR kind = ?) QUALIFY row_number() OVER "
            "(PARTITION BY run_id ORDER BY updated_ns DESC) = 1 ORDER BY started_ns DESC"
            + (f" LIMIT {int(limit)}" if limit else ""),
            [kind, kind],
        )
        return [
            RunRecord(
                r["run_id"],
                r["kind"],
                r["started_ns"],
                r["status"],
                r["ended_ns"],
                json.loads(r["spec"] or "{}"),
                json.loads(r["summary"] or "{}"),
            )
            for r in table.to_pylist()
        ]

    def run(self, run_id: str) -> RunRecord:
        for record in self.runs():
            if record.run_id == run_id:
                return record
        raise StoreError(
            f"no run {run_id!r} in {self.root}",
            hint="`perfops store info` lists what the lake holds",
        )

    def append_events(self, events: Sequence[EventRecord]) -> None:
        if not events:
            return
        self._tables["events"].append(
            pa.table(
                {
                    "event_id": [e.event_id or new_id(e.ts_ns, "ev") for e in events],
                    "ts_ns": pa.array([e.ts_ns for e in events], pa.int64()),
                    "kind": [e.kind for e in events],
                    "service": [e.service for e in events],
                    "severity": [e.severity for e in events],
                    "title": [e.title for e in events],
                    "run_id": [e.run_id for e in events],
                    "data": [json.dumps(e.data, default=str) for e in events],
                }
            )
        )

    def events(
        self,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        kind: str | None = None,
        service: str | None = None,
    ) -> list[EventRecord]:
        table = self.sql(
            "SELECT * FROM events WHERE ts_ns >= coalesce(?, ts_ns) AND ts_ns < coalesce(?, "
            "ts_ns + 1) AND (? IS NULL OR kind = ?) AND (? IS NULL OR service = ?) ORDER BY ts_ns",
            [start_ns, end_ns, kind, kind, service, service],
        )
        return [
            EventRecord(
                r["ts_ns"],
                r["kind"],
                r["title"],
                r["service"],
                r["severity"],
                r["run_id"],
                json.loads(r["data"] or "{}"),
                r["event_id"],
            )
            for r in table.to_pylist()
        ]

    def append_requests(self, table: pa.Table) -> None:
        self._tables["requests"].append(table)

    def requests(self, run_id: str) -> pa.Table:
        return self.sql("SELECT * FROM requests WHERE run_id = ? ORDER BY scheduled_ns", [run_id])

    def append_costs(self, table: pa.Table) -> None:
        self._tables["costs"].append(table)

    def replace_costs(self, table: pa.Table, start_ms: int, end_ms: int) -> None:
        """Replace the cost rows charged in ``[start_ms, end_ms)`` by ``table`` in one commit,
        so exporting a period again does not count it twice."""
        lo, hi = (
            "arrow_cast('"
            + dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            + """', 'Timestamp(Microsecond, Some("UTC"))')"""
            for ms in (start_ms, end_ms)
        )
        handle = self._tables["costs"]
        if handle.stats().files == 0:
            handle.append(table)
            return
        handle.overwrite_where(
            table,
            f"ChargePeriodStart >= {lo} AND ChargePeriodStart < {hi}",
        )

    # -- maintenance ------------------------------------------------------------------------------

    def info(self) -> list[TableInfo]:
        out = []
        for name, handle in self._tables.items():
            stats = handle.stats()
            first = last = None
            col = handle.spec.time_column
            actions = handle.add_actions() if col and stats.files else None
            if actions is not None and f"min.{col}" in actions.column_names:
                mins = [v for v in actions.column(f"min.{col}").to_pylist() if v is not None]
                maxs = [v for v in actions.column(f"max.{col}").to_pylist() if v is not None]
                unit = handle.spec.time_unit_ns
                first = min(mins) * unit if mins else None
                last = max(maxs) * unit if maxs else None
            out.append(
                TableInfo(name, stats.rows, stats.files, stats.bytes, stats.version, first, last)
            )
        return out

    def compact(self, retention_hours: float = 1.0) -> dict[str, dict[str, Any]]:
        """Refresh rollups, merge small files, checkpoint logs, vacuum files unused for
        ``retention_hours`` (0 also removes files a reader of an older snapshot may still need)."""
        days = self.refresh_rollups()
        report: dict[str, dict[str, Any]] = {
            name: handle.compact(retention_hours) for name, handle in self._tables.items()
        }
        report["samples_1m"]["days_rolled_up"] = len(days)
        return report
