"""The lake: Delta tables under one folder, queried with DuckDB over Arrow datasets.

A :class:`Store` is the lake's time series (:attr:`Store.timeseries`), its journals of runs,
events, requests and costs (:attr:`Store.journal`), and the upkeep of the whole (info,
compaction). Only this package speaks SQL; users' own read-only queries (an experiment's lake
probe) go through :meth:`Store.read_query`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from perfops._internal.clock import Clock, SystemClock
from perfops.errors import StoreError
from perfops.store._delta import DeltaHandle
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
        days = self.timeseries.refresh_rollups()
        report: dict[str, dict[str, Any]] = {
            name: handle.compact(retention_hours) for name, handle in self._tables.items()
        }
        report["samples_1m"]["days_rolled_up"] = len(days)
        return report
