"""process.* faults on real processes: stopped then resumed, killed then restarted, exactly
once, by revert or by the detached watchdog when nobody reverts."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from perfops.chaos.faults import FaultContext, UndoEntry, fault_for, revert_entry
from perfops.errors import PerfopsError

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

SERVER = """
import os, sys, time
with open(sys.argv[1], "w") as out:
    out.write(str(os.getpid()))
with open(sys.argv[1] + ".starts", "a") as out:
    out.write(f"{os.getpid()}\\n")
time.sleep(60)
"""


def state(pid: int) -> str:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rfind(")") + 2]


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def gone(pid: int) -> bool:
    try:
        return state(pid) == "Z"
    except FileNotFoundError:
        return True


@pytest.fixture
def ctx(tmp_path: Path) -> FaultContext:
    return FaultContext("chat", "http://127.0.0.1:9/v1", None, state_dir=str(tmp_path / "state"))


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "30"])
    yield proc
    proc.kill()
    proc.wait()


def ended_state(entry: UndoEntry) -> dict[str, object]:
    return dict(json.loads(Path(entry["state"]).read_text()))


def watchdog_of(entry: UndoEntry) -> int:
    return int(json.loads(Path(entry["state"]).read_text())["watchdog"])


def test_stop_freezes_until_revert(ctx: FaultContext, sleeper: subprocess.Popen[bytes]) -> None:
    fault = fault_for("process.stop")
    entry = fault.plan(ctx, {"pid": sleeper.pid}, fault_id="t-stop", duration_s=30)
    fault.inject(entry)
    assert state(sleeper.pid) == "T"
    watchdog = watchdog_of(entry)
    assert not gone(watchdog)
    fault.revert(entry)
    assert state(sleeper.pid) in {"R", "S"}  # not stopped
    wait_for(lambda: gone(watchdog))  # revert also ends the watchdog
    fault.revert(entry)
    revert_entry(json.loads(json.dumps(entry)))  # idempotent, from the journaled form
    assert state(sleeper.pid) in {"R", "S"}  # not stopped


def test_the_watchdog_resumes_a_stopped_process_nobody_reverts(
    ctx: FaultContext, sleeper: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    pidfile = tmp_path / "sleep.pid"
    pidfile.write_text(f"{sleeper.pid}\n")
    fault = fault_for("process.stop")
    entry = fault.plan(ctx, {"pidfile": str(pidfile)}, fault_id="t-expire", duration_s=0.4)
    fault.inject(entry)
    assert state(sleeper.pid) == "T"
    wait_for(lambda: "ended_by" in ended_state(entry), timeout=4)
    assert state(sleeper.pid) in {"R", "S"}  # not stopped
    ended = ended_state(entry)
    assert (ended["ended_by"], ended["outcome"]) == ("watchdog", "resumed")
    sleeper.send_signal(signal.SIGSTOP)  # stopped again by someone else: revert leaves it
    wait_for(lambda: state(sleeper.pid) == "T")
    fault.revert(entry)
    assert state(sleeper.pid) == "T"
    sleeper.send_signal(signal.SIGCONT)


def test_stop_refusals(ctx: FaultContext, sleeper: subprocess.Popen[bytes], tmp_path: Path) -> None:
    fault = fault_for("process.stop")
    mine = fault.plan(ctx, {"pid": os.getpid()}, fault_id="t-self", duration_s=5)
    with pytest.raises(PerfopsError, match="refusing to signal pid"):
        fault.inject(mine)
    missing = fault.plan(ctx, {"pidfile": str(tmp_path / "x.pid")}, fault_id="t-m", duration_s=5)
    with pytest.raises(PerfopsError, match="cannot read pidfile"):
        fault.inject(missing)
    fault.revert(missing)  # never injected: nothing to do
    (tmp_path / "x.pid").write_text(f"{sleeper.pid}")
    with pytest.raises(PerfopsError, match="this fault id has ended"):
        fault.inject(missing)  # a late injection cannot resurrect what was reverted
    assert state(sleeper.pid) in {"R", "S"}  # not stopped
    elsewhere = FaultContext("chat", "http://127.0.0.1:9/v1", None, state_dir="/nonexistent/x")
    fault.revert(fault.plan(elsewhere, {"pid": 99999}, fault_id="t-none", duration_s=5))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, list[str]]]:
    """A command that writes its pidfile; every start is logged beside it."""
    script, pidfile = tmp_path / "server.py", tmp_path / "server.pid"
    script.write_text(SERVER)
    argv = [sys.executable, str(script), str(pidfile)]
    proc = subprocess.Popen(argv)
    wait_for(lambda: pidfile.exists() and pidfile.read_text() == str(proc.pid))
    yield proc, pidfile, argv
    proc.kill()
    proc.wait()
    starts = Path(f"{pidfile}.starts").read_text().split()
    for pid in map(int, starts):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def starts(pidfile: Path) -> list[int]:
    return [int(p) for p in Path(f"{pidfile}.starts").read_text().split()]


def test_kill_then_revert_restarts_once(
    ctx: FaultContext, server: tuple[subprocess.Popen[bytes], Path, list[str]]
) -> None:
    proc, pidfile, argv = server
    fault = fault_for("process.kill")
    params = {"pidfile": str(pidfile), "restart": argv, "cwd": str(pidfile.parent)}
    entry = fault.plan(ctx, params, fault_id="t-kill", duration_s=30)
    fault.inject(entry)
    assert proc.wait(5) == -signal.SIGTERM
    watchdog = watchdog_of(entry)
    fault.revert(entry)
    wait_for(lambda: len(starts(pidfile)) == 2)
    restarted = starts(pidfile)[1]
    wait_for(lambda: pidfile.read_text() == str(restarted))
    assert state(restarted) in "SR"
    assert json.loads(Path(entry["state"]).read_text())["restarted"] == restarted
    wait_for(lambda: gone(watchdog))
    fault.revert(entry)
    revert_entry(json.loads(json.dumps(entry)))
    time.sleep(0.2)
    assert starts(pidfile) == [proc.pid, restarted]  # started once, not three times
    assert Path(entry["log"]).exists()


def test_the_watchdog_restarts_a_killed_command_nobody_reverts(
    ctx: FaultContext, server: tuple[subprocess.Popen[bytes], Path, list[str]]
) -> None:
    proc, pidfile, argv = server
    fault = fault_for("process.kill")
    params = {"pid": proc.pid, "restart": argv, "signal": "SIGKILL"}
    entry = fault.plan(ctx, params, fault_id="t-kill-expire", duration_s=0.5)
    fault.inject(entry)
    assert proc.wait(5) == -signal.SIGKILL
    wait_for(lambda: "ended_by" in ended_state(entry), timeout=5)
    wait_for(lambda: len(starts(pidfile)) == 2)
    fault.revert(entry)  # after the watchdog: nothing more
    time.sleep(0.2)
    assert len(starts(pidfile)) == 2
    ended = json.loads(Path(entry["state"]).read_text())
    assert (ended["ended_by"], ended["outcome"]) == ("watchdog", "restarted")


def test_kill_refuses_what_it_could_not_restart(
    ctx: FaultContext, server: tuple[subprocess.Popen[bytes], Path, list[str]]
) -> None:
    proc, _, _ = server
    fault = fault_for("process.kill")
    params = {"pid": proc.pid, "restart": ["no-such-program-perfops"]}
    entry = fault.plan(ctx, params, fault_id="t-norestart", duration_s=5)
    with pytest.raises(PerfopsError, match="is not found, so the process would not come back"):
        fault.inject(entry)
    assert proc.poll() is None
    fault.revert(entry)
    assert proc.poll() is None


def test_kill_fails_when_the_process_outlives_the_wait(ctx: FaultContext, tmp_path: Path) -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
         "signal.SIG_IGN); print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert stubborn.stdout is not None
        assert stubborn.stdout.readline() == b"ready\n"
        fault = fault_for("process.kill")
        params = {"pid": stubborn.pid, "restart": ["true"], "wait_s": 0.3}
        entry = fault.plan(ctx, params, fault_id="t-stubborn", duration_s=30)
        with pytest.raises(PerfopsError, match="still alive 0.3 s after SIGTERM"):
            fault.inject(entry)
        fault.revert(entry)  # it is still running: no second copy
        ended = json.loads(Path(entry["state"]).read_text())
        assert (ended["outcome"], ended.get("restarted")) == ("running", None)
    finally:
        stubborn.kill()
        stubborn.wait()
        if stubborn.stdout is not None:
            stubborn.stdout.close()
