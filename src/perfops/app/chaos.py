"""`perfops chaos run`: an SLO-guarded experiment against a service, with guaranteed rollback.

Phases: recover whatever a killed runner left injected; run the baseline load and check the
steady-state hypothesis (not met: aborted, nothing injected); run the load through the
experiment window while each fault is injected at its offset (undo entry journaled and
fsynced first) and reverted at its end, checking the stop conditions every half second; revert
everything, whatever happened; run the recovery load and check the hypothesis again.

Verdict: ``passed`` (held before, during and after), ``deviated`` (broken during or after),
``aborted`` (a stop condition fired, or no steady state to start from), ``interrupted``
(SIGINT/SIGTERM). The journal goes to ``runs`` (kind ``chaos``), each injection and revert
to ``events``, every request to ``requests``.

Offsets, waits and stamps are the Runtime's clock (:class:`FaultSchedule` runs on a manual
one in tests); the load's requests are stamped by the load generator's wall clock, so an
experiment with load runs on the system clock.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from perfops._internal.ids import new_id
from perfops.app._experiment import (
    Outcomes,
    gpu_cost_per_s,
    hypothesis,
    load_options,
    platform_info,
    rollback_actions,
)
from perfops.app.load import LoadResult, run_load
from perfops.app.runtime import Runtime
from perfops.chaos.faults import FaultContext, UndoEntry, fault_for, revert_entry
from perfops.chaos.steady import (
    FaultImpact,
    HypothesisResult,
    fault_impact,
    stop_reason,
)
from perfops.chaos.undo import UndoJournal, recover
from perfops.config.experiment import (
    BudgetStop,
    BurnStop,
    ErrorStop,
    Experiment,
    FaultStep,
)
from perfops.config.loader import parse_spec
from perfops.config.models import AvailabilitySLI, GoodputSLI, LatencySLI
from perfops.errors import ConfigError, PerfopsError, Problem
from perfops.loadgen.slo import parse_slo
from perfops.store import EventRecord, RunRecord

__all__ = [
    "ExperimentResult",
    "FaultRun",
    "FaultSchedule",
    "cross_checks",
    "journal_for",
    "load_experiment",
    "read_spec",
    "recover_faults",
    "run_experiment",
]

Say = Callable[[str], None]


@dataclass
class FaultRun:
    name: str
    kind: str
    target: str
    fault_id: str
    start_s: float
    duration_s: float
    injected_ns: int | None = None
    reverted_ns: int | None = None
    error: str | None = None


@dataclass
class ExperimentResult:
    run_id: str
    title: str
    status: str
    reason: str
    before: HypothesisResult | None = None
    during: HypothesisResult | None = None
    after: HypothesisResult | None = None
    faults: list[FaultRun] = field(default_factory=list)
    impact: list[FaultImpact] = field(default_factory=list)
    requests: int = 0

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))  # type: ignore[no-any-return]


def journal_for(rt: Runtime) -> UndoJournal:
    """The workspace's undo journal, beside its lake."""
    path = Path(rt.config.workspace.lake).parent / "chaos" / "undo.jsonl"
    return UndoJournal(path, clock=rt.clock)


def recover_faults(rt: Runtime, say: Say, *, everything: bool = False) -> int:
    """Revert whatever an earlier runner left injected (a kill -9, a power cut): the faults
    whose planning process is gone, or with ``everything`` also those of runs still going."""
    done = recover(journal_for(rt), orphans_only=not everything)
    for entry, error in done:
        what = f"{entry.get('kind')} {entry.get('id')}"
        say(f"recovered: reverted {what}" if error is None else f"recover {what} failed: {error}")
        rt.store.journal.append_events(
            [
                EventRecord(
                    rt.clock.now_ns(),
                    "fault_reverted",
                    f"recovered {what}",
                    severity="info" if error is None else "warning",
                    run_id=entry.get("run_id"),
                    data={"entry": entry, "error": error, "by": "recover"},
                )
            ]
        )
    return len(done)


# -- the spec and its cross-references -----------------------------------------------------


