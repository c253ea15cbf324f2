"""`perfops incident` over the lake: open, update, resolve and close incidents, each change
one ``events`` row (``kind="incident"``, ``run_id`` the incident id), and read them back as
the fold :func:`perfops.respond.incident.fold` makes of their rows.

Every row carries the incident's whole state after the change (status, severity, services,
SLOs, roles, group key) plus what changed (action, message, alert, by), so any reader, the
postmortem or a script over the lake, sees the state without replaying the rules here.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from perfops._internal.ids import new_id
from perfops.app.runtime import Runtime
from perfops.errors import UsageError
from perfops.respond import incident as lifecycle
from perfops.respond import policy
from perfops.store.records import EventRecord

__all__ = [
    "INCIDENT_KIND",
    "close_incident",
    "incident_state",
    "incidents",
    "new_incident_id",
    "open_incident",
    "record_change",
    "resolve_incident",
    "update_incident",
]

INCIDENT_KIND = "incident"


def new_incident_id(now_ns: int) -> str:
    """``inc-`` and 8 random lower-case base32 characters (40 bits)."""
    return "inc-" + new_id(now_ns)[-8:]


def _rows(rt: Runtime) -> dict[str, list[tuple[int, str, Mapping[str, Any]]]]:
    out: dict[str, list[tuple[int, str, Mapping[str, Any]]]] = {}
    for e in rt.store.journal.events(kind=INCIDENT_KIND):
        if e.run_id:
            out.setdefault(e.run_id, []).append((e.ts_ns, e.title, e.data))
    return out


def incidents(rt: Runtime) -> list[lifecycle.Incident]:
    """Every incident in the lake, newest opened first."""
    folded = [lifecycle.fold(i, rows) for i, rows in _rows(rt).items()]
    return sorted(folded, key=lambda inc: inc.opened_ns, reverse=True)


def incident_state(rt: Runtime, incident_id: str) -> lifecycle.Incident:
    """The incident now; a UsageError naming the closest id when there is none."""
    rows = _rows(rt)
    if incident_id not in rows:
        guess = difflib.get_close_matches(incident_id, list(rows), n=1)
        raise UsageError(
            f"no incident {incident_id!r} in {rt.store.root}",
            hint=f"did you mean {guess[0]!r}?"
            if guess
            else "`perfops incident list` shows the incidents",
        )
    return lifecycle.fold(incident_id, rows[incident_id])


def _check_services(rt: Runtime, names: Iterable[str]) -> list[str]:
    return [rt.config.service(name).name for name in names]


def _check_slos(rt: Runtime, names: Iterable[str]) -> list[str]:
    known = [s.name for s in rt.config.slos]
    out = []
    for name in names:
        if name not in known:
            guess = difflib.get_close_matches(name, known, n=1)
            listed = f"SLOs: {', '.join(known)}" if known else "perfops.yaml declares no SLOs"
            raise UsageError(
                f"no SLO {name!r} in perfops.yaml",
                hint=f"did you mean {guess[0]!r}? ({listed})" if guess else listed,
            )
        out.append(name)
    return out


def _roles(
    rt: Runtime, now_ns: int, given: Mapping[str, str | None] | None
) -> dict[str, str | None]:
    at = dt.datetime.fromtimestamp(now_ns / 1e9, dt.UTC)
    held = policy.role_holders(rt.config.escalation, at)
    return held | {k: v for k, v in (given or {}).items() if v}


def _merged(old: Sequence[str], new: Iterable[str]) -> list[str]:
    return list(dict.fromkeys([*old, *new]))


def record_change(
    rt: Runtime, inc: lifecycle.Incident, action: str, **change: Any
) -> lifecycle.Incident:
    """Write one row for ``inc`` (the state before) with ``change`` applied (``status``,
    ``severity``, ``services``, ``slos``, ``roles``, ``group_key``, ``message``, ``alert``,
    ``by``) and return the state after. Rows of one incident get strictly increasing times,
    so their order is the order they were written in."""
    roles = {**inc.roles, **{k: v for k, v in (change.get("roles") or {}).items() if v}}
    data: dict[str, Any] = {
        "incident_id": inc.incident_id,
        "action": action,
        "status": change.get("status") or inc.status,
        "severity": change.get("severity") or inc.severity,
        "services": list(change.get("services") or inc.services),
        "slos": list(change.get("slos") or inc.slos),
        "roles": {role: roles.get(role) for role in lifecycle.ROLES},
        "group_key": change.get("group_key"),
        "message": change.get("message"),
        "alert": change.get("alert"),
        "by": change.get("by"),
    }
    if change.get("posted"):  # a status update sent (see app/incident_comms.py)
        data["posted"] = change["posted"]
    ts = max(rt.clock.now_ns(), inc.updated_ns + 1) if inc.timeline else inc.opened_ns
    title = str(change.get("title") or inc.title)
    services = data["services"]
    rt.store.journal.append_events(
        [EventRecord(ts, INCIDENT_KIND, title, services[0] if services else None,
                     data["severity"], inc.incident_id, data)]
    )  # fmt: skip
    rows = [(t, title, d) for t, d in inc.timeline] + [(ts, title, data)]
    return lifecycle.fold(inc.incident_id, rows)


def open_incident(
    rt: Runtime,
    title: str,
    *,
    severity: str,
    services: Sequence[str] = (),
    slos: Sequence[str] = (),
    roles: Mapping[str, str | None] | None = None,
    message: str | None = None,
    by: str | None = None,
    group_key: str | None = None,
    alert: Mapping[str, Any] | None = None,
    checked: bool = True,
) -> lifecycle.Incident:
    """A new incident in triage. Services and SLOs named by a person are checked against
    perfops.yaml (``checked``); those an alert names are taken as it says. A role not given
    goes to whoever the escalation policy names for it now (``escalation.roles``: a person,
    or who is on call on a schedule)."""
    if not title.strip():
        raise UsageError("an incident needs a title", hint="say what users see, in a line")
    now = rt.clock.now_ns()
    svc = _check_services(rt, services) if checked else list(services)
    slo_names = _check_slos(rt, slos) if checked else list(slos)
    blank = lifecycle.Incident(
        new_incident_id(now), title, "triage", lifecycle.check_severity(severity), now, now
    )
    return record_change(
        rt, blank, "open", services=svc, slos=slo_names, roles=_roles(rt, now, roles),
        message=message, by=by, group_key=group_key, alert=alert,
    )  # fmt: skip


def update_incident(
    rt: Runtime,
    incident_id: str,
    *,
    status: str | None = None,
    severity: str | None = None,
    services: Sequence[str] = (),
    slos: Sequence[str] = (),
    roles: Mapping[str, str | None] | None = None,
    message: str | None = None,
    by: str | None = None,
) -> lifecycle.Incident:
    """A status change (action ``status``, the transition checked) or any other update
    (``update``): services and SLOs named are added to the incident's. The state is read,
    checked and written under the lake's events lock."""
    with rt.store.journal.events_lock():
        return _update(rt, incident_id, status, severity, services, slos, roles, message, by)


