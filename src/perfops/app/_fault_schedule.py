"""The faults of a chaos run, as they happen: where each lands (:func:`fault_context`), the
schedule that injects each at its offset and reverts it at its end (:class:`FaultSchedule`),
what went wrong with them (:meth:`FaultSchedule.failures`), and the recovery of what an
earlier runner left (:func:`recover_faults`).

A fault that cannot be injected, whose revert fails (it may still be in), or whose target was
gone when it was reverted (a simulator or proxy that stopped listening: the fault ended with
it, not when planned, and nothing is left to recover) is a failure of the run: the schedule
reports it at once (``on_failure``) so that the run stops, and the verdict is ``failed``.
Tokens are named, never held: an entry carries the name of the variable holding its control
API's token (``token_env``), read each time the API is called; the undo journal and the lake
get the entry without its in-process keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from perfops._internal.ids import new_id
from perfops.app.runtime import Runtime
from perfops.chaos.faults import FaultContext, UndoEntry, fault_for, public_entry, revert_entry
from perfops.chaos.undo import UndoJournal, recover
from perfops.config.experiment import Experiment, FaultStep
from perfops.config.models import Service
from perfops.errors import PerfopsError
from perfops.store import EventRecord

__all__ = [
    "FaultRun",
    "FaultSchedule",
    "Recovery",
    "fault_context",
    "journal_for",
    "recover_faults",
    "token_env_for",
]

Say = Callable[[str], None]


@dataclass
class FaultRun:
    """One fault of the method: when it went in and came out, and what went wrong."""

    name: str
    kind: str
    target: str
    fault_id: str
    start_s: float
    duration_s: float
    injected_ns: int | None = None
    reverted_ns: int | None = None  # when the revert was done, or tried
    error: str | None = None  # the first of the two below
    inject_error: str | None = None
    revert_error: str | None = None  # set: the fault may still be in
    vanished: str | None = None  # its target was gone at the revert: it ended with it

    @property
    def label(self) -> str:
        return f"{self.name} ({self.kind} on {self.target})"


def journal_for(rt: Runtime) -> UndoJournal:
    """The workspace's undo journal, beside its lake."""
    path = Path(rt.config.workspace.lake).parent / "chaos" / "undo.jsonl"
    return UndoJournal(path, clock=rt.clock)


def token_env_for(svc: Service, kind: str, token_env: str | None) -> str | None:
    """The variable holding the token of the API a fault of ``kind`` on ``svc`` talks to:
    the step's own, else, for the simulator's faults, the service's API key (``perfops sim
    --token`` guards its API and its admin API alike)."""
    if token_env:
        return token_env
    return svc.api_key_env if kind.startswith("sim.") else None


def fault_context(
    rt: Runtime, service: str, *, kind: str, params: Mapping[str, Any], token_env: str | None
) -> FaultContext:
    """Where a fault of ``kind`` on ``service`` lands, from perfops.yaml."""
    svc = rt.config.service(service)
    parts = urlsplit(svc.endpoint)
    api = params.get("api")
    return FaultContext(
        service=svc.name,
        endpoint=svc.endpoint,
        admin_url=f"{parts.scheme}://{parts.netloc}/admin/faults",
        proxy_api=str(api) if api else None,
        token_env=token_env_for(svc, kind, token_env),
        state_dir=str(journal_for(rt).path.parent),
        clock=rt.clock,
    )


def step_context(rt: Runtime, step: FaultStep, target: str) -> FaultContext:
    return fault_context(rt, target, kind=step.kind, params=step.params, token_env=step.token_env)


@dataclass
class Recovery:
    """What a recovery did: the faults it reverted, and those it could not (with why)."""

    reverted: list[UndoEntry]
    left: list[tuple[UndoEntry, str]]


def recover_faults(rt: Runtime, say: Say, *, everything: bool = False) -> Recovery:
    """Revert whatever an earlier runner left injected (a kill -9, a power cut): the faults
    whose planning process is gone, or with ``everything`` also those of runs still going.
    Each outcome is said and recorded as an event; those left stay in the undo journal."""
    done = recover(journal_for(rt), orphans_only=not everything)
    out = Recovery([], [])
    for entry, error in done:
        what = f"{entry.get('kind')} {entry.get('id')} on {entry.get('service')}"
        if error is None:
            out.reverted.append(entry)
            say(f"recovered: reverted {what}")
        else:
            out.left.append((entry, error))
            say(f"not recovered: {what} may still be in: {error}")
        rt.store.journal.append_events(
            [
                EventRecord(
                    rt.clock.now_ns(),
                    "fault_reverted",
                    f"recovered {what}",
                    severity="info" if error is None else "warning",
                    run_id=entry.get("run_id"),
                    data={"entry": public_entry(entry), "error": error, "by": "recover"},
                )
            ]
        )
    return out


