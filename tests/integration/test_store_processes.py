"""The lake under several processes at once, and after a writer is killed mid-append."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from perfops.store import Store

ROWS = 2_000

WRITER = textwrap.dedent("""
    import os, sys
    import pyarrow as pa
    from perfops.store import Store
    lake, name, batches, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = Store(lake)
    rows = int(sys.argv[5])
    with open(log, "a") as out:
        for b in range(batches):
            store.timeseries.append_samples(pa.table({
                "ts": pa.array([1_764_288_000_000 + b * rows + i for i in range(rows)], pa.int64()),
                "series_id": pa.array([b] * rows, pa.int64()),
                "metric": [name] * rows,
                "value": [float(b)] * rows,
            }))
            out.write(f"{b}\\n"); out.flush(); os.fsync(out.fileno())
""")

# the same overlapping batches, written with dedupe by each of several importers at once
DEDUPER = textwrap.dedent("""
    import sys
    import pyarrow as pa
    from perfops.store import Store
    store = Store(sys.argv[1])
    batches, rows = int(sys.argv[2]), int(sys.argv[3])
    for b in range(batches):  # batch b overlaps half of batch b - 1
        ts = [1_764_288_000_000 + (b * rows) // 2 + i for i in range(rows)]
        store.timeseries.append_samples(pa.table({
            "ts": pa.array(ts, pa.int64()),
            "series_id": pa.array([7] * rows, pa.int64()),
            "metric": ["imported"] * rows,
            "value": [float(t % 1000) for t in ts],
        }), dedupe=True)
""")

READER = textwrap.dedent("""
    import sys, time
    from perfops.store import Store
    store = Store(sys.argv[1])
    rows, seen, deadline = int(sys.argv[2]), 0, time.time() + float(sys.argv[3])
    while time.time() < deadline:
        t = store.read_query("SELECT metric, series_id, count(*) AS n FROM samples GROUP BY ALL")
        for n in t.column("n").to_pylist():
            if n != rows:
                print(f"PARTIAL {n}"); sys.exit(1)
        seen = max(seen, len(t))
        time.sleep(0.05)
    print(f"OK {seen}")
""")


def _spawn(code: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_writers_and_a_reader_lose_nothing_and_see_whole_batches(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    Store(lake).info()  # tables exist before the race starts
    batches = 15
    writers = [
        _spawn(WRITER, lake, f"w{i}", batches, tmp_path / f"w{i}.log", ROWS) for i in range(2)
    ]
    reader = _spawn(READER, lake, ROWS, 6)
    for proc in writers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, out + err
    assert out.startswith("OK")
    counts = (
        Store(lake)
        .read_query(
            "SELECT metric, count(*) AS n, count(DISTINCT series_id) AS b "
            "FROM samples GROUP BY metric ORDER BY metric"
        )
        .to_pylist()
    )
    assert counts == [
        {"metric": "w0", "n": batches * ROWS, "b": batches},
        {"metric": "w1", "n": batches * ROWS, "b": batches},
    ]


def test_importers_racing_over_one_range_store_each_sample_once(tmp_path: Path) -> None:
    """Three deduplicating writers of the same overlapping batches and a plain appender (a
    collector) at once: every sample stored once, and no writer fails on a conflict."""
    lake = tmp_path / "lake"
    Store(lake).info()
    batches, rows = 8, 1_000
    procs = [_spawn(DEDUPER, lake, batches, rows) for _ in range(3)]
    procs.append(_spawn(WRITER, lake, "collected", batches, tmp_path / "w.log", rows))
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    counts = (
        Store(lake)
        .read_query(
            "SELECT metric, count(*) AS n, count(DISTINCT ts) AS keys FROM samples "
            "WHERE series_id = 7 OR metric = 'collected' GROUP BY metric ORDER BY metric"
        )
        .to_pylist()
    )
    unique = (batches + 1) * rows // 2
    assert counts == [
        {"metric": "collected", "n": batches * rows, "keys": rows * batches},
        {"metric": "imported", "n": unique, "keys": unique},
    ]


@pytest.mark.parametrize("delay", [0.35, 0.8])
def test_kill_9_mid_append_keeps_every_committed_batch(tmp_path: Path, delay: float) -> None:
    lake, log = tmp_path / "lake", tmp_path / "w.log"
    Store(lake).info()
    proc = _spawn(WRITER, lake, "w", 10_000, log, 20_000)
    deadline = time.time() + 60
    while time.time() < deadline and (not log.exists() or len(log.read_text().split()) < 2):
        time.sleep(0.02)
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    committed = {int(b) for b in log.read_text().split()}
    assert len(committed) >= 2
    store = Store(lake)
    batches = store.read_query("SELECT series_id AS b, count(*) AS n FROM samples GROUP BY ALL")
    present = dict(
        zip(batches.column("b").to_pylist(), batches.column("n").to_pylist(), strict=True)
    )
    assert committed <= set(present), "a batch acknowledged before the kill is missing"
    assert set(present.values()) == {20_000}, "a partial batch is visible"
    assert len(present) <= len(committed) + 1  # at most the batch whose ack was cut off
    store.timeseries.append_points([])  # and the table still takes writes
    store.compact(retention_hours=0)
    assert store.read_query("SELECT count(*) AS n FROM samples").column("n")[
        0
    ].as_py() == 20_000 * len(present)
