"""``process.stop`` and ``process.kill``: faults on a local process, found by ``pid`` or by
``pidfile`` (read at injection).

``process.stop`` SIGSTOPs the process; its end SIGCONTs it.

``process.kill`` sends ``signal`` (default SIGTERM) and waits up to ``wait_s`` (default 10)
for the process to exit (else the injection fails); its end restarts the command with
``restart`` (argv, required) in ``cwd``, detached in its own session, stdin from /dev/null,
output appended to ``<state_dir>/<id>.log``, unless the command is running already (the
restarted pid, the killed pid or the pidfile's pid is alive). The injection refuses to kill
a process whose ``restart[0]`` it cannot find.

Probe, before a run, finds the process (a pid that is not running, or a pidfile that cannot
be read, is an unreachable target) and, for ``process.kill``, the command that restarts it.

Either fault ends exactly once, by whichever comes first: ``revert``, or a detached watchdog
started at injection that ends it at ``expires_at``, so the fault ends even when the process
that injected it is killed. Both act under a lock on the fault's state file
(``<state_dir>/<id>.json``, see :mod:`perfops.chaos._watchdog`); revert also kills the
watchdog. Reverting a fault that was never injected, or has ended, does nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from perfops import errors
from perfops.chaos import _watchdog
from perfops.chaos._fault_base import (
    FaultContext,
    UndoEntry,
    base_entry,
    refuse,
    unknown_params,
)
from perfops.errors import PerfopsError, UsageError

__all__ = ["ProcessKill", "ProcessStop"]

MAX_WAIT_S = 300.0
_SIGNALS = ("SIGTERM", "SIGKILL", "SIGINT", "SIGHUP", "SIGQUIT", "SIGABRT")
_TARGET = {"pid": "process id, an integer", "pidfile": "path of a file holding the pid"}
_KILL = {
    **_TARGET,
    "restart": "argv that starts the command again, a list of strings",
    "cwd": "directory to restart it in",
    "signal": f"one of {', '.join(_SIGNALS)} (default SIGTERM)",
    "wait_s": f"seconds to wait for it to exit, up to {MAX_WAIT_S:g} (default 10)",
}


def default_state_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"perfops-chaos-{os.getuid()}"


def _target_problems(params: Mapping[str, Any]) -> list[str]:
    pid, pidfile = params.get("pid"), params.get("pidfile")
    if (pid is None) == (pidfile is None):
        return ["params: give exactly one of pid (a process id) or pidfile (a path)"]
    if pid is not None and (not isinstance(pid, int) or isinstance(pid, bool) or pid < 2):
        return [f"params.pid: a process id is an integer of 2 or more (got {pid!r})"]
    if pidfile is not None and (not isinstance(pidfile, str) or not pidfile):
        return [f"params.pidfile: a path to a file holding the pid (got {pidfile!r})"]
    return []


class _ProcessFault:
    kind: ClassVar[str]
    known: ClassVar[Mapping[str, str]] = _TARGET

    @classmethod
    def check(cls, params: Mapping[str, Any]) -> list[str]:
        if not isinstance(params, Mapping):
            return [f"params: {cls.kind} takes a mapping of {', '.join(cls.known)}"]
        return unknown_params(cls.kind, params, cls.known) + _target_problems(params)

    def plan(
        self, ctx: FaultContext, params: Mapping[str, Any], *, fault_id: str, duration_s: float
    ) -> UndoEntry:
        refuse(self.kind, self.check(params))
        entry = base_entry(self.kind, ctx, fault_id=fault_id, duration_s=duration_s)
        state_dir = Path(ctx.state_dir) if ctx.state_dir else default_state_dir()
        entry.update(
            pid=params.get("pid"),
            pidfile=str(Path(params["pidfile"]).absolute()) if params.get("pidfile") else None,
            state=str((state_dir / f"{fault_id}.json").absolute()),
        )
        return entry

    def probe(self, entry: UndoEntry) -> None:
        try:
            _resolve(entry)
        except PerfopsError as exc:
            raise errors.Unreachable(f"{exc}; nothing was done to it", hint=exc.hint) from None
        try:
            self._preflight(entry)
        except PerfopsError as exc:
            raise UsageError(exc.message, hint=exc.hint) from None

    def inject(self, entry: UndoEntry) -> None:
        path = Path(entry["state"])
        _prepare(path.parent)
        pid = _resolve(entry)
        self._preflight(entry)
        try:
            with _watchdog.locked(path):
                if self._begin(path, entry, pid):
                    self._settle(entry, pid)
        except OSError as exc:
            raise PerfopsError(f"{entry['kind']} {entry['id']}: cannot inject it ({exc})") from None

    def _begin(self, path: Path, entry: UndoEntry, pid: int) -> bool:
        """Record the fault, arm its watchdog, send the signal; False for a retry."""
        old = _watchdog.read_state(path)
        if old is not None and old.get("ended_by"):
            raise PerfopsError(f"{entry['kind']} {entry['id']}: this fault id has ended")
        if old is not None and old.get("signalled"):
            return False  # in force already
        state = {k: v for k, v in entry.items() if not k.startswith("_")}
        state.update(pid=pid, signalled=False)
        _watchdog.write_state(path, state)
        state["watchdog"] = _watchdog.spawn_watchdog(path)
        state["signalled"] = True  # recorded before it is sent: a crash errs to undoing
        _watchdog.write_state(path, state)
        try:
            _send(entry, pid, self._signum(entry))
        except PerfopsError:  # nothing was done: end the fault here
            state.update(signalled=False, ended_by="inject", ended_at=time.time())
            _watchdog.write_state(path, state)
            _watchdog.stop_watchdog(path, state)
            raise
        return True

    def revert(self, entry: UndoEntry) -> None:
        path = Path(entry["state"])
        try:
            _watchdog.end_fault(path, by="revert")
        except OSError as exc:
            raise PerfopsError(f"{entry['kind']} {entry['id']}: cannot end it ({exc})") from None
        state = _watchdog.read_state(path)
        if state is not None:
            _watchdog.stop_watchdog(path, state)

    def _preflight(self, entry: UndoEntry) -> None:
        """Refuse what cannot be undone, before anything is done."""

    def _signum(self, entry: UndoEntry) -> signal.Signals:
        raise NotImplementedError

    def _settle(self, entry: UndoEntry, pid: int) -> None:
        """Wait until the signal has taken effect."""


class ProcessStop(_ProcessFault):
    """Freeze a process (SIGSTOP) until the fault ends (SIGCONT)."""

    kind: ClassVar[str] = "process.stop"

    def _signum(self, entry: UndoEntry) -> signal.Signals:
        return signal.SIGSTOP

    def _settle(self, entry: UndoEntry, pid: int) -> None:
        deadline = time.monotonic() + 5.0
        while _watchdog.stopped(pid) is False and time.monotonic() < deadline:
            time.sleep(0.005)


class ProcessKill(_ProcessFault):
    """Kill a command's process; the end of the fault starts the command again."""

    kind: ClassVar[str] = "process.kill"
    known: ClassVar[Mapping[str, str]] = _KILL

    @classmethod
    def check(cls, params: Mapping[str, Any]) -> list[str]:
        problems = super().check(params)
        if not isinstance(params, Mapping):
            return problems
        restart = params.get("restart")
        if (
            not isinstance(restart, list | tuple)
            or not restart
            or not all(isinstance(a, str) and a for a in restart)
        ):
            problems.append(
                "params.restart: required: the argv that starts the command again, a list of "
                'strings, e.g. ["python", "-m", "server"]'
            )
        cwd = params.get("cwd")
        if cwd is not None and (not isinstance(cwd, str) or not cwd):
            problems.append(f"params.cwd: a directory path (got {cwd!r})")
        sig = params.get("signal", "SIGTERM")
        if _signal_name(sig) is None:
            problems.append(f"params.signal: {sig!r} is not one of {', '.join(_SIGNALS)}")
        wait = params.get("wait_s", 10.0)
        if not isinstance(wait, int | float) or isinstance(wait, bool) or not 0 < wait <= 300:
            problems.append(f"params.wait_s: seconds, above 0 and up to 300 (got {wait!r})")
        return problems

    def plan(
        self, ctx: FaultContext, params: Mapping[str, Any], *, fault_id: str, duration_s: float
    ) -> UndoEntry:
        entry = super().plan(ctx, params, fault_id=fault_id, duration_s=duration_s)
        cwd = params.get("cwd")
        entry.update(
            signal=_signal_name(params.get("signal", "SIGTERM")),
            restart=list(params["restart"]),
            cwd=str(Path(cwd).absolute()) if cwd else None,
            wait_s=float(params.get("wait_s", 10.0)),
            log=str(Path(entry["state"]).with_suffix(".log")),
        )
        return entry

    def _preflight(self, entry: UndoEntry) -> None:
        program, cwd = entry["restart"][0], entry.get("cwd")
        if cwd is not None and not Path(cwd).is_dir():
            raise PerfopsError(f"{entry['kind']} {entry['id']}: cwd {cwd} is not a directory")
        found = (
            (Path(cwd or ".") / program).is_file()
            if os.sep in program
            else shutil.which(program) is not None
        )
        if not found:
            raise PerfopsError(
                f"{entry['kind']} {entry['id']}: restart[0] {program!r} is not found, so the "
                "process would not come back; nothing was killed",
                hint="give a path or a program on PATH",
            )

    def _signum(self, entry: UndoEntry) -> signal.Signals:
        return signal.Signals[entry["signal"]]

    def _settle(self, entry: UndoEntry, pid: int) -> None:
        deadline = time.monotonic() + float(entry["wait_s"])
        while _watchdog.alive(pid):
            if time.monotonic() > deadline:
                raise PerfopsError(
                    f"{entry['kind']} {entry['id']}: pid {pid} is still alive "
                    f"{entry['wait_s']:g} s after {entry['signal']}",
                    hint="use signal: SIGKILL, or a longer wait_s",
                )
            time.sleep(0.02)


