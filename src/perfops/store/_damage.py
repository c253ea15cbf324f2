"""Reading a Delta table's log leniently, to say which entry is damaged and how.

delta-rs refuses a table whose log it cannot parse (``DeltaError: Kernel error: Json error:
Truncated record…`` at open, naming neither the file nor the version) and one whose
``_last_checkpoint`` names a checkpoint that is missing or unreadable. This module reads the
same files itself, line by line, so the error can name the table, the version and the fix,
and so ``perfops store repair`` knows what to move aside.

A log entry ``_delta_log/NNNNNNNNNNNNNNNNNNNN.json`` is one JSON action per line (delta-rs
writes no final newline). An entry is damaged when it is empty, when a line is not JSON (the
last one: cut mid-line), or when a line is not a Delta action; a version is missing when the
versions around it exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from perfops.errors import StoreError

__all__ = ["Checkpoint", "Entry", "LogScan", "describe", "diagnose", "first_line", "scan_log"]

_ACTIONS = frozenset(
    {"add", "remove", "metaData", "protocol", "commitInfo", "txn", "cdc", "domainMetadata"}
)
LOG = "_delta_log"


def entry_name(version: int) -> str:
    return f"{version:020d}.json"


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: its whole actions, and what is wrong with it (None: nothing)."""

    version: int
    path: Path | None  # None: the version is missing
    actions: tuple[dict[str, Any], ...] = ()
    problem: str | None = None

    @property
    def commit_info(self) -> dict[str, Any]:
        return next((a["commitInfo"] for a in self.actions if "commitInfo" in a), {})

    @property
    def is_append(self) -> bool:
        """The entry says it is a plain append (readable commit info: WRITE, mode Append)."""
        info = self.commit_info
        mode = (info.get("operationParameters") or {}).get("mode")
        return info.get("operation") == "WRITE" and mode == "Append"

    @property
    def added_files(self) -> list[str]:
        return [a["add"]["path"] for a in self.actions if "add" in a]

    def rows(self) -> tuple[int | None, bool]:
        """Rows this entry added, and whether that is exact (its commit info says) or a lower
        bound (the add actions still readable); (None, False) when nothing says."""
        metrics = self.commit_info.get("operationMetrics") or {}
        if isinstance(metrics.get("num_added_rows"), int):
            return metrics["num_added_rows"], True
        counted = [_num_records(a["add"]) for a in self.actions if "add" in a]
        return (sum(counted), False) if counted else (None, False)


def _num_records(add: dict[str, Any]) -> int:
    try:
        return int(json.loads(add.get("stats") or "{}").get("numRecords", 0))
    except (ValueError, TypeError, AttributeError):
        return 0


def read_entry(path: Path, version: int) -> Entry:
    """``path`` read line by line; the whole actions kept, the first problem named."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return Entry(version, path, (), f"unreadable ({exc.strerror})")
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return Entry(version, path, (), "empty")
    actions: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        try:
            action = json.loads(line)
        except ValueError:
            cut = number == len(lines) and line.lstrip().startswith("{")
            where = "cut mid-line" if cut else "not JSON"
            return Entry(version, path, tuple(actions), f"{where} (line {number} of {len(lines)})")
        if not (isinstance(action, dict) and len(action) == 1 and set(action) <= _ACTIONS):
            return Entry(version, path, tuple(actions), f"line {number} is no Delta action")
        actions.append(action)
    return Entry(version, path, tuple(actions))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What ``_last_checkpoint`` says, and whether the checkpoint it names can be read."""

    version: int | None  # None: the pointer itself is unreadable
    files: tuple[Path, ...]  # the checkpoint's parquet files found for that version
    problem: str | None = None


