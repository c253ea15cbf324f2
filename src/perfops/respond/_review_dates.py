"""When the reviews fall: the first weekly or monthly review on or after a day, and the slot
of a post-incident review within its deadline. Wall-clock times in the review's zone, so a
review at 10:00 Europe/Berlin stays at 10:00 local across daylight-saving changes."""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo

from perfops.config import WEEKDAYS, MonthlyReview, PostIncidentReview, clock_minutes

__all__ = ["at_local", "first_monthly", "first_weekly", "post_incident_slot", "rrule_day"]

UTC = dt.UTC
_WORKING_DAYS = range(5)  # Monday to Friday


def rrule_day(weekday: str) -> str:
    """``tuesday`` as iCalendar's ``TU``."""
    return weekday[:2].upper()


def at_local(day: dt.date, clock: str, zone: str) -> dt.datetime:
    """``clock`` (HH:MM) on ``day`` in ``zone``, an aware datetime (a time in the spring-
    forward gap is read as PEP 495's fold=0 reads it)."""
    minutes = clock_minutes(clock)
    naive = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60))
    return naive.replace(tzinfo=zoneinfo.ZoneInfo(zone))


def first_weekly(weekday: str, start: dt.date) -> dt.date:
    """The first ``weekday`` on or after ``start``."""
    return start + dt.timedelta(days=(WEEKDAYS.index(weekday) - start.weekday()) % 7)


def _in_month(review: MonthlyReview, year: int, month: int) -> dt.date:
    if review.day is not None:
        return dt.date(year, month, review.day)
    weekday = WEEKDAYS.index(review.on_weekday or "tuesday")
    last = calendar.monthrange(year, month)[1]
    if review.week == -1:
        end = dt.date(year, month, last)
        return end - dt.timedelta(days=(end.weekday() - weekday) % 7)
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (review.week - 1))


def first_monthly(review: MonthlyReview, start: dt.date) -> dt.date:
    """The first monthly review day on or after ``start``."""
    year, month = start.year, start.month
    while (day := _in_month(review, year, month)) < start:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return day


def post_incident_slot(review: PostIncidentReview, anchor: dt.datetime) -> dt.datetime:
    """The start of the review of an incident resolved (or, unresolved, opened) at ``anchor``:
    the latest working day's ``review.time`` that starts after ``anchor`` and ends within
    ``review.within`` of it, else the latest such day of any kind, else the first ``time``
    after ``anchor`` (a deadline shorter than the day leaves no slot that ends in time)."""
    anchor = anchor.astimezone(UTC)
    deadline = anchor + dt.timedelta(seconds=review.within)
    length = dt.timedelta(seconds=review.duration)
    zone = zoneinfo.ZoneInfo(review.timezone)
    first = anchor.astimezone(zone).date()
    days = [first + dt.timedelta(days=i) for i in range((deadline - anchor).days + 2)]
    slots = [at_local(day, review.time, review.timezone) for day in days]
    fits = [s for s in slots if anchor < s.astimezone(UTC) <= deadline - length]
    working = [s for s in fits if s.weekday() in _WORKING_DAYS]
    if working or fits:
        return (working or fits)[-1]
    return next(s for s in slots if s.astimezone(UTC) > anchor)
