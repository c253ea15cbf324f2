"""Replay alert history through the escalation policy: who would have been paged, when, and
which alerts would have reached nobody.

An alert episode runs from its start (Alertmanager's ``startsAt``) to its resolution (or the
end of the replay). Each round of steps begins ``repeat_every`` after the last began; a step is
taken ``after`` its round began, unless the alert was resolved by then, which stops the
escalation. A schedule is resolved to whoever is on call at the step's time.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from perfops.config import Escalation, Step, clock_minutes
from perfops.respond._schedule import on_call

__all__ = ["AlertEpisode", "AlertRow", "Page", "Simulation", "Unreached", "episodes", "simulate"]

UTC = dt.UTC


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One ``kind="alert"`` row of the lake's events (firing or resolved)."""

    ts_ns: int
    title: str
    service: str | None
    severity: str | None
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AlertEpisode:
    """One alert from firing to resolution (``end`` None: still firing at the replay's end)."""

    name: str
    service: str | None
    tier: str
    key: str
    start: dt.datetime
    end: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Page:
    at: dt.datetime
    person: str
    alert: str
    service: str | None
    step: int  # 1-based
    round: int  # 0: the first round, 1: the first repeat ...
    receiver: str
    via: str  # the schedule (or the person) the step named
    night: bool


@dataclass(frozen=True, slots=True)
class Unreached:
    alert: str
    service: str | None
    at: dt.datetime
    reason: str


@dataclass(frozen=True)
class Simulation:
    start: dt.datetime
    end: dt.datetime
    alerts: int
    pages: list[Page] = field(default_factory=list)
    unreached: list[Unreached] = field(default_factory=list)
    routed: int = 0  # alerts that reached a receiver without paging anyone (a ticket's chat)
    stopped: int = 0  # paging alerts resolved before their first step

    @property
    def per_person(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for page in self.pages:
            row = out.setdefault(page.person, {"pages": 0, "night": 0})
            row["pages"] += 1
            row["night"] += page.night
        return dict(sorted(out.items()))

    @property
    def per_week(self) -> dict[str, int]:
        weeks = Counter(_week(p.at) for p in self.pages)
        return dict(sorted(weeks.items()))

    @property
    def night_pages(self) -> int:
        return sum(p.night for p in self.pages)


def _week(at: dt.datetime) -> str:
    year, week, _ = at.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


_FRACTION = re.compile(r"(\.\d{6})\d+")


def _instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None  # Alertmanager's zero time: not set
    try:
        parsed = dt.datetime.fromisoformat(_FRACTION.sub(r"\1", value.replace("Z", "+00:00")))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _at(ts_ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, UTC)


def _key(row: AlertRow, start: dt.datetime) -> str:
    labels = row.data.get("labels")
    ident = row.data.get("fingerprint") or repr(
        sorted(labels.items()) if isinstance(labels, dict) else (row.title, row.service)
    )
    return f"{ident}@{start.isoformat()}"


def episodes(rows: Iterable[AlertRow]) -> list[AlertEpisode]:
    """Alert rows paired into episodes by fingerprint and start; a repeated firing row (the
    same alert notified again) joins its episode."""
    found: dict[str, AlertEpisode] = {}
    for row in sorted(rows, key=lambda r: r.ts_ns):
        start = _instant(row.data.get("starts_at")) or _at(row.ts_ns)
        key = _key(row, start)
        resolved = row.data.get("status") == "resolved"
        end = (_instant(row.data.get("ends_at")) or _at(row.ts_ns)) if resolved else None
        known = found.get(key)
        if known is None or (resolved and known.end is None):
            tier = row.severity or str(row.data.get("labels", {}).get("severity", ""))
            found[key] = AlertEpisode(row.title, row.service, tier, key, start, end)
    return sorted(found.values(), key=lambda e: (e.start, e.name))


def _is_night(escalation: Escalation, at: dt.datetime, timezone: str) -> bool:
    local = at.astimezone(zoneinfo.ZoneInfo(timezone))
    minute = local.hour * 60 + local.minute
    start, end = clock_minutes(escalation.night.start), clock_minutes(escalation.night.end)
    return start <= minute or minute < end if start > end else start <= minute < end


def _person_zone(escalation: Escalation, person: str) -> str:
    return next((s.timezone for s in escalation.schedules if person in s.people), "UTC")


def _resolve(escalation: Escalation, name: str, at: dt.datetime) -> tuple[str | None, str]:
    """(person, time zone) that ``name`` (a schedule or a person) stands for at ``at``."""
    for schedule in escalation.schedules:
        if schedule.name == name:
            return on_call(schedule, at), schedule.timezone
    return name, _person_zone(escalation, name)


def _step_times(
    escalation: Escalation, alert: AlertEpisode, until: dt.datetime
) -> list[tuple[int, int, Step, dt.datetime]]:
    """(round, step number, step, time) of every step taken before the alert resolved."""
    out: list[tuple[int, int, Step, dt.datetime]] = []
    for round_ in range(escalation.repeat + 1):
        for number, step in enumerate(escalation.steps, 1):
            at = alert.start + dt.timedelta(seconds=round_ * escalation.repeat_every + step.after)
            if at >= (alert.end or until) or at >= until:
                return out
            out.append((round_, number, step, at))
    return out


def escalate(
    escalation: Escalation, alert: AlertEpisode, until: dt.datetime
) -> tuple[list[Page], str | None]:
    """The pages ``alert`` causes up to ``until``, and why it reached nobody (None if it
    reached someone, or a receiver without paging, or was resolved before the first step)."""
    route = next((r for r in escalation.routes if r.severity == alert.tier), None)
    if route is None or not route.receivers:
        return [], f"no route for severity {alert.tier!r}"
    if alert.tier not in escalation.paging or not escalation.steps:
        return [], None
    known = {r.name for r in escalation.receivers}
    pages, reasons = [], []
    for round_, number, step, at in _step_times(escalation, alert, until):
        receiver = step.receiver or route.receivers[0]
        if receiver not in known:
            reasons.append(f"step {number}: unknown receiver {receiver!r}")
            continue
        for name in step.notify:
            person, zone = _resolve(escalation, name, at)
            if person is None:
                reasons.append(f"step {number}: nobody on call on {name!r}")
                continue
            night = _is_night(escalation, at, zone)
            pages.append(
                Page(at, person, alert.name, alert.service, number, round_, receiver, name, night)
            )
    return pages, (None if pages or not reasons else "; ".join(dict.fromkeys(reasons)))


def simulate(
    escalation: Escalation, rows: Iterable[AlertRow], start: dt.datetime, end: dt.datetime
) -> Simulation:
    """Replay the alerts of ``rows`` that started in [start, end) through ``escalation``."""
    alerts = [a for a in episodes(rows) if start <= a.start < end]
    sim = Simulation(start, end, len(alerts))
    routed = stopped = 0
    for alert in alerts:
        pages, reason = escalate(escalation, alert, end)
        sim.pages.extend(pages)
        if reason is not None:
            sim.unreached.append(Unreached(alert.name, alert.service, alert.start, reason))
        elif not pages and alert.tier in escalation.paging and escalation.steps:
            stopped += 1
        elif not pages:
            routed += 1
    sim.pages.sort(key=lambda p: (p.at, p.step, p.person))
    return Simulation(sim.start, end, len(alerts), sim.pages, sim.unreached, routed, stopped)
