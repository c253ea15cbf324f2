"""`perfops incident postmortem ID`: a postmortem drafted from the lake.

The incident is its ``events`` rows (``kind="incident"``, ``run_id`` its id), folded in time
order; its alerts are the ``kind="alert"`` rows of its group keys, fingerprints, services or
SLOs. Around them: the faults injected and reverted, deploys, rollbacks and mitigations, the
load, chaos and drill runs, and the GPUs' XID errors, all with their times. The impact and
detection figures come from the functions that own them (:mod:`._postmortem_impact`).

Windows. The first bad minute is searched from an hour before the first alert (or the
opening) to the end; the impact window runs from it (else the first alert, else the
opening) to resolution (else closing, else now); the timeline shows five minutes either side.
"""

from __future__ import annotations

from pathlib import Path

from perfops.app._postmortem_impact import (
    SloMinutes,
    cost_figures,
    request_figures,
    slo_impact,
    slo_minutes,
    window_figure,
)
from perfops.app._postmortem_timeline import alert_rows, mitigations, timeline
from perfops.app.incident import incident_state
from perfops.app.runtime import Runtime
from perfops.config import SLO, Service
from perfops.errors import UsageError
from perfops.respond import incident as lifecycle
from perfops.respond import postmortem as draft
from perfops.store import EventRecord

__all__ = ["draft_postmortem", "incident_rows"]

_LOOKBACK_MS = 3_600_000


def incident_rows(rt: Runtime, incident_id: str) -> list[EventRecord]:
    """The ``events`` rows of incident ``incident_id``, in time order; a UsageError naming it
    when the lake has none."""
    rows = [e for e in rt.store.journal.events(kind="incident") if e.run_id == incident_id]
    if not rows:
        raise UsageError(
            f"no incident {incident_id!r} in the lake at {rt.store.root}",
            hint="`perfops incident list` shows the incidents the lake holds",
        )
    return sorted(rows, key=lambda e: e.ts_ns)


def _scope(rt: Runtime, inc: lifecycle.Incident) -> tuple[list[Service], list[SLO], list[str]]:
    """The incident's services and SLOs as perfops.yaml declares them (its SLOs, else those
    of its services), and notes on the names perfops.yaml does not know."""
    known = {s.name: s for s in rt.config.services}
    slos = {s.name: s for s in rt.config.slos}
    notes = [f"service {n!r} is not in perfops.yaml" for n in inc.services if n not in known]
    notes += [f"SLO {n!r} is not in perfops.yaml" for n in inc.slos if n not in slos]
    chosen = [slos[n] for n in inc.slos if n in slos] or [
        s for s in rt.config.slos if s.service in inc.services
    ]
    names = list(dict.fromkeys([*inc.services, *(s.service for s in chosen)]))
    return [known[n] for n in names if n in known], chosen, notes


