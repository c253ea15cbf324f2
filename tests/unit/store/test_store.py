from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from perfops._internal.clock import ManualClock
from perfops.errors import StoreError
from perfops.store import EventRecord, RunRecord, SeriesInfo, Store

T0 = 1_764_288_000_000  # 2025-11-28 00:00 UTC, in ms


def gpu_points(
    n: int, gpus: int = 4, step_ms: int = 15_000, start: int = T0
) -> list[tuple[SeriesInfo, int, float]]:
    return [
        (
            SeriesInfo(
                "gpu.util", {"gpu": str(g), "Hostname": "node-1"}, "dcgm", "DCGM_FI_DEV_GPU_UTIL"
            ),
            start + i * step_ms,
            float((i * 7 + g) % 101),
        )
        for i in range(n)
        for g in range(gpus)
    ]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "lake", clock=ManualClock(T0 * 1_000_000))


def test_samples_round_trip_with_label_matchers(store: Store) -> None:
    points = gpu_points(100)
    assert store.timeseries.append_points(points) == 400
    everything = store.timeseries.query_samples("gpu.util", T0, T0 + 3_600_000)
    assert everything.num_rows == 400
    one = store.timeseries.query_samples("gpu.util", T0, T0 + 3_600_000, {"gpu": "2"})
    expected = [v for s, _, v in points if s.labels["gpu"] == "2"]
    assert one.column("value").to_pylist() == expected
    regex = store.timeseries.query_samples(
        "gpu.util", T0, T0 + 3_600_000, 'gpu=~"0|1",Hostname="node-1"'
    )
    assert regex.num_rows == 200
    assert (
        store.timeseries.query_samples("gpu.util", T0, T0 + 3_600_000, {"gpu": "9"}).num_rows == 0
    )
    assert store.timeseries.query_samples("gpu.power", T0, T0 + 3_600_000).num_rows == 0


def test_time_range_is_half_open_and_crosses_days(store: Store) -> None:
    start = T0 - 30 * 60_000  # half an hour before midnight
    store.timeseries.append_points(gpu_points(240, gpus=1, start=start))  # one hour at 15 s
    got = store.timeseries.query_samples("gpu.util", T0 - 60_000, T0 + 60_000)
    assert got.column("ts").to_pylist() == [T0 - 60_000 + i * 15_000 for i in range(8)]


def test_series_are_recorded_once_with_raw_names(store: Store) -> None:
    store.timeseries.append_points(gpu_points(3))
    store.timeseries.append_points(gpu_points(3, start=T0 + 60_000))
    series = store.timeseries.series("gpu.util")
    assert len(series) == 4
    assert {s.raw_name for s in series.values()} == {"DCGM_FI_DEV_GPU_UTIL"}
    fresh = Store(store.root)  # another process sees the same series
    assert set(fresh.timeseries.series("gpu.util", {"gpu": "1"})) == set(
        store.timeseries.series("gpu.util", {"gpu": "1"})
    )


def test_rollups_match_raw_before_and_after_compaction(store: Store) -> None:
    store.timeseries.append_points(gpu_points(480))  # two hours, 4 GPUs
    before = store.timeseries.query_rollups("gpu.util", T0, T0 + 2 * 3_600_000, {"gpu": "1"})
    assert before.num_rows == 120
    assert sum(before.column("count").to_pylist()) == 480
    raw = store.timeseries.query_samples("gpu.util", T0, T0 + 60_000, {"gpu": "1"})
    first = before.slice(0, 1).to_pylist()[0]
    values = raw.column("value").to_pylist()
    assert first["sum"] == pytest.approx(sum(values))
    assert (first["min"], first["max"], first["first"], first["last"]) == (
        min(values),
        max(values),
        values[0],
        values[-1],
    )
    assert store.timeseries.stale_rollup_days() != []
    store.compact(retention_hours=0)
    assert store.timeseries.stale_rollup_days() == []
    after = store.timeseries.query_rollups("gpu.util", T0, T0 + 2 * 3_600_000, {"gpu": "1"})
    assert after.equals(before)
    store.timeseries.append_points(
        gpu_points(4, start=T0 + 2 * 3_600_000)
    )  # late data makes the day stale
    assert store.timeseries.stale_rollup_days() != []
    grown = store.timeseries.query_rollups("gpu.util", T0, T0 + 3 * 3_600_000)
    assert sum(grown.column("count").to_pylist()) == 480 * 4 + 16


