"""A lake whose Delta log is damaged: every command says which table, which version and how to
recover, in one line and without a traceback; `perfops store repair` makes it readable again
and keeps every row that good versions hold."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import run_cli

from perfops.store import SeriesInfo, Store

BATCHES = 3  # one series commit and one samples commit each: versions 1..3 (0 creates)
GPUS = 4
POINTS = 10


def _log(ws: Path, table: str) -> Path:
    return ws / ".perfops" / "lake" / table / "_delta_log"


def _entry(ws: Path, table: str, version: int) -> Path:
    return _log(ws, table) / f"{version:020d}.json"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace whose lake holds three batches of GPU samples, each of its own series."""
    assert run_cli("init", "ws", cwd=tmp_path).returncode == 0
    store = Store(tmp_path / "ws" / ".perfops" / "lake")
    now = int(time.time() * 1000) - 3_600_000
    for batch in range(BATCHES):
        store.timeseries.append_points(
            (SeriesInfo("gpu.util", {"gpu": str(g), "batch": str(batch)}, "dcgm"), now + i, 1.0)
            for i in range(POINTS)
            for g in range(GPUS)
        )
    return tmp_path / "ws"


def _cut(path: Path) -> None:
    """Cut the entry in the middle of its last line, as a crash on a non-atomic disk would."""
    text = path.read_text()
    path.write_text(text[: text.rindex("\n") + 40])


def _garble(path: Path) -> None:
    path.write_text("this is not json\n")


def _one_line_naming(result: subprocess.CompletedProcess[str], *words: str) -> str:
    stderr = result.stderr
    assert result.returncode == 1, stderr
    assert "Traceback" not in stderr, stderr
    assert "internal error" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _series_batches(ws: Path) -> set[str]:
    store = Store(ws / ".perfops" / "lake")
    return {info.labels["batch"] for info in store.timeseries.series("gpu.util").values()}


@pytest.mark.parametrize("damage", [_cut, _garble], ids=["cut-mid-line", "not-json"])
def test_a_damaged_newest_entry_is_named_and_repaired(
    ws: Path, damage: Callable[[Path], None]
) -> None:
    newest = _entry(ws, "series", BATCHES)
    damage(newest)
    damaged = newest.read_bytes()
    for command in (("store", "info"), ("metrics", "ls"), ("slo", "status")):
        line = _one_line_naming(
            run_cli(*command, cwd=ws), "series", f"version {BATCHES}", "store repair"
        )
        assert f"version {BATCHES - 1}" in line  # what the table opens at after a repair

    dry = run_cli("store", "repair", "--dry-run", cwd=ws)
    assert dry.returncode == 1, dry.stderr
    assert f"would move version {BATCHES} aside" in dry.stdout
    assert newest.read_bytes() == damaged  # a dry run touches nothing
    assert not (ws / ".perfops" / "lake" / "_repair").exists()

    fixed = run_cli("store", "repair", "--json", cwd=ws)
    assert fixed.returncode == 0, fixed.stderr
    (report,) = [t for t in json.loads(fixed.stdout)["tables"] if t["problems"]]
    assert report["table"] == "series"
    assert report["repaired"]
    assert report["opens_at"] == BATCHES - 1
    assert any(f"version {BATCHES}" in lost for lost in report["lost"])
    backup = Path(report["backup"])
    assert (backup / "_delta_log" / newest.name).read_bytes() == damaged  # kept, not deleted
    assert json.loads((backup.parent / "repair.json").read_text())[0]["table"] == "series"

    for command in (("store", "info"), ("metrics", "ls"), ("slo", "status")):
        again = run_cli(*command, cwd=ws)
        assert again.returncode == 0, again.stderr
    assert _series_batches(ws) == {str(b) for b in range(BATCHES - 1)}  # every good version


def test_a_missing_checkpoint_is_named_and_the_log_read_instead(ws: Path) -> None:
    store = Store(ws / ".perfops" / "lake")
    store.compact(retention_hours=24)  # checkpoints every table at its newest version
    rows = {t.name: t.rows for t in store.info()}
    (checkpoint,) = _log(ws, "samples").glob("*.checkpoint.parquet")
    checkpoint.unlink()

    line = _one_line_naming(run_cli("store", "info", cwd=ws), "samples", "checkpoint")
    assert "store repair --table samples" in line

    fixed = run_cli("store", "repair", "--table", "samples", cwd=ws)
    assert fixed.returncode == 0, fixed.stderr
    assert "checkpoint aside" in fixed.stdout
    info = run_cli("store", "info", "--json", cwd=ws)
    assert info.returncode == 0, info.stderr
    after = {t["name"]: t["rows"] for t in json.loads(info.stdout)["tables"]}
    assert after == rows  # nothing lost: the log entries stand in for the checkpoint


def test_a_damaged_append_with_good_versions_after_it_keeps_them(ws: Path) -> None:
    store = Store(ws / ".perfops" / "lake")
    before = store.read_query("SELECT count(*) AS n FROM samples").column("n")[0].as_py()
    middle = _entry(ws, "samples", 2)
    _cut(middle)  # its commit info is whole: an append

    fixed = run_cli("store", "repair", cwd=ws)
    assert fixed.returncode == 0, fixed.stderr
    assert "replaced version 2" in fixed.stdout
    assert f"{GPUS * POINTS} row(s)" in fixed.stdout  # what the entry said it added

    after = Store(ws / ".perfops" / "lake")
    rows = after.read_query("SELECT count(*) AS n FROM samples").column("n")[0].as_py()
    assert rows == before - GPUS * POINTS  # versions 1 and 3 whole, 2's one file unreadable
    assert {t.name: t.version for t in after.info()}["samples"] == BATCHES  # the later one kept


def test_damage_that_cannot_be_undone_safely_changes_nothing(ws: Path) -> None:
    middle = _entry(ws, "samples", 2)
    middle.write_text(middle.read_text()[:50])  # even its commit info is cut: what was it?
    damaged = middle.read_bytes()

    result = run_cli("store", "repair", cwd=ws)
    assert result.returncode == 1
    assert "nothing changed" in result.stdout
    assert "samples" in result.stderr
    assert "restore" in result.stderr
    assert middle.read_bytes() == damaged
    assert _entry(ws, "samples", 3).exists()


def test_a_missing_data_file_is_named_and_dropped_from_the_table(ws: Path) -> None:
    lake = ws / ".perfops" / "lake"
    before = Store(lake).read_query("SELECT count(*) AS n FROM samples").column("n")[0].as_py()
    gone = sorted((lake / "samples").rglob("*.parquet"))[0]
    gone.unlink()  # deleted by hand, or lost with a disk

    _one_line_naming(run_cli("metrics", "ls", cwd=ws), "samples", "missing", "store repair")
    fixed = run_cli("store", "repair", "--table", "samples", cwd=ws)
    assert fixed.returncode == 0, fixed.stderr
    assert f"the {GPUS * POINTS} row(s) of the missing data file(s)" in fixed.stdout
    after = Store(lake).read_query("SELECT count(*) AS n FROM samples").column("n")[0].as_py()
    assert after == before - GPUS * POINTS  # the other files' rows all there
    assert run_cli("metrics", "ls", cwd=ws).returncode == 0
