"""The escalation policy's pure parts: the severity matrix, on-call rotations across daylight-
saving changes, roles, the status-update cadence, the iCalendar export, and the located errors
of a policy that names what does not exist."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import icalendar
import pytest

from perfops.config import Cadence, Schedule, SeverityRule, parse_config
from perfops.errors import ConfigError, UsageError
from perfops.respond import policy

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("tier", "impact", "duration_s", "expected"),
    [
        ("page", 0.30, 60, "SEV-1"),  # a quarter of requests or more
        ("page", 0.06, 3600, "SEV-1"),  # major for an hour
        ("page", 0.06, 3599, "SEV-2"),
        ("page", "major", 60, "SEV-2"),
        ("page", "critical", 0, "SEV-1"),
        ("page", 0.01, 86400, "SEV-3"),
        ("page", None, 86400, "SEV-3"),  # unknown impact meets no threshold
        ("ticket", 0.05, 4 * 3600, "SEV-3"),
        ("ticket", 0.05, 4 * 3600 - 1, "SEV-4"),
        ("ticket", "none", 0, "SEV-4"),
        ("info", 0.9, 86400, "SEV-5"),  # no row names the tier but the catch-all
    ],
)
def test_the_default_matrix(
    tier: str, impact: float | str | None, duration_s: float, expected: str
) -> None:
    assert policy.severity(tier, impact, duration_s) == expected


def test_a_matrix_of_its_own_and_the_fallback() -> None:
    matrix = [SeverityRule(severity="SEV-2", tier=("ticket",), impact=0.5)]
    assert policy.severity("ticket", 0.5, 0, matrix) == "SEV-2"
    assert policy.severity("ticket", 0.4, 0, matrix) == "SEV-5"  # no row holds


def test_impact_out_of_range_or_unknown_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not a fraction"):
        policy.severity("page", 1.5, 0)
    with pytest.raises(UsageError, match="minor, major, critical"):
        policy.severity("page", "huge", 0)


def _weekly_berlin(handoff: str = "09:00") -> Schedule:
    return Schedule(
        name="primary",
        people=("ana", "bo", "cy"),
        rotation=7 * 86400,
        handoff=handoff,
        timezone="Europe/Berlin",
        start=dt.date(2025, 3, 24),  # a Monday; DST starts Sunday 2025-03-30 02:00 CET
    )


def _berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


def test_hand_offs_keep_their_local_time_across_dst() -> None:
    schedule = _weekly_berlin()
    assert policy.on_call(schedule, _berlin(2025, 3, 24, 8, 59)) is None  # before the start
    assert policy.on_call(schedule, _berlin(2025, 3, 24, 9, 0)) == "ana"
    assert policy.on_call(schedule, _berlin(2025, 3, 31, 8, 59)) == "ana"
    assert policy.on_call(schedule, _berlin(2025, 3, 31, 9, 0)) == "bo"  # 09:00 CEST now
    first = policy.shifts(schedule, _berlin(2025, 3, 25), _berlin(2025, 3, 26))[0]
    assert first.end - first.start == dt.timedelta(hours=167)  # the week lost an hour
    # autumn: 2025-10-26 03:00 CEST -> 02:00 CET; the shift across it lasts 169 h
    autumn = policy.shifts(schedule, _berlin(2025, 10, 21), _berlin(2025, 10, 22))[0]
    assert autumn.end - autumn.start == dt.timedelta(hours=169)
    assert autumn.end.astimezone(BERLIN).hour == 9


def test_a_hand_off_in_the_spring_gap_happens_when_the_clock_jumps_past_it() -> None:
    daily = Schedule(name="night", people=("ana", "bo"), rotation=86400, handoff="02:30",
                     timezone="Europe/Berlin", start=dt.date(2025, 3, 28))  # fmt: skip
    # 2025-03-30 02:30 does not exist in Berlin: 02:30 CET is 03:30 CEST (01:30 UTC)
    gap = policy.handoff(daily, 2)
    assert gap == dt.datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert policy.on_call(daily, gap - dt.timedelta(seconds=1)) == "bo"
    assert policy.on_call(daily, gap) == "ana"
    assert policy.on_call(daily, _berlin(2025, 3, 31, 2, 29)) == "ana"
    assert policy.on_call(daily, _berlin(2025, 3, 31, 2, 30)) == "bo"


def test_the_repeated_autumn_hour_hands_off_once() -> None:
    daily = Schedule(name="night", people=("ana", "bo"), rotation=86400, handoff="02:30",
                     timezone="Europe/Berlin", start=dt.date(2025, 10, 25))  # fmt: skip
    # 2025-10-26 02:30 happens twice; the hand-off is the first (CEST, 00:30 UTC)
    first = dt.datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    assert policy.on_call(daily, first - dt.timedelta(seconds=1)) == "ana"
    assert policy.on_call(daily, first) == "bo"
    second = dt.datetime(2025, 10, 26, 1, 30, tzinfo=UTC)  # 02:30 CET, the second time round
    assert policy.on_call(daily, second) == "bo"


def test_twelve_hour_shifts_in_new_york() -> None:
    sun = Schedule(name="sun", people=("day", "night"), rotation=12 * 3600, handoff="08:00",
                   timezone="America/New_York", start=dt.date(2025, 3, 8))  # fmt: skip
    ny = ZoneInfo("America/New_York")
    assert policy.on_call(sun, dt.datetime(2025, 3, 9, 12, 0, tzinfo=ny)) == "day"
    assert policy.on_call(sun, dt.datetime(2025, 3, 9, 20, 0, tzinfo=ny)) == "night"
    assert policy.on_call(sun, dt.datetime(2025, 3, 10, 7, 59, tzinfo=ny)) == "night"


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        policy.on_call(_weekly_berlin(), dt.datetime(2025, 4, 1))


POLICY = """\
apiVersion: perfops/v1
escalation:
  receivers:
    - {name: pager, kind: pagerduty, target_env: PD_KEY}
  routes:
    - {severity: page, receivers: [pager]}
  schedules:
    - {name: primary, people: [ana, bo], rotation: 1w, handoff: "10:30", start: 2025-01-06}
  steps:
    - {after: 0m, notify: [primary]}
    - {after: 15m, notify: [bo]}
  roles: {incident_commander: primary, scribe: bo}
