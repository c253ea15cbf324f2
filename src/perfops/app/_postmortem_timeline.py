"""A postmortem's timeline from the lake: the incident's transitions and status updates, its
alerts, the faults, deploys, rollbacks and mitigations recorded as events, the runs (load
tests, chaos experiments, drills) that started or ended, and the GPUs' XID errors (each
series' change to a non-zero ``gpu.xid``), five minutes either side of the impact window.
Each line carries the query it was read with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from perfops.app.runtime import Runtime
from perfops.respond import postmortem as draft
from perfops.store import EventRecord, RunRecord

if TYPE_CHECKING:
    from perfops.respond import incident as lifecycle

__all__ = ["alert_rows", "mitigations", "timeline"]

_CONTEXT_NS = 300 * 1_000_000_000
_EVENT_KINDS = {
    "fault_injected": "fault injected",
    "fault_reverted": "fault reverted",
    "deploy": "deploy",
    "rollback": "rollback",
    "mitigation": "mitigation",
    "chaos_verdict": "chaos verdict",
    "annotation": "annotation",
}
_MITIGATING = ("mitigation", "rollback", "fault reverted")


def alert_rows(rt: Runtime, inc: lifecycle.Incident, lo_ns: int, hi_ns: int) -> list[EventRecord]:
    """The ``kind="alert"`` rows in ``[lo_ns, hi_ns)`` of the incident: those of its group keys
    or alert fingerprints when it has alerts of its own (an alert opened or joined it), else
    those about one of its services or SLOs (an incident opened by hand), so that another
    incident's alerts never land in this one's postmortem."""
    keys, prints = set(inc.group_keys), set(inc.alerts)
    rows = rt.store.journal.events(lo_ns, hi_ns, kind="alert")
    if keys or prints:
        return [a for a in rows if _owned(a, keys, prints)]
    return [
        a
        for a in rows
        if (a.service is not None and a.service in inc.services)
        or (a.data.get("slo") is not None and a.data.get("slo") in inc.slos)
    ]


def _owned(alert: EventRecord, keys: set[str], prints: set[str]) -> bool:
    return alert.data.get("group_key") in keys or alert.data.get("fingerprint") in prints


def _versions(rt: Runtime, *tables: str) -> tuple[tuple[str, int], ...]:
    return tuple(rt.store.versions(*tables).items())


def _transition(row: EventRecord, severity: str | None) -> str:
    """``open: triage (SEV-2)``, ``status: monitoring: message (by name)``; the severity when
    it is new."""
    data: Mapping[str, Any] = row.data
    text = str(data.get("action") or "update")
    if data.get("status"):
        text += f": {data['status']}"
    now = data.get("severity") or row.severity
    if now and now != severity:
        text += f" ({now})"
    if data.get("message"):
        text += f": {data['message']}"
    return text + (f" (by {data['by']})" if data.get("by") else "")


def _incident(rt: Runtime, rows: list[EventRecord], inc: lifecycle.Incident) -> list[draft.Moment]:
    source = draft.Source(
        f"Journal.events(kind='incident') rows with run_id {inc.incident_id!r}",
        rt.store.journal.events_sql(kind="incident"),
        _versions(rt, "events"),
    )
    out, severity = [], None
    for row in rows:
        action = "monitoring" if row.data.get("status") == "monitoring" else None
        out.append(draft.Moment(row.ts_ns, "incident", _transition(row, severity), source, action))
        severity = row.data.get("severity") or row.severity or severity
    return out


def _alerts(rt: Runtime, alerts: list[EventRecord]) -> list[draft.Moment]:
    source = draft.Source(
        "Journal.events(kind='alert') rows of the incident's group keys, fingerprints, "
        "services or SLOs",
        rt.store.journal.events_sql(kind="alert"),
        _versions(rt, "events"),
    )
    out = []
    for a in alerts:
        name = a.data.get("alertname") or a.title
        pairs = (("service", a.service), ("SLO", a.data.get("slo")))
        where = ", ".join(f"{k} {v}" for k, v in pairs if v)
        what = f"{a.data.get('status', 'firing')}: {name} ({a.severity or 'no severity'}"
        out.append(draft.Moment(a.ts_ns, "alert", what + (f", {where})" if where else ")"), source))
    return out


def _events(rt: Runtime, lo_ns: int, hi_ns: int) -> list[draft.Moment]:
    source = draft.Source(
        f"Journal.events({lo_ns}, {hi_ns}) of kinds {sorted(_EVENT_KINDS)}",
        rt.store.journal.events_sql(lo_ns, hi_ns),
        _versions(rt, "events"),
    )
    out = []
    for e in rt.store.journal.events(lo_ns, hi_ns):
        if e.kind not in _EVENT_KINDS:
            continue
        action = e.data.get("action") if e.kind == "mitigation" else e.kind
        where = f" ({e.service})" if e.service and e.service not in e.title else ""
        out.append(
            draft.Moment(
                e.ts_ns,
                _EVENT_KINDS[e.kind],
                f"{e.title}{where}",
                source,
                str(action) if action else None,
            )
        )
    return out


def _name(run: RunRecord) -> str:
    """A run's id, after its title when it has one (an experiment's, a drill's)."""
    inner = run.spec.get("experiment") or run.spec.get("drill") or {}
    title = run.spec.get("title") or (inner.get("title") if isinstance(inner, Mapping) else None)
    return f"{title} ({run.run_id})" if title else run.run_id


