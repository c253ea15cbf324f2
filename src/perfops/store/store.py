"""The lake: Delta tables under one folder, queried with DuckDB over Arrow datasets.

A :class:`Store` is the lake's time series (:attr:`Store.timeseries`), its journals of runs,
events, requests and costs (:attr:`Store.journal`), and the upkeep of the whole (info,
compaction). Only this package speaks SQL; users' own read-only queries (an experiment's lake
probe) go through :meth:`Store.read_query`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from perfops._internal import strict_json
from perfops._internal.clock import Clock, SystemClock
from perfops.errors import StoreError, UsageError
from perfops.store._delta import DeltaHandle
from perfops.store._repair import TableRepair, backup_folder, repair_table
from perfops.store._sql import LakeSql, check_read_only
from perfops.store.journal import Journal
from perfops.store.records import TableInfo
from perfops.store.schema import TABLES
from perfops.store.timeseries import TimeSeries

__all__ = ["Store"]


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
        self._open_tables()

    def _open_tables(self) -> None:
        self._tables = {name: DeltaHandle(self.root, spec) for name, spec in TABLES.items()}
        self._sql = LakeSql(self._tables)
        self.timeseries = TimeSeries(self._tables, self._sql, self.clock)
        self.journal = Journal(self._tables, self._sql, self.clock, self.root)

    def read_query(self, query: str, params: Sequence[Any] = ()) -> pa.Table:
        """The result of one read-only statement a user wrote (an experiment's lake probe, an
        ad-hoc look) over the lake's tables, each a view of its latest snapshot. Anything but
        a single SELECT is refused with a StoreError."""
        check_read_only(query)
        return self._sql.run(query, params)

    def versions(self, *names: str) -> dict[str, int]:
        """The Delta version each named table's latest snapshot is at (all tables when none
        is named): what a figure read, so that it can be read again as of that version."""
        unknown = [n for n in names if n not in self._tables]
        if unknown:
            raise UsageError(f"no lake table(s) {unknown}", hint=f"tables: {', '.join(TABLES)}")
        return {n: self._tables[n].snapshot().version() for n in names or self._tables}

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
        ``retention_hours`` (0 also removes files a reader of an older snapshot may still need).
        Per table: ``files_merged`` small files merged into ``merged_into`` files,
        ``files_deleted`` unreferenced files deleted, the ``version`` checkpointed, and for the
        rollup tables ``days_rebuilt`` and ``rollup_rows_written``."""
        rollups = self.timeseries.refresh_rollups()
        return {
            name: {**rollups.get(name, {}), **handle.compact(retention_hours)}
            for name, handle in self._tables.items()
        }

    def repair(self, table: str | None = None, *, dry_run: bool = False) -> list[TableRepair]:
        """Find damaged Delta logs and (unless ``dry_run``) make each table readable again at
        its last good version, moving what is damaged to ``_repair/<UTC time>/`` in the lake
        and copying there the data files of what is moved; nothing is deleted. Run it while
        nothing writes to the lake."""
        if table is not None and table not in self._tables:
            raise UsageError(f"no lake table {table!r}", hint=f"tables: {', '.join(TABLES)}")
        now = dt.datetime.fromtimestamp(self.clock.now_ns() / 1e9, dt.UTC)
        backup = backup_folder(self.root, now)
        names = [table] if table is not None else list(self._tables)
        reports = [repair_table(self._tables[n].path, n, backup, dry_run=dry_run) for n in names]
        if not dry_run and backup.is_dir():
            (backup / "repair.json").write_text(
                strict_json.dumps([asdict(r) for r in reports if r.damaged], indent=2) + "\n",
                encoding="utf-8",
            )
        self._open_tables()  # forget snapshots read before the repair
        return reports