def _checkpoint(log: Path) -> Checkpoint | None:
    pointer = log / "_last_checkpoint"
    if not pointer.exists():
        return None
    try:
        version = int(json.loads(pointer.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return Checkpoint(None, (), "_last_checkpoint is unreadable")
    files = tuple(sorted(log.glob(f"{version:020d}.checkpoint*.parquet")))
    if not files:
        return Checkpoint(version, (), f"the checkpoint of version {version} is missing")
    for file in files:
        try:
            pq.read_metadata(file)
        except (OSError, pa.ArrowException):
            return Checkpoint(version, files, f"the checkpoint of version {version} is unreadable")
    return Checkpoint(version, files)


@dataclass(frozen=True, slots=True)
class LogScan:
    """A table's log as delta-rs would read it: the checkpoint, then the entries after it."""

    table: str
    folder: Path
    checkpoint: Checkpoint | None
    entries: list[Entry] = field(default_factory=list)

    @property
    def damaged(self) -> list[Entry]:
        return [e for e in self.entries if e.problem is not None]

    @property
    def checkpoint_files(self) -> tuple[Path, ...]:
        """The checkpoint files ``_last_checkpoint`` names (when it is readable)."""
        checkpoint = self.checkpoint
        if checkpoint is None and (self.folder / LOG).is_dir():
            checkpoint = _checkpoint(self.folder / LOG)
        return checkpoint.files if checkpoint is not None else ()

    @property
    def ok(self) -> bool:
        return not self.damaged and (self.checkpoint is None or self.checkpoint.problem is None)


def scan_log(folder: Path, table: str, *, use_checkpoint: bool = True) -> LogScan:
    """The log of the Delta table in ``folder`` as delta-rs reads it: the entries after its
    checkpoint when that is whole, else (or without ``use_checkpoint``) every entry there is,
    a version missing between two present ones counting as damage."""
    log = folder / LOG
    checkpoint = _checkpoint(log) if log.is_dir() and use_checkpoint else None
    whole = checkpoint is not None and checkpoint.problem is None
    start = checkpoint.version + 1 if whole and checkpoint and checkpoint.version is not None else 0
    found = {
        int(path.stem): path
        for path in (log.glob("*.json") if log.is_dir() else ())
        if len(path.stem) == 20 and path.stem.isdigit() and int(path.stem) >= start
    }
    if not found:
        return LogScan(table, folder, checkpoint)
    entries = [
        read_entry(found[v], v) if v in found else Entry(v, None, (), "missing")
        for v in range(start if whole else min(found), max(found) + 1)
    ]
    return LogScan(table, folder, checkpoint, entries)


def describe(scan: LogScan) -> str:
    """One line naming the table, the damaged version and the fix."""
    fix = f"run `perfops store repair --table {scan.table}`"
    cp = scan.checkpoint
    if cp is not None and cp.problem is not None:
        return (
            f"lake table {scan.table} is damaged: {cp.problem} ({scan.folder / LOG}); {fix} "
            "to read it from its log entries instead, or restore the checkpoint from a backup"
        )
    bad = scan.damaged[0]
    where = bad.path or scan.folder / LOG / entry_name(bad.version)
    good = bad.version - 1
    opens_at = f"opens at version {good}" if good >= 0 else "starts empty"
    return (
        f"lake table {scan.table} is damaged: version {bad.version} ({where}) is {bad.problem}; "
        f"{fix} to move the damaged entry aside (the table then {opens_at}; a backup is kept), "
        f"or restore version {bad.version} from a backup of the lake"
    )


def first_line(exc: BaseException) -> str:
    """delta-rs messages carry a Rust backtrace after their first line."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def diagnose(folder: Path, table: str, exc: BaseException, doing: str) -> StoreError:
    """The error to raise when delta-rs fails ``doing`` something with a table: the damage
    its log shows, named, or else delta-rs' own first line."""
    scan = scan_log(folder, table)
    if not scan.ok:
        return StoreError(describe(scan))
    return StoreError(
        f"lake table {table}: {doing} failed: {first_line(exc)}",
        hint=f"`perfops store repair --dry-run --table {table}` checks its log",
    )
