"""`perfops chaos run`: an SLO-guarded experiment against a service, with guaranteed rollback.

Phases: recover whatever a killed runner left injected; check that the run can happen (the
secrets it needs are set, the service and every fault's target answer: else exit 2 or 3,
nothing injected, nothing journaled); run the baseline load and check the steady-state
hypothesis (not met: aborted, nothing injected); run the load through the
experiment window while each fault is injected at its offset (undo entry journaled and
fsynced first) and reverted at its end, checking the stop conditions every half second; revert
everything, whatever happened; run the recovery load and check the hypothesis again.

Verdict: ``passed`` (held before, during and after, and every fault went in and came out),
``deviated`` (broken during or after), ``aborted`` (a stop condition fired, or no steady state
to start from), ``interrupted`` (SIGINT/SIGTERM), ``failed`` (a fault could not be injected
or reverted, never went in, or its target was gone before its end: the run stops at once,
and this verdict wins over the others, since the experiment did not test what it planned or
left a fault behind). The journal goes to ``runs`` (kind ``chaos``), each injection and
revert to ``events``, every request to ``requests``.

Offsets, waits and stamps are the Runtime's clock (:class:`FaultSchedule` runs on a manual
one in tests); the load's requests are stamped by the load generator's wall clock, so an
experiment with load runs on the system clock.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from perfops._internal.ids import new_id
from perfops.app._experiment import (
    Outcomes,
    gpu_cost_per_s,
    hypothesis,
    load_options,
    platform_info,
    rollback_actions,
)
from perfops.app._experiment_example import example_experiment
from perfops.app._experiment_spec import cross_checks, load_experiment, read_spec
from perfops.app._fault_schedule import (
    FaultRun,
    FaultSchedule,
    Recovery,
    journal_for,
    recover_faults,
)
from perfops.app._preflight import preflight
from perfops.app.load import LoadResult, run_load
from perfops.app.runbook import record_in_runbooks
from perfops.app.runtime import Runtime
from perfops.chaos.steady import (
    FaultImpact,
    HypothesisResult,
    fault_impact,
    stop_reason,
)
from perfops.config.experiment import BudgetStop, BurnStop, ErrorStop, Experiment
from perfops.store import EventRecord, RunRecord

__all__ = [
    "ExperimentResult",
    "FaultRun",
    "FaultSchedule",
    "Recovery",
    "check_experiment",
    "cross_checks",
    "example_experiment",
    "journal_for",
    "load_experiment",
    "read_spec",
    "recover_faults",
    "recover_leftovers",
    "run_experiment",
]

Say = Callable[[str], None]


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


# -- the run -------------------------------------------------------------------------------


async def run_experiment(
    rt: Runtime,
    exp: Experiment,
    *,
    say: Say,
    stop: asyncio.Event | None = None,
) -> ExperimentResult:
    """Run ``exp``; see the module docstring. ``stop`` set from outside interrupts it.
    Raises Unreachable (exit 3) or UsageError (exit 2) when the run cannot happen."""
    signalled = stop or asyncio.Event()
    recover_leftovers(rt, say)
    await asyncio.to_thread(check_experiment, rt, exp)
    started = rt.clock.now_ns()
    run_id = new_id(started, "chaos-")
    spec = {"experiment": exp.model_dump(mode="json"), "platform": platform_info()}
    rt.store.journal.write_run(RunRecord(run_id, "chaos", started, "running", spec=spec))
    result = ExperimentResult(run_id, exp.title, "failed", "")
    outcomes = Outcomes(rt, exp)
    stop = asyncio.Event()  # this run's own: a signal, a stop condition or a failed fault
    relay = asyncio.create_task(_relay(signalled, stop))
    faults = FaultSchedule(rt, exp, run_id, say, on_failure=stop.set)
    try:
        await _phases(rt, exp, result, outcomes, faults, stop, say)
    finally:
        relay.cancel()
        faults.revert_all_sync()  # whatever happened: success, failure, abort, signal
        rollback_actions(rt, exp, run_id, say)
        result.faults = faults.runs
        result.requests = len(outcomes.items)
        _verdict(result, faults, signalled)
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
    slos = [h.slo for h in exp.hypothesis.slos]
    record_in_runbooks(rt, slos, [step.kind for step in exp.method], say)
    return result


def recover_leftovers(rt: Runtime, say: Say) -> Recovery:
    """Before a run: revert what an earlier, killed runner left. What cannot be reverted is
    said (``perfops chaos recover`` fails on it) and does not stop this run: its own targets
    are checked next."""
    recovery = recover_faults(rt, say)
    if recovery.left:
        say(f"warning: {len(recovery.left)} fault(s) of earlier runs may still be in (above); "
            "`perfops chaos recover` retries them")  # fmt: skip
    return recovery


def check_experiment(rt: Runtime, exp: Experiment) -> None:
    """Raise unless ``exp`` can run now (see :mod:`perfops.app._preflight`)."""
    steps = [(s.name or f"method[{i}]", s) for i, s in enumerate(exp.method)]
    preflight(rt, exp.load.service, steps)


async def _relay(signalled: asyncio.Event, stop: asyncio.Event) -> None:
    """A signal stops the run; the run stopping itself does not stop its caller (the other
    experiments of a game day)."""
    await signalled.wait()
    stop.set()


def _verdict(result: ExperimentResult, faults: FaultSchedule, signalled: asyncio.Event) -> None:
    """A fault that failed wins over every other verdict; then a signal over all but an
    abort."""
    failures = faults.failures(window_done=result.status in ("passed", "deviated"))
    if failures:
        result.status, result.reason = "failed", "; ".join(failures)
    elif signalled.is_set() and result.status != "aborted":
        result.status, result.reason = "interrupted", "interrupted by a signal"


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
