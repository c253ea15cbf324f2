"""The store's typed queries (what app asks instead of writing SQL), and the one door left
for SQL a user writes: a single read-only statement."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pytest

from perfops._internal.clock import ManualClock
from perfops.errors import StoreError
from perfops.store import MetricStats, SeriesInfo, Store

T0 = 1_764_374_400_000 - 90_000  # 90 s before midnight UTC 2025-11-29, in ms
THROTTLE = 0xEC  # power cap, HW slowdown, thermal: what an SLO counts as throttled


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "lake", clock=ManualClock(T0 * 1_000_000))


def _requests(rows: list[tuple[str, str, int, str | None]]) -> pa.Table:
    """(run_id, target, scheduled_ms, error) -> request records a load test would write."""
    ns = [r[2] * 1_000_000 for r in rows]
    return pa.table(
        {
            "run_id": [r[0] for r in rows],
            "request_id": [f"q{i}" for i in range(len(rows))],
            "target": [r[1] for r in rows],
            "scheduled_ns": ns,
            "sent_ns": [t + 1_000 for t in ns],
            "first_token_ns": [t + 50_000_000 for t in ns],
            "end_ns": [t + 400_000_000 for t in ns],
            "prompt_tokens": pa.array([100 + i for i in range(len(rows))], pa.int32()),
            "output_tokens": pa.array([20] * len(rows), pa.int32()),
            "error": [r[3] for r in rows],
        }
    )


def test_target_requests_are_one_targets_rows_in_a_range_in_scheduled_order(store: Store) -> None:
    chat, other = "http://chat/v1", "http://search/v1"
    rows = [
        ("r2", chat, T0 + 3_000, None),
        ("r1", chat, T0 + 1_000, None),
        ("r1", other, T0 + 1_500, None),
        ("r2", chat, T0 + 2_000, "timeout"),
        ("r1", chat, T0 + 9_000, None),  # after the range
        ("r1", chat, T0 - 1, None),  # before it
    ]
    store.journal.append_requests(_requests(rows[:3]))
    store.journal.append_requests(_requests(rows[3:]))  # a second run's commit
    start_ns, end_ns = T0 * 1_000_000, (T0 + 9_000) * 1_000_000
    got = store.journal.target_requests(chat, start_ns, end_ns, ("scheduled_ns", "error"))
    assert got.column_names == ["scheduled_ns", "error"]
    want = sorted(
        (r[2] * 1_000_000, r[3]) for r in rows if r[1] == chat and T0 <= r[2] < T0 + 9_000
    )
    assert list(zip(*got.to_pydict().values(), strict=True)) == want
    assert store.journal.target_requests("http://nowhere", start_ns, end_ns, ("error",)) == (
        pa.table({"error": pa.array([], pa.string())})
    )


def test_target_requests_refuse_a_column_the_table_lacks(store: Store) -> None:
    with pytest.raises(StoreError, match=r"no column\(s\) \['ttft'\]") as err:
        store.journal.target_requests("http://chat/v1", 0, 1, ("scheduled_ns", "ttft"))
    assert "chunk_gaps_us" in (err.value.hint or "")
    with pytest.raises(StoreError, match="no columns"):
        store.journal.target_requests("http://chat/v1", 0, 1, ())


def _reasons(gpu: str) -> SeriesInfo:
    return SeriesInfo(
        "gpu.clocks_event_reasons", {"gpu": gpu}, "dcgm", "DCGM_FI_DEV_CLOCKS_EVENT_REASONS"
    )


def test_count_flagged_counts_finite_samples_with_any_bit_across_days(store: Store) -> None:
    values = [0.0, 4.0, 1.0, 9.0, math.nan, 128.0, 2.0, 64.0 + 1.0]  # bit fields, one NaN
    points = [
        (_reasons(gpu), T0 + i * 15_000, v + (gpu == "1"))
        for gpu in ("0", "1")
        for i, v in enumerate(values)
    ]  # 8 samples 15 s apart: the range below crosses midnight
    store.timeseries.append_points(points)
    ids = store.timeseries.series("gpu.clocks_event_reasons", {"gpu": "0"})
    lo, hi = T0 + 15_000, T0 + 7 * 15_000
    want = sum(
        1
        for info, ts, v in points
        if info.labels["gpu"] == "0" and lo <= ts < hi and v == v and int(v) & THROTTLE
    )
    got = store.timeseries.count_flagged("gpu.clocks_event_reasons", ids, lo, hi, THROTTLE)
    assert got == want > 0
    every = store.timeseries.series("gpu.clocks_event_reasons")
    both = store.timeseries.count_flagged("gpu.clocks_event_reasons", every, lo, hi, THROTTLE)
    assert both > got
    assert store.timeseries.count_flagged("gpu.clocks_event_reasons", [], lo, hi, THROTTLE) == 0
    assert store.timeseries.count_flagged("gpu.xid", every, lo, hi, THROTTLE) == 0


def test_metric_stats_summarise_each_metric(store: Store) -> None:
    points = [
        (SeriesInfo(metric, {"gpu": str(g)}), T0 + i * 1_000 * (g + 1), float(i))
        for metric, gpus in (("gpu.util", 3), ("gpu.power_watts", 1))
        for g in range(gpus)
        for i in range(5)
    ]
    store.timeseries.append_points(points)
    want = [
        MetricStats(
            metric,
            len({p[0].labels["gpu"] for p in points if p[0].metric == metric}),
            sum(1 for p in points if p[0].metric == metric),
            min(p[1] for p in points if p[0].metric == metric),
            max(p[1] for p in points if p[0].metric == metric),
        )
        for metric in sorted({p[0].metric for p in points})
    ]
    assert store.timeseries.metric_stats() == want


def test_read_query_answers_one_select_with_params(store: Store) -> None:
    store.timeseries.append_points(
        [(SeriesInfo("gpu.util", {"gpu": "0"}), T0 + i, float(i)) for i in range(10)]
    )
    got = store.read_query("SELECT count(*) AS n FROM samples WHERE value >= ?", [4.0])
    assert got.column("n")[0].as_py() == 6
    cte = store.read_query("WITH v AS (SELECT value FROM samples) SELECT max(value) AS m FROM v")
    assert cte.column("m")[0].as_py() == 9.0


@pytest.mark.parametrize(
    "query",
    [
        "CREATE TABLE x AS SELECT * FROM samples",
        "COPY (SELECT * FROM samples) TO 'out.csv'",
        "INSERT INTO samples VALUES (1)",
        "SELECT 1; SELECT 2",
        "ATTACH 'other.db'",
        "",
    ],
)
def test_read_query_refuses_anything_but_one_select(store: Store, query: str) -> None:
    with pytest.raises(StoreError, match="one SELECT statement") as err:
        store.read_query(query)
    assert "read-only" in (err.value.hint or "")


def test_the_store_has_no_raw_sql_door(store: Store) -> None:
    assert not hasattr(store, "sql")
    assert not hasattr(store.timeseries, "sql")
    assert not hasattr(store.journal, "sql")