def _runs(rt: Runtime, lo_ns: int, hi_ns: int) -> list[draft.Moment]:
    source = draft.Source(
        "Journal.runs(): started_ns and ended_ns of runs but collections",
        None,
        _versions(rt, "runs"),
    )
    out = []
    for run in rt.store.journal.runs():
        if run.kind == "collect":
            continue
        if lo_ns <= run.started_ns < hi_ns:
            out.append(
                draft.Moment(run.started_ns, f"{run.kind} run", f"started: {_name(run)}", source)
            )
        if run.ended_ns is not None and lo_ns <= run.ended_ns < hi_ns:
            out.append(
                draft.Moment(
                    run.ended_ns,
                    f"{run.kind} run",
                    f"ended {run.status}: {_name(run)}",
                    source,
                )
            )
    return out


def _xids(rt: Runtime, lo_ns: int, hi_ns: int) -> list[draft.Moment]:
    lo_ms, hi_ms = lo_ns // 1_000_000, hi_ns // 1_000_000 + 1
    table = rt.store.timeseries.query_samples("gpu.xid", lo_ms, hi_ms)
    if table.num_rows == 0:
        return []
    source = draft.Source(
        f"TimeSeries.query_samples('gpu.xid', {lo_ms}, {hi_ms}): each series' "
        "change to a non-zero XID",
        None,
        _versions(rt, "samples", "series"),
    )
    infos = rt.store.timeseries.series("gpu.xid")
    out: list[draft.Moment] = []
    last: dict[int, float] = {}
    rows = zip(*(table.column(c).to_pylist() for c in ("series_id", "ts", "value")), strict=True)
    for sid, ts, value in rows:
        if value and value == value and value != last.get(sid):
            labels = infos[sid].labels if sid in infos else {}
            gpu = "/".join(str(labels[k]) for k in ("hostname", "gpu") if k in labels)
            out.append(
                draft.Moment(ts * 1_000_000, "XID", f"XID {value:g} on GPU {gpu or sid}", source)
            )
        last[sid] = value
    return out


def timeline(
    rt: Runtime,
    inc: lifecycle.Incident,
    rows: list[EventRecord],
    alerts: list[EventRecord],
    start_ns: int,
    end_ns: int,
) -> list[draft.Moment]:
    """Every line of the timeline in time order (the incident's rows and alerts all, the
    rest from five minutes before ``start_ns`` to five minutes after ``end_ns``)."""
    lo = min(start_ns, inc.opened_ns, *(a.ts_ns for a in alerts)) - _CONTEXT_NS
    hi = end_ns + _CONTEXT_NS
    found = _incident(rt, rows, inc) + _alerts(rt, alerts)
    found += _events(rt, lo, hi) + _runs(rt, lo, hi) + _xids(rt, lo, hi)
    return sorted(found, key=lambda m: (m.ts_ns, m.kind))


def mitigations(moments: list[draft.Moment], since_ns: int) -> list[draft.Moment]:
    """The timeline's mitigations from ``since_ns`` on: mitigation, rollback and fault-revert
    events, and the incident's move to ``monitoring``."""
    return [
        m
        for m in moments
        if m.ts_ns >= since_ns and (m.kind in _MITIGATING or m.action == "monitoring")
    ]