def draft_postmortem(rt: Runtime, incident_id: str, runbooks_dir: Path) -> draft.Postmortem:
    """The postmortem of incident ``incident_id`` from the lake, the runbooks read from
    ``runbooks_dir`` (``runbooks/`` beside perfops.yaml)."""
    rows = incident_rows(rt, incident_id)
    inc = incident_state(rt, incident_id)  # as `perfops incident show` folds it
    now_ns = rt.clock.now_ns()
    end_ns = inc.resolved_ns or inc.closed_ns or now_ns
    services, slos, notes = _scope(rt, inc)
    alerts = alert_rows(rt, inc, inc.opened_ns - _LOOKBACK_MS * 1_000_000, end_ns + 1)
    firing = [a for a in alerts if a.data.get("status", "firing") == "firing"]
    first_alert = min(firing, key=lambda a: a.ts_ns) if firing else None
    anchor_ms = (first_alert.ts_ns if first_alert else inc.opened_ns) // 1_000_000
    end_ms = max(end_ns // 1_000_000, anchor_ms + 1)
    scans = [slo_minutes(rt, slo, anchor_ms - _LOOKBACK_MS, end_ms, anchor_ms) for slo in slos]
    notes += [s.note for s in scans if s.note]
    bad = [s for s in scans if s.first_bad_ms is not None]
    first_bad = min(bad, key=lambda s: s.first_bad_ms or 0) if bad else None
    start_ms = anchor_ms if first_bad is None else first_bad.first_bad_ms or anchor_ms
    start_ms = min(start_ms, end_ms - 1)
    impact = {"duration": window_figure(rt, start_ms, end_ms)}
    impact |= request_figures(rt, services, slos, start_ms, end_ms)
    impact |= cost_figures(rt, start_ms, end_ms)
    impact["tenants"] = _tenants(services)
    moments = timeline(rt, inc, rows, alerts, start_ms * 1_000_000, end_ns)
    mitigated = mitigations(moments, start_ms * 1_000_000)
    return draft.Postmortem(
        incident_id=incident_id,
        title=inc.title,
        severity=inc.severity,
        status=inc.status,
        services=tuple(inc.services),
        slos=tuple(inc.slos) or tuple(s.name for s in slos),
        roles=tuple(inc.roles.items()),
        opened_ns=inc.opened_ns,
        resolved_ns=inc.resolved_ns,
        closed_ns=inc.closed_ns,
        start_ns=start_ms * 1_000_000,
        end_ns=end_ms * 1_000_000,
        generated_ns=now_ns,
        impact=impact,
        slo_impacts=tuple(slo_impact(rt, slo, start_ms, end_ms) for slo in slos),
        detection=_detection(rt, inc, first_bad, first_alert, mitigated),
        timeline=tuple(moments),
        mitigations=tuple(mitigated),
        runbooks=_runbooks(runbooks_dir, alerts, slos, mitigated),
        runbooks_dir=str(runbooks_dir),
        notes=tuple(notes),
    )


def _tenants(services: list[Service]) -> draft.Figure:
    names = sorted({s.tenant for s in services if s.tenant})
    source = draft.Source(f"perfops.yaml services[].tenant of {[s.name for s in services]}")
    text = ", ".join(names) or "not known (no services[].tenant in perfops.yaml)"
    return draft.Figure(text, source, ", ".join(names) or None)


def _span(label: str, later_ns: int, earlier_ns: int, source: draft.Source) -> draft.Figure:
    seconds = (later_ns - earlier_ns) / 1e9
    return draft.Figure(
        f"{seconds:,.0f} s",
        draft.Source(f"{label}; {source.call}", source.query, source.tables),
        seconds,
    )


def _detection(
    rt: Runtime,
    inc: lifecycle.Incident,
    first_bad: SloMinutes | None,
    first_alert: EventRecord | None,
    mitigated: list[draft.Moment],
) -> dict[str, draft.Figure | None]:
    """First bad minute, first alert, and the times to detect, open, mitigate, resolve."""
    out: dict[str, draft.Figure | None] = dict.fromkeys(
        (
            "first_bad_minute",
            "first_alert",
            "time_to_detect",
            "time_to_open",
            "time_to_mitigate",
            "time_to_resolve",
        )
    )
    alert_src = draft.Source(
        "the first firing alert row of the incident: Journal.events(kind='alert') matched by "
        "group key, fingerprint, service or SLO",
        rt.store.journal.events_sql(kind="alert"),
        tuple(rt.store.versions("events").items()),
    )
    if first_alert is not None:
        name = first_alert.data.get("alertname") or first_alert.title
        out["first_alert"] = draft.Figure(
            f"{draft.utc(first_alert.ts_ns)} ({name})", alert_src, first_alert.ts_ns
        )
        out["time_to_open"] = _span(
            "incident opened - first alert", inc.opened_ns, first_alert.ts_ns, alert_src
        )
    start = ("the first alert", first_alert.ts_ns, alert_src) if first_alert else None
    if first_bad is not None and first_bad.first_bad_ms is not None:
        bad_ns = first_bad.first_bad_ms * 1_000_000
        start = ("the first bad minute", bad_ns, first_bad.source)
        out["first_bad_minute"] = draft.Figure(
            f"{draft.utc(bad_ns)} ({first_bad.slo.name})", first_bad.source, bad_ns
        )
        if first_alert is not None:
            out["time_to_detect"] = _span(
                "first alert - first bad minute", first_alert.ts_ns, bad_ns, first_bad.source
            )
    name, start_ns, source = start or ("the incident's opening", inc.opened_ns, alert_src)
    if mitigated:
        first = mitigated[0]
        out["time_to_mitigate"] = _span(
            f"first mitigation - {name}", first.ts_ns, start_ns, first.source
        )
    if inc.resolved_ns is not None:
        out["time_to_resolve"] = _span(
            f"incident resolved - {name}", inc.resolved_ns, start_ns, source
        )
    return out


def _runbooks(
    folder: Path, alerts: list[EventRecord], slos: list[SLO], mitigated: list[draft.Moment]
) -> tuple[draft.RunbookCheck, ...]:
    """The runbooks ``folder/<alertname or SLO>.md`` that exist, their Mitigation sections,
    and whether each mitigation taken is named there."""
    names = [str(a.data.get("alertname") or a.title) for a in alerts] + [s.name for s in slos]
    out = []
    for name in dict.fromkeys(names):
        path = folder / f"{name}.md"
        if "/" in name or not path.is_file():
            continue
        section = draft.mitigation_section(path.read_text(encoding="utf-8", errors="replace"))
        taken = [m for m in mitigated if m.action != "monitoring"]  # a status, not a step
        actions = tuple((m, draft.named_in(section or "", m.action or m.kind)) for m in taken)
        out.append(draft.RunbookCheck(name, str(path), section, actions if section else ()))
    return tuple(out)
