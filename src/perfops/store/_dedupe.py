"""Appends that never store a sample twice: a batch's rows whose ``(series_id, ts)`` the lake
already holds (or that repeat inside the batch) are dropped before the append.

Used where the same sample can arrive again: an import of a range that overlaps an earlier
one, a re-run after a crash mid-import, a scrape whose exposition carries its own timestamps
(a federation or Pushgateway target re-read, a restarted collector). Scrape-stamped samples
need none of it: their key is the scrape's start time, new at every scrape.

Why an anti-join and a plain append, not a Delta ``merge``: delta-rs checks a merge under
serializable isolation, so a merge fails ("a concurrent transaction added new data") whenever
``perfops collect`` appends to the same day meanwhile, which it does every second. Blind
appends never conflict. What the anti-join cannot see is another deduplicating writer
committing the same keys between its read and its append, so those writers take one lock
per lake (``flock`` on ``LAKE/.samples-dedupe.lock``, released by the OS if the process
dies); plain appends never take it. A crash loses at most the batch being written: each
append is one atomic commit, and a re-run skips what was committed.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

__all__ = ["NEW_ROWS_SQL", "dedupe_lock", "new_rows"]

# Row numbers (``_row``) of the batch ``new_rows`` to append: the first of each key, and only
# keys the samples table does not hold. Only row numbers come back, so values (a staleness
# marker's NaN bit pattern included) never pass through SQL.
NEW_ROWS_SQL = """
WITH batch AS (
    SELECT _row, series_id, ts FROM new_rows
    QUALIFY row_number() OVER (PARTITION BY series_id, ts ORDER BY _row) = 1
),
held AS (
    SELECT series_id, ts FROM samples
    WHERE day BETWEEN ? AND ? AND ts BETWEEN ? AND ?
      AND series_id IN (SELECT series_id FROM batch)
)
SELECT _row FROM batch ANTI JOIN held USING (series_id, ts) ORDER BY _row
"""


@contextmanager
def dedupe_lock(root: Path) -> Iterator[None]:
    """Hold the lake's deduplicating-writer lock (exclusive, across processes and threads)."""
    fd = os.open(root / ".samples-dedupe.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def new_rows(table: pa.Table, select: Callable[[pa.Table], list[int]]) -> pa.Table:
    """The rows of ``table`` that ``select`` (given ``table`` with a ``_row`` column, returning
    the row numbers to keep) keeps, in their order."""
    numbered = table.select(["series_id", "ts"]).append_column(
        "_row", pa.array(range(table.num_rows), pa.int64())
    )
    return table.take(pa.array(select(numbered), pa.int64()))
