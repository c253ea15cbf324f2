"""The review cadence as iCalendar (RFC 5545): the weekly performance review and the monthly
FinOps review as recurring events (RRULE, in the review's zone with its VTIMEZONE, so they stay
at their local time across daylight-saving changes), and one post-incident review per SEV-1/2
incident, each with its agenda and the perfops command that prepares it.

Pure: the reviews of perfops.yaml, the incidents and the clock's now come in; the calendar's
bytes go out. UIDs are stable (workspace, review, incident), so importing a newer plan updates
the events instead of adding copies.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

import icalendar

from perfops._internal.escape import terminal_text
from perfops.config import WEEKDAYS, Reviews, parse_attendee
from perfops.respond._review_dates import (
    at_local,
    first_monthly,
    first_weekly,
    post_incident_slot,
    rrule_day,
)
from perfops.respond.incident import Incident

__all__ = [
    "MONTHLY_AGENDA",
    "POST_INCIDENT_AGENDA",
    "PRODID",
    "WEEKLY_AGENDA",
    "Meeting",
    "plan_meetings",
    "to_ical",
    "when",
]

PRODID = "-//perfops//review cadence//EN"
WEEKLY_AGENDA = (
    "SLO scorecard and error budgets: attainment, budget left, SLOs at risk or breached",
    "Latency and capacity headroom: TTFT/TPOT/E2E percentiles, capacity per GPU at the SLO "
    "against peak traffic",
    "Incidents of the week and their action items (open items from the postmortems)",
    "Chaos and drill evidence: experiments and drills run, runbooks with stale mitigations",
    "Decisions: the recommendations to act on, with owners and due dates",
)
MONTHLY_AGENDA = (
    "The bill by service and team (and model), against the month before",
    "Idle and shared cost",
    "$/1M tokens and $/1M SLO-compliant tokens, and SLO waste",
    "Reconciliation against the imported bill",
    "Recommendations and the ROI of the changes made (savings, payback)",
    "Decisions: what to do next, with owners and due dates",
)
POST_INCIDENT_AGENDA = (
    "Timeline, impact and detection (the postmortem draft)",
    "Root cause and trigger",
    "The runbook: what it said, and whether it was followed and right",
    "Lessons learned: what went well, what went wrong, where we got lucky",
    "Action items with owners and due dates, written `- [ ] action (owner, due date)`",
)


@dataclass(frozen=True)
class Meeting:
    """One review: ``start`` (aware, in its zone) for ``duration`` seconds, repeating by
    ``rrule`` (iCalendar recurrence parts; None: once), with its agenda, the command that
    prepares it, what else to say, and the attendees (names, e-mails or both)."""

    uid: str
    summary: str
    start: dt.datetime
    duration: float
    agenda: tuple[str, ...]
    prepare: str
    attendees: tuple[str, ...] = ()
    rrule: dict[str, object] | None = None
    notes: tuple[str, ...] = ()


def _token(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "default"


def _until(reviews_zone: str, start: dt.date, weeks: int | None) -> dt.datetime | None:
    """The end of the horizon (midnight after ``weeks`` weeks, in the zone) in UTC."""
    if weeks is None:
        return None
    return at_local(start + dt.timedelta(weeks=weeks), "00:00", reviews_zone).astimezone(dt.UTC)


def _weekly(reviews: Reviews, workspace: str, start: dt.date, weeks: int | None) -> Meeting:
    review = reviews.weekly
    day = first_weekly(review.weekday, start)
    rule: dict[str, object] = {"FREQ": "WEEKLY", "BYDAY": rrule_day(review.weekday)}
    until = _until(review.timezone, start, weeks)
    if until is not None:
        rule["UNTIL"] = until
    return Meeting(
        f"review-weekly.{_token(workspace)}@perfops",
        f"Weekly performance review: {workspace}",
        at_local(day, review.time, review.timezone),
        review.duration,
        WEEKLY_AGENDA,
        "perfops review pack weekly (the report for the last 7 days, open action items, "
        "SLOs at risk, decisions needed)",
        review.attendees,
        rule,
    )


def _monthly(reviews: Reviews, workspace: str, start: dt.date, weeks: int | None) -> Meeting:
    review = reviews.monthly
    day = first_monthly(review, start)
    weekday = review.on_weekday
    rule: dict[str, object] = {"FREQ": "MONTHLY"}
    if weekday is None:
        rule["BYMONTHDAY"] = review.day
    else:
        rule["BYDAY"] = f"{review.week}{rrule_day(weekday)}"
    until = _until(review.timezone, start, weeks)
    if until is not None:
        rule["UNTIL"] = until
    return Meeting(
        f"review-monthly.{_token(workspace)}@perfops",
        f"Monthly FinOps review: {workspace}",
        at_local(day, review.time, review.timezone),
        review.duration,
        MONTHLY_AGENDA,
        "perfops review pack monthly (the report for the previous calendar month, open "
        "action items, SLOs at risk, decisions needed)",
        review.attendees,
        rule,
    )


def _utc(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)


def _post_incident(reviews: Reviews, inc: Incident, postmortems: str) -> Meeting:
    review = reviews.post_incident
    anchor = inc.resolved_ns if inc.resolved_ns is not None else inc.opened_ns
    title = terminal_text(inc.title)
    ended = (
        f"resolved {_utc(inc.resolved_ns):%Y-%m-%d %H:%M} UTC"
        if inc.resolved_ns is not None
        else "not resolved yet"
    )
    notes = [
        f"Incident {inc.incident_id} ({inc.severity}): {title}",
        f"Opened {_utc(inc.opened_ns):%Y-%m-%d %H:%M} UTC, {ended}; status {inc.status}",
        f"Services: {', '.join(inc.services) or 'none recorded'}; "
        f"SLOs: {', '.join(inc.slos) or 'none recorded'}",
    ]
    roles = tuple(who for who in inc.roles.values() if who)
    folder = postmortems.rstrip("/") or "."
    return Meeting(
        f"review-{_token(inc.incident_id)}@perfops",
        f"Post-incident review: {inc.incident_id} ({inc.severity}) {title}",
        post_incident_slot(review, _utc(anchor)),
        review.duration,
        POST_INCIDENT_AGENDA,
        f"perfops incident postmortem {inc.incident_id} --out "
        f"{folder}/{inc.incident_id}.md (the draft, from the lake)",
        tuple(dict.fromkeys((*review.attendees, *(terminal_text(r) for r in roles)))),
        None,
        tuple(notes),
    )


def plan_meetings(
    reviews: Reviews,
    workspace: str,
    incidents: Sequence[Incident],
    start: dt.date,
    *,
    weeks: int | None = None,
    postmortems: str = "postmortems",
) -> list[Meeting]:
    """The enabled reviews from ``start`` on (for ``weeks`` weeks, else open-ended): the
    weekly and monthly ones, and a post-incident review for each incident of the configured
    severities whose review falls on or after ``start`` (and within the horizon).
    ``postmortems`` is the folder the agenda's postmortem command writes to."""
    out: list[Meeting] = []
    end = None if weeks is None else start + dt.timedelta(weeks=weeks)
    if reviews.weekly.enabled:
        out.append(_weekly(reviews, workspace, start, weeks))
    monthly = _monthly(reviews, workspace, start, weeks)
    if reviews.monthly.enabled and (end is None or monthly.start.date() < end):
        out.append(monthly)
    if reviews.post_incident.enabled:
        wanted = set(reviews.post_incident.severities)
        for inc in sorted(incidents, key=lambda i: i.opened_ns):
            if inc.severity not in wanted:
                continue
            meeting = _post_incident(reviews, inc, postmortems)
            day = meeting.start.date()
            if day >= start and (end is None or day < end):
                out.append(meeting)
    return out


