"""The undo journal: durable before injection, no secret on disk, a torn last line loses
nothing before it, and recoveries (in threads or processes) revert each fault once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from perfops._internal.clock import ManualClock
from perfops.chaos.faults import UndoEntry
from perfops.chaos.undo import UndoJournal, recover
from perfops.errors import PerfopsError


def entry(fault_id: str, **extra: object) -> UndoEntry:
    return {"kind": "test.fake", "id": fault_id, "expires_at": 1e12, **extra}


def ids(entries: list[UndoEntry]) -> list[str]:
    return [e["id"] for e in entries]


def test_pending_is_planned_minus_reverted_ok(tmp_path: Path) -> None:
    journal = UndoJournal(tmp_path / "ws" / ".perfops" / "chaos" / "undo.jsonl")
    for name in ("a", "b", "c"):
        journal.planned(entry(name), run_id="run-1")
    journal.reverted("b", ok=True)
    journal.reverted("c", ok=False, error="the target did not answer")
    assert ids(journal.pending()) == ["a", "c"]  # a failed revert stays pending
    again = UndoJournal(journal.path)  # a fresh process sees the same
    assert ids(again.pending()) == ["a", "c"]
    assert again.pending()[0]["_run_id"] == "run-1"
    journal.reverted("c", ok=True)
    journal.planned(entry("b"), run_id="run-2")  # planned again after its revert
    assert ids(journal.pending()) == ["a", "b"]


def test_records_are_stamped_by_the_journal_clock(tmp_path: Path) -> None:
    clock = ManualClock(1_700_000_000 * 1_000_000_000)
    journal = UndoJournal(tmp_path / "undo.jsonl", clock=clock)
    journal.planned(entry("a"), run_id="r")
    clock.advance(2.5)
    journal.reverted("a", ok=False, error="refused")
    records = [json.loads(line) for line in journal.path.read_text().splitlines()]
    assert [(r["op"], r["ts"]) for r in records] == [
        ("inject", 1_700_000_000.0),
        ("revert", 1_700_000_002.5),
    ]
    assert journal.pending()[0]["_planned_at"] == 1_700_000_000.0


def test_planned_is_fsynced_before_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    journal = UndoJournal(tmp_path / "undo.jsonl")
    journal.planned(entry("a"), run_id="r")
    assert synced  # the journal file (and its new directory entry)
    assert json.loads(journal.path.read_text())["entry"]["id"] == "a"


def test_secrets_are_never_written(tmp_path: Path) -> None:
    journal = UndoJournal(tmp_path / "undo.jsonl")
    journal.planned(entry("a", _token="s3cret", token_env="SIM_KEY"), run_id="r")
    text = journal.path.read_text()
    assert "s3cret" not in text
    assert journal.pending()[0]["token_env"] == "SIM_KEY"


def test_an_entry_needs_a_kind_and_an_id(tmp_path: Path) -> None:
    with pytest.raises(PerfopsError, match="kind and id"):
        UndoJournal(tmp_path / "undo.jsonl").planned({"id": "a"}, run_id="r")


def test_torn_last_line_loses_nothing_before_it(tmp_path: Path) -> None:
    journal = UndoJournal(tmp_path / "undo.jsonl")
    journal.planned(entry("a"), run_id="r")
    journal.planned(entry("b"), run_id="r")
    with open(journal.path, "ab") as out:  # a crash mid-write of b's revert
        out.write(b'{"op":"revert","id":"b","ok":tr')
    after_crash = UndoJournal(journal.path)
    assert ids(after_crash.pending()) == ["a", "b"]  # b's revert never completed
    assert after_crash.damaged == 1
    after_crash.planned(entry("c"), run_id="r2")  # starts on a fresh line
    after_crash.reverted("a", ok=True)
    assert ids(after_crash.pending()) == ["b", "c"]
    lines = journal.path.read_text().splitlines()
    assert len(lines) == 5
    assert json.loads(lines[3])["entry"]["id"] == "c"


def test_garbage_lines_and_odd_records_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "undo.jsonl"
    path.write_text(
        "not json\n[1, 2]\n\n"
        '{"op": "inject", "entry": {"id": "no-kind"}}\n'
        '{"op": "inject", "run_id": "r", "entry": {"kind": "k", "id": "ok"}}\n'
    )
    journal = UndoJournal(path)
    assert ids(journal.pending()) == ["ok"]
    assert journal.damaged == 2


def test_recover_reverts_all_records_each_and_never_raises(tmp_path: Path) -> None:
    journal = UndoJournal(tmp_path / "undo.jsonl")
    for name in ("a", "b", "c", "d"):
        journal.planned(entry(name), run_id="r")
    journal.reverted("d", ok=True)
    seen: list[str] = []

    def revert(e: UndoEntry) -> None:
        seen.append(e["id"])
        if e["id"] == "b":
            raise PerfopsError("sim.xid b: cannot revert (no answer)")
        if e["id"] == "c":
            raise KeyError("url")

    results = recover(journal, revert=revert)
    assert seen == ["a", "b", "c"]
    assert [(e["id"], err) for e, err in results] == [
        ("a", None),
        ("b", "sim.xid b: cannot revert (no answer)"),
        ("c", "KeyError: 'url'"),
    ]
    assert ids(journal.pending()) == ["b", "c"]  # for the next recovery
    records = [json.loads(line) for line in journal.path.read_text().splitlines()]
    assert [(r["op"], r["entry"]["id"]) for r in records] == [("inject", "b"), ("inject", "c")]
    assert recover(journal, revert=lambda e: None) != []
    assert journal.pending() == []
    assert journal.path.read_text() == ""  # compacted


def test_recover_orphans_only_spares_live_runners(tmp_path: Path) -> None:
    journal = UndoJournal(tmp_path / "undo.jsonl")
    journal.planned(entry("mine"), run_id="live")  # this process is alive
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    record = {"op": "inject", "ts": 0, "run_id": "dead", "owner": {"pid": int(gone.stdout)},
              "entry": entry("orphan")}  # fmt: skip
    with open(journal.path, "a") as out:
        out.write(json.dumps(record) + "\n")
    seen: list[str] = []
    results = recover(journal, revert=lambda e: seen.append(e["id"]), orphans_only=True)
    assert seen == ["orphan"]
    assert [e["id"] for e, _ in results] == ["orphan"]
    assert ids(journal.pending()) == ["mine"]


def test_concurrent_recover_in_threads_reverts_each_once(tmp_path: Path) -> None:
    path = tmp_path / "undo.jsonl"
    journal = UndoJournal(path)
    for i in range(30):
        journal.planned(entry(f"f{i}"), run_id="r")
    seen: list[str] = []
    lock = threading.Lock()

    def revert(e: UndoEntry) -> None:
        with lock:
            seen.append(e["id"])

    threads = [
        threading.Thread(target=recover, args=(UndoJournal(path),), kwargs={"revert": revert})
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(seen) == sorted(f"f{i}" for i in range(30))
    assert journal.pending() == []


RECOVER_SCRIPT = """
import os, sys, time
from pathlib import Path
from perfops.chaos.undo import UndoJournal, recover

