"""`perfops chaos drill`: deploy a candidate under load, catch the SLO regression from its burn
rate, roll back by itself, and measure what it took.

The candidate goes out through a fault plugin (journaled before it lands, like any fault, so
`perfops chaos recover` undoes it after a crash). Every quarter second the burn rate of the
drill's SLO over the rolling window is computed from the requests as they finish; above the
threshold is a detection, and the rollback follows at once. Restored is the first moment the
burn rate over requests sent after the rollback is back at or below ``restored_below``. The
measured mitigation ("rolling back restored chat-ttft in 4 s") is recorded as an event for the
runbooks.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from perfops._internal.ids import new_id
from perfops.app._experiment import Outcomes, load_options
from perfops.app.chaos import Say, journal_for, read_spec, recover_faults
from perfops.app.load import run_load
from perfops.app.runtime import Runtime
from perfops.chaos.faults import FaultContext, fault_for, revert_entry
from perfops.chaos.steady import burn
from perfops.config.experiment import Drill, Experiment, Hypothesis, HypothesisSLO
from perfops.config.loader import parse_spec
from perfops.errors import ConfigError, PerfopsError
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_drill(rt: Runtime, path: Path) -> Drill:
    spec, locate = parse_spec(Drill, read_spec(path), str(path))
    problems = []
    if spec.slo not in {s.name for s in rt.config.slos}:
        problems.append(locate(("slo",), f"no SLO {spec.slo!r} in perfops.yaml", None))
    if spec.load.service not in {s.name for s in rt.config.services}:
        problems.append(locate(("load", "service"), f"no service {spec.load.service!r}", None))
    try:
        plugin = fault_for(spec.deploy.kind)
        problems += [
            locate(("deploy", "params"), m, None) for m in plugin.check(spec.deploy.params)
        ]
    except PerfopsError as exc:
        problems.append(locate(("deploy", "kind"), str(exc), exc.hint))
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


async def run_drill(
    rt: Runtime, drill: Drill, *, say: Say, stop: asyncio.Event | None = None
) -> DrillResult:
    stop = stop or asyncio.Event()
    recover_faults(rt, say)
    started_ns = time.time_ns()
    run_id = new_id(started_ns, "drill-")
    spec = {"drill": drill.model_dump(mode="json")}
    rt.store.journal.write_run(RunRecord(run_id, "drill", started_ns, "running", spec=spec))
    exp = _as_experiment(drill)
    outcomes = Outcomes(rt, exp)
    result = DrillResult(run_id, drill.title, "failed")
    journal = journal_for(rt)
    svc = rt.config.service(drill.deploy.target or drill.load.service)
    from urllib.parse import urlsplit

    parts = urlsplit(svc.endpoint)
    ctx = FaultContext(
        svc.name,
        svc.endpoint,
        f"{parts.scheme}://{parts.netloc}/admin/faults",
        state_dir=str(journal.path.parent),
    )
    plugin = fault_for(drill.deploy.kind)
    fault_id = new_id(time.time_ns(), "drill-deploy-")
    entry = {
        **plugin.plan(ctx, drill.deploy.params, fault_id=fault_id, duration_s=drill.load.duration),
        "run_id": run_id,
    }
    load_stop = asyncio.Event()
    opts = load_options(rt, exp, drill.load.duration, drill.load.seed)
    load = asyncio.create_task(
        run_load(rt, opts, stop=load_stop, on_record=outcomes.add, kind="load", parent=run_id)
    )
    t0 = time.monotonic()
    deployed = rolled_back = False
    deploy_ns = rollback_ns = 0

    def event(kind: str, title: str, data: dict[str, Any]) -> None:
        rt.store.journal.append_events(
            [EventRecord(time.time_ns(), kind, title, service=svc.name, run_id=run_id, data=data)]
        )

    async def rollback() -> None:
        nonlocal rolled_back
        if deployed and not rolled_back:
            rolled_back = True
            await asyncio.to_thread(revert_entry, entry)
            journal.reverted(fault_id, ok=True)

    try:
        objective = outcomes.objectives[drill.slo]
        window_ns = int(drill.window * 1e9)
        while not load.done() and not stop.is_set():
            await asyncio.sleep(0.25)
            now_s, now_ns = time.monotonic() - t0, time.time_ns()
            if not deployed and now_s >= drill.deploy_after:
                journal.planned(entry, run_id=run_id)
                await asyncio.to_thread(plugin.inject, entry)
                deployed, result.deployed_s = True, now_s
                deploy_ns = now_ns
                event("deploy", f"candidate out: {drill.deploy.kind}", {"entry": entry})
                say(f"  {now_s:5.1f}s deployed the candidate ({drill.deploy.kind})")
            recent = [o for o in outcomes.items if o.scheduled_ns >= now_ns - window_ns]
            rate = burn(recent, drill.slo, objective) if len(recent) >= 5 else None
            if deployed and result.detected_s is None and rate and rate > drill.burn_threshold:
                result.detected_s = now_s
                say(f"  {now_s:5.1f}s detected: {drill.slo} burning {rate:.1f}x")
                await rollback()
                result.rolled_back_s = time.monotonic() - t0
                rollback_ns = time.time_ns()
                event("rollback", f"rolled back: {drill.slo} burned {rate:.1f}x", {})
                say(f"  {result.rolled_back_s:5.1f}s rolled back")
            if result.rolled_back_s is not None and result.restored_s is None:
                after = [o for o in outcomes.items if o.scheduled_ns >= rollback_ns]
                done = [o for o in after if o.scheduled_ns <= now_ns - int(0.5e9)]
                rate_after = burn(done, drill.slo, objective) if len(done) >= 5 else None
                if rate_after is not None and rate_after <= drill.restored_below:
                    result.restored_s = now_s
                    say(f"  {now_s:5.1f}s restored: {drill.slo} burning {rate_after:.2f}x")
                    load_stop.set()
        if stop.is_set():
            load_stop.set()
        await load
    finally:
        load_stop.set()
        if not load.done():
            load.cancel()
        await rollback()
        result.requests = len(outcomes.items)
        if stop.is_set():
            result.status, result.reason = "interrupted", "interrupted by a signal"
        elif not deployed:
            result.status, result.reason = "failed", "the load ended before the deploy"
        elif result.detected_s is None:
            result.status = "not_detected"
            result.reason = f"{drill.slo} never burned over {drill.burn_threshold:g}x"
        elif result.restored_s is None:
            result.status, result.reason = "not_restored", "the SLO did not recover in time"
        else:
            result.status = "restored"
            result.reason = "detected, rolled back and restored"
        if result.detected_s is not None and result.deployed_s is not None:
            result.time_to_detect_s = result.detected_s - result.deployed_s
        if result.restored_s is not None and result.rolled_back_s is not None:
            result.time_to_restore_s = result.restored_s - result.rolled_back_s
        if deployed:
            slo = next(s for s in rt.config.slos if s.name == drill.slo)
            bad = [o for o in outcomes.items if o.scheduled_ns >= deploy_ns
                   and not o.slo_good.get(drill.slo, not o.error)]  # fmt: skip
            allowed = (1 - slo.objective / 100) * drill.load.rate * period_s(slo)
            result.bad_events = len(bad)
            result.budget_spent_pct = 100 * len(bad) / allowed if allowed > 0 else None
        if result.status == "restored":
            event(
                "mitigation",
                f"rolling back restored {drill.slo} in {result.time_to_restore_s:.0f} s",
                {"action": "rollback", "slo": drill.slo, "service": svc.name,
                 "time_to_detect_s": result.time_to_detect_s,
                 "time_to_restore_s": result.time_to_restore_s,
                 "budget_spent_pct": result.budget_spent_pct, "drill": drill.title},
            )  # fmt: skip
        rt.store.journal.write_run(
            RunRecord(run_id, "drill", started_ns, result.status, time.time_ns(), spec,
                      result.as_dict())
        )  # fmt: skip
    return result
