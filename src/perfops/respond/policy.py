"""The escalation policy: severity from the matrix, who holds a role or is on call, the status-
update cadence, the iCalendar export, the human page and the replay of alert history.

Pure functions over ``config.Escalation`` and plain data; the incident lifecycle calls
:func:`severity`, :func:`role_holders` and :func:`next_update_due`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from perfops.config import ROLES, SEVERITIES, Cadence, Escalation, SeverityRule, default_matrix
from perfops.errors import UsageError
from perfops.respond._policy_ical import to_ical
from perfops.respond._policy_page import render_policy
from perfops.respond._policy_simulate import (
    AlertEpisode,
    AlertRow,
    Page,
    Simulation,
    Unreached,
    episodes,
    escalate,
    simulate,
)
from perfops.respond._schedule import Shift, handoff, on_call, shifts

__all__ = [
    "IMPACT_LABELS",
    "ROLES",
    "SEVERITIES",
    "AlertEpisode",
    "AlertRow",
    "Page",
    "Shift",
    "Simulation",
    "Unreached",
    "episodes",
    "escalate",
    "handoff",
    "impact_fraction",
    "next_update_due",
    "on_call",
    "render_policy",
    "resolve_person",
    "role_holders",
    "schedule_named",
    "severity",
    "shifts",
    "simulate",
    "to_ical",
]

IMPACT_LABELS = {"none": 0.0, "minor": 0.01, "major": 0.05, "critical": 0.25}
"""Impact labels as the fraction of requests or tenants they stand for (the default matrix's
thresholds: major is SEV-2 on a page, critical SEV-1)."""


def impact_fraction(impact: float | str | None) -> float | None:
    """``impact`` as a fraction in [0, 1]: a number as is, a label of :data:`IMPACT_LABELS`,
    None (unknown) as None."""
    if impact is None or isinstance(impact, float | int):
        if impact is not None and not 0 <= impact <= 1:
            raise UsageError(
                f"impact {impact!r} is not a fraction",
                hint="give the share of requests or tenants affected, 0.05 for 5%",
            )
        return None if impact is None else float(impact)
    if impact not in IMPACT_LABELS:
        raise UsageError(
            f"unknown impact label {impact!r}",
            hint=f"use a fraction (0.05) or one of: {', '.join(IMPACT_LABELS)}",
        )
    return IMPACT_LABELS[impact]


def _holds(rule: SeverityRule, tier: str, impact: float | None, duration_s: float) -> bool:
    if rule.tier and tier not in rule.tier:
        return False
    if rule.impact is not None and (impact is None or impact < rule.impact):
        return False
    return rule.duration is None or duration_s >= rule.duration


def severity(
    tier: str,
    impact: float | str | None,
    duration_s: float,
    matrix: Sequence[SeverityRule] | None = None,
) -> str:
    """The incident severity ("SEV-1".."SEV-5") of an alert of burn tier ``tier`` ("page",
    "ticket"), affecting ``impact`` (fraction of requests or tenants, a label, or None when not
    known: then no impact threshold holds), lasting ``duration_s``: the first row of ``matrix``
    (default: :func:`config.escalation.default_matrix`) that holds, else SEV-5."""
    fraction = impact_fraction(impact)
    rows = default_matrix() if matrix is None else matrix
    return next((r.severity for r in rows if _holds(r, tier, fraction, duration_s)), "SEV-5")


def schedule_named(escalation: Escalation, name: str) -> int | None:
    """The index of schedule ``name`` in ``escalation.schedules``, or None."""
    return next((i for i, s in enumerate(escalation.schedules) if s.name == name), None)


def resolve_person(escalation: Escalation, name: str, at: dt.datetime) -> str | None:
    """``name`` at ``at``: a schedule's on-call person, or the person ``name`` itself."""
    index = schedule_named(escalation, name)
    return name if index is None else on_call(escalation.schedules[index], at)


def role_holders(escalation: Escalation, at: dt.datetime) -> dict[str, str | None]:
    """Each incident role (all four, in :data:`ROLES` order) to who holds it at ``at``: the
    person named, or whoever is on call on the schedule named; None when unassigned."""
    roles: dict[str, str] = {str(k): v for k, v in escalation.roles.items()}
    return {
        role: resolve_person(escalation, roles[role], at) if role in roles else None
        for role in ROLES
    }


def next_update_due(cadence: Cadence, opened_s: float, last_update_s: float | None) -> float:
    """When the next status update is due (seconds since the epoch): ``cadence.first`` after
    the incident opened until a first update is out, then ``cadence.every`` after the last."""
    if last_update_s is None:
        return opened_s + cadence.first
    return last_update_s + cadence.every
