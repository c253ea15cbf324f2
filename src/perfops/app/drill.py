"""`perfops chaos drill`: deploy a candidate under load, catch the SLO regression from its burn
rate, roll back by itself, and measure what it took.

The candidate goes out through a fault plugin (journaled before it lands, like any fault, so
`perfops chaos recover` undoes it after a crash). Every quarter second the burn rate of the
drill's SLO over the rolling window is computed from the requests as they finish; above the
threshold is a detection, and the rollback follows at once. Restored is the first moment the
burn rate over requests sent after the rollback is back at or below ``restored_below``. The
measured mitigation ("rolling back restored chat-ttft in 4 s") is recorded as an event for the
runbooks.

The steps: check that the drill can happen (the secrets it needs are set, the service and the
deploy's target answer: else exit 2 or 3, nothing deployed), prepare (journal the run, plan the
candidate), start the load, watch (deploy when due, detect, roll back, see it restored), then
conclude (verdict and measures) and record. A deploy that cannot go out, or a rollback that
fails (the candidate may still be out), ends the drill at once as ``failed``, whatever else
was seen.
Times are the Runtime's clock; the load's requests carry the load generator's wall clock.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from perfops._internal.ids import new_id
from perfops.app._experiment import Outcomes, load_options
from perfops.app._experiment_spec import fault_checks
from perfops.app._fault_schedule import fault_context
from perfops.app._preflight import preflight
from perfops.app.chaos import Say, journal_for, read_spec, recover_leftovers
from perfops.app.load import run_load
from perfops.app.runbook import record_in_runbooks
from perfops.app.runtime import Runtime
from perfops.chaos.faults import Fault, UndoEntry, fault_for, public_entry, revert_entry
from perfops.chaos.steady import bad_events, burn
from perfops.chaos.undo import UndoJournal
from perfops.config.experiment import Drill, Experiment, Hypothesis, HypothesisSLO
from perfops.config.loader import parse_spec
from perfops.errors import ConfigError, PerfopsError
from perfops.slo.engine import budget_spent
from perfops.slo.rules import period_s
from perfops.store import EventRecord, RunRecord

__all__ = ["DrillResult", "load_drill", "run_drill"]


@dataclass
class DrillResult:
    run_id: str
    title: str
    status: str  # restored | not_detected | not_restored | interrupted | failed
    deployed_s: float | None = None  # seconds from the start of the load
    detected_s: float | None = None
    rolled_back_s: float | None = None
    restored_s: float | None = None
    time_to_detect_s: float | None = None
    time_to_restore_s: float | None = None  # from the rollback
    budget_spent_pct: float | None = None
    bad_events: int = 0
    requests: int = 0
    reason: str = ""
    error: str | None = None  # the deploy did not go out, or its rollback failed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_drill(rt: Runtime, path: Path) -> Drill:
    spec, locate = parse_spec(Drill, read_spec(path), str(path))
    problems = []
    if spec.slo not in {s.name for s in rt.config.slos}:
        problems.append(locate(("slo",), f"no SLO {spec.slo!r} in perfops.yaml", None))
    if spec.load.service not in {s.name for s in rt.config.services}:
        problems.append(locate(("load", "service"), f"no service {spec.load.service!r}", None))
    problems += [locate(("deploy", *p), m, h or None) for p, m, h in fault_checks(rt, spec.deploy)]
    if problems:
        raise ConfigError(problems, source=str(path))
    return spec


def _as_experiment(drill: Drill) -> Experiment:
    """The drill's load and SLO in the shape the experiment runner's helpers take."""
    return Experiment(
        title=drill.title,
        hypothesis=Hypothesis(slos=(HypothesisSLO(slo=drill.slo),)),
        load=drill.load,
    )


_TICK_S = 0.25  # how often the drill looks at the burn rate
_SETTLE_NS = 500_000_000  # requests younger than this may not have finished yet


@dataclass
class _Run:
    """One drill as it runs: what it planned, when things happened, what it found."""

    rt: Runtime
    drill: Drill
    spec: dict[str, Any]
    started_ns: int
    service: str
    journal: UndoJournal
    plugin: Fault
    entry: UndoEntry
    outcomes: Outcomes
    result: DrillResult
    t0: float = 0.0  # the clock's monotonic seconds when the load started
    deployed: bool = False
    rolled_back: bool = False
    deploy_ns: int = 0
    rollback_ns: int = 0

    def event(self, kind: str, title: str, data: dict[str, Any]) -> None:
        record = EventRecord(self.rt.clock.now_ns(), kind, title, service=self.service,
                             run_id=self.result.run_id, data=data)  # fmt: skip
        self.rt.store.journal.append_events([record])


async def run_drill(
    rt: Runtime, drill: Drill, *, say: Say, stop: asyncio.Event | None = None
) -> DrillResult:
    stop = stop or asyncio.Event()
    recover_leftovers(rt, say)
    await asyncio.to_thread(preflight, rt, drill.load.service, [("deploy", drill.deploy)])
    run = _prepare(rt, drill)
    load_stop = asyncio.Event()
    load = _start_load(run, load_stop)
    try:
        await _watch(run, load, stop, load_stop, say)
        await load
    finally:
        load_stop.set()
        if not load.done():
            load.cancel()
        await _roll_back(run, say)
        _conclude(run, stopped=stop.is_set())
        _record(run)
    record_in_runbooks(rt, [drill.slo], [drill.deploy.kind], say)
    return run.result


def _prepare(rt: Runtime, drill: Drill) -> _Run:
    """Journal the run as running and plan the candidate's deploy (not journaled yet)."""
    started_ns = rt.clock.now_ns()
    run_id = new_id(started_ns, "drill-")
    spec = {"drill": drill.model_dump(mode="json")}
    rt.store.journal.write_run(RunRecord(run_id, "drill", started_ns, "running", spec=spec))
    journal = journal_for(rt)
    deploy = drill.deploy
    svc = rt.config.service(deploy.target or drill.load.service)
    ctx = fault_context(rt, svc.name, kind=deploy.kind, params=deploy.params,
                        token_env=deploy.token_env)  # fmt: skip
    plugin = fault_for(drill.deploy.kind)
    fault_id = new_id(rt.clock.now_ns(), "drill-deploy-")
    entry = plugin.plan(ctx, drill.deploy.params, fault_id=fault_id, duration_s=drill.load.duration)
    return _Run(rt, drill, spec, started_ns, svc.name, journal, plugin,
                {**entry, "run_id": run_id}, Outcomes(rt, _as_experiment(drill)),
                DrillResult(run_id, drill.title, "failed"))  # fmt: skip


