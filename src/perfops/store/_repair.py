"""`perfops store repair`: a damaged Delta log made readable again, losing nothing that good
versions hold and deleting nothing.

For each table whose log is damaged (see ``_damage``):

- a checkpoint that is missing or unreadable: ``_last_checkpoint`` and the broken checkpoint
  files are moved aside, so the table is read from its log entries (possible while the
  entries since version 0 are all there; else nothing is changed and the backup of the lake
  is the way back);
- damaged newest entries: they are moved aside, so the table opens at the last good version;
  the rows they added are reported lost, and the data files no version references any more
  (what they added) are copied to the backup, so that ``store compact`` cannot delete them;
- a damaged entry with good ones after it: moving them all aside would drop good commits, so
  an append (its commit info readable) is replaced by its readable actions and the later
  entries stay; anything else is left alone and reported, with the backup as the way back;
- data files the readable log names but that are gone: delta-rs' FSCK commits their removal,
  so the table reads again; their rows are reported lost.

Everything moved or replaced goes to ``LAKE/_repair/<UTC time>/<table>/`` first. Run it with
nothing writing to the lake (no collect, load test or chaos run going on).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from perfops.store._damage import LOG, Entry, LogScan, entry_name, scan_log

__all__ = ["TableRepair", "backup_folder", "repair_table"]


@dataclass
class TableRepair:
    """What ``store repair`` found in one table and did (or, dry, would do) about it."""

    table: str
    problems: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # what the table no longer holds
    backup: str | None = None
    opens_at: int | None = None  # the version the table opens at afterwards
    repaired: bool = True  # False: still damaged (refused, or the repair did not help)

    @property
    def damaged(self) -> bool:
        return bool(self.problems)


def backup_folder(lake: Path, now: dt.datetime) -> Path:
    """Where one repair keeps what it moves aside: ``LAKE/_repair/<UTC time>``."""
    return lake / "_repair" / now.strftime("%Y%m%dT%H%M%SZ")


def repair_table(folder: Path, table: str, backup: Path, *, dry_run: bool) -> TableRepair:
    """Find and (unless ``dry_run``) repair the damage in one table's log; what is moved
    aside goes to ``backup / table``."""
    scan = scan_log(folder, table)
    report = TableRepair(table)
    mover = _Mover(folder, backup / table, dry_run)
    if not scan.ok:
        _fix_log(scan, report, mover)
    report.backup = str(mover.root) if mover.used else None
    if not report.repaired:
        return report
    if scan.ok or not dry_run:  # the log reads: are the files it names all there?
        _drop_missing(folder, report, dry_run)
        report.opens_at, report.repaired = _opens(folder)
    else:
        good = [e.version for e in scan.entries if e.problem is None]
        report.opens_at = max(good, default=None)
    return report


def _fix_log(scan: LogScan, report: TableRepair, mover: _Mover) -> None:
    if scan.checkpoint is not None and scan.checkpoint.problem is not None:
        report.problems.append(scan.checkpoint.problem)
        scan = scan_log(scan.folder, scan.table, use_checkpoint=False)
        if not _drop_checkpoint(scan, report, mover):
            return
    _fix_entries(scan, report, mover)


def _drop_missing(folder: Path, report: TableRepair, dry_run: bool) -> None:
    """Data files the log names that are gone: delta-rs' FSCK commits their removal, so the
    table reads again without their rows (which are lost already). No file is touched."""
    if not (folder / LOG).is_dir() or not any((folder / LOG).glob("*.json")):
        return
    try:
        table = DeltaTable(str(folder))
        adds = pa.table(table.get_add_actions(flatten=True)).to_pydict()
    except DeltaError:
        return  # reported by _opens
    gone = [
        (path, rows or 0)
        for path, rows in zip(adds["path"], adds["num_records"], strict=True)
        if not (folder / unquote(path)).exists()
    ]
    if not gone:
        return
    rows = sum(n for _, n in gone)
    report.problems.append(
        f"{len(gone)} data file(s) of version {table.version()} are missing (e.g. {gone[0][0]})"
    )
    if not dry_run:
        table.repair(dry_run=False)
    verb = "would record" if dry_run else "recorded"
    report.actions.append(f"{verb} the missing data file(s) as removed, in a new version")
    report.lost.append(f"the {rows:,} row(s) of the missing data file(s)")


def _drop_checkpoint(scan: LogScan, report: TableRepair, mover: _Mover) -> bool:
    """Move a broken checkpoint aside when the log entries since version 0 can replace it."""
    if not scan.entries or scan.entries[0].version != 0:
        report.repaired = False
        report.actions.append(
            "nothing changed: the log entries the checkpoint stands for were cleaned up, so the "
            "table cannot be read without it; restore the lake folder from a backup"
        )
        return False
    cp = scan.checkpoint_files
    for path in (scan.folder / LOG / "_last_checkpoint", *cp):
        mover.move(path)
    report.actions.append(
        f"{mover.did('moved', 'would move')} the checkpoint aside: the table is read from its "
        "log entries"
    )
    return True


def _fix_entries(scan: LogScan, report: TableRepair, mover: _Mover) -> None:
    """Damaged newest entries moved aside; damaged appends that good entries follow replaced
    by their readable actions; anything else left alone, and the table reported unrepaired."""
    entries = scan.entries
    for e in scan.damaged:
        report.problems.append(f"version {e.version} ({entry_name(e.version)}) is {e.problem}")
    last_good = max((i for i, e in enumerate(entries) if e.problem is None), default=-1)
    inner = [e for e in entries[:last_good] if e.problem is not None]
    blocked = [e for e in inner if e.path is None or not e.is_append]
    if blocked:
        report.repaired = False
        report.actions.append(
            f"nothing changed: version {blocked[0].version} is damaged, is no readable append, "
            "and good versions follow it; restore the lake folder from a backup"
        )
        return
    for e in inner:
        _stand_in(e, report, mover)
        later = {
            unquote(f) for after in entries if after.version > e.version for f in after.added_files
        }
        _keep_orphans(scan.folder, _written(scan, e.version - 1), later, report, mover)
    tail = entries[last_good + 1 :]
    for e in tail:
        _move_aside(e, report, mover)
    if tail:
        _keep_orphans(scan.folder, _written(scan, tail[0].version - 1), set(), report, mover)


def _written(scan: LogScan, version: int) -> Path | None:
    """The file whose time marks when ``version`` was committed: its log entry, else its
    checkpoint (None before version 0)."""
    log = scan.folder / LOG
    found = [log / entry_name(version), *sorted(log.glob(f"{version:020d}.checkpoint*.parquet"))]
    return next((p for p in found if version >= 0 and p.exists()), None)


def _stand_in(entry: Entry, report: TableRepair, mover: _Mover) -> None:
    """Replace a damaged append that good entries follow by its readable actions."""
    assert entry.path is not None
    mover.copy_data(entry)
    mover.move(entry.path)
    mover.write(entry.path, "\n".join(json.dumps(a, separators=(",", ":")) for a in entry.actions))
    rows, exact = entry.rows()
    report.actions.append(
        f"{mover.did('replaced', 'would replace')} version {entry.version} by its "
        f"{len(entry.actions)} readable action(s); the versions after it are kept"
    )
    report.lost.append(
        f"version {entry.version}: the rows of its unreadable part (it added "
        f"{_rows_text(rows, exact)} in all)"
    )


def _move_aside(entry: Entry, report: TableRepair, mover: _Mover) -> None:
    rows, exact = entry.rows()
    if entry.path is not None:
        mover.copy_data(entry)
        mover.move(entry.path)
    files = len(entry.added_files)
    report.actions.append(
        f"{mover.did('moved', 'would move')} version {entry.version} aside"
        + (f" (its {files} data file(s) copied to the backup)" if files else "")
    )
    report.lost.append(f"version {entry.version}: {_rows_text(rows, exact)}")


def _keep_orphans(
    folder: Path, since: Path | None, later: set[str], report: TableRepair, mover: _Mover
) -> None:
    """Copy to the backup the data files written after the entry ``since`` that no later
    entry adds (``later``: their paths): once the damaged entries are aside or replaced, no
    version references them, they hold what the unreadable part of an entry added, and
    ``store compact`` would delete them."""
    after = since.stat().st_mtime if since is not None and since.exists() else float("-inf")
    orphans = [
        p
        for p in folder.rglob("*.parquet")
        if LOG not in p.relative_to(folder).parts
        and p.stat().st_mtime > after
        and p.relative_to(folder).as_posix() not in later
    ]
    if not orphans:
        return
    rows = sum(_parquet_rows(p) for p in orphans)
    for path in orphans:
        mover.copy(path)
    report.lost.append(
        f"{len(orphans)} data file(s) no version references any more, {rows:,} row(s) in "
        f"all, {mover.did('copied', 'to be copied')} to the backup"
    )


def _parquet_rows(path: Path) -> int:
    try:
        return int(pq.read_metadata(path).num_rows)
    except (OSError, pa.ArrowException):
        return 0


def _rows_text(rows: int | None, exact: bool) -> str:
    if rows is None:
        return "rows unknown (nothing readable says how many)"
    return f"{rows:,} row(s)" if exact else f"at least {rows:,} row(s)"


def _opens(folder: Path) -> tuple[int | None, bool]:
    """The version the table opens at now, and whether it opens (no log: created anew)."""
    if not (folder / LOG).is_dir() or not any((folder / LOG).glob("*.json")):
        return None, True  # nothing left: the table is created again on first use
    try:
        return DeltaTable(str(folder)).version(), True
    except DeltaError:
        return None, False


class _Mover:
    """Moves log files and copies data files into the backup folder (or, dry, only counts)."""

    def __init__(self, folder: Path, root: Path, dry_run: bool) -> None:
        self.folder, self.root, self.dry_run = folder, root, dry_run
        self.used = False

    def _target(self, path: Path) -> Path:
        target = self.root / path.relative_to(self.folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def did(self, done: str, dry: str) -> str:
        return dry if self.dry_run else done

    def move(self, path: Path) -> None:
        self.used = True
        if not self.dry_run and path.exists():
            shutil.move(path, self._target(path))

    def copy(self, path: Path) -> None:
        self.used = True
        if not self.dry_run and path.is_file() and not self._target(path).exists():
            shutil.copy2(path, self._target(path))

    def copy_data(self, entry: Entry) -> None:
        for name in entry.added_files:
            self.copy(self.folder / unquote(name))

    def write(self, path: Path, text: str) -> None:
        if not self.dry_run:
            path.write_text(text, encoding="utf-8")
