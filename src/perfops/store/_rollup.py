"""1-minute rollups of samples: which days are stale, and the SQL that builds them."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

__all__ = ["ROLLUP_SQL", "stale_days"]

# One row per series and minute. ``count`` counts every raw row, so that summing it per day
# and comparing with the raw table's per-day row count tells whether a day's rollup is current.
ROLLUP_SQL = """
SELECT day, (ts // 60000) * 60000 AS ts, series_id, any_value(metric) AS metric,
       count(*) AS count,
       sum(value) FILTER (WHERE isfinite(value)) AS sum,
       min(value) FILTER (WHERE isfinite(value)) AS min,
       max(value) FILTER (WHERE isfinite(value)) AS max,
       arg_min(value, ts) AS first,
       arg_max(value, ts) AS last
FROM {source}
WHERE {where}
GROUP BY day, (ts // 60000) * 60000, series_id
"""


def raw_counts(add_actions: pa.Table) -> dict[str, int]:
    """Rows per ``day`` partition (ISO date), from the Delta log alone (no data file is opened)."""
    counts: dict[str, int] = {}
    if len(add_actions) == 0:
        return counts
    days = add_actions.column("partition.day").to_pylist()
    rows = add_actions.column("num_records").to_pylist()
    for day, n in zip(days, rows, strict=True):
        counts[str(day)] = counts.get(str(day), 0) + (n or 0)
    return counts


def stale_days(raw: Mapping[str, int], rolled: Mapping[str, int]) -> list[str]:
    """Days whose rollup does not cover exactly the raw rows of that day."""
    return sorted(d for d, n in raw.items() if rolled.get(d) != n)