def _start_load(run: _Run, load_stop: asyncio.Event) -> asyncio.Task[Any]:
    rt, drill = run.rt, run.drill
    opts = load_options(rt, _as_experiment(drill), drill.load.duration, drill.load.seed)
    load = asyncio.create_task(run_load(rt, opts, stop=load_stop, on_record=run.outcomes.add,
                                        kind="load", parent=run.result.run_id))  # fmt: skip
    run.t0 = rt.clock.monotonic()
    return load


async def _watch(
    run: _Run, load: asyncio.Task[Any], stop: asyncio.Event, load_stop: asyncio.Event, say: Say
) -> None:
    """Every tick until the load ends: deploy when due, detect and roll back, see it
    restored (which ends the load)."""
    clock = run.rt.clock
    while not load.done() and not stop.is_set() and run.result.error is None:
        await clock.sleep(_TICK_S)
        now_s, now_ns = clock.monotonic() - run.t0, clock.now_ns()
        if not run.deployed and now_s >= run.drill.deploy_after:
            await _deploy(run, now_s, now_ns, say)
        if run.deployed and run.result.detected_s is None:
            await _detect(run, now_s, now_ns, say)
        waiting = run.result.rolled_back_s is not None and run.result.restored_s is None
        if waiting and _restored(run, now_s, now_ns, say):
            load_stop.set()
    if stop.is_set() or run.result.error is not None:
        load_stop.set()


async def _deploy(run: _Run, now_s: float, now_ns: int, say: Say) -> None:
    """The candidate goes out, journaled first; if it cannot, the drill has failed (and the
    deploy is reverted, in case it landed after all)."""
    run.journal.planned(run.entry, run_id=run.result.run_id)
    kind = run.drill.deploy.kind
    try:
        await asyncio.to_thread(run.plugin.inject, run.entry)
    except Exception as exc:
        run.result.error = f"the candidate did not go out: {_why(exc)}"
        say(f"  {now_s:5.1f}s {run.result.error}")
        run.rolled_back = True
        await _revert(run, say)  # in case it landed after all (an answer lost in a timeout)
        return
    run.deployed, run.result.deployed_s, run.deploy_ns = True, now_s, now_ns
    run.event("deploy", f"candidate out: {kind}", {"entry": public_entry(run.entry)})
    say(f"  {now_s:5.1f}s deployed the candidate ({kind})")


async def _detect(run: _Run, now_s: float, now_ns: int, say: Say) -> None:
    """The SLO burning over the threshold on the rolling window: roll back at once."""
    drill, outcomes = run.drill, run.outcomes
    since = now_ns - int(drill.window * 1e9)
    recent = [o for o in outcomes.items if o.scheduled_ns >= since]
    rate = burn(recent, drill.slo, outcomes.objectives[drill.slo]) if len(recent) >= 5 else None
    if not rate or rate <= drill.burn_threshold:
        return
    run.result.detected_s = now_s
    say(f"  {now_s:5.1f}s detected: {drill.slo} burning {rate:.1f}x")
    await _roll_back(run, say)
    if run.result.error is not None:
        return
    run.result.rolled_back_s = run.rt.clock.monotonic() - run.t0
    run.rollback_ns = run.rt.clock.now_ns()
    run.event("rollback", f"rolled back: {drill.slo} burned {rate:.1f}x", {})
    say(f"  {run.result.rolled_back_s:5.1f}s rolled back")