_DAYS = {d[:2].upper(): d.capitalize() for d in WEEKDAYS}
_NTH = {"1": "first", "2": "second", "3": "third", "4": "fourth", "-1": "last"}


def when(meeting: Meeting) -> str:
    """When ``meeting`` happens, in words: ``every Monday at 10:00 Europe/Berlin from
    2026-12-07``, ``the first Tuesday of each month ...``, ``on 2026-12-08 at 14:00 UTC``."""
    at = f"at {meeting.start:%H:%M} {meeting.start.tzinfo}"
    rule = meeting.rrule
    if rule is None:
        return f"on {meeting.start:%Y-%m-%d} {at}"
    day = str(rule.get("BYDAY", ""))
    if rule["FREQ"] == "WEEKLY":
        repeat = f"every {_DAYS[day]}"
    elif day:
        repeat = f"the {_NTH[day[:-2]]} {_DAYS[day[-2:]]} of each month"
    else:
        repeat = f"day {rule['BYMONTHDAY']} of each month"
    until = rule.get("UNTIL")
    end = ""
    if isinstance(until, dt.datetime):
        end = f", before {until.astimezone(meeting.start.tzinfo):%Y-%m-%d}"
    return f"{repeat} {at} from {meeting.start:%Y-%m-%d}{end}"


def _description(meeting: Meeting) -> str:
    lines = [*meeting.notes, *([""] if meeting.notes else []), "Agenda:"]
    lines += [f"{n}. {item}" for n, item in enumerate(meeting.agenda, 1)]
    lines += ["", f"Prepare: {meeting.prepare}"]
    if meeting.attendees:
        lines.append(f"Attendees: {', '.join(meeting.attendees)}")
    return "\n".join(lines)


def _attendee(text: str) -> icalendar.vCalAddress | None:
    try:
        name, email = parse_attendee(text)
    except ValueError:  # an incident's role holder, as the lake has it: listed only
        return None
    if email is None:
        return None  # a name or a role: listed in the description only
    address = icalendar.vCalAddress(f"mailto:{email}")
    if name:
        address.params["cn"] = icalendar.vText(name)
    address.params["role"] = icalendar.vText("REQ-PARTICIPANT")
    return address


def _event(meeting: Meeting, stamp: dt.datetime) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", meeting.uid)
    event.add("dtstamp", stamp.astimezone(dt.UTC))
    event.add("dtstart", meeting.start)
    event.add("dtend", meeting.start + dt.timedelta(seconds=meeting.duration))
    if meeting.rrule is not None:
        event.add("rrule", meeting.rrule)
    event.add("summary", meeting.summary)
    event.add("description", _description(meeting))
    event.add("categories", ["perfops review"])
    for text in meeting.attendees:
        address = _attendee(text)
        if address is not None:
            event.add("attendee", address)
    return event


def to_ical(meetings: Sequence[Meeting], *, name: str, stamp: dt.datetime) -> bytes:
    """``meetings`` as one iCalendar file named ``name``; ``stamp`` (the clock's now) is
    every event's DTSTAMP. Each zone used gets its VTIMEZONE."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    for meeting in meetings:
        calendar.add_component(_event(meeting, stamp))
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())
