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
