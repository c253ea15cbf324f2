"""The evidence behind a runbook's mitigations, read from the lake: drills (``runs`` rows of
kind ``drill``; each one rolled back), chaos experiments (``runs`` of kind ``chaos``; each
fault reverted, with what its window cost), and any other ``mitigation`` event.

Every number is the one the run recorded (its summary, written by app/drill.py and
app/chaos.py): nothing is recomputed here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from perfops._internal.runbook_names import GPU_HEALTH_ALERTS
from perfops.app.runtime import Runtime
from perfops.respond import runbook as rbk
from perfops.store import EventRecord, RunRecord

__all__ = ["evidence_for", "gpu_alert_of_fault", "touched_runbooks"]


def gpu_alert_of_fault(kind: str) -> str | None:
    """The GPU health alert a fault of ``kind`` raises, by a word in the kind (``sim.xid`` ->
    GpuXidErrors, ``sim.throttle`` -> GpuClocksThrottled)."""
    words = set(re.split(r"[._-]", kind.lower()))
    return next((a for w, a in GPU_HEALTH_ALERTS.items() if w in words), None)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _drill(run: RunRecord) -> rbk.Evidence | None:
    """A drill that went as far as its rollback."""
    s = run.summary
    if s.get("rolled_back_s") is None:
        return None
    return rbk.Evidence(
        run.run_id, "drill", str(s.get("title", "")), "rollback", run.started_ns, run.status,
        _float(s.get("time_to_detect_s")), _float(s.get("time_to_restore_s")),
        _float(s.get("budget_spent_pct")), _float(s.get("bad_events")),
    )  # fmt: skip


def _drill_slo(run: RunRecord) -> str | None:
    drill = run.spec.get("drill")
    return str(drill.get("slo")) if isinstance(drill, Mapping) else None


def _chaos_slos(run: RunRecord) -> set[str]:
    exp = run.spec.get("experiment")
    hyp = exp.get("hypothesis", {}) if isinstance(exp, Mapping) else {}
    return {str(h.get("slo")) for h in hyp.get("slos", ()) if isinstance(h, Mapping)}


def _chaos(run: RunRecord, slo: str | None) -> list[rbk.Evidence]:
    """Each fault of an experiment that went in and came out: reverting it is the mitigation;
    its budget spent (for ``slo``) and goodput lost are those of its window."""
    impact = {i.get("fault"): i for i in run.summary.get("impact", ()) if isinstance(i, Mapping)}
    title = str(run.summary.get("title", ""))
    out = []
    for fault in run.summary.get("faults", ()):
        if fault.get("injected_ns") is None or fault.get("reverted_ns") is None:
            continue
        cost = impact.get(fault.get("name"), {})
        spent = cost.get("budget_consumed_pct", {}).get(slo) if slo else None
        out.append(rbk.Evidence(
            run.run_id, "chaos", f"{title}: {fault.get('name')}", f"revert:{fault.get('kind')}",
            run.started_ns, run.status, None, None, _float(spent),
            _float(cost.get("goodput_lost")),
        ))  # fmt: skip
    return out


def _event(e: EventRecord, runs: Mapping[str, RunRecord]) -> rbk.Evidence:
    d, run = e.data, runs.get(e.run_id or "")
    return rbk.Evidence(
        e.run_id or "", run.kind if run else "event", str(d.get("drill") or e.title),
        str(d.get("action", "mitigation")), run.started_ns if run else e.ts_ns,
        run.status if run else "recorded", _float(d.get("time_to_detect_s")),
        _float(d.get("time_to_restore_s")), _float(d.get("budget_spent_pct")),
        _float(d.get("goodput_lost")),
    )  # fmt: skip


def evidence_for(
    rt: Runtime, *, slo: str | None = None, alert: str | None = None
) -> list[rbk.Evidence]:
    """Every run that exercised a mitigation of ``slo`` (drills of it, experiments whose
    hypothesis names it, mitigation events naming it) or of the GPU health ``alert`` (faults
    that raise it), oldest first."""
    runs = {r.run_id: r for r in rt.store.journal.runs() if r.status != "running"}
    out: list[rbk.Evidence] = []
    for run in runs.values():
        if run.kind == "drill" and slo is not None and _drill_slo(run) == slo:
            out += [e for e in [_drill(run)] if e is not None]
        elif run.kind == "chaos" and slo is not None and slo in _chaos_slos(run):
            out += _chaos(run, slo)
        elif run.kind == "chaos" and alert is not None:
            out += [e for e in _chaos(run, None)
                    if gpu_alert_of_fault(e.action.removeprefix("revert:")) == alert]  # fmt: skip
    seen = {e.run_id for e in out}
    for event in rt.store.journal.events(kind="mitigation"):
        d = event.data
        mine = (slo is not None and d.get("slo") == slo) or (alert and d.get("alert") == alert)
        if mine and event.run_id not in seen:
            out.append(_event(event, runs))
    return sorted(out, key=lambda e: e.ts_ns)


def touched_runbooks(slos: Iterable[str], fault_kinds: Iterable[str]) -> tuple[set[str], set[str]]:
    """The SLOs and GPU health alerts whose runbooks a run of ``slos`` with faults of
    ``fault_kinds`` exercised."""
    alerts = {a for k in fault_kinds if (a := gpu_alert_of_fault(k)) is not None}
    return set(slos), alerts
