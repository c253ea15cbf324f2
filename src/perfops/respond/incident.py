"""The incident lifecycle: statuses, severities, roles, the allowed transitions, and an
incident's state as the fold of its journal rows.

Every change to an incident is one ``events`` row (``kind="incident"``, ``run_id`` the
incident id) whose ``data`` carries the action, the whole current state (status, severity,
services, SLOs, roles, group keys) and what changed (message, alert). The state now is the
fold of the rows in time order, the last non-null value of each field winning; alerts are
kept per fingerprint (firing or resolved). Modeled on PagerDuty's incident response
(SEV-1..SEV-5, incident commander, scribe, communications liaison, subject-matter expert)
and Netflix Dispatch's lifecycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from perfops.config import ROLES, SEVERITIES
from perfops.errors import UsageError

__all__ = [
    "ACTIONS",
    "OPEN_STATUSES",
    "ROLES",
    "SEVERITIES",
    "STATUSES",
    "Incident",
    "check_severity",
    "check_transition",
    "fold",
    "next_statuses",
]

Status = Literal["triage", "investigating", "identified", "monitoring", "resolved", "closed"]
STATUSES: tuple[str, ...] = (
    "triage",
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "closed",
)
OPEN_STATUSES = frozenset(STATUSES[:4])
"""Statuses in which an incident still takes alerts (a resolved one is reopened by hand)."""
ACTIONS: tuple[str, ...] = ("open", "update", "status", "join", "resolve", "close")

# status -> the statuses it may move to: forward through the lifecycle, back to an earlier
# working state when the fix did not hold, and closed only once resolved
_NEXT: dict[str, tuple[str, ...]] = {
    "triage": ("investigating", "identified", "monitoring", "resolved"),
    "investigating": ("identified", "monitoring", "resolved"),
    "identified": ("investigating", "monitoring", "resolved"),
    "monitoring": ("investigating", "identified", "resolved"),
    "resolved": ("investigating", "closed"),
    "closed": (),
}


def next_statuses(status: str) -> tuple[str, ...]:
    """The statuses an incident in ``status`` may move to."""
    return _NEXT.get(status, ())


def check_transition(incident_id: str, current: str, wanted: str) -> None:
    """UsageError unless ``current`` -> ``wanted`` is allowed, naming the allowed ones."""
    if wanted not in STATUSES:
        raise UsageError(f"unknown status {wanted!r}", hint=f"statuses are {', '.join(STATUSES)}")
    allowed = next_statuses(current)
    if wanted not in allowed:
        raise UsageError(
            f"incident {incident_id} is {current}: it cannot move to {wanted}",
            hint=f"from {current} it can move to {', '.join(allowed)}"
            if allowed
            else "a closed incident is final; open a new one",
        )


def check_severity(severity: str) -> str:
    """``severity`` in its canonical spelling (``sev2``, ``2`` and ``SEV-2`` are SEV-2)."""
    text = severity.strip().upper().replace("_", "-")
    if text.isdigit():
        text = f"SEV-{text}"
    elif text.startswith("SEV") and not text.startswith("SEV-"):
        text = "SEV-" + text[3:]
    if text not in SEVERITIES:
        raise UsageError(
            f"unknown severity {severity!r}",
            hint=f"use one of {', '.join(SEVERITIES)} (SEV-1 is the worst)",
        )
    return text


@dataclass
class Incident:
    """An incident as its rows say it is now. Times in ns since the epoch; ``alerts`` maps
    an alert's fingerprint to its last alert dict (``status`` firing or resolved);
    ``timeline`` is every row's ``(ts_ns, data)`` in order."""

    incident_id: str
    title: str
    status: str
    severity: str
    opened_ns: int
    updated_ns: int
    services: list[str] = field(default_factory=list)
    slos: list[str] = field(default_factory=list)
    roles: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(ROLES))
    group_keys: list[str] = field(default_factory=list)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    resolved_ns: int | None = None
    closed_ns: int | None = None
    timeline: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def firing(self) -> list[str]:
        """Fingerprints of the alerts still firing."""
        return [fp for fp, a in self.alerts.items() if a.get("status") == "firing"]

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON form of ``incident show --json`` (see docs/respond.md)."""
        return {
            "incident_id": self.incident_id,
            "title": self.title,
            "status": self.status,
            "severity": self.severity,
            "opened_ns": self.opened_ns,
            "updated_ns": self.updated_ns,
            "resolved_ns": self.resolved_ns,
            "closed_ns": self.closed_ns,
            "services": list(self.services),
            "slos": list(self.slos),
            "roles": dict(self.roles),
            "group_keys": list(self.group_keys),
            "alerts": list(self.alerts.values()),
            "timeline": [
                {"ts_ns": ts, **{k: v for k, v in d.items() if k != "incident_id"}}
                for ts, d in self.timeline
            ],
        }


def _apply(inc: Incident, ts_ns: int, data: Mapping[str, Any]) -> None:
    inc.updated_ns = ts_ns
    for name in ("status", "severity", "title"):
        if data.get(name) is not None:
            setattr(inc, name, str(data[name]))
    for name in ("services", "slos"):
        if data.get(name) is not None:
            setattr(inc, name, [str(v) for v in data[name]])
    for role, who in (data.get("roles") or {}).items():
        if who is not None and role in inc.roles:
            inc.roles[role] = str(who)
    key = data.get("group_key")
    if key is not None and key not in inc.group_keys:
        inc.group_keys.append(str(key))
    alert = data.get("alert")
    if isinstance(alert, Mapping) and alert.get("fingerprint"):
        inc.alerts[str(alert["fingerprint"])] = dict(alert)
    if inc.status == "resolved" and inc.resolved_ns is None:
        inc.resolved_ns = ts_ns
    elif inc.status in OPEN_STATUSES:
        inc.resolved_ns = None
    if inc.status == "closed":
        inc.closed_ns = ts_ns
    inc.timeline.append((ts_ns, dict(data)))


def fold(incident_id: str, rows: Iterable[tuple[int, str, Mapping[str, Any]]]) -> Incident:
    """The incident from its rows ``(ts_ns, title, data)``, taken in time order; a
    UsageError when there are none."""
    ordered = sorted(rows, key=lambda row: row[0])
    if not ordered:
        raise UsageError(
            f"no incident {incident_id!r} in the lake",
            hint="`perfops incident list` shows the incidents",
        )
    ts0, title, first = ordered[0]
    inc = Incident(
        incident_id,
        str(first.get("title") or title),
        str(first.get("status") or "triage"),
        str(first.get("severity") or SEVERITIES[-1]),
        ts0,
        ts0,
    )
    for ts, row_title, data in ordered:
        _apply(inc, ts, {"title": row_title, **data} if data.get("title") is None else data)
    return inc
