"""1-minute rollups of samples: which days are stale, and the SQL that builds them."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

__all__ = ["HOURLY_SQL", "ROLLUP_SQL", "raw_counts", "stale_days"]

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

# One row per series and hour, over the finite samples, with what Prometheus' counter math
# needs to combine hours exactly: the first and last sample and their times, and the
# counter-reset correction inside the hour (the value before each drop, as ``increase`` adds
# it). ``count`` counts every raw row (stale markers included) for the staleness check.
HOURLY_SQL = """
WITH raw AS (SELECT day, ts, series_id, metric, value FROM {source} WHERE {where}),
finite AS (
    SELECT day, ts, series_id, value,
           lag(value) OVER (PARTITION BY series_id, ts // 3600000 ORDER BY ts) AS prev
    FROM raw WHERE isfinite(value)
),
hours AS (
    SELECT day, (ts // 3600000) * 3600000 AS ts, series_id, count(*) AS n,
           min(ts) AS first_ts, arg_min(value, ts) AS first,
           max(ts) AS last_ts, arg_max(value, ts) AS last,
           coalesce(sum(prev) FILTER (WHERE value < prev), 0.0) AS resets,
           count(*) FILTER (WHERE value != 0) AS nonzero,
           sum(value) AS sum, min(value) AS min, max(value) AS max
    FROM finite GROUP BY day, (ts // 3600000) * 3600000, series_id
),
counted AS (
    SELECT day, (ts // 3600000) * 3600000 AS ts, series_id, any_value(metric) AS metric,
           count(*) AS count
    FROM raw GROUP BY day, (ts // 3600000) * 3600000, series_id
)
SELECT c.day, c.ts, c.series_id, c.metric, c.count, coalesce(h.n, 0) AS n, h.first_ts,
       h.first, h.last_ts, h.last, h.resets, h.nonzero, h.sum, h.min, h.max
FROM counted c LEFT JOIN hours h USING (day, ts, series_id)
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
