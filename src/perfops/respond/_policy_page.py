"""The escalation policy as a page for people: severity matrix, roles, steps, who is on call
now and the next hand-offs, status-update cadence, night hours; Markdown or HTML."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from perfops._internal.durations import format_duration
from perfops._internal.escape import html_text, markdown_text
from perfops.config import ROLES, Escalation, SeverityRule
from perfops.respond._schedule import on_call, shifts, zone

__all__ = ["render_policy"]

NEXT_HANDOFFS = 3


@dataclass(frozen=True)
class _Table:
    title: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    note: str = ""


def _who(escalation: Escalation, name: str, at: dt.datetime) -> str:
    for schedule in escalation.schedules:
        if schedule.name == name:
            return on_call(schedule, at) or "nobody"
    return name


def _matrix_row(rule: SeverityRule) -> tuple[str, ...]:
    impact = "-" if rule.impact is None else f"{rule.impact:.0%}"
    lasting = "-" if rule.duration is None else format_duration(rule.duration)
    return (rule.severity, ", ".join(rule.tier) or "any", impact, lasting, rule.meaning)


def _matrix(escalation: Escalation) -> _Table:
    rows = [_matrix_row(r) for r in escalation.severity_matrix]
    note = "First row that holds wins; an unknown impact meets no impact threshold; else SEV-5."
    return _Table("Severity", ("Severity", "Tier", "Impact ≥", "Lasting ≥", "Meaning"), rows, note)


def _roles(escalation: Escalation, at: dt.datetime) -> _Table:
    roles: dict[str, str] = {str(k): v for k, v in escalation.roles.items()}
    rows = [
        (role.replace("_", " "), roles.get(role, "unassigned"),
         _who(escalation, roles[role], at) if role in roles else "-")
        for role in ROLES
    ]  # fmt: skip
    return _Table("Roles", ("Role", "Assigned to", "Now"), rows)


def _steps(escalation: Escalation, at: dt.datetime) -> _Table:
    default = next((r.receivers[0] for r in escalation.routes if r.severity in escalation.paging
                    and r.receivers), "-")  # fmt: skip
    rows = [
        (str(i), format_duration(step.after), ", ".join(step.notify),
         step.receiver or default,
         ", ".join(_who(escalation, n, at + dt.timedelta(seconds=step.after))
                   for n in step.notify))
        for i, step in enumerate(escalation.steps, 1)
    ]  # fmt: skip
    note = f"For alerts of severity {', '.join(escalation.paging)}; a resolved alert stops it."
    if escalation.repeat:
        note += (
            f" The steps run {escalation.repeat} more time(s), each round "
            f"{format_duration(escalation.repeat_every)} after the last began."
        )
    return _Table("Escalation steps", ("Step", "After", "Notify", "Via", "Paged now"), rows, note)


def _on_call(escalation: Escalation, at: dt.datetime) -> _Table:
    rows = []
    for schedule in escalation.schedules:
        tz = zone(schedule)
        upcoming = shifts(schedule, at, at + dt.timedelta(seconds=schedule.rotation * 4))
        nexts = [f"{s.start.astimezone(tz):%a %Y-%m-%d %H:%M} {s.person}" for s in upcoming[1:]]
        rows.append(
            (schedule.name, on_call(schedule, at) or "nobody", "; ".join(nexts[:NEXT_HANDOFFS])
             or "-", f"{format_duration(schedule.rotation)} from {schedule.start}, "
             f"{schedule.handoff} {schedule.timezone}", ", ".join(schedule.people) or "nobody")
        )  # fmt: skip
    headers = ("Schedule", "On call now", "Next hand-offs", "Rotation", "People")
    return _Table("On call", headers, rows, f"As of {at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC.")


def _cadence(escalation: Escalation) -> _Table:
    updates, night = escalation.updates, escalation.night
    rows = [
        ("first status update", f"within {format_duration(updates.first)} of opening"),
        ("later updates", f"at least every {format_duration(updates.every)}, naming the next"),
        ("night pages", f"{night.start} to {night.end} in the schedule's time zone"),
    ]
    return _Table("Communication", ("What", "When"), rows)


def _tables(escalation: Escalation, at: dt.datetime) -> list[_Table]:
    return [
        _matrix(escalation),
        _roles(escalation, at),
        _steps(escalation, at),
        _on_call(escalation, at),
        _cadence(escalation),
    ]


def _markdown(title: str, tables: list[_Table]) -> str:
    out = [f"# {markdown_text(title)}", ""]
    for table in tables:
        out += [f"## {table.title}", "", "| " + " | ".join(table.headers) + " |"]
        out.append("|" + "|".join("---" for _ in table.headers) + "|")
        out += ["| " + " | ".join(markdown_text(c) for c in row) + " |" for row in table.rows]
        out += ["", *([markdown_text(table.note), ""] if table.note else [])]
    return "\n".join(out)


def _html(title: str, tables: list[_Table]) -> str:
    head = '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    out = [head, f"<title>{html_text(title)}</title></head><body>", f"<h1>{html_text(title)}</h1>"]
    for table in tables:
        out.append(f"<h2>{html_text(table.title)}</h2><table><thead><tr>")
        out += [f"<th>{html_text(h)}</th>" for h in table.headers]
        out.append("</tr></thead><tbody>")
        for row in table.rows:
            out.append("<tr>" + "".join(f"<td>{html_text(c)}</td>" for c in row) + "</tr>")
        out.append("</tbody></table>")
        if table.note:
            out.append(f"<p>{html_text(table.note)}</p>")
    out.append("</body></html>\n")
    return "\n".join(out)


def render_policy(
    escalation: Escalation, at: dt.datetime, *, fmt: str = "md", title: str = "Escalation policy"
) -> str:
    """The policy as a Markdown (``fmt="md"``) or HTML (``"html"``) page, as of ``at``."""
    tables = _tables(escalation, at)
    return _html(title, tables) if fmt == "html" else _markdown(title, tables)
