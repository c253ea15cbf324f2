"""Group commit for high-rate appends: many small batches, one Delta commit.

A Delta commit costs ~15 ms of fixed work in delta-rs whatever its size, so a scraper or an
importer that appends thousands of small batches buffers them here and commits every
``max_rows`` rows or ``max_delay_s`` seconds. What a crash can lose is bounded by those two
numbers; every batch a flush returned from is durable.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

import pyarrow as pa

from perfops._internal.clock import Clock

__all__ = ["BatchWriter"]


class BatchWriter:
    """Buffers Arrow batches for one table and appends them in one commit per flush."""

    def __init__(
        self,
        append: Callable[[pa.Table], Any],
        clock: Clock,
        *,
        max_rows: int = 100_000,
        max_delay_s: float = 1.0,
    ) -> None:
        self._append = append
        self._clock = clock
        self.max_rows = max_rows
        self.max_delay_s = max_delay_s
        self._pending: list[pa.Table] = []
        self._rows = 0
        self._oldest = 0.0
        self.commits = 0

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if not self._pending:
            self._oldest = self._clock.monotonic()
        self._pending.append(table)
        self._rows += table.num_rows
        if self._rows >= self.max_rows or (
            self._clock.monotonic() - self._oldest >= self.max_delay_s
        ):
            self.flush()

    def flush(self) -> None:
        """Commit everything buffered, as one append."""
        if not self._pending:
            return
        batch = pa.concat_tables(self._pending, promote_options="permissive")
        self._append(batch)
        self._pending.clear()
        self._rows = 0
        self.commits += 1

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.flush()
