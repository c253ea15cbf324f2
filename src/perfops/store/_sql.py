"""DuckDB over the lake: each table a view of its latest snapshot, one query at a time.

Private to the store: the rest of perfops asks the store's typed queries (the time series,
the journals), so that only this package speaks SQL.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from perfops.errors import StoreError
from perfops.store._delta import DeltaHandle
from perfops.store.schema import TABLES

__all__ = ["LakeSql", "check_read_only"]


class LakeSql:
    """Runs DuckDB SQL over ``tables``; a query sees the latest commit of each table it names."""

    def __init__(self, tables: Mapping[str, DeltaHandle]) -> None:
        self._tables = tables
        self._duck = duckdb.connect()
        self._lock = threading.Lock()

    def run(
        self, query: str, params: Sequence[Any] = (), *, extra: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        """The result of ``query``; ``extra`` names more Arrow tables it may read."""
        names = [n for n in TABLES if re.search(rf"\b{n}\b", query)]
        with self._lock:
            return self._run_locked(query, params, extra, names)

    def _run_locked(
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
        except duckdb.IOException as exc:
            raise self._missing(names) or StoreError(f"query failed: {exc}") from None
        except duckdb.Error as exc:
            raise StoreError(f"query failed: {exc}") from None
        finally:
            cur.close()

    def _missing(self, names: list[str]) -> StoreError | None:
        """The error naming a table whose snapshot references data files that are gone."""
        for name in names:
            handle = self._tables[name]
            missing = handle.missing_files()
            if missing:
                return StoreError(
                    f"lake table {name} is damaged: {len(missing)} data file(s) of its version "
                    f"{handle.snapshot().version()} are missing (e.g. {missing[0]})",
                    hint=f"restore them from a backup of the lake, or run `perfops store repair "
                    f"--table {name}` to drop them from the table (their rows are lost)",
                )
        return None


def check_read_only(query: str) -> None:
    """Raise a StoreError unless ``query`` is one read-only statement (SELECT, WITH, FROM)."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise StoreError(f"query failed: {exc}") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        raise StoreError(
            f"a lake query must be one SELECT statement, got {kinds}: {query[:200]!r}",
            hint="the lake is read-only here: write one SELECT (or WITH ... SELECT)",
        )
