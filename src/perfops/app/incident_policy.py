"""`perfops incident policy`: the escalation policy's page, its iCalendar export, and its
replay over the alert history in the lake (``events`` rows of kind ``alert``)."""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Any

from perfops.app.runtime import Runtime
from perfops.config import Schedule
from perfops.errors import UsageError
from perfops.respond import policy

__all__ = ["policy_ical", "policy_page", "simulate_history", "simulation_json"]


def _now(rt: Runtime) -> dt.datetime:
    return dt.datetime.fromtimestamp(rt.clock.now_ns() / 1e9, dt.UTC)


def policy_page(rt: Runtime, fmt: str = "md") -> str:
    """The policy of perfops.yaml as a Markdown or HTML page, as of the clock's now."""
    title = f"Escalation policy: {rt.config.workspace.name}"
    return policy.render_policy(rt.config.escalation, _now(rt), fmt=fmt, title=title)


def _schedule(rt: Runtime, name: str) -> Schedule:
    schedules = rt.config.escalation.schedules
    for schedule in schedules:
        if schedule.name == name:
            return schedule
    known = [s.name for s in schedules]
    guess = difflib.get_close_matches(name, known, n=1)
    raise UsageError(
        f"no schedule {name!r} in {rt.config.where('escalation')}",
        hint=f"did you mean {guess[0]!r}?" if guess else (
            f"schedules: {', '.join(known)}" if known else
            "declare one under escalation.schedules (name, people, rotation, handoff, start)"
        ),
    )  # fmt: skip


def policy_ical(rt: Runtime, schedule: str, days: float) -> bytes:
    """The shifts of ``schedule`` from the current one for ``days`` days, as iCalendar."""
    now = _now(rt)
    end = now + dt.timedelta(days=days)
    return policy.to_ical(_schedule(rt, schedule), now, end, stamp=now)


def simulate_history(rt: Runtime, since_s: float) -> policy.Simulation:
    """The alerts that started in the last ``since_s`` seconds, replayed through the policy."""
    end = _now(rt)
    start = end - dt.timedelta(seconds=since_s)
    rows = [
        policy.AlertRow(e.ts_ns, e.title, e.service, e.severity, e.data)
        for e in rt.store.journal.events(int(start.timestamp() * 1e9), kind="alert")
    ]
    return policy.simulate(rt.config.escalation, rows, start, end)


def _time(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def simulation_json(sim: policy.Simulation) -> dict[str, Any]:
    """The replay as plain data for ``--json``."""
    return {
        "start": _time(sim.start),
        "end": _time(sim.end),
        "alerts": sim.alerts,
        "pages": len(sim.pages),
        "night_pages": sim.night_pages,
        "routed_without_page": sim.routed,
        "resolved_before_first_step": sim.stopped,
        "per_person": sim.per_person,
        "per_week": sim.per_week,
        "unreached": [
            {"alert": u.alert, "service": u.service, "at": _time(u.at), "reason": u.reason}
            for u in sim.unreached
        ],
        "page_log": [
            {
                "at": _time(p.at),
                "person": p.person,
                "alert": p.alert,
                "service": p.service,
                "step": p.step,
                "round": p.round,
                "receiver": p.receiver,
                "via": p.via,
                "night": p.night,
            }
            for p in sim.pages
        ],  # fmt: skip
    }