calls = sys.argv[2]
def revert(entry):
    fd = os.open(calls, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, (entry["id"] + "\\n").encode())
    os.close(fd)
    time.sleep(0.02)  # long enough for the recoveries to overlap

recover(UndoJournal(Path(sys.argv[1])), revert=revert)
"""


def test_concurrent_recover_in_processes_reverts_each_once(tmp_path: Path) -> None:
    path, calls = tmp_path / "undo.jsonl", tmp_path / "calls"
    journal = UndoJournal(path)
    for i in range(20):
        journal.planned(entry(f"f{i}"), run_id="r")
    procs = [
        subprocess.Popen([sys.executable, "-c", RECOVER_SCRIPT, str(path), str(calls)])
        for _ in range(2)
    ]
    assert [p.wait(30) for p in procs] == [0, 0]
    assert sorted(calls.read_text().split()) == sorted(f"f{i}" for i in range(20))
    assert journal.pending() == []


def test_compaction_loses_no_concurrent_append(tmp_path: Path) -> None:
    path = tmp_path / "undo.jsonl"
    stop = threading.Event()

    def write(worker: int) -> None:
        journal = UndoJournal(path)
        for i in range(16):
            journal.planned(entry(f"w{worker}-{i}"), run_id="r")
            if i % 2:
                journal.reverted(f"w{worker}-{i}", ok=True)

    def compact() -> None:
        journal = UndoJournal(path)
        while not stop.is_set():
            journal.compact()

    compactor = threading.Thread(target=compact)
    compactor.start()
    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in writers:
        t.start()
    for t in writers:
        t.join(30)
    stop.set()
    compactor.join(30)
    expected = {f"w{w}-{i}" for w in range(4) for i in range(0, 16, 2)}
    assert set(ids(UndoJournal(path).pending())) == expected
