"""The review cadence as iCalendar, parsed back with icalendar: the weekly and monthly reviews
recur on the configured weekday and time in their zone (and stay at that local time across a
daylight-saving change), each with its agenda; a post-incident review lands within the
deadline on a working day; attendees with an e-mail are invited."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import icalendar
import pytest
from dateutil.rrule import rrulestr

from perfops.config import Reviews, parse_config
from perfops.respond.incident import Incident
from perfops.respond.review_calendar import plan_meetings, to_ical, when

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
STAMP = dt.datetime(2026, 3, 14, 12, 0, tzinfo=dt.UTC)
START = dt.date(2026, 3, 16)  # a Monday; Europe/Berlin moves to summer time on 2026-03-29


def _reviews(text: str) -> Reviews:
    return parse_config("apiVersion: perfops/v1\nreviews:\n" + text).reviews


REVIEWS = _reviews("""\
  weekly: {weekday: wednesday, time: "10:00", timezone: Europe/Berlin, duration: 45m,
           attendees: [sre-lead, "Ana Lopez <ana@example.com>"]}
  monthly: {weekday: tuesday, week: first, time: "16:30", timezone: America/New_York}
  post_incident: {within: 5d, time: "14:00", timezone: UTC, attendees: [bo@example.com]}
""")


def _ns(at: dt.datetime) -> int:
    return int(at.timestamp()) * 1_000_000_000


def _incident(
    iid: str, severity: str, resolved: dt.datetime | None, title: str = "slow"
) -> Incident:
    opened = _ns(resolved or STAMP) - 3_600_000_000_000
    inc = Incident(iid, title, "resolved" if resolved else "investigating", severity, opened,
                   opened, services=["chat"], slos=["chat-ttft"])  # fmt: skip
    inc.resolved_ns = _ns(resolved) if resolved else None
    inc.roles["incident_commander"] = "carol"
    return inc


def _events(reviews: Reviews, incidents: list[Incident], **kw: Any) -> dict[str, Any]:
    meetings = plan_meetings(reviews, "demo", incidents, START, **kw)
    calendar = icalendar.Calendar.from_ical(to_ical(meetings, name="reviews", stamp=STAMP))
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def _occurrences(event: Any, count: int) -> list[dt.datetime]:
    rule = event["RRULE"].to_ical().decode()
    return list(rrulestr(rule, dtstart=event.decoded("DTSTART")))[:count]


def test_the_weekly_review_recurs_on_its_weekday_at_its_local_time_across_dst() -> None:
    event = _events(REVIEWS, [])["review-weekly.demo@perfops"]
    assert event["RRULE"]["FREQ"] == ["WEEKLY"]
    assert event["RRULE"]["BYDAY"] == ["WE"]
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    start = event.decoded("DTSTART")
    assert start.replace(tzinfo=None) == dt.datetime(2026, 3, 18, 10, 0)
    assert event.decoded("DTEND") - start == dt.timedelta(minutes=45)
    assert event.decoded("DTSTAMP") == STAMP
    times = _occurrences(event, 4)
    assert [t.date() for t in times] == [dt.date(2026, 3, 18) + dt.timedelta(weeks=i)
                                         for i in range(4)]  # fmt: skip
    assert {t.astimezone(BERLIN).strftime("%H:%M") for t in times} == {"10:00"}
    assert [t.astimezone(dt.UTC).hour for t in times] == [9, 9, 8, 8]  # CET, then CEST


def test_each_zone_used_has_its_vtimezone() -> None:
    meetings = plan_meetings(REVIEWS, "demo", [], START)
    calendar = icalendar.Calendar.from_ical(to_ical(meetings, name="reviews", stamp=STAMP))
    assert {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")} == {
        "Europe/Berlin", "America/New_York",
    }  # fmt: skip
    assert str(calendar["PRODID"]) == "-//perfops//review cadence//EN"


def test_the_weekly_agenda_and_how_to_prepare_it() -> None:
    text = str(_events(REVIEWS, [])["review-weekly.demo@perfops"]["DESCRIPTION"])
    for item in ("SLO scorecard and error budgets", "capacity headroom", "action items",
                 "Chaos and drill evidence", "Decisions"):  # fmt: skip
        assert item in text
    assert "Prepare: perfops review pack weekly" in text
    assert "Attendees: sre-lead, Ana Lopez <ana@example.com>" in text


def test_an_attendee_with_an_e_mail_is_invited_and_a_name_is_only_listed() -> None:
    event = _events(REVIEWS, [])["review-weekly.demo@perfops"]
    attendees = event["ATTENDEE"]
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert [str(a) for a in attendees] == ["mailto:ana@example.com"]
    assert attendees[0].params["CN"] == "Ana Lopez"


@pytest.mark.parametrize(
    ("monthly", "rule", "first"),
    [
        ("{weekday: tuesday, week: first}", {"BYDAY": ["1TU"]}, dt.date(2026, 4, 7)),
        ("{weekday: thu, week: last}", {"BYDAY": ["-1TH"]}, dt.date(2026, 3, 26)),
        ("{day: 20}", {"BYMONTHDAY": [20]}, dt.date(2026, 3, 20)),
        ("{day: 2}", {"BYMONTHDAY": [2]}, dt.date(2026, 4, 2)),
    ],
)
def test_the_monthly_review_recurs_on_its_day_of_the_month(
    monthly: str, rule: dict[str, list[object]], first: dt.date
) -> None:
    reviews = _reviews(f"  monthly: {monthly}\n")
    event = _events(reviews, [])["review-monthly.demo@perfops"]
    assert event["RRULE"]["FREQ"] == ["MONTHLY"]
    assert {k: event["RRULE"][k] for k in rule} == rule
    times = _occurrences(event, 3)
    assert times[0].date() == first  # DTSTART is the first occurrence on or after --from
    assert times[0] == event.decoded("DTSTART")
    assert len({t.month for t in times}) == 3
    text = str(event["DESCRIPTION"])
    for item in (
        "bill by service and team", "Idle and shared cost", "$/1M SLO-compliant",
        "Reconciliation", "ROI", "Decisions", "Prepare: perfops review pack monthly",
    ):  # fmt: skip
        assert item in text


def test_a_sev2_incident_gets_a_review_within_the_deadline_and_a_sev3_none() -> None:
    friday = dt.datetime(2026, 3, 20, 18, 0, tzinfo=dt.UTC)
    sev2 = _incident("inc-aaaa2222", "SEV-2", friday, "chat answers slowly")
    sev3 = _incident("inc-bbbb3333", "SEV-3", friday)
    events = _events(REVIEWS, [sev2, sev3])
    assert "review-inc-bbbb3333@perfops" not in events
    event = events["review-inc-aaaa2222@perfops"]
    start = event.decoded("DTSTART")
    assert friday < start <= friday + dt.timedelta(days=5) - dt.timedelta(hours=1)
    assert start == dt.datetime(2026, 3, 25, 14, 0, tzinfo=dt.UTC)  # the last working day
    assert "RRULE" not in event
    assert "inc-aaaa2222" in str(event["SUMMARY"])
    assert "SEV-2" in str(event["SUMMARY"])
    text = str(event["DESCRIPTION"])
    assert "chat answers slowly" in text
    assert "perfops incident postmortem inc-aaaa2222 --out postmortems/inc-aaaa2222.md" in text
    assert "Attendees: bo@example.com, carol" in text
    assert str(event["ATTENDEE"]) == "mailto:bo@example.com"


@pytest.mark.parametrize(
    ("resolved", "within", "review"),
    [  # resolved on a Tuesday, 5 days: the Friday before the weekend
        (dt.datetime(2026, 3, 17, 9, 0, tzinfo=dt.UTC), "5d", dt.datetime(2026, 3, 20, 14, 0)),
        # 1 day from 15:00: the next day at 14:00 ends at the deadline
        (dt.datetime(2026, 3, 17, 15, 0, tzinfo=dt.UTC), "1d", dt.datetime(2026, 3, 18, 14, 0)),
        # 1 day from 13:30: the next day's slot ends too late, the same day's fits
        (dt.datetime(2026, 3, 17, 13, 30, tzinfo=dt.UTC), "1d", dt.datetime(2026, 3, 17, 14, 0)),
        # Friday night, 1 day: no working day fits, the Saturday does
        (dt.datetime(2026, 3, 20, 22, 0, tzinfo=dt.UTC), "1d", dt.datetime(2026, 3, 21, 14, 0)),
    ],
)
def test_the_review_is_on_the_last_working_day_that_ends_in_time(
    resolved: dt.datetime, within: str, review: dt.datetime
) -> None:
    reviews = _reviews(f"  post_incident: {{within: {within}, time: '14:00', timezone: UTC}}\n")
    events = _events(reviews, [_incident("inc-cccc4444", "SEV-1", resolved)])
    event = events["review-inc-cccc4444@perfops"]
    assert event.decoded("DTSTART") == review.replace(tzinfo=dt.UTC)


def test_an_unresolved_incident_is_reviewed_within_days_of_its_opening() -> None:
    inc = _incident("inc-dddd5555", "SEV-1", None)
    inc.opened_ns = _ns(dt.datetime(2026, 3, 16, 8, 0, tzinfo=dt.UTC))
    event = _events(REVIEWS, [inc])["review-inc-dddd5555@perfops"]
    assert event.decoded("DTSTART") == dt.datetime(2026, 3, 20, 14, 0, tzinfo=dt.UTC)
    assert "not resolved yet" in str(event["DESCRIPTION"])


def test_the_horizon_bounds_the_recurrences_and_leaves_out_later_reviews() -> None:
    later = _incident("inc-eeee6666", "SEV-2", dt.datetime(2026, 4, 6, 9, 0, tzinfo=dt.UTC))
    events = _events(REVIEWS, [later], weeks=2)
    assert set(events) == {"review-weekly.demo@perfops"}  # first Tuesday of April: later
    weekly = events["review-weekly.demo@perfops"]
    assert len(list(rrulestr(weekly["RRULE"].to_ical().decode(),
                             dtstart=weekly.decoded("DTSTART")))) == 2  # fmt: skip
    past = _incident("inc-ffff7777", "SEV-2", dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC))
    assert "review-inc-ffff7777@perfops" not in _events(REVIEWS, [past])


def test_disabled_reviews_are_left_out() -> None:
    reviews = _reviews("  weekly: {enabled: false}\n  monthly: {enabled: false}\n"
                       "  post_incident: {enabled: false}\n")  # fmt: skip
    friday = dt.datetime(2026, 3, 20, 18, 0, tzinfo=dt.UTC)
    assert _events(reviews, [_incident("inc-aaaa2222", "SEV-1", friday)]) == {}


def test_a_hostile_title_cannot_break_the_calendar() -> None:
    title = "x\x1b[31m\r\nEND:VEVENT\r\nBEGIN:VEVENT; a, b"
    friday = dt.datetime(2026, 3, 20, 18, 0, tzinfo=dt.UTC)
    inc = _incident("inc-aaaa2222", "SEV-1", friday, title)
    inc.roles["scribe"] = "not an e-mail@"
    events = _events(REVIEWS, [inc])
    assert len(events) == 3
    summary = str(events["review-inc-aaaa2222@perfops"]["SUMMARY"])
    assert "\x1b" not in summary
    assert "\\x1b" in summary
    assert "not an e-mail@" in str(events["review-inc-aaaa2222@perfops"]["DESCRIPTION"])


def test_when_says_it_in_words() -> None:
    meetings = {m.uid: m for m in plan_meetings(REVIEWS, "demo", [], START, weeks=8)}
    assert when(meetings["review-weekly.demo@perfops"]) == (
        "every Wednesday at 10:00 Europe/Berlin from 2026-03-18, before 2026-05-11"
    )
    assert when(meetings["review-monthly.demo@perfops"]).startswith(
        "the first Tuesday of each month at 16:30 America/New_York from 2026-04-07"
    )