class FaultSchedule:
    """Injects the method's faults at their offsets and reverts them at their ends, on the
    Runtime's clock, journaling each before it lands. ``on_failure`` is called when a fault
    cannot be injected or reverted (the run then stops)."""

    def __init__(
        self,
        rt: Runtime,
        exp: Experiment,
        run_id: str,
        say: Say,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.rt, self.exp, self.run_id, self.say = rt, exp, run_id, say
        self.on_failure = on_failure or (lambda: None)
        self.journal = journal_for(rt)
        self.runs: list[FaultRun] = []
        self.entries: dict[str, UndoEntry] = {}

    def _event(self, kind: str, run: FaultRun, data: dict[str, Any]) -> None:
        self.rt.store.journal.append_events(
            [EventRecord(self.rt.clock.now_ns(), kind, f"{run.kind} on {run.target}: {run.name}",
                         service=run.target, severity="info" if not run.error else "warning",
                         run_id=self.run_id, data={"fault_id": run.fault_id, **data})]
        )  # fmt: skip

    async def schedule(self, window_start: float) -> None:
        """Inject each fault at its offset from ``window_start`` (the clock's monotonic
        seconds) and revert it at its end, each fault a task."""
        tasks = [asyncio.create_task(self._one(i, step, window_start))
                 for i, step in enumerate(self.exp.method)]  # fmt: skip
        await asyncio.gather(*tasks)

    async def _one(self, index: int, step: FaultStep, window_start: float) -> None:
        target, clock = step.target or self.exp.load.service, self.rt.clock
        run = FaultRun(step.name or f"{step.kind}#{index}", step.kind, target,
                       new_id(clock.now_ns(), "chaos-flt-"), step.start, step.duration)  # fmt: skip
        self.runs.append(run)
        await clock.sleep(window_start + step.start - clock.monotonic())
        plugin = fault_for(step.kind)
        try:
            entry = plugin.plan(step_context(self.rt, step, target), step.params,
                                fault_id=run.fault_id, duration_s=step.duration)  # fmt: skip
            entry = {**entry, "run_id": self.run_id}
            self.journal.planned(entry, run_id=self.run_id)  # before it lands
            self.entries[run.fault_id] = entry
            await asyncio.to_thread(plugin.inject, entry)
        except Exception as exc:  # a fault that did not land fails the run, whatever the cause
            run.inject_error = run.error = _why(exc)
            self.say(f"  fault {run.label} failed to inject: {run.inject_error}")
            await self.revert(run)  # in case it landed after all (an answer lost in a timeout)
            self.on_failure()
            return
        run.injected_ns = clock.now_ns()
        self._event("fault_injected", run, {"entry": public_entry(entry)})
        self.say(f"  +{step.start:g}s injected {run.kind} on {target} for {step.duration:g}s")
        await clock.sleep(window_start + step.start + step.duration - clock.monotonic())
        await self.revert(run)

    async def revert(self, run: FaultRun) -> None:
        entry = self.entries.get(run.fault_id)
        if entry is None or run.reverted_ns is not None:
            return
        error = None
        try:
            await asyncio.to_thread(revert_entry, entry)
        except Exception as exc:  # recorded; `perfops chaos recover` retries it
            error = _why(exc)
        self._reverted(run, error)

    def revert_all_sync(self) -> None:
        """Revert every fault still in, from any context (signal paths included)."""
        for run in self.runs:
            entry = self.entries.get(run.fault_id)
            if entry is not None and run.reverted_ns is None:
                error = None
                try:
                    revert_entry(entry)
                except Exception as exc:
                    error = _why(exc)
                self._reverted(run, error)

    def _reverted(self, run: FaultRun, error: str | None) -> None:
        self.journal.reverted(run.fault_id, ok=error is None, error=error)
        run.reverted_ns = self.rt.clock.now_ns()
        run.revert_error = error
        run.error = run.error or error
        gone = self.entries[run.fault_id].get("_gone")
        if error is None and gone and run.injected_ns is not None:
            run.vanished = str(gone)
        self._event("fault_reverted", run, {"error": error, "target_gone": run.vanished})
        if error is not None:
            self.say(f"  fault {run.label} could not be reverted: {error}")
            self.on_failure()
        elif run.vanished:
            self.say(f"  fault {run.label} ended with its target: {run.vanished}")
            self.on_failure()
        elif run.injected_ns is not None:
            self.say(f"  reverted {run.kind} on {run.target}")

    def failures(self, *, window_done: bool) -> list[str]:
        """Why the run failed, per fault: an injection or a revert that failed, and, when
        the window ran to its end (``window_done``), a fault that never went in."""
        out = []
        for run in self.runs:
            if run.inject_error:
                out.append(f"fault {run.label} failed to inject: {run.inject_error}")
            elif window_done and run.injected_ns is None:
                out.append(f"fault {run.label} was never injected: the load ended before its "
                           f"start at +{run.start_s:g}s")  # fmt: skip
            if run.vanished:
                out.append(f"fault {run.label} ended with its target before it was reverted: "
                           f"{run.vanished}")  # fmt: skip
            if run.revert_error:
                out.append(
                    f"fault {run.label} could not be reverted and may still be in: "
                    f"{run.revert_error} (`perfops chaos recover` retries it)"
                )
        return out


def _why(exc: Exception) -> str:
    return str(exc) if isinstance(exc, PerfopsError) else f"{type(exc).__name__}: {exc}"