def _update(
    rt: Runtime,
    incident_id: str,
    status: str | None,
    severity: str | None,
    services: Sequence[str],
    slos: Sequence[str],
    roles: Mapping[str, str | None] | None,
    message: str | None,
    by: str | None,
) -> lifecycle.Incident:
    inc = incident_state(rt, incident_id)
    if inc.status == "closed":
        raise UsageError(f"incident {incident_id} is closed", hint="open a new one")
    if status is not None and status != inc.status:
        lifecycle.check_transition(incident_id, inc.status, status)
    action = "status" if status is not None and status != inc.status else "update"
    return record_change(
        rt, inc, action, status=status,
        severity=lifecycle.check_severity(severity) if severity else None,
        services=_merged(inc.services, _check_services(rt, services)),
        slos=_merged(inc.slos, _check_slos(rt, slos)),
        roles=roles or {}, message=message, by=by,
    )  # fmt: skip


def resolve_incident(
    rt: Runtime, incident_id: str, *, message: str | None = None, by: str | None = None
) -> lifecycle.Incident:
    with rt.store.journal.events_lock():
        inc = incident_state(rt, incident_id)
        lifecycle.check_transition(incident_id, inc.status, "resolved")
        return record_change(rt, inc, "resolve", status="resolved", message=message, by=by)


def close_incident(
    rt: Runtime, incident_id: str, *, message: str | None = None, by: str | None = None
) -> lifecycle.Incident:
    with rt.store.journal.events_lock():
        inc = incident_state(rt, incident_id)
        lifecycle.check_transition(incident_id, inc.status, "closed")
        return record_change(rt, inc, "close", status="closed", message=message, by=by)
