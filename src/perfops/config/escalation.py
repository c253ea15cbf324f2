"""The escalation policy's parts in perfops.yaml: the severity matrix, roles, steps, on-call
schedules, status-update cadence and night hours (``escalation:`` in perfops.yaml).

The defaults follow PagerDuty's incident-response documentation (response.pagerduty.com):
SEV-1 critical (public notification, executives involved) to SEV-5 cosmetic; a first status
message within 5 minutes and updates at least every 20 minutes.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from perfops._internal.durations import parse_duration
from perfops.config._bounds import within

__all__ = [
    "ROLES",
    "SEVERITIES",
    "Cadence",
    "ClockTime",
    "NightHours",
    "Schedule",
    "SeverityRule",
    "Step",
    "RoleMap",
    "clock_minutes",
    "default_matrix",
]

SEVERITIES = ("SEV-1", "SEV-2", "SEV-3", "SEV-4", "SEV-5")
ROLES = ("incident_commander", "scribe", "communications_liaison", "subject_matter_expert")
Sev = Literal["SEV-1", "SEV-2", "SEV-3", "SEV-4", "SEV-5"]
Role = Literal["incident_commander", "scribe", "communications_liaison", "subject_matter_expert"]
_NAME = re.compile(r"^[a-z0-9]([a-z0-9_.-]{0,62}[a-z0-9])?$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DAY_S = 86400.0


class _Part(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False
    )


def _clock(value: object) -> object:
    """``"09:00"`` as text; YAML 1.1 reads an unquoted ``10:30`` as the base-60 number 630."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return f"{value // 60:02d}:{value % 60:02d}"
    if isinstance(value, str) and not _CLOCK.match(value):
        raise ValueError(f"{value!r} is not a time of day; write HH:MM (24-hour clock), e.g. 09:00")
    return value


def zone_name(value: str) -> str:
    """``value`` when it names an IANA time zone, else a ValueError saying what one is."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder
        raise ValueError(
            f"{value!r} is not an IANA time zone, e.g. UTC, Europe/Berlin, America/New_York"
        ) from None
    return value


ClockTime = Annotated[str, BeforeValidator(_clock)]
Duration = Annotated[float, BeforeValidator(parse_duration)]
Fraction = Annotated[
    float, within(0, 1, what="an impact", why="a fraction of requests or tenants, 0.05 for 5%")
]


def clock_minutes(value: str) -> int:
    """Minutes after midnight of an ``HH:MM`` time."""
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


class SeverityRule(_Part):
    """One row of the severity matrix: the first row whose conditions all hold gives the
    severity. A condition left out always holds."""

    severity: Sev
    tier: tuple[str, ...] = Field(
        default=(), description="alert severities (burn tiers) it applies to, e.g. [page]"
    )
    impact: Fraction | None = Field(
        default=None, description="at least this fraction of requests or tenants affected"
    )
    duration: Duration | None = Field(default=None, description="lasting at least this long")
    meaning: str = ""


def default_matrix() -> tuple[SeverityRule, ...]:
    """PagerDuty's levels on perfops' burn tiers: a page burns the budget fast, a ticket slowly."""
    rule = SeverityRule
    return (
        rule(severity="SEV-1", tier=("page",), impact=0.25, meaning="critical: a quarter of "
             "requests or tenants failing; public notice, executives informed"),
        rule(severity="SEV-1", tier=("page",), impact=0.05, duration=3600.0,
             meaning="critical: a major outage lasting an hour or more"),
        rule(severity="SEV-2", tier=("page",), impact=0.05,
             meaning="major: many customers cannot use the product"),
        rule(severity="SEV-3", tier=("page",),
             meaning="minor customer impact needing the owners' immediate attention"),
        rule(severity="SEV-3", tier=("ticket",), impact=0.05, duration=4 * 3600.0,
             meaning="a slow burn hurting many customers for hours"),
        rule(severity="SEV-4", tier=("ticket",),
             meaning="needs action, customers can still use the product"),
        rule(severity="SEV-5", meaning="cosmetic: no effect on customers' use of the product"),
    )  # fmt: skip


class Schedule(_Part):
    """An on-call rotation: ``people`` take turns of ``rotation``, handing off at ``handoff``
    (a wall-clock time in ``timezone``, kept across daylight-saving changes) from ``start``."""

    name: str
    people: tuple[str, ...] = ()
    rotation: Annotated[
        Duration, within(3600, 366 * _DAY_S, what="a rotation", why="one hour to a year")
    ] = 7 * _DAY_S
    handoff: ClockTime = "09:00"
    timezone: str = "UTC"
    start: dt.date = Field(description="the day of the first hand-off (to the first person)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"{value!r} is not a valid schedule name: use 1-64 lower-case letters, digits, "
                "'-', '_' or '.'"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return zone_name(value)

    @field_validator("start")
    @classmethod
    def _start(cls, value: dt.date) -> dt.date:
        if not dt.date(1970, 1, 1) <= value <= dt.date(2200, 1, 1):
            raise ValueError(f"a start of {value} is outside 1970-01-01 to 2200-01-01")
        return value

    @field_validator("people")
    @classmethod
    def _people(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not p.strip() for p in value):
            raise ValueError("a person's name cannot be empty")
        return value

    @field_validator("rotation")
    @classmethod
    def _whole_rotation(cls, value: float) -> float:
        if value % _DAY_S and _DAY_S % value:
            raise ValueError(
                f"a rotation of {value / 3600:g} h neither divides a day nor is a whole number of "
                "days; use e.g. 8h, 12h, 1d or 1w"
            )
        return value


class Step(_Part):
    """One escalation step: ``after`` the alert started, page who ``notify`` names (schedules,
    resolved to whoever is on call then, or people) through ``receiver``."""

    after: Duration = 0.0
    notify: tuple[str, ...] = Field(min_length=1, description="schedule names or people")
    receiver: str | None = Field(
        default=None, description="the receiver that carries it (default: the page route's first)"
    )


class Cadence(_Part):
    """Status updates: the first within ``first``, then one at least every ``every``."""

    first: Annotated[Duration, within(0, _DAY_S, what="first", low_open=True)] = 300.0
    every: Annotated[Duration, within(60, _DAY_S, what="every", why="a minute to a day")] = 1200.0


class NightHours(_Part):
    """A page between ``start`` and ``end`` (wall clock in the schedule's time zone) is a night
    page."""

    start: ClockTime = "22:00"
    end: ClockTime = "08:00"


RoleMap = dict[Role, str]
