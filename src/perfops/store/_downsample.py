"""SQL that downsamples a metric to fixed time buckets: per series and bucket the finite
samples' count, min, max, mean and last value, and the counter increase (a drop is a reset,
as in Prometheus' ``increase`` without extrapolation; the step into a bucket from the last
sample before it counts in that bucket).

From the raw samples, or from the hourly rollups when the buckets are whole hours and the
rollups are current: then a week of 15 s samples reads 168 rows a series, not 40,320.
"""

from __future__ import annotations

__all__ = ["HOURLY_BUCKETS_SQL", "RAW_BUCKETS_SQL"]

# parameters: bucket_ms x3, first day, last day, start_ms, end_ms, metric
RAW_BUCKETS_SQL = """
WITH s AS (
    SELECT series_id, ts, value,
           lag(value) OVER (PARTITION BY series_id ORDER BY ts) AS prev
    FROM samples{join}
    WHERE day BETWEEN ? AND ? AND ts >= ? AND ts < ? AND metric = ? AND isfinite(value)
)
SELECT series_id, (ts // {bucket}) * {bucket} AS t, count(*) AS n,
       min(value) AS min, max(value) AS max, avg(value) AS mean, arg_max(value, ts) AS last,
       coalesce(sum(CASE WHEN prev IS NULL THEN 0.0 WHEN value >= prev THEN value - prev
                         ELSE value END), 0.0) AS increase
FROM s GROUP BY series_id, t ORDER BY series_id, t
"""

# the same answer from samples_1h: inside an hour last - first + resets, plus the step from
# the previous hour's last sample to this hour's first
HOURLY_BUCKETS_SQL = """
WITH h AS (
    SELECT series_id, ts, n, first, last, resets, sum, min, max,
           lag(last) OVER (PARTITION BY series_id ORDER BY ts) AS prev
    FROM samples_1h{join}
    WHERE day BETWEEN ? AND ? AND ts >= ? AND ts < ? AND metric = ? AND n > 0
)
SELECT series_id, (ts // {bucket}) * {bucket} AS t, sum(n) AS n, min(min) AS min,
       max(max) AS max, sum(sum) / sum(n) AS mean, arg_max(last, ts) AS last,
       sum(last - first + coalesce(resets, 0.0) + CASE WHEN prev IS NULL THEN 0.0
           WHEN first >= prev THEN first - prev ELSE first END) AS increase
FROM h GROUP BY series_id, t ORDER BY series_id, t
"""
