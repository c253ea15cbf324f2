"""The undo journal: every fault is written down, durably, before it is injected, so that
whatever happens to the process that injected it (an error, Ctrl-C, SIGKILL, a power cut),
:func:`recover` can undo it later from a fresh process.

The journal is JSON Lines, one record per line, appended with a single ``write`` under an
exclusive ``flock`` and ``fsync``-ed::

    {"op": "inject", "ts": …, "run_id": …, "owner": {"pid": …, "start": …}, "entry": {…}}
    {"op": "revert", "ts": …, "id": …, "ok": true, "error": null}

A fault is pending from its ``inject`` record until a ``revert`` record with ``ok: true``.
A crash mid-write leaves at most a torn last line: readers skip a line that is not JSON,
and the next append starts on a fresh line, so no earlier record is lost. Entry keys that
start with ``_`` (secrets given as literals) are never written.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from perfops._internal import strict_json
from perfops._internal.clock import Clock, SystemClock
from perfops.chaos import _watchdog
from perfops.chaos.faults import UndoEntry, public_entry, revert_entry
from perfops.errors import PerfopsError

__all__ = ["UndoJournal", "recover"]


class UndoJournal:
    """An append-only journal of injected faults at ``path`` (parents created); ``clock``
    stamps its records (``ts``: Unix seconds)."""

    def __init__(self, path: Path, *, clock: Clock | None = None) -> None:
        self.path = Path(path)
        self.clock: Clock = clock or SystemClock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.damaged = 0  # lines that were not records, at the last read

    def planned(self, entry: UndoEntry, *, run_id: str) -> None:
        """Record ``entry`` durably; call it before injecting the fault."""
        if not isinstance(entry.get("id"), str) or not isinstance(entry.get("kind"), str):
            raise PerfopsError("an undo entry needs a string kind and id")
        me = os.getpid()
        record = {
            "op": "inject",
            "ts": self._now(),
            "run_id": run_id,
            "owner": {"pid": me, "start": _watchdog.process_start(me)},
            "entry": public_entry(entry),
        }
        self._append(record)

    def reverted(self, fault_id: str, *, ok: bool, error: str | None = None) -> None:
        """Record the outcome of reverting ``fault_id``; only ``ok`` ends it."""
        self._append({"op": "revert", "ts": self._now(), "id": fault_id, "ok": ok, "error": error})

    def _now(self) -> float:
        return self.clock.now_ns() / 1e9

    def pending(self) -> list[UndoEntry]:
        """Injected and not reverted OK, oldest first. Each entry also carries ``_run_id``,
        ``_owner`` and ``_planned_at`` from its record (in-process keys, never rewritten)."""
        pending: dict[str, UndoEntry] = {}
        for record in self._records():
            op, fault_id = record.get("op"), _id_of(record)
            if op == "inject" and fault_id is not None:
                pending.pop(fault_id, None)
                pending[fault_id] = {
                    **record["entry"],
                    "_run_id": record.get("run_id"),
                    "_owner": record.get("owner"),
                    "_planned_at": record.get("ts"),
                }
            elif op == "revert" and record.get("ok") is True and fault_id is not None:
                pending.pop(fault_id, None)
        return list(pending.values())

    def compact(self) -> None:
        """Rewrite the journal keeping only the ``inject`` records of pending faults."""
        with self._locked_file():  # held until the new file is in place
            keep = {e["id"] for e in self.pending()}
            lines = [
                strict_json.dumps(r, separators=(",", ":"))
                for r in self._records()
                if r.get("op") == "inject" and _id_of(r) in keep
            ]
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            with open(tmp, "w") as out:
                out.write("".join(line + "\n" for line in lines))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)

    @contextlib.contextmanager
    def recovering(self) -> Iterator[None]:
        """Hold the sidecar ``.lock``: one recovery at a time, across processes."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- file access ---------------------------------------------------------------------------

    def _records(self) -> Iterator[dict[str, Any]]:
        self.damaged = 0
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        for line in raw.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:  # a torn line, from a crash mid-write
                self.damaged += 1
                continue
            if isinstance(record, dict):
                yield record
            else:
                self.damaged += 1

    def _append(self, record: dict[str, Any]) -> None:
        data = (strict_json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._locked_file() as fd:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # the last line is torn: start on a fresh one
            os.write(fd, data)
            os.fsync(fd)

    @contextlib.contextmanager
    def _locked_file(self) -> Iterator[int]:
        """The journal open for appending, under an exclusive flock, and still the file at
        ``path`` (a compaction may have replaced it while this waited for the lock)."""
        while True:
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if _same_file(fd, self.path):
                    if created:
                        _fsync_dir(self.path.parent)
                    yield fd
                    return
            finally:
                os.close(fd)


def recover(
    journal: UndoJournal,
    *,
    revert: Callable[[UndoEntry], None] = revert_entry,
    orphans_only: bool = False,
) -> list[tuple[UndoEntry, str | None]]:
    """Revert every pending fault, oldest first, and record each outcome; returns (entry,
    error or None) per fault. One failing entry does not stop the others (it stays pending,
    for the next recovery). Recoveries from several processes take turns on a lock, so each
    fault is reverted by one of them. With ``orphans_only``, faults whose injecting process
    is still alive (another experiment running) are left alone. Compacts the journal."""
    out: list[tuple[UndoEntry, str | None]] = []
    with journal.recovering():
        for entry in journal.pending():
            if orphans_only and _owner_alive(entry.get("_owner")):
                continue
            error = _try(revert, entry)
            journal.reverted(entry["id"], ok=error is None, error=error)
            out.append((entry, error))
        journal.compact()
    return out


def _try(revert: Callable[[UndoEntry], None], entry: UndoEntry) -> str | None:
    try:
        revert(entry)
    except PerfopsError as exc:
        return str(exc)
    except Exception as exc:  # one bad entry must not keep the others in force
        return f"{type(exc).__name__}: {exc}"
    return None


def _id_of(record: dict[str, Any]) -> str | None:
    if record.get("op") == "inject":
        entry = record.get("entry")
        if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str):
            return None
        fault_id = entry.get("id")
    else:
        fault_id = record.get("id")
    return fault_id if isinstance(fault_id, str) else None


def _owner_alive(owner: object) -> bool:
    if not isinstance(owner, dict) or not _watchdog.alive(owner.get("pid")):
        return False
    start = owner.get("start")
    return start is None or start == _watchdog.process_start(int(owner["pid"]))


def _same_file(fd: int, path: Path) -> bool:
    try:
        now = path.stat()
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