def read_spec(path: Path) -> str:
    """A spec file's text; an unreadable one is a located error, not a traceback."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError([Problem(str(path), "", f"cannot read: {reason}")]) from None


def load_experiment(rt: Runtime, path: Path) -> Experiment:
    """Parse and check an experiment file; every problem located, all at once."""
    spec, locate = parse_spec(Experiment, read_spec(path), str(path))
    problems = [locate(p, m, h) for p, m, h in cross_checks(rt, spec)]
    if problems:
        raise ConfigError(problems, source=str(path))
    return spec


def cross_checks(rt: Runtime, exp: Experiment) -> list[tuple[tuple[str | int, ...], str, str]]:
    services = {s.name for s in rt.config.services}
    slos = {s.name: s for s in rt.config.slos}
    out: list[tuple[tuple[str | int, ...], str, str]] = []
    if exp.load.service not in services:
        out.append((("load", "service"), f"no service {exp.load.service!r} in perfops.yaml",
                    f"services: {', '.join(sorted(services)) or 'none'}"))  # fmt: skip
    if exp.load.slo:
        try:
            parse_slo(exp.load.slo)
        except PerfopsError as exc:
            out.append((("load", "slo"), str(exc), "e.g. ttft_p99=500ms,tpot_p99=50ms"))
    names: list[tuple[tuple[str | int, ...], str]] = [
        (("hypothesis", "slos", i, "slo"), h.slo) for i, h in enumerate(exp.hypothesis.slos)
    ]
    names += [
        (("stop", i, "slo"), s.slo) for i, s in enumerate(exp.stop) if not isinstance(s, ErrorStop)
    ]
    known = ", ".join(slos) or "none"
    for path, name in names:
        if name not in slos:
            out.append((path, f"no SLO {name!r} in perfops.yaml", f"SLOs: {known}"))
        elif not isinstance(slos[name].sli, LatencySLI | GoodputSLI | AvailabilitySLI):
            out.append((path, f"SLO {name!r} ({slos[name].sli.kind}) is not judged per request",
                        "use a latency, goodput or availability SLO"))  # fmt: skip
    for i, step in enumerate(exp.method):
        try:
            plugin = fault_for(step.kind)
        except PerfopsError as exc:
            out.append((("method", i, "kind"), str(exc), exc.hint or ""))
            continue
        out += [(("method", i, "params"), problem, "") for problem in plugin.check(step.params)]
        if step.target is not None and step.target not in services:
            out.append((("method", i, "target"), f"no service {step.target!r}", ""))
        if step.start + step.duration > exp.load.duration:
            out.append((("method", i, "duration"),
                        f"the fault ends at {step.start + step.duration:g}s, after the "
                        f"{exp.load.duration:g}s experiment window",
                        "shorten it or lengthen load.duration"))  # fmt: skip
    return out


# -- the run -------------------------------------------------------------------------------


def _context(rt: Runtime, service: str, step: FaultStep | None = None) -> FaultContext:
    svc = rt.config.service(service)
    parts = urlsplit(svc.endpoint)
    api = step.params.get("api") if step is not None else None
    return FaultContext(
        service=svc.name,
        endpoint=svc.endpoint,
        admin_url=f"{parts.scheme}://{parts.netloc}/admin/faults",
        proxy_api=str(api) if api else None,
        state_dir=str(journal_for(rt).path.parent),
        clock=rt.clock,
    )


class FaultSchedule:
    """Injects the method's faults at their offsets and reverts them at their ends, on the
    Runtime's clock, journaling each before it lands."""

    def __init__(self, rt: Runtime, exp: Experiment, run_id: str, say: Say) -> None:
        self.rt, self.exp, self.run_id, self.say = rt, exp, run_id, say
        self.journal = journal_for(rt)
        self.runs: list[FaultRun] = []
        self.entries: dict[str, UndoEntry] = {}

    def _event(self, kind: str, run: FaultRun, data: dict[str, Any]) -> None:
        self.rt.store.journal.append_events(
            [EventRecord(self.rt.clock.now_ns(), kind, f"{run.kind} on {run.target}: {run.name}",
                         service=run.target, severity="info", run_id=self.run_id,
                         data={"fault_id": run.fault_id, **data})]
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
        entry = plugin.plan(_context(self.rt, target, step), step.params,
                            fault_id=run.fault_id, duration_s=step.duration)  # fmt: skip
        entry = {**entry, "run_id": self.run_id}
        self.journal.planned(entry, run_id=self.run_id)  # before it lands
        self.entries[run.fault_id] = entry
        try:
            await asyncio.to_thread(plugin.inject, entry)
        except PerfopsError as exc:
            run.error = str(exc)
            self.say(f"  fault {run.name} failed to inject: {exc}")
            await self.revert(run)
            return
        run.injected_ns = clock.now_ns()
        self._event("fault_injected", run, {"entry": entry})
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
            error = f"{type(exc).__name__}: {exc}"
        self.journal.reverted(run.fault_id, ok=error is None, error=error)
        run.reverted_ns = self.rt.clock.now_ns()
        run.error = run.error or error
        self._event("fault_reverted", run, {"error": error})
        if run.injected_ns is not None:
            self.say(f"  reverted {run.kind} on {run.target}" + (f" ({error})" if error else ""))

    def revert_all_sync(self) -> None:
        """Revert every fault still in, from any context (signal paths included)."""
        for run in self.runs:
            entry = self.entries.get(run.fault_id)
            if entry is not None and run.reverted_ns is None:
                error = None
                try:
                    revert_entry(entry)
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
                self.journal.reverted(run.fault_id, ok=error is None, error=error)
                run.reverted_ns = self.rt.clock.now_ns()
                self._event("fault_reverted", run, {"error": error})


async def run_experiment(
    rt: Runtime,
    exp: Experiment,
    *,
    say: Say,
    stop: asyncio.Event | None = None,
) -> ExperimentResult:
    """Run ``exp``; see the module docstring. ``stop`` set from outside interrupts it."""
    stop = stop or asyncio.Event()
    recover_faults(rt, say)
    started = rt.clock.now_ns()
    run_id = new_id(started, "chaos-")
    spec = {"experiment": exp.model_dump(mode="json"), "platform": platform_info()}
    rt.store.journal.write_run(RunRecord(run_id, "chaos", started, "running", spec=spec))
    result = ExperimentResult(run_id, exp.title, "failed", "")
    outcomes = Outcomes(rt, exp)
    faults = FaultSchedule(rt, exp, run_id, say)
    try:
        await _phases(rt, exp, result, outcomes, faults, stop, say)
    finally:
        faults.revert_all_sync()  # whatever happened: success, failure, abort, signal
        rollback_actions(rt, exp, run_id, say)
        result.faults = faults.runs
        result.requests = len(outcomes.items)
        if stop.is_set() and result.status not in ("aborted",):
            result.status, result.reason = "interrupted", "interrupted by a signal"
        result.impact = _impact(rt, exp, outcomes, faults.runs, result)
        rt.store.journal.write_run(
            RunRecord(run_id, "chaos", started, result.status, rt.clock.now_ns(), spec,
                      result.as_dict())
        )  # fmt: skip
        rt.store.journal.append_events(
            [EventRecord(rt.clock.now_ns(), "chaos_verdict", f"{exp.title}: {result.status}",
                         service=exp.load.service,
                         severity="info" if result.status == "passed" else "warning",
                         run_id=run_id, data={"reason": result.reason})]
        )  # fmt: skip
    return result


async def _phases(
    rt: Runtime,
    exp: Experiment,
    result: ExperimentResult,
    outcomes: Outcomes,
    faults: FaultSchedule,
    stop: asyncio.Event,
    say: Say,
) -> None:
    hyp, clock = exp.hypothesis, rt.clock
    say(f"steady state before: {hyp.baseline:g}s of load at {exp.load.rate:g} req/s")
    t0 = clock.now_ns()
    await _load(rt, exp, hyp.baseline, exp.load.seed, outcomes, stop, result.run_id)
    result.before = await hypothesis(rt, exp, outcomes, outcomes.between(t0, clock.now_ns()))
    if stop.is_set():
        return
    if not result.before.met:
        result.status = "aborted"
        result.reason = "no steady state to start from: " + "; ".join(result.before.broken())
        return
    say(f"experiment window: {exp.load.duration:g}s with {len(exp.method)} fault(s)")
    window_start_ns, window_start = clock.now_ns(), clock.monotonic()
    aborted: list[str] = []
    load = asyncio.create_task(
        _load(rt, exp, exp.load.duration, exp.load.seed + 1, outcomes, stop, result.run_id)
    )
    scheduler = asyncio.create_task(faults.schedule(window_start))
    guard = asyncio.create_task(_guard(rt, exp, outcomes, stop, aborted, window_start_ns))
    try:
        await load
    finally:
        scheduler.cancel()
        guard.cancel()
        await asyncio.gather(scheduler, guard, return_exceptions=True)
        for run in faults.runs:
            await faults.revert(run)
    window_end_ns = clock.now_ns()
    result.during = await hypothesis(
        rt, exp, outcomes, outcomes.between(window_start_ns, window_end_ns)
    )
    if aborted:
        result.status, result.reason = "aborted", f"stop condition: {aborted[0]}"
        return
    if stop.is_set():
        return
    say(f"steady state after: {hyp.recovery:g}s of load, every fault reverted")
    t1 = clock.now_ns()
    await _load(rt, exp, hyp.recovery, exp.load.seed + 2, outcomes, stop, result.run_id)
    result.after = await hypothesis(rt, exp, outcomes, outcomes.between(t1, clock.now_ns()))
    broken = [f"during: {b}" for b in result.during.broken()]
    broken += [f"after: {b}" for b in result.after.broken()]
    result.status = "passed" if not broken else "deviated"
    result.reason = "the hypothesis held throughout" if not broken else "; ".join(broken)


async def _load(
    rt: Runtime,
    exp: Experiment,
    seconds: float,
    seed: int,
    outcomes: Outcomes,
    stop: asyncio.Event,
    run_id: str,
) -> LoadResult | None:
    if seconds <= 0 or stop.is_set():
        return None
    opts = load_options(rt, exp, seconds, seed)
    return await run_load(rt, opts, stop=stop, on_record=outcomes.add, kind="load", parent=run_id)


async def _guard(
    rt: Runtime,
    exp: Experiment,
    outcomes: Outcomes,
    stop: asyncio.Event,
    aborted: list[str],
    since_ns: int,
) -> None:
    """Every half second of the clock: a stop condition broken over its window stops the
    run."""
    from perfops.app.slo import slo_status

    rolling = [s for s in exp.stop if isinstance(s, BurnStop | ErrorStop)]
    budgets = [s for s in exp.stop if isinstance(s, BudgetStop)]
    while not stop.is_set():
        await rt.clock.sleep(0.5)
        now = rt.clock.now_ns()
        items = outcomes.between(since_ns, now)
        reason = stop_reason(items, rolling, outcomes.objectives, now)
        for b in budgets:
            status = slo_status(rt, next(s for s in rt.config.slos if s.name == b.slo))
            left = status.budget.remaining_pct if status.budget and status.total else None
            if reason is None and left is not None and left < b.below_pct:
                reason = f"{b.slo} budget remaining {left:.1f}% < {b.below_pct:g}%"
        if reason:
            aborted.append(reason)
            stop.set()
            return


def _impact(
    rt: Runtime,
    exp: Experiment,
    outcomes: Outcomes,
    runs: Sequence[FaultRun],
    result: ExperimentResult,
) -> list[FaultImpact]:
    windows = [
        (r.name, r.injected_ns, r.reverted_ns)
        for r in runs
        if r.injected_ns is not None and r.reverted_ns is not None
    ]
    if not windows or not outcomes.items:
        return []
    first_fault = min(w[1] for w in windows)
    base = [o for o in outcomes.items if o.scheduled_ns < first_fault]
    span = (
        (max(o.scheduled_ns for o in base) - min(o.scheduled_ns for o in base)) / 1e9
        if len(base) > 1
        else 0.0
    )
    baseline = sum(1 for o in base if o.good) / span if span > 0 else 0.0
    return fault_impact(
        outcomes.items,
        windows,
        outcomes.objectives,
        baseline_goodput_rps=baseline,
        period_s={k: max(v, 1.0) for k, v in outcomes.period_s.items()},
        traffic_rps=exp.load.rate,
        cost_per_s=gpu_cost_per_s(rt, exp.load.service),
    )
