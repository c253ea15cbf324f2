"""The end of a process fault, applied exactly once: resume a stopped process, or restart a
killed command. Both ``revert`` and a detached watchdog call :func:`end_fault`, which acts
under an exclusive lock on the fault's state file and records who ended it, so the two never
both act and a stopped process is never resumed by a stale watchdog after a later fault.

Standard library only: this file also runs as a detached script, ``python -I _watchdog.py
STATE``, which sleeps until the fault's ``expires_at`` and then ends it, so that a process
fault ends even when the process that injected it is killed.

State file (JSON, beside its ``.lock``): ``kind``, ``id``, ``expires_at``, ``pid`` (the
target), ``pidfile``, ``signal``, ``restart`` (argv), ``cwd``, ``log``, ``signalled`` (set
before the signal is sent), ``watchdog`` (its pid), ``restarted`` (the new pid),
``ended_by`` (``revert`` or ``watchdog``), ``ended_at``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from perfops._internal import strict_json

__all__ = [
    "alive",
    "end_fault",
    "locked",
    "process_start",
    "read_state",
    "spawn_detached",
    "spawn_watchdog",
    "stop_watchdog",
    "stopped",
    "write_state",
]

State = dict[str, Any]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``'s sidecar ``.lock`` file."""
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_state(path: Path) -> State | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return data if isinstance(data, dict) else None


def write_state(path: Path, state: State) -> None:
    """Replace the state file atomically and durably."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as out:
        strict_json.dump(state, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def alive(pid: object) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _stat_field(pid, 3) not in ("Z", "X")


def stopped(pid: int) -> bool | None:
    """Whether ``pid`` is stopped (state T); None where there is no /proc."""
    state = _stat_field(pid, 3)
    return None if state is None else state in ("T", "t")


def process_start(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot; Linux), to tell a reused pid apart."""
    value = _stat_field(pid, 22)
    return int(value) if value is not None and value.isdigit() else None


def _stat_field(pid: int, number: int) -> str | None:
    """Field ``number`` (as proc(5) numbers them, from 3: state) of /proc/PID/stat; None
    where there is no /proc (the command name, field 2, may hold spaces and parentheses)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return fields[number - 3] if len(fields) > number - 3 else None


def pid_in(pidfile: object) -> int | None:
    """The pid a pidfile holds now, or None."""
    if not isinstance(pidfile, str):
        return None
    try:
        text = Path(pidfile).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def spawn_detached(argv: Sequence[str], *, cwd: str | None = None, log: str | None = None) -> int:
    """Start ``argv`` in a new session, not as our child (a shell starts it in the background
    and exits), stdin from /dev/null, stdout and stderr appended to ``log``; its pid."""
    with open(log or os.devnull, "ab") as out:
        shell = subprocess.Popen(
            ["/bin/sh", "-c", '"$@" </dev/null >&2 & echo $!', "sh", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=out,
            cwd=cwd,
            start_new_session=True,
        )
        try:
            text, _ = shell.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            shell.kill()
            shell.communicate()
            raise OSError(f"cannot start {argv[0]!r}: the shell did not answer") from None
    if shell.returncode != 0 or not text.strip().isdigit():
        raise OSError(f"cannot start {argv[0]!r} (the shell exited {shell.returncode})")
    return int(text)


def spawn_watchdog(path: Path) -> int:
    """A detached watchdog that ends the fault in ``path`` at its expiry."""
    return spawn_detached([sys.executable, "-I", str(Path(__file__).resolve()), str(path)])


def stop_watchdog(path: Path, state: State) -> None:
    """Kill the fault's watchdog, if that pid is still this fault's watchdog (not reused)."""
    pid = state.get("watchdog")
    if not isinstance(pid, int) or not alive(pid):
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return  # cannot verify it: leave it, it sees the fault ended and exits at expiry
    if str(path).encode() in cmdline:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def end_fault(path: Path, *, by: str) -> str:
    """End the fault in ``path`` once: what was done (``resumed``, ``restarted``,
    ``running``: the command was up, ``not-injected``, ``already-ended``). A fault ended
    before it was injected stays ended: its injection is then refused."""
    if not path.parent.is_dir():
        return "not-injected"  # nothing was ever injected with this state directory
    with locked(path):
        state = read_state(path) or {"signalled": False}
        if state.get("ended_by"):
            return "already-ended"
        outcome = _end(state) if state.get("signalled") else "not-injected"
        state.update(ended_by=by, ended_at=time.time(), outcome=outcome)
        write_state(path, state)
        return outcome


def _end(state: State) -> str:
    if state.get("kind") == "process.stop":
        pid = int(state["pid"])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + 2.0  # SIGCONT lands asynchronously: see it land
        while stopped(pid) and time.monotonic() < deadline:
            time.sleep(0.005)
        return "resumed"
    if any(alive(p) for p in (state.get("restarted"), state.get("pid"), pid_in(state["pidfile"]))):
        return "running"
    state["restarted"] = spawn_detached(state["restart"], cwd=state.get("cwd"), log=state["log"])
    return "restarted"


def main(args: Sequence[str]) -> int:
    path = Path(args[0])
    state = read_state(path)
    if state is None:
        return 0
    time.sleep(max(0.0, float(state["expires_at"]) - time.time()))
    end_fault(path, by="watchdog")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