def _signal_name(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            value = signal.Signals(value).name
        except ValueError:
            return None
    if not isinstance(value, str):
        return None
    name = value.upper() if value.upper().startswith("SIG") else f"SIG{value.upper()}"
    return name if name in _SIGNALS else None


def _prepare(state_dir: Path) -> None:
    """Create the state directory; refuse one another user could tamper with."""
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = state_dir.lstat()
    except OSError as exc:
        raise PerfopsError(f"cannot create the chaos state directory {state_dir}: {exc}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PerfopsError(
            f"the chaos state directory {state_dir} is not a directory owned by this user",
            hint="remove it, or set the state directory elsewhere",
        )


def _resolve(entry: UndoEntry) -> int:
    pid = entry.get("pid")
    if pid is None:
        pidfile = entry["pidfile"]
        try:
            text = Path(pidfile).read_text().strip()
        except OSError as exc:
            raise PerfopsError(
                f"{entry['kind']} {entry['id']}: cannot read pidfile {pidfile}: {exc.strerror}"
            ) from None
        if not text.isdigit():
            raise PerfopsError(
                f"{entry['kind']} {entry['id']}: pidfile {pidfile} holds {text[:40]!r}, not a pid"
            )
        pid = int(text)
    if pid < 2 or pid in (os.getpid(), os.getppid()):
        raise PerfopsError(f"{entry['kind']} {entry['id']}: refusing to signal pid {pid}")
    if not _watchdog.alive(pid):
        raise PerfopsError(f"{entry['kind']} {entry['id']}: no process {pid} is running")
    return int(pid)


def _send(entry: UndoEntry, pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        raise PerfopsError(f"{entry['kind']} {entry['id']}: process {pid} is gone") from None
    except PermissionError:
        raise PerfopsError(
            f"{entry['kind']} {entry['id']}: not allowed to send {sig.name} to pid {pid}",
            hint="run perfops as the user that owns the process",
        ) from None
