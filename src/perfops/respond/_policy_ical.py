"""An on-call schedule as iCalendar (RFC 5545): one event per shift, in the schedule's zone
(with its VTIMEZONE), so calendars show the hand-offs at their local time across daylight-
saving changes."""

from __future__ import annotations

import datetime as dt

import icalendar

from perfops.config import Schedule
from perfops.respond._schedule import Shift, shifts, zone

__all__ = ["to_ical"]

PRODID = "-//perfops//on-call schedule//EN"


def _event(schedule: Schedule, shift: Shift, stamp: dt.datetime) -> icalendar.Event:
    tz = zone(schedule)
    event = icalendar.Event()
    event.add("uid", f"{schedule.name}-{shift.index}@perfops")
    event.add("dtstamp", stamp.astimezone(dt.UTC))
    event.add("dtstart", shift.start.astimezone(tz))
    event.add("dtend", shift.end.astimezone(tz))
    event.add("summary", f"On call: {shift.person} ({schedule.name})")
    event.add("description", f"{shift.person} is on call for {schedule.name}; hand-off at "
              f"{schedule.handoff} {schedule.timezone}")  # fmt: skip
    event.add("transp", "TRANSPARENT")
    return event


def to_ical(
    schedule: Schedule, start: dt.datetime, end: dt.datetime, *, stamp: dt.datetime
) -> bytes:
    """The shifts of ``schedule`` overlapping [start, end) as an iCalendar file; ``stamp``
    (the clock's now) is every event's DTSTAMP."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"on call: {schedule.name}")
    calendar.add("x-wr-timezone", schedule.timezone)
    for shift in shifts(schedule, start, end):
        calendar.add_component(_event(schedule, shift, stamp))
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())
