"""The lake's tables: Arrow schemas, partitioning and what each row means.

Times are UTC integers: samples in milliseconds (Prometheus' precision), everything else in
nanoseconds. ``day`` (date32) partitions the time-series tables so that a range query opens
only the days it needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from perfops._internal.focus_schema import FOCUS_SCHEMA

__all__ = ["TABLES", "TableSpec"]


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    schema: pa.Schema
    partition_by: tuple[str, ...] = ()
    description: str = ""
    time_column: str | None = None
    time_unit_ns: int = 1  # nanoseconds per unit of time_column


_LABELS = pa.map_(pa.string(), pa.string())

SAMPLES = TableSpec(
    "samples",
    pa.schema(
        [
            pa.field("day", pa.date32(), nullable=False),
            pa.field("ts", pa.int64(), nullable=False),
            pa.field("series_id", pa.int64(), nullable=False),
            pa.field("metric", pa.string(), nullable=False),
            pa.field("value", pa.float64(), nullable=False),
        ]
    ),
    ("day",),
    "scraped or imported samples; labels live in `series`",
    "ts",
    1_000_000,
)

SERIES = TableSpec(
    "series",
    pa.schema(
        [
            pa.field("series_id", pa.int64(), nullable=False),
            pa.field("metric", pa.string(), nullable=False),
            pa.field("labels", _LABELS, nullable=False),
            pa.field("source", pa.string()),
            pa.field("raw_name", pa.string()),
            pa.field("first_seen", pa.int64()),
        ]
    ),
    (),
    "one row per time series: canonical metric, labels, source, raw vendor name",
    "first_seen",
    1_000_000,
)

SAMPLES_1M = TableSpec(
    "samples_1m",
    pa.schema(
        [
            pa.field("day", pa.date32(), nullable=False),
            pa.field("ts", pa.int64(), nullable=False),
            pa.field("series_id", pa.int64(), nullable=False),
            pa.field("metric", pa.string(), nullable=False),
            pa.field("count", pa.int64(), nullable=False),
            pa.field("sum", pa.float64()),
            pa.field("min", pa.float64()),
            pa.field("max", pa.float64()),
            pa.field("first", pa.float64()),
            pa.field("last", pa.float64()),
        ]
    ),
    ("day",),
    "1-minute rollups of samples, written by `perfops store compact`",
    "ts",
    1_000_000,
)

SAMPLES_1H = TableSpec(
    "samples_1h",
    pa.schema(
        [
            pa.field("day", pa.date32(), nullable=False),
            pa.field("ts", pa.int64(), nullable=False),
            pa.field("series_id", pa.int64(), nullable=False),
            pa.field("metric", pa.string(), nullable=False),
            pa.field("count", pa.int64(), nullable=False),
            pa.field("n", pa.int64(), nullable=False),
            pa.field("first_ts", pa.int64()),
            pa.field("first", pa.float64()),
            pa.field("last_ts", pa.int64()),
            pa.field("last", pa.float64()),
            pa.field("resets", pa.float64()),
            pa.field("nonzero", pa.int64()),
            pa.field("sum", pa.float64()),
            pa.field("min", pa.float64()),
            pa.field("max", pa.float64()),
        ]
    ),
    ("day",),
    "1-hour rollups of samples with what counter math needs (first/last sample and time, "
    "counter-reset correction), written by `perfops store compact`",
    "ts",
    1_000_000,
)

REQUESTS = TableSpec(
    "requests",
    pa.schema(
        [
            pa.field("run_id", pa.string(), nullable=False),
            pa.field("request_id", pa.string(), nullable=False),
            pa.field("target", pa.string()),
            pa.field("scheduled_ns", pa.int64()),
            pa.field("sent_ns", pa.int64()),
            pa.field("first_token_ns", pa.int64()),
            pa.field("end_ns", pa.int64()),
            pa.field("prompt_tokens", pa.int32()),
            pa.field("output_tokens", pa.int32()),
            pa.field("tokens_source", pa.string()),
            pa.field("status", pa.int32()),
            pa.field("error", pa.string()),
            pa.field("chunk_gaps_us", pa.list_(pa.int32())),
        ]
    ),
    (),
    "one row per load-test request",
    "scheduled_ns",
)

RUNS = TableSpec(
    "runs",
    pa.schema(
        [
            pa.field("run_id", pa.string(), nullable=False),
            pa.field("kind", pa.string(), nullable=False),
            pa.field("started_ns", pa.int64(), nullable=False),
            pa.field("ended_ns", pa.int64()),
            pa.field("status", pa.string(), nullable=False),
            pa.field("spec", pa.string()),
            pa.field("summary", pa.string()),
            pa.field("updated_ns", pa.int64(), nullable=False),
        ]
    ),
    (),
    "run journals (load, sweep, chaos, drill, collect); the newest row of a run wins",
    "started_ns",
)

EVENTS = TableSpec(
    "events",
    pa.schema(
        [
            pa.field("event_id", pa.string(), nullable=False),
            pa.field("ts_ns", pa.int64(), nullable=False),
            pa.field("kind", pa.string(), nullable=False),
            pa.field("service", pa.string()),
            pa.field("severity", pa.string()),
            pa.field("title", pa.string()),
            pa.field("run_id", pa.string()),
            pa.field("data", pa.string()),
        ]
    ),
    (),
    "alerts, faults injected and reverted, deploys, incident updates, annotations",
    "ts_ns",
)

COSTS = TableSpec(
    "costs",
    FOCUS_SCHEMA,
    (),
    "FOCUS 1.2 cost rows plus x_ columns (service, team, tokens, SLO-compliant tokens, "
    "GPU-seconds), as `perfops cost export` writes them",
    None,
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (SAMPLES, SERIES, SAMPLES_1M, SAMPLES_1H, REQUESTS, RUNS, EVENTS, COSTS)
}
