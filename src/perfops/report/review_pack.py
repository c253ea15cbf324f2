"""A review meeting's pack as Markdown: the agenda, the report's summary, the SLOs at risk
(from the report's scorecard), the open action items of the postmortems (each with its file
and line) and the decisions needed (the report's recommendations, ranked). It formats what
it is given and computes no figure: the numbers are the report's, with their sources there.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from perfops._internal.escape import markdown_text
from perfops.report.model import Part, Recommendation, Report, Section, Table, part_text
from perfops.respond import action_items, review_calendar

__all__ = ["AT_RISK", "PackKind", "SloRisk", "render_pack", "slos_at_risk"]

PackKind = Literal["weekly", "monthly"]
AT_RISK = ("breached", "at risk")
"""Scorecard states the pack lists, worst first."""
_TITLES = {"weekly": "Weekly performance review", "monthly": "Monthly FinOps review"}
_PLAIN = re.compile(r"(?:[^\W_]|[ .,:;%/+='()?\"·-])*")  # one way to match each character


def _md(value: object) -> str:
    """``value`` as literal Markdown text (escaped unless it holds nothing Markdown reads)."""
    text = str(value)
    return text if _PLAIN.fullmatch(text) else markdown_text(text)


def _day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class SloRisk:
    """One SLO the scorecard shows at risk or breached, with the figures beside it."""

    service: str
    slo: str
    state: str
    budget_left: Part
    attainment: Part
    why: str


def _cell(table: Table, row: tuple[Part, ...], column: str) -> Part:
    index = table.columns.index(column) if column in table.columns else -1
    return row[index] if 0 <= index < len(row) else ""


def slos_at_risk(report: Report) -> list[SloRisk]:
    """The scorecard's rows whose state is breached or at risk, breached first."""
    section = next((s for s in report.sections if s.id == "scorecard"), None)
    found = []
    for table in section.tables if section else ():
        if "State" not in table.columns or "SLO" not in table.columns:
            continue
        for row in table.rows:
            state = part_text(_cell(table, row, "State")).strip().lower()
            if state in AT_RISK:
                found.append(SloRisk(
                    part_text(_cell(table, row, "Service")), part_text(_cell(table, row, "SLO")),
                    state, _cell(table, row, "Budget left"), _cell(table, row, "Attainment"),
                    part_text(_cell(table, row, "Why")),
                ))  # fmt: skip
    return sorted(found, key=lambda r: AT_RISK.index(r.state))


def _risks(report: Report) -> list[str]:
    section = next((s for s in report.sections if s.id == "scorecard"), None)
    if section is None or not any("State" in t.columns for t in section.tables):
        why = "; ".join(section.missing) if section and section.missing else "no SLO data"
        return [f"The report has no SLO scorecard for the period: {_md(why)}"]
    risks = slos_at_risk(report)
    if not risks:
        return ["No SLO is at risk or breached."]
    rows = [
        f"| {_md(r.service)} | {_md(r.slo)} | **{r.state}** | {_md(part_text(r.budget_left))} "
        f"| {_md(part_text(r.attainment))} | {_md(r.why)} |"
        for r in risks
    ]
    return ["| Service | SLO | State | Budget left | Attainment | Why |",
            "|---|---|---|---|---|---|", *rows]  # fmt: skip


def _item(item: action_items.ActionItem, today: dt.date) -> str:
    late = "**overdue** " if item.due is not None and item.due < today else ""
    where = f"`{item.where}`" if "`" not in item.where else _md(item.where)
    return f"- [ ] {late}{_md(item.text)}: {where}"


def _items(items: Sequence[action_items.ActionItem], today: dt.date, folder: str) -> list[str]:
    files = len({i.path for i in items})
    still = [i for i in items if not i.done]
    head = (
        f"{len(still)} open of {len(items)} action item(s) in {files} postmortem(s) under "
        f"{_md(folder)}."
    )
    if not still:
        return [head, "", "Nothing open."] if items else [
            f"No action items in the postmortems under {_md(folder)}: write them there as "
            "`- [ ] action (owner, YYYY-MM-DD)` under `## Action items`."
        ]  # fmt: skip
    late = sorted(still, key=lambda i: (i.due is None, i.due or today, i.path, i.line))
    return [head, "", *(_item(i, today) for i in late)]


def _decision(n: int, rec: Recommendation) -> list[str]:
    lines = [
        f"{n}. **{_md(rec.title)}**: {_md(rec.action)} Impact {_md(rec.impact.text)} "
        f"({rec.confidence} confidence)."
    ]
    if rec.evidence:
        lines.append(f"   Evidence: {_md(''.join(part_text(p) for p in rec.evidence))}")
    if rec.assumptions:
        lines.append(f"   Assumptions: {_md('; '.join(rec.assumptions))}")
    return lines


def _decisions(report: Report) -> list[str]:
    if not report.recommendations:
        return ["The report makes no recommendation for this period."]
    return [line for n, rec in enumerate(report.recommendations, 1) for line in _decision(n, rec)]


def _summary(section: Section | None) -> list[str]:
    if section is None:
        return []
    paragraphs = ["".join(part_text(p) for p in para) for para in section.paragraphs]
    return [_md(p) + "\n" for p in paragraphs] or [_md(m) for m in section.missing]


def _missing(report: Report) -> list[str]:
    return [f"- {_md(s.title)}: {_md(m)}" for s in report.sections for m in s.missing]


def render_pack(
    kind: PackKind,
    report: Report,
    items: Sequence[action_items.ActionItem],
    *,
    today: dt.date,
    folder: str,
    files: Sequence[str] = ("report.html", "report.pdf"),
    notes: Sequence[str] = (),
) -> str:
    """The pack of the ``kind`` review as Markdown: ``report`` is the period's report (written
    beside it as ``files``), ``items`` the action items read from the postmortems in
    ``folder``, ``today`` the day it is prepared (what is overdue), ``notes`` what could not
    be read."""
    agenda = review_calendar.WEEKLY_AGENDA if kind == "weekly" else review_calendar.MONTHLY_AGENDA
    links = " and ".join(f"[{_md(f)}]({f})" for f in files)
    summary = next((s for s in report.sections if s.id == "summary"), None)
    lines = [
        f"# {_TITLES[kind]} pack: {_md(report.workspace)}",
        "",
        f"Period: {_md(report.period)}, {_day(report.start_ms)} to {_day(report.end_ms - 1)} "
        f"(UTC). Prepared {today.isoformat()} by perfops. The report: {links}; each figure "
        "there has a footnote with its query and the lake table versions it read.",
        "",
        "## Agenda",
        "",
        *(f"{n}. {_md(item)}" for n, item in enumerate(agenda, 1)),
        "",
        "## Summary",
        "",
        *(_summary(summary) or ["The report has no summary for the period.\n"]),
        "## SLOs at risk",
        "",
        *_risks(report),
        "",
        "## Open action items",
        "",
        *_items(items, today, folder),
        *([""] + [f"- {_md(n)}" for n in notes] if notes else []),
        "",
        "## Decisions needed",
        "",
        *_decisions(report),
    ]
    missing = _missing(report)
    if missing:
        lines += ["", "## What the report could not show", "", *missing]
    return "\n".join(lines).rstrip("\n") + "\n"
