"""Reading a Delta log leniently: which entry is damaged, how, and what it had added."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from perfops.store._damage import describe, read_entry, scan_log


@pytest.fixture
def table(tmp_path: Path) -> Path:
    """A Delta table of three appends (versions 0, 1, 2) of 2, 3 and 4 rows."""
    for rows in (2, 3, 4):
        write_deltalake(tmp_path / "t", pa.table({"x": list(range(rows))}), mode="append")
    return tmp_path / "t"


def _entry(table: Path, version: int) -> Path:
    return table / "_delta_log" / f"{version:020d}.json"


def test_a_whole_log_reads_as_whole_and_says_what_each_entry_added(table: Path) -> None:
    scan = scan_log(table, "t")
    assert scan.ok
    assert [e.version for e in scan.entries] == [0, 1, 2]
    assert [e.rows() for e in scan.entries] == [(2, True), (3, True), (4, True)]
    assert all(e.is_append for e in scan.entries)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda t: t[: t.rindex("\n") + 30], "cut mid-line (line 2 of 2)"),
        (lambda t: "garbage\n" + t, "not JSON (line 1 of 3)"),
        (lambda t: '{"add": {}, "remove": {}}', "line 1 is no Delta action"),
        (lambda t: "", "empty"),
    ],
)
def test_each_kind_of_damage_is_named(
    table: Path, damage: Callable[[str], str], problem: str
) -> None:
    path = _entry(table, 2)
    path.write_text(damage(path.read_text()))
    entry = read_entry(path, 2)
    assert entry.problem == problem
    scan = scan_log(table, "t")
    assert [e.version for e in scan.damaged] == [2]
    line = describe(scan)
    assert "lake table t" in line
    assert "version 2" in line
    assert "opens at version 1" in line
    assert "perfops store repair --table t" in line


def test_a_cut_entry_keeps_its_whole_lines(table: Path) -> None:
    path = _entry(table, 1)
    text = path.read_text()
    path.write_text(text[: text.rindex("\n") + 30])
    entry = read_entry(path, 1)
    assert entry.is_append  # the commit info came first and is whole
    assert entry.rows() == (3, True)
    assert entry.added_files == []


def test_a_missing_version_between_two_is_damage(table: Path) -> None:
    _entry(table, 1).unlink()
    scan = scan_log(table, "t")
    assert [(e.version, e.problem) for e in scan.damaged] == [(1, "missing")]