def test_compaction_merges_files_and_keeps_every_row(store: Store) -> None:
    for i in range(12):
        store.timeseries.append_points(gpu_points(10, start=T0 + i * 600_000))
    before = {t.name: t for t in store.info()}
    assert before["samples"].files == 12
    report = store.compact(retention_hours=0)
    after = {t.name: t for t in store.info()}
    assert after["samples"].files == 1
    assert after["samples"].rows == before["samples"].rows == 480
    assert (report["samples"]["files_merged"], report["samples"]["merged_into"]) == (12, 1)
    minutes = {
        (info.labels["gpu"], ts // 60_000)
        for i in range(12)
        for info, ts, _ in gpu_points(10, start=T0 + i * 600_000)
    }
    assert report["samples_1m"]["rollup_rows_written"] == len(minutes)  # one per series-minute
    assert report["samples_1m"]["days_rebuilt"] == 1
    assert store.timeseries.query_samples("gpu.util", T0, T0 + 86_400_000).num_rows == 480


def test_runs_keep_the_newest_state(store: Store) -> None:
    store.journal.write_run(RunRecord("r1", "load", 10, "running", spec={"rate": 5}))
    store.journal.write_run(RunRecord("r2", "chaos", 20, "running"))
    store.clock.advance(1)  # type: ignore[attr-defined]
    store.journal.write_run(
        RunRecord("r1", "load", 10, "passed", 15, {"rate": 5}, {"goodput": 4.5})
    )
    runs = store.journal.runs()
    assert [r.run_id for r in runs] == ["r2", "r1"]
    assert store.journal.run("r1").status == "passed"
    assert store.journal.run("r1").summary == {"goodput": 4.5}
    assert [r.run_id for r in store.journal.runs(kind="load")] == ["r1"]
    with pytest.raises(StoreError, match="no run 'r9'"):
        store.journal.run("r9")


def test_events_filter_by_time_kind_and_service(store: Store) -> None:
    store.journal.append_events(
        [
            EventRecord(100, "fault", "latency injected", "chat", "info", "r1", {"ms": 200}),
            EventRecord(200, "fault", "latency reverted", "chat"),
            EventRecord(300, "alert", "burn rate 14x", "search", "page"),
        ]
    )
    assert [e.title for e in store.journal.events(kind="fault")] == [
        "latency injected",
        "latency reverted",
    ]
    assert [e.title for e in store.journal.events(150, 400)] == [
        "latency reverted",
        "burn rate 14x",
    ]
    assert store.journal.events(service="search")[0].severity == "page"
    assert store.journal.events(0, 150)[0].data == {"ms": 200}


def test_bad_batches_name_the_column_and_store_nothing(store: Store) -> None:
    with pytest.raises(StoreError, match=r"lacks required column\(s\) \['value'\]"):
        store.timeseries.append_samples(pa.table({"ts": [1], "series_id": [1], "metric": ["m"]}))
    with pytest.raises(StoreError, match=r"samples.value: cannot store string"):
        store.timeseries.append_samples(
            pa.table({"ts": [1], "series_id": [1], "metric": ["m"], "value": ["high"]})
        )
    with pytest.raises(StoreError, match="unknown column"):
        store.timeseries.append_samples(
            pa.table(
                {"ts": [1], "series_id": [1], "metric": ["m"], "value": [1.0], "colour": ["red"]}
            )
        )
    assert {t.name: t.rows for t in store.info()}["samples"] == 0


def test_unwritable_lake_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the lake"):
        Store(blocker / "lake")
