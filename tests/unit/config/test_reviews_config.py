"""The `reviews:` section of perfops.yaml: the cadence as written is read into frozen models
(weekdays and severities in any usual spelling, durations, zones), a mistake is reported at
its line with the fix, and the postmortems folder lies next to perfops.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfops.config import load_config, parse_config
from perfops.errors import ConfigError

HEAD = "apiVersion: perfops/v1\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(HEAD + text)
    return [str(p) for p in info.value.problems]


def test_a_cadence_as_written_is_read() -> None:
    reviews = parse_config(
        HEAD
        + """\
reviews:
  weekly: {weekday: Wed, time: "09:30", timezone: Europe/Berlin, duration: 45m,
           attendees: [sre-lead, "Ana Lopez <ana@example.com>", bo@example.com]}
  monthly: {weekday: TH, week: last, time: 16:00, timezone: America/New_York}
  post_incident: {severities: [sev1, 2], within: 3d, enabled: false}
  postmortems: docs/pm
"""
    ).reviews
    weekly = reviews.weekly
    assert (weekly.weekday, weekly.time, weekly.timezone) == ("wednesday", "09:30", "Europe/Berlin")
    assert weekly.duration == 45 * 60
    assert weekly.attendees == ("sre-lead", "Ana Lopez <ana@example.com>", "bo@example.com")
    monthly = reviews.monthly
    assert (monthly.on_weekday, monthly.week, monthly.day) == ("thursday", -1, None)
    assert monthly.time == "16:00"  # YAML 1.1's base-60 960 read back as a time of day
    post = reviews.post_incident
    assert (post.severities, post.within, post.enabled) == (("SEV-1", "SEV-2"), 3 * 86400, False)
    assert reviews.postmortems == Path("docs/pm")
    with pytest.raises(ValueError, match="frozen"):
        weekly.time = "11:00"  # type: ignore[misc]


def test_the_defaults_are_a_monday_review_and_a_first_tuesday_finops_review() -> None:
    reviews = parse_config(HEAD).reviews
    assert (reviews.weekly.weekday, reviews.weekly.time, reviews.weekly.enabled) == (
        "monday", "10:00", True,
    )  # fmt: skip
    assert (reviews.monthly.on_weekday, reviews.monthly.week) == ("tuesday", 1)
    assert reviews.post_incident.severities == ("SEV-1", "SEV-2")
    assert reviews.post_incident.within == 5 * 86400
    assert reviews.monthly.model_copy(update={"day": 3}).on_weekday is None


def test_every_mistake_is_reported_at_its_line_with_the_fix() -> None:
    found = problems(
        """\
reviews:
  weekly:
    weekday: funday
    time: "25:00"
    timezone: Mars/Olympus
    duration: 1m
    attendees: ["bo@", ""]
  monthly: {weekday: tue, day: 3}
  post_incident:
    severities: [SEV-7]
    within: 2h
    atendees: []
"""
    )
    expected = [
        "perfops.yaml:4:14 reviews.weekly.weekday: 'funday' is not a day of the week",
        "perfops.yaml:5:11 reviews.weekly.time: '25:00' is not a time of day",
        "perfops.yaml:6:15 reviews.weekly.timezone: 'Mars/Olympus' is not an IANA time zone",
        "perfops.yaml:7:15 reviews.weekly.duration: a meeting's duration must be at least 300 s",
        "perfops.yaml:8:17 reviews.weekly.attendees[0]: 'bo@' holds no valid e-mail address",
        "perfops.yaml:8:24 reviews.weekly.attendees[1]: an attendee cannot be empty",
        "perfops.yaml:9:12 reviews.monthly: give either day: (a day of the month) or weekday:",
        "perfops.yaml:11:18 reviews.post_incident.severities[0]: Input should be 'SEV-1'",
        "perfops.yaml:12:13 reviews.post_incident.within: within must be at least 86,400 s",
        'perfops.yaml:13:5 reviews.post_incident.atendees: unknown field; did you mean "attend',
    ]
    assert len(found) == len(expected), found
    for line, want in zip(found, expected, strict=True):
        assert line.startswith(want), (line, want)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("monthly: {day: 31}", "reviews.monthly.day: day must be at least 1 and at most 28"),
        ("monthly: {week: fifth}", "'fifth' is not a week of the month; write first, second"),
        ("post_incident: {severities: []}", "name at least one severity, or set enabled: false"),
        ("weekly: {timezone: ''}", "'' is not an IANA time zone"),
        ("postmortems: ''", "a folder needs a name"),
    ],
)
def test_a_bad_value_says_what_would_do(text: str, says: str) -> None:
    found = problems(f"reviews:\n  {text}\n")
    assert len(found) == 1, found
    assert found[0].startswith("perfops.yaml:3:") or found[0].startswith("perfops.yaml:2:")
    assert says in found[0]


def test_an_environment_override_reaches_the_section() -> None:
    config = parse_config(HEAD, environ={"PERFOPS__REVIEWS__WEEKLY__WEEKDAY": "friday"})
    assert config.reviews.weekly.weekday == "friday"


def test_the_postmortems_folder_is_next_to_perfops_yaml(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(HEAD + "reviews: {postmortems: pm}\n")
    config = load_config(tmp_path / "perfops.yaml", environ={})
    assert config.reviews.postmortems == (tmp_path / "pm").resolve()
    (tmp_path / "perfops.yaml").write_text(HEAD)
    default = load_config(tmp_path / "perfops.yaml", environ={}).reviews.postmortems
    assert default == (tmp_path / "postmortems").resolve()
