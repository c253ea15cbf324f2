"""Counter increases read from hourly rollups plus raw edges equal a recomputation from every
raw sample, whatever the windows' alignment, counter resets and staleness markers."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from perfops._internal.clock import ManualClock
from perfops.app._sli import Reader
from perfops.slo.engine import extrapolated_increase, span_of
from perfops.store import SeriesInfo, Store
from perfops.telemetry.series import STALE_NAN

HOUR = 3_600_000
T0 = 1_764_000_000_000 // HOUR * HOUR  # an hour boundary


def _history(seed: int) -> dict[str, list[tuple[int, float]]]:
    rng = random.Random(seed)
    out: dict[str, list[tuple[int, float]]] = {}
    for name in ("a", "b", "c"):
        t, value, points = T0 + rng.randrange(60_000), 0.0, []
        while t < T0 + 30 * HOUR:
            roll = rng.random()
            if roll < 0.004:
                value = rng.random() * 5  # a counter reset (restart)
            elif roll < 0.006:
                points.append((t, STALE_NAN))  # a staleness marker between scrapes
                t += rng.randrange(5_000, 20_000)
                continue
            else:
                value += rng.randrange(0, 50)
            points.append((t, value))
            t += rng.choice((15_000, 15_000, 15_000, 30_000, 60_000, 600_000))
        out[name] = points
    return out


def _lake(tmp_path: Path, history: dict[str, list[tuple[int, float]]]) -> tuple[Store, dict]:
    store = Store(tmp_path / "lake", clock=ManualClock())
    ids = {}
    for name, points in history.items():
        info = SeriesInfo("llm.requests_total", {"service": name})
        ids[name] = store.timeseries.register_series([info])[0]
        store.timeseries.append_points((info, t, v) for t, v in points)
    return store, ids


def _expected(points: list[tuple[int, float]], start: int, end: int, closed: bool) -> float:
    """increase() over every raw sample of the range: (start, end], or [start, end] closed."""
    inside = [(t, v) for t, v in points if (start <= t if closed else start < t) and t <= end]
    span = span_of([t for t, _ in inside], [v for _, v in inside])
    grew = extrapolated_increase(span, start, end)
    return 0.0 if math.isnan(grew) else grew


@pytest.mark.parametrize("closed", [False, True], ids=["left-open", "closed"])
@pytest.mark.parametrize("compacted", [False, True], ids=["rolled-up-on-the-fly", "compacted"])
def test_rollup_and_raw_edges_equal_raw_recomputation(
    tmp_path: Path, compacted: bool, closed: bool
) -> None:
    history = _history(7)
    history["a"] = sorted([*history["a"], *((T0 + h * HOUR, 1e6 + h) for h in range(1, 29))])
    store, ids = _lake(tmp_path, history)
    if compacted:
        store.compact(retention_hours=0)
        assert store.timeseries.stale_rollup_days("samples_1h") == []
    rng = random.Random(3)
    windows = [(T0, T0 + 30 * HOUR), (T0 + HOUR, T0 + 2 * HOUR)]  # aligned, and one hour
    for _ in range(40):
        start = T0 + rng.randrange(0, 28 * HOUR)
        windows.append((start, start + rng.choice((300_000, 5_400_000, 7 * HOUR, 20 * HOUR))))
    for _ in range(20):  # windows whose start and end sit exactly on samples
        t, _ = rng.choice(history[rng.choice("abc")][:-1])
        windows.append((t, t + rng.choice((300_000, 5_400_000, 7 * HOUR, 20 * HOUR))))
    on_edge = 0
    reader = Reader(store, windows, closed=closed)
    for start, end in windows:
        for name, sid in ids.items():
            want = _expected(history[name], start, end, closed)
            on_edge += any(t == start for t, _ in history[name])
            got = reader.increase("llm.requests_total", [sid], (start, end))
            assert got == pytest.approx(want, rel=1e-9, abs=1e-9), (name, start, end)
    assert on_edge >= 20  # the conventions differ on these windows