"""


def test_roles_resolve_to_who_is_on_call() -> None:
    escalation = parse_config(POLICY).escalation
    assert escalation.schedules[0].handoff == "10:30"  # YAML 1.1 read 10:30 as 630
    holders = policy.role_holders(escalation, dt.datetime(2025, 1, 14, 12, tzinfo=UTC))
    assert holders == {
        "incident_commander": "bo",  # week 2 of primary
        "scribe": "bo",
        "communications_liaison": None,
        "subject_matter_expert": None,
    }


def test_the_status_update_cadence() -> None:
    cadence = Cadence()
    assert (cadence.first, cadence.every) == (300.0, 1200.0)  # PagerDuty: 5 min, then 20
    assert policy.next_update_due(cadence, 1000.0, None) == 1300.0
    assert policy.next_update_due(cadence, 1000.0, 1250.0) == 2450.0


@pytest.mark.parametrize(
    ("broken", "where", "says"),
    [
        ("notify: [bo]}", "perfops.yaml:11:", "'dan' is neither a schedule nor a person"),
        ("notify: [primary]}", "perfops.yaml:10:", "'primry' is neither"),
        ("scribe: bo}", "perfops.yaml:12:", "'zed' is neither"),
    ],
)
def test_a_policy_naming_what_does_not_exist_is_located(broken: str, where: str, says: str) -> None:
    name = says.split("'")[1]
    text = POLICY.replace(broken, broken.replace("bo", name).replace("primary", name))
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    message = str(caught.value)
    assert where in message
    assert says in message
    assert "did you mean" in message or "schedules: primary" in message


def test_step_receiver_and_timezone_problems_come_together() -> None:
    text = POLICY.replace("start: 2025-01-06}", "start: 2025-01-06, timezone: Mars/Olympus}")
    text = text.replace("notify: [bo]}", "notify: [bo], receiver: pagr}")
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert len(caught.value.problems) == 2
    message = str(caught.value)
    assert "perfops.yaml:8:" in message
    assert "'Mars/Olympus' is not an IANA time zone" in message
    assert "perfops.yaml:11:" in message
    assert "unknown receiver 'pagr'; did you mean \"pager\"" in message


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("after: 0m", "after: 20m"), "order of their after"),
        (("roles:", "repeat: 1\n  repeat_every: 10m\n  roles:"), "must be longer than"),
    ],
)
def test_steps_out_of_order_or_overlapping_rounds(change: tuple[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says) as caught:
        parse_config(POLICY.replace(*change))
    assert caught.value.problems[0].path == "escalation"


def test_the_ical_export_has_a_shift_per_event_in_local_time() -> None:
    schedule = _weekly_berlin()
    start, end = _berlin(2025, 3, 24, 9), _berlin(2025, 4, 14, 9)
    data = policy.to_ical(schedule, start, end, stamp=start)
    calendar = icalendar.Calendar.from_ical(data)
    events = list(calendar.walk("VEVENT"))
    assert [str(e["summary"]) for e in events] == [
        "On call: ana (primary)",
        "On call: bo (primary)",
        "On call: cy (primary)",
    ]
    starts = [e.decoded("dtstart") for e in events]
    assert [s.astimezone(BERLIN).hour for s in starts] == [9, 9, 9]  # across the DST change
    assert str(starts[1].tzinfo) == "Europe/Berlin"
    assert len(list(calendar.walk("VTIMEZONE"))) == 1
    assert len({str(e["uid"]) for e in events}) == 3
