"""Alertmanager notifications into the lake: every alert one ``alert`` row, page alerts
opening or joining incidents, resolutions moving them to monitoring.

Alertmanager sends the whole group again every ``repeat_interval`` (and on every change of
the group), so an alert already recorded with the same group key, fingerprint, status and
start is skipped: rows are never duplicated. A firing ``severity="page"`` alert joins the
open incident of its group key, else the open incident of its service, else opens one. A
resolved alert is marked resolved in its incident; once none of the incident's alerts
fires, the incident moves to monitoring (a person resolves and closes it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from perfops.app.incident import incidents, open_incident, record_change
from perfops.app.runtime import Runtime
from perfops.respond import incident as lifecycle
from perfops.respond import policy, webhook
from perfops.store.records import EventRecord

__all__ = ["ALERT_KIND", "Recorded", "alert_data", "record_notification"]

ALERT_KIND = "alert"
PAGE = "page"


@dataclass
class Recorded:
    """What one notification changed: alert rows written, alerts skipped as repeats, and
    the incidents opened, joined or updated (their ids)."""

    written: int = 0
    repeats: int = 0
    opened: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"written": self.written, "repeats": self.repeats, "opened": self.opened,
                "updated": self.updated}  # fmt: skip


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    when = dt.datetime.fromtimestamp(ns // 1_000_000_000, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 1_000_000_000:09d}Z"


def alert_data(alert: webhook.Alert, group_key: str) -> dict[str, Any]:
    """The ``data`` of an alert row (the contract of the ``events`` table)."""
    return {
        "status": alert.status,
        "alertname": alert.name,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": _iso(alert.starts_ns),
        "ends_at": _iso(alert.ends_ns),
        "group_key": group_key,
        "fingerprint": alert.fingerprint,
        "slo": alert.labels.get("slo"),
        "generator_url": alert.generator_url,
    }


def _key(data: Mapping[str, Any]) -> tuple[Any, ...]:
    return (data.get("group_key"), data.get("fingerprint"), data.get("status"),
            data.get("starts_at"))  # fmt: skip


def _seen(rt: Runtime) -> set[tuple[Any, ...]]:
    return {_key(e.data) for e in rt.store.journal.events(kind=ALERT_KIND)}


def _row(alert: webhook.Alert, data: dict[str, Any]) -> EventRecord:
    ts = alert.ends_ns if alert.status == "resolved" and alert.ends_ns else alert.starts_ns
    return EventRecord(ts, ALERT_KIND, alert.name, alert.labels.get("service"),
                       alert.labels.get("severity"), None, data)  # fmt: skip


def _home(
    open_ones: Iterable[lifecycle.Incident], group_key: str, service: str | None
) -> lifecycle.Incident | None:
    candidates = list(open_ones)
    by_key = [i for i in candidates if group_key in i.group_keys]
    by_service = [i for i in candidates if service and service in i.services]
    found = by_key or by_service
    return found[0] if found else None


def _severity(rt: Runtime, alert: webhook.Alert) -> str:
    """The incident severity the policy's matrix gives the alert's tier, its ``impact``
    label (when it has one) and how long it has fired."""
    firing_s = max(0.0, (rt.clock.now_ns() - alert.starts_ns) / 1e9)
    tier = alert.labels.get("severity", "")
    matrix = rt.config.escalation.severity_matrix
    return policy.severity(tier, alert.labels.get("impact"), firing_s, matrix)


def _fire(rt: Runtime, alert: webhook.Alert, data: dict[str, Any], done: Recorded) -> None:
    open_ones = [i for i in incidents(rt) if i.is_open]
    service = alert.labels.get("service")
    slo = alert.labels.get("slo")
    home = _home(open_ones, data["group_key"], service)
    if home is None:
        title = alert.annotations.get("summary") or f"{alert.name} ({service or 'no service'})"
        inc = open_incident(
            rt, title, severity=_severity(rt, alert), services=[service] if service else [],
            slos=[slo] if slo else [], message=f"opened by alert {alert.name}",
            by="alertmanager", group_key=data["group_key"], alert=data, checked=False,
        )  # fmt: skip
        done.opened.append(inc.incident_id)
        return
    reopened = "investigating" if home.status == "monitoring" else None
    record_change(
        rt, home, "join", status=reopened,
        services=list(dict.fromkeys([*home.services, *([service] if service else [])])),
        slos=list(dict.fromkeys([*home.slos, *([slo] if slo else [])])),
        group_key=data["group_key"], alert=data, by="alertmanager",
        message=f"alert {alert.name} fires" + (" again: back to investigating" if reopened else ""),
    )  # fmt: skip
    done.updated.append(home.incident_id)


def _resolve(rt: Runtime, alert: webhook.Alert, data: dict[str, Any], done: Recorded) -> None:
    home = next(
        (i for i in incidents(rt) if i.status != "closed" and alert.fingerprint in i.alerts), None
    )
    if home is None:
        return
    after = record_change(rt, home, "update", alert=data, by="alertmanager",
                          message=f"alert {alert.name} resolved")  # fmt: skip
    done.updated.append(home.incident_id)
    if not after.firing and after.status in ("triage", "investigating", "identified"):
        record_change(rt, after, "status", status="monitoring", by="alertmanager",
                      message="every alert of the incident has resolved: monitoring")  # fmt: skip


def record_notification(rt: Runtime, note: webhook.Notification) -> Recorded:
    """Record ``note`` (already validated): its new alerts as rows, in one commit, then
    their effect on incidents, under the lake's events lock: receivers in several processes
    (or threads) deduplicate against each other."""
    with rt.store.journal.events_lock():
        return _record(rt, note)


def _record(rt: Runtime, note: webhook.Notification) -> Recorded:
    done = Recorded()
    seen = _seen(rt)
    fresh: list[tuple[webhook.Alert, dict[str, Any]]] = []
    for alert in note.alerts:
        data = alert_data(alert, note.group_key)
        if _key(data) in seen:
            done.repeats += 1
            continue
        seen.add(_key(data))
        fresh.append((alert, data))
    rt.store.journal.append_events([_row(a, d) for a, d in fresh])
    done.written = len(fresh)
    for alert, data in fresh:
        if alert.status == "firing" and alert.labels.get("severity") == PAGE:
            _fire(rt, alert, data, done)
        elif alert.status == "resolved":
            _resolve(rt, alert, data, done)
    return done
