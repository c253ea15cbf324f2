"""The review cadence in perfops.yaml (``reviews:``): the weekly performance review, the
monthly FinOps review, the post-incident review due within days of a SEV-1/SEV-2 incident,
and the folder where postmortems live (whose open action items the review packs list).

Times are wall-clock times in an IANA time zone, so a meeting at 10:00 Europe/Berlin stays at
10:00 local across daylight-saving changes (the calendar carries the zone, RFC 5545 TZID).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from perfops._internal.durations import parse_duration
from perfops.config._bounds import within
from perfops.config.escalation import ClockTime, Sev, _Part, zone_name

__all__ = [
    "WEEKDAYS",
    "Attendee",
    "MonthlyReview",
    "PostIncidentReview",
    "Reviews",
    "WeeklyReview",
    "parse_attendee",
]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
"""Weekday names in Python's order (``date.weekday()``: Monday is 0)."""
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_EMAIL = re.compile(r"[^\s@<>,;:\"]+@[^\s@<>,;:\"]+\.[A-Za-z]{2,63}")
_NAMED = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<email>[^<>]*)>")
_DAY_S = 86400.0


def _weekday(value: object) -> object:
    """``Tuesday``, ``tue`` or ``TU`` (iCalendar's) as ``tuesday``."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    for day in WEEKDAYS:
        if len(text) >= 2 and day.startswith(text):
            return day
    raise ValueError(
        f"{value!r} is not a day of the week; write monday ... sunday (or mon, tu, ...)"
    )


def _ordinal(value: object) -> object:
    """``first`` .. ``fourth`` or ``last`` (also 1 to 4 and -1) as a number."""
    if isinstance(value, str) and value.strip().lower() in _ORDINALS:
        return _ORDINALS[value.strip().lower()]
    if isinstance(value, int) and not isinstance(value, bool) and value in _ORDINALS.values():
        return value
    raise ValueError(
        f"{value!r} is not a week of the month; write first, second, third, fourth or last"
    )


def _zone(value: object) -> object:
    return zone_name(value) if isinstance(value, str) else value


def _severity(value: object) -> object:
    """``sev2``, ``SEV2`` or ``2`` as ``SEV-2`` (as `perfops incident` reads them)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"SEV-{value}"
    if not isinstance(value, str):
        return value
    text = value.strip().upper().replace("_", "-")
    if text.isdigit():
        return f"SEV-{text}"
    if text.startswith("SEV") and not text.startswith("SEV-"):
        return "SEV-" + text[3:]
    return text


def parse_attendee(value: str) -> tuple[str, str | None]:
    """An attendee as ``(name, e-mail or None)``: ``alice``, ``alice@example.com`` or
    ``Alice Liddell <alice@example.com>``; a ValueError when an e-mail is malformed."""
    text = " ".join(value.split())
    named = _NAMED.fullmatch(text)
    name, email = (named["name"], named["email"]) if named else (text, None)
    if email is None and "@" in text:
        name, email = "", text
    if email is not None and not _EMAIL.fullmatch(email):
        raise ValueError(
            f"{value!r} holds no valid e-mail address; write a name (alice, SRE lead), an "
            "e-mail (alice@example.com) or both (Alice <alice@example.com>)"
        )
    if not (name or email):
        raise ValueError("an attendee cannot be empty; write a name or an e-mail")
    return name.strip('" '), email


def _attendee(value: object) -> object:
    if isinstance(value, str):
        parse_attendee(value)
        return " ".join(value.split())
    return value


Attendee = Annotated[
    str,
    BeforeValidator(_attendee),
    Field(description="a person or role (alice, SRE lead), an e-mail, or Name <e-mail>"),
]
Zone = Annotated[
    str,
    BeforeValidator(_zone),
    Field(description="IANA time zone of the time, e.g. UTC, Europe/Berlin"),
]
Length = Annotated[
    float,
    BeforeValidator(parse_duration),
    within(300, 8 * 3600, what="a meeting's duration", unit=" s", why="5 minutes to 8 hours"),
]
Severity = Annotated[Sev, BeforeValidator(_severity)]
WeekdayName = Annotated[Weekday, BeforeValidator(_weekday)]
Ordinal = Annotated[Literal[1, 2, 3, 4, -1], BeforeValidator(_ordinal)]
Attendees = Annotated[tuple[Attendee, ...], Field(max_length=200)]
MonthDay = Annotated[int, within(1, 28, what="day", why="every month has days 1 to 28")]
Deadline = Annotated[
    float,
    BeforeValidator(parse_duration),
    within(_DAY_S, 60 * _DAY_S, what="within", unit=" s", why="1 to 60 days, e.g. 5d"),
]


class WeeklyReview(_Part):
    """The weekly performance review: SLOs and budgets, headroom, incidents, evidence."""

    enabled: bool = True
    weekday: WeekdayName = "monday"
    time: ClockTime = "10:00"
    timezone: Zone = "UTC"
    duration: Length = 3600.0
    attendees: Attendees = ()


class MonthlyReview(_Part):
    """The monthly FinOps review: on the ``week``-th ``weekday`` of each month (default the
    first Tuesday), or on day ``day`` of each month."""

    enabled: bool = True
    weekday: WeekdayName | None = Field(
        default=None, description="with week: e.g. the first tuesday (default)"
    )
    week: Ordinal = Field(default=1, description="first, second, third, fourth or last")
    day: MonthDay | None = Field(
        default=None, description="a day of the month (1 to 28) instead of a weekday"
    )
    time: ClockTime = "15:00"
    timezone: Zone = "UTC"
    duration: Length = 3600.0
    attendees: Attendees = ()

    @model_validator(mode="after")
    def _one_rule(self) -> MonthlyReview:
        if self.day is not None and ({"weekday", "week"} & self.model_fields_set):
            raise ValueError(
                "give either day: (a day of the month) or weekday: with week: (e.g. the first "
                "tuesday), not both"
            )
        return self

    @property
    def on_weekday(self) -> Weekday | None:
        """The weekday of the meeting (None when it is on a day of the month)."""
        return None if self.day is not None else (self.weekday or "tuesday")


class PostIncidentReview(_Part):
    """A review of each incident of ``severities``, held ``within`` its resolution (or its
    opening while unresolved), at ``time`` on a working day."""

    enabled: bool = True
    severities: tuple[Severity, ...] = Field(
        default=("SEV-1", "SEV-2"), description="the incidents that get one, e.g. [SEV-1, SEV-2]"
    )
    within: Deadline = Field(
        default=5 * _DAY_S, description="how soon after the incident, e.g. 5d (1d to 60d)"
    )
    time: ClockTime = "14:00"
    timezone: Zone = "UTC"
    duration: Length = 3600.0
    attendees: Attendees = ()

    @field_validator("severities")
    @classmethod
    def _some(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one severity, or set enabled: false")
        return tuple(dict.fromkeys(value))


def _folder(value: object) -> object:
    if isinstance(value, str) and ("\0" in value or not value.strip()):
        raise ValueError("a folder needs a name without NUL characters, e.g. postmortems")
    return value


class Reviews(_Part):
    """The review cadence (``perfops review plan``) and its packs (``perfops review pack``)."""

    weekly: WeeklyReview = WeeklyReview()
    monthly: MonthlyReview = MonthlyReview()
    post_incident: PostIncidentReview = PostIncidentReview()
    postmortems: Annotated[Path, BeforeValidator(_folder)] = Field(
        default=Path("postmortems"),
        description="folder of the postmortems (Markdown) whose action items the packs list; "
        "relative to perfops.yaml",
    )
