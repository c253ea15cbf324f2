"""Who is on call when: hand-offs of an on-call rotation, in wall-clock time of its zone.

A rotation of one week handing off at 09:00 Europe/Berlin hands off at 09:00 local on every
hand-off day, so the shift around a daylight-saving change lasts 167 or 169 hours. A hand-off
time that does not exist on that day (in the spring-forward gap) happens at the instant the
clock would have shown it before the change (PEP 495, fold=0): 02:30 becomes 03:30 local.
In the repeated hour of autumn, it happens at the first of the two.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass

from perfops.config import Schedule, clock_minutes

__all__ = ["Shift", "handoff", "on_call", "shift_index", "shifts", "zone"]

UTC = dt.UTC


@dataclass(frozen=True, slots=True)
class Shift:
    """One turn on call: ``person`` of ``schedule`` from ``start`` until ``end`` (UTC)."""

    schedule: str
    index: int
    person: str
    start: dt.datetime
    end: dt.datetime


def zone(schedule: Schedule) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(schedule.timezone)


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise ValueError("on-call times must carry a time zone (datetime.now(UTC), not now())")
    return at


def handoff(schedule: Schedule, index: int) -> dt.datetime:
    """The UTC instant of hand-off ``index`` (0: the first, on ``schedule.start``)."""
    minutes = clock_minutes(schedule.handoff)
    first = dt.datetime.combine(schedule.start, dt.time(minutes // 60, minutes % 60))
    local = first + dt.timedelta(seconds=index * schedule.rotation)  # wall-clock arithmetic
    return local.replace(tzinfo=zone(schedule)).astimezone(UTC)


def shift_index(schedule: Schedule, at: dt.datetime) -> int:
    """The number of the hand-off last made at or before ``at`` (negative before the start)."""
    at = _aware(at)
    elapsed = (at - handoff(schedule, 0)).total_seconds()
    index = math.floor(elapsed / schedule.rotation)
    while handoff(schedule, index) > at:
        index -= 1
    while handoff(schedule, index + 1) <= at:
        index += 1
    return index


def on_call(schedule: Schedule, at: dt.datetime) -> str | None:
    """Who of ``schedule`` is on call at ``at``; None when it has nobody or has not begun."""
    index = shift_index(schedule, at)
    if not schedule.people or index < 0:
        return None
    return schedule.people[index % len(schedule.people)]


def shifts(schedule: Schedule, start: dt.datetime, end: dt.datetime) -> list[Shift]:
    """Every shift overlapping [start, end), in order (none when the schedule has nobody)."""
    if not schedule.people:
        return []
    first = max(shift_index(schedule, start), 0)
    out: list[Shift] = []
    index = first
    while (begin := handoff(schedule, index)) < _aware(end):
        person = schedule.people[index % len(schedule.people)]
        out.append(Shift(schedule.name, index, person, begin, handoff(schedule, index + 1)))
        index += 1
    return out
