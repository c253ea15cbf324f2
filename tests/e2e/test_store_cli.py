"""`perfops store compact` says what it did: rollup rows written, files merged, files deleted."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli

from perfops.store import SeriesInfo, Store

T0 = 1_764_288_000_000  # 2025-11-28 00:00 UTC, in ms


def test_compact_reports_the_rollup_rows_it_wrote(tmp_path: Path) -> None:
    assert run_cli("init", cwd=tmp_path).returncode == 0
    store = Store(tmp_path / ".perfops" / "lake")
    batches, gpus, minutes = 3, 2, 2  # a commit (a small file) per batch
    for batch in range(batches):
        store.timeseries.append_points(
            (
                SeriesInfo("gpu.util", {"gpu": str(g)}, "dcgm"),
                T0 + batch * 120_000 + i * 30_000,
                1.0,
            )
            for i in range(2 * minutes)  # every 30 s
            for g in range(gpus)
        )
    result = run_cli("store", "compact", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    rows = batches * gpus * minutes  # one per series and minute
    assert lines["samples_1m"].startswith(f"{rows} rollup rows written (1 day(s) rebuilt)")
    assert f"{batches} small files merged into 1" in lines["samples"]
    assert "files added" not in result.stdout

    again = json.loads(run_cli("store", "compact", "--json", cwd=tmp_path).stdout)
    assert again["samples_1m"]["rollup_rows_written"] == 0  # nothing changed since
    assert again["samples"]["files_merged"] == 0
