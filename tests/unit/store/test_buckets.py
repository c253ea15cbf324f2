"""store.timeseries.query_buckets: per series and bucket min/max/mean/last and the counter
increase, the same from the raw samples as from the hourly rollups, and equal to Prometheus'
increase (without extrapolation) computed sample by sample."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from perfops._internal.clock import ManualClock
from perfops.store import SeriesInfo, Store
from perfops.telemetry.kpis import increase

T0 = 1_764_374_400_000 - 2 * 3_600_000  # two hours before midnight UTC, in ms
HOUR = 3_600_000


def _fill(store: Store) -> dict[str, list[tuple[int, float]]]:
    """Two series over 5 hours, 15 s apart, across a day boundary: a counter that resets
    twice (one of them at an hour boundary) and a gauge with a NaN (a staleness marker)."""
    rng = random.Random(7)
    counter = SeriesInfo("llm.requests_total", {"job": "a"}, "test", "x")
    gauge = SeriesInfo("llm.requests_total", {"job": "b"}, "test", "x")
    points, c = {"a": [], "b": []}, 0.0
    for i in range(5 * 240):
        ts = T0 + i * 15_000
        c = 0.0 if i in (333, 480) else c + rng.randint(0, 9)
        points["a"].append((ts, c))
        points["b"].append((ts, math.nan if i == 77 else rng.uniform(0, 100)))
    rows = [(counter, t, v) for t, v in points["a"]] + [(gauge, t, v) for t, v in points["b"]]
    store.timeseries.append_points(rows)
    return points


def _reference(points: list[tuple[int, float]], bucket: int) -> dict[int, tuple[float, ...]]:
    """n, min, max, last, increase per bucket; the step from the last sample before a bucket
    counts in that bucket."""
    live = [(t, v) for t, v in points if not math.isnan(v)]
    out, prev = {}, None
    for b in sorted({t - t % bucket for t, _ in live}):
        vals = [v for t, v in live if b <= t < b + bucket]
        out[b] = (len(vals), min(vals), max(vals), vals[-1],
                  increase(([] if prev is None else [prev]) + vals))  # fmt: skip
        prev = vals[-1]
    return out


def _answer(store: Store, bucket: int) -> tuple[dict[int, dict[int, tuple[float, ...]]], str]:
    table, source = store.timeseries.query_buckets("llm.requests_total", T0, T0 + 5 * HOUR, bucket)
    out: dict[int, dict[int, tuple[float, ...]]] = {}
    for r in table.to_pylist():
        row = (r["n"], r["min"], r["max"], r["last"], r["increase"])
        out.setdefault(r["series_id"], {})[r["t"]] = row
    return out, source


@pytest.mark.parametrize("bucket", [HOUR, 2 * HOUR])
def test_raw_and_hourly_rollups_agree_with_the_reference(tmp_path: Path, bucket: int) -> None:
    store = Store(tmp_path / "lake", clock=ManualClock(T0 * 1_000_000))
    points = _fill(store)
    ids = {i.labels["job"]: sid for sid, i in store.timeseries.series().items()}
    raw, source = _answer(store, bucket)
    assert source == "samples"  # nothing compacted yet: the rollups are stale
    store.timeseries.refresh_rollups()
    hourly, source = _answer(store, bucket)
    assert source == "samples_1h"
    for job in ("a", "b"):
        want = _reference(points[job], bucket)
        for got in (raw[ids[job]], hourly[ids[job]]):
            assert sorted(got) == sorted(want)
            for t, row in want.items():
                assert got[t] == pytest.approx(row, rel=1e-9, abs=1e-9)


def test_minute_buckets_read_the_raw_samples(tmp_path: Path) -> None:
    store = Store(tmp_path / "lake", clock=ManualClock(T0 * 1_000_000))
    points = _fill(store)
    store.timeseries.refresh_rollups()
    got, source = _answer(store, 60_000)
    assert source == "samples"
    assert sum(len(v) for v in got.values()) == 2 * 5 * 60
    sid = next(s for s, i in store.timeseries.series().items() if i.labels["job"] == "a")
    assert sum(r[4] for r in got[sid].values()) == pytest.approx(
        increase([v for _, v in points["a"]])
    )


def test_a_bucket_must_be_positive(tmp_path: Path) -> None:
    store = Store(tmp_path / "lake")
    with pytest.raises(ValueError, match="positive"):
        store.timeseries.query_buckets("x", 0, 1, 0)
