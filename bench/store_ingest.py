"""Store ingest and range-query speed, as ratios against plain pyarrow.parquet in the same run.

    python bench/store_ingest.py [--samples 10000000] [--out bench/results/store_ingest.json]

Append: samples/s in batches of 10,000, one Delta commit per batch (durable per batch) and
group-committed through ``Store.timeseries.sample_writer`` (one commit per 100,000 rows), against
``pq.write_table`` of the same batches into plain files; and as an import writes them
(``append_samples(dedupe=True)``, 100,000 rows a commit, each checked against the lake), first
into an empty lake and then again over the same rows (a re-import), against the group commit.
Query: a 7-day window of one metric (8 series) as raw rows and as 1-minute rollups, against
the same filter over the plain parquet files; and a 28-day rollup query (target < 200 ms).
The data span 28 days: 8 GPUs x 8 metrics at 15 s, as dcgm-exporter would scrape them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from perfops.store import SeriesInfo, Store

BATCH = 10_000
T0 = 1_764_288_000_000
DAY = 86_400_000
METRICS = [f"gpu.m{i}" for i in range(8)]


def make_batches(total: int, days: int) -> tuple[list[SeriesInfo], list[pa.Table]]:
    series = [
        SeriesInfo(m, {"gpu": str(g), "Hostname": "node-1"}, "dcgm", m)
        for m in METRICS
        for g in range(8)
    ]
    n_series = len(series)
    steps = total // n_series
    step_ms = days * DAY // steps
    rng = np.random.default_rng(7)
    from perfops._internal.ids import series_id

    ids = np.array([series_id(s.metric, s.labels) for s in series], dtype=np.int64)
    metric_of = np.array([s.metric for s in series])
    batches = []
    # time-major order, like a scraper: every series at t, then every series at t + step
    ts_all = T0 + np.repeat(np.arange(steps, dtype=np.int64) * step_ms, n_series)
    idx_all = np.tile(np.arange(n_series), steps)
    for start in range(0, len(ts_all), BATCH):
        idx = idx_all[start : start + BATCH]
        batches.append(
            pa.table(
                {
                    "ts": ts_all[start : start + BATCH],
                    "series_id": ids[idx],
                    "metric": pa.array(metric_of[idx]),
                    "value": rng.random(len(idx)) * 100,
                }
            )
        )
    return series, batches


def timed(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=10_000_000)
    ap.add_argument("--out", type=Path, default=Path("bench/results/store_ingest.json"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="perfops-bench-"))
    try:
        result = run(work, args.samples)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def run(work: Path, total: int) -> dict[str, object]:
    series, batches = make_batches(total, 28)
    rows = sum(b.num_rows for b in batches)
    with_day = [
        b.append_column("day", pc.cast(pc.cast(pc.divide(b["ts"], DAY), pa.int32()), pa.date32()))
        for b in batches
    ]

    # baseline: plain parquet files, one per batch, partitioned by day like the store
    base_dir = work / "parquet"
    t = time.perf_counter()
    for i, b in enumerate(with_day):
        day = b["day"][0].as_py().isoformat()
        part = base_dir / f"day={day}"
        part.mkdir(parents=True, exist_ok=True)
        pq.write_table(b.drop(["day"]), part / f"{i}.parquet")
    base_append = time.perf_counter() - t

    store = Store(work / "lake")
    store.timeseries.register_series(series)
    t = time.perf_counter()
    for b in batches:
        store.timeseries.append_samples(b)
    direct_append = time.perf_counter() - t

    store2 = Store(work / "lake2")
    t = time.perf_counter()
    with store2.timeseries.sample_writer(max_rows=100_000) as writer:
        for b in batches:
            writer.add(b)
    group_append = time.perf_counter() - t

    # an import's path: 100,000-row commits that skip what the lake holds; then the same
    # batches again (a re-import: every row already there, nothing appended)
    store3 = Store(work / "lake3")
    big = [pa.concat_tables(batches[i : i + 10]) for i in range(0, len(batches), 10)]
    t = time.perf_counter()
    for b in big:
        store3.timeseries.append_samples(b, dedupe=True)
    dedupe_append = time.perf_counter() - t
    t = time.perf_counter()
    again = sum(store3.timeseries.append_samples(b, dedupe=True) for b in big)
    reimport = time.perf_counter() - t
    assert again == 0

    base_ds = ds.dataset(base_dir, format="parquet", partitioning="hive")
    lo, hi = T0 + 14 * DAY, T0 + 21 * DAY
    metric = METRICS[3]

    def baseline_query() -> int:
        table = base_ds.to_table(
            columns=["series_id", "ts", "value"],
            filter=(
                (ds.field("ts") >= lo) & (ds.field("ts") < hi) & (ds.field("metric") == metric)
            ),
        )
        return table.sort_by([("series_id", "ascending"), ("ts", "ascending")]).num_rows

    def raw_query() -> int:
        return store.timeseries.query_samples(metric, lo, hi).num_rows

    def rollup_query() -> int:
        return store.timeseries.query_rollups(metric, lo, hi).num_rows

    def rollup_28d() -> int:
        return store.timeseries.query_rollups(metric, T0, T0 + 28 * DAY).num_rows

    q_base = timed(baseline_query)
    q_raw_small_files = timed(raw_query)
    q_rollup_uncompacted = timed(rollup_query, repeat=1)
    t = time.perf_counter()
    store.compact(retention_hours=0)
    compact_s = time.perf_counter() - t
    q_raw = timed(raw_query)
    q_rollup = timed(rollup_query)
    q_28 = timed(rollup_28d)
    return {
        "samples": rows,
        "batches": len(batches),
        "append": {
            "parquet_samples_per_s": round(rows / base_append),
            "store_direct_samples_per_s": round(rows / direct_append),
            "store_group_commit_samples_per_s": round(rows / group_append),
            "direct_overhead_x": round(direct_append / base_append, 2),
            "group_commit_overhead_x": round(group_append / base_append, 2),
            "store_dedupe_samples_per_s": round(rows / dedupe_append),
            "dedupe_vs_group_commit_x": round(dedupe_append / group_append, 2),
            "reimport_samples_per_s": round(rows / reimport),
        },
        "query_7d": {
            "rows_raw": raw_query(),
            "rows_rollup": rollup_query(),
            "parquet_ms": round(q_base * 1000, 1),
            "store_raw_before_compact_ms": round(q_raw_small_files * 1000, 1),
            "store_rollup_on_the_fly_ms": round(q_rollup_uncompacted * 1000, 1),
            "store_raw_ms": round(q_raw * 1000, 1),
            "store_rollup_ms": round(q_rollup * 1000, 1),
            "raw_vs_parquet_x": round(q_raw / q_base, 2),
            "rollup_vs_parquet_x": round(q_rollup / q_base, 2),
        },
        "compact_s": round(compact_s, 1),
        "query_28d_rollup_ms": round(q_28 * 1000, 1),
        "query_28d_rollup_rows": rollup_28d(),
        "target_28d_rollup_under_200ms": q_28 < 0.2,
    }


if __name__ == "__main__":
    main()