async def _roll_back(run: _Run, say: Say) -> None:
    """Revert the candidate, once, if it went out; a revert that fails is the drill's
    failure (the candidate may still be out: `perfops chaos recover` retries it)."""
    if run.deployed and not run.rolled_back:
        run.rolled_back = True
        await _revert(run, say)


async def _revert(run: _Run, say: Say) -> None:
    error = None
    try:
        await asyncio.to_thread(revert_entry, run.entry)
    except Exception as exc:
        error = _why(exc)
    run.journal.reverted(run.entry["id"], ok=error is None, error=error)
    gone = run.entry.get("_gone")
    why = None
    if error is not None:
        why = f"the rollback failed, the candidate may still be out: {error}"
        say(f"  {why} (`perfops chaos recover` retries it)")
    elif gone and run.deployed:
        why = f"the candidate's target was gone before the rollback: {gone}"
        say(f"  {why}")
    if why:
        run.result.error = "; ".join(e for e in (run.result.error, why) if e)


def _why(exc: Exception) -> str:
    return str(exc) if isinstance(exc, PerfopsError) else f"{type(exc).__name__}: {exc}"


def _restored(run: _Run, now_s: float, now_ns: int, say: Say) -> bool:
    """Whether the burn rate over requests sent since the rollback, old enough to have
    finished, is back at or below ``restored_below``."""
    drill, outcomes = run.drill, run.outcomes
    after = [o for o in outcomes.items if o.scheduled_ns >= run.rollback_ns]
    done = [o for o in after if o.scheduled_ns <= now_ns - _SETTLE_NS]
    rate = burn(done, drill.slo, outcomes.objectives[drill.slo]) if len(done) >= 5 else None
    if rate is None or rate > drill.restored_below:
        return False
    run.result.restored_s = now_s
    say(f"  {now_s:5.1f}s restored: {drill.slo} burning {rate:.2f}x")
    return True


def _conclude(run: _Run, *, stopped: bool) -> None:
    """The verdict, and the times and budget it took."""
    result, drill = run.result, run.drill
    result.requests = len(run.outcomes.items)
    if result.error is not None:
        result.status, result.reason = "failed", result.error
    elif stopped:
        result.status, result.reason = "interrupted", "interrupted by a signal"
    elif not run.deployed:
        result.status, result.reason = "failed", "the load ended before the deploy"
    elif result.detected_s is None:
        result.status = "not_detected"
        result.reason = f"{drill.slo} never burned over {drill.burn_threshold:g}x"
    elif result.restored_s is None:
        result.status, result.reason = "not_restored", "the SLO did not recover in time"
    else:
        result.status, result.reason = "restored", "detected, rolled back and restored"
    if result.detected_s is not None and result.deployed_s is not None:
        result.time_to_detect_s = result.detected_s - result.deployed_s
    if result.restored_s is not None and result.rolled_back_s is not None:
        result.time_to_restore_s = result.restored_s - result.rolled_back_s
    if run.deployed:
        _budget(run)


def _budget(run: _Run) -> None:
    """Bad requests since the deploy, as a share of the SLO period's error budget at the
    drill's rate."""
    drill, result = run.drill, run.result
    slo = next(s for s in run.rt.config.slos if s.name == drill.slo)
    since = [o for o in run.outcomes.items if o.scheduled_ns >= run.deploy_ns]
    result.bad_events = bad_events(since, drill.slo)
    spent = budget_spent(result.bad_events, drill.load.rate * period_s(slo), slo.objective)
    result.budget_spent_pct = 100 * spent if math.isfinite(spent) else None


def _record(run: _Run) -> None:
    """The measured mitigation (when restored) for the runbooks, and the run's journal row."""
    result, drill = run.result, run.drill
    if result.status == "restored":
        run.event(
            "mitigation",
            f"rolling back restored {drill.slo} in {result.time_to_restore_s:.0f} s",
            {"action": "rollback", "slo": drill.slo, "service": run.service,
             "time_to_detect_s": result.time_to_detect_s,
             "time_to_restore_s": result.time_to_restore_s,
             "budget_spent_pct": result.budget_spent_pct, "drill": drill.title},
        )  # fmt: skip
    run.rt.store.journal.write_run(
        RunRecord(result.run_id, "drill", run.started_ns, result.status, run.rt.clock.now_ns(),
                  run.spec, result.as_dict())
    )  # fmt: skip
