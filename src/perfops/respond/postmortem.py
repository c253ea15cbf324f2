"""Postmortems, the pure part: the document as plain data (each figure with the query that
produced it), the few judgements made on it (the first bad minute, the runbook's Mitigation
section and whether what was done appears in it), and its rendering to Markdown through a
Jinja2 template and from there to one standalone HTML page.

The sections are those of the Google SRE book's postmortem (Appendix D) and PagerDuty's
template: summary, impact, timeline, detection, response, root cause, trigger, lessons
learned, action items. Everything the lake knows is filled in; what only people can judge
(root cause, lessons, action items and their owners) is left blank and marked so.

Every figure carries a :class:`Source`: the function and arguments that produced it, the SQL
it ran where there is one, and the Delta version of each lake table it read. The Markdown
cites each as a footnote (``[^n]``, as GitHub renders them); the HTML page links them.
User text (titles, messages, alert names) is escaped for Markdown, and the HTML renderer
takes no raw HTML from the Markdown, so no text from the lake can add markup.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from perfops._internal.error_budget import burn_rate
from perfops._internal.provenance import Figure, Source

__all__ = [
    "HUMAN",
    "Figure",
    "Moment",
    "Postmortem",
    "RunbookCheck",
    "SloImpact",
    "Source",
    "first_bad_minute",
    "mitigation_section",
    "named_in",
    "utc",
]

HUMAN = "*[to be written by the responders: human judgement]*"
"""What a section only people can write shows until they do."""


@dataclass(frozen=True)
class Moment:
    """One line of the timeline: when (ns, UTC), what kind of thing, what happened (user text,
    escaped when shown), the action it took when it mitigated, and where it was read."""

    ts_ns: int
    kind: str
    what: str
    source: Source
    action: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": utc(self.ts_ns),
            "ts_ns": self.ts_ns,
            "kind": self.kind,
            "what": self.what,
            "action": self.action,
        }


@dataclass(frozen=True)
class SloImpact:
    """One SLO over the incident: its bad and total events, the share of its period's error
    budget they spent; ``note`` says why there is no figure."""

    name: str
    objective_pct: float
    bad: Figure | None = None
    total: Figure | None = None
    budget_pct: Figure | None = None
    note: str = ""


@dataclass(frozen=True)
class RunbookCheck:
    """A runbook of the incident's alerts or SLOs: its Mitigation section (None when it has
    none) and, for each mitigation taken, whether the section names it."""

    name: str
    path: str
    mitigation: str | None
    actions: tuple[tuple[Moment, bool], ...] = ()


@dataclass(frozen=True)
class Postmortem:
    """The whole draft, as the templates render it."""

    incident_id: str
    title: str
    severity: str
    status: str
    services: tuple[str, ...]
    slos: tuple[str, ...]
    roles: tuple[tuple[str, str | None], ...]
    opened_ns: int
    resolved_ns: int | None
    closed_ns: int | None
    start_ns: int  # the impact window: the first bad minute (or the first alert, or opened)
    end_ns: int  # to resolution (or close, or now)
    generated_ns: int
    impact: Mapping[str, Figure]
    slo_impacts: tuple[SloImpact, ...]
    detection: Mapping[str, Figure | None]
    timeline: tuple[Moment, ...]
    mitigations: tuple[Moment, ...]
    runbooks: tuple[RunbookCheck, ...]
    runbooks_dir: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def sev_tag(self) -> str:
        """PagerDuty's action-item tag, ``sevN_YYYYMMDD`` of the opening day."""
        day = dt.datetime.fromtimestamp(self.opened_ns / 1e9, dt.UTC).strftime("%Y%m%d")
        digits = re.sub(r"\D", "", self.severity) or "N"
        return f"sev{digits}_{day}"

    def as_dict(self) -> dict[str, Any]:
        def opt(ns: int | None) -> str | None:
            return None if ns is None else utc(ns)

        return {
            "incident_id": self.incident_id,
            "title": self.title,
            "severity": self.severity,
            "status": self.status,
            "services": list(self.services),
            "slos": list(self.slos),
            "roles": dict(self.roles),
            "opened": opt(self.opened_ns),
            "resolved": opt(self.resolved_ns),
            "closed": opt(self.closed_ns),
            "window": {
                "start": utc(self.start_ns),
                "end": utc(self.end_ns),
                "start_ns": self.start_ns,
                "end_ns": self.end_ns,
            },
            "impact": {k: f.as_dict() for k, f in self.impact.items()},
            "slo_impact": [
                {
                    "slo": s.name,
                    "objective_pct": s.objective_pct,
                    "note": s.note,
                    **{
                        k: None if f is None else f.as_dict()
                        for k, f in (
                            ("bad", s.bad),
                            ("total", s.total),
                            ("budget_pct", s.budget_pct),
                        )
                    },
                }
                for s in self.slo_impacts
            ],
            "detection": {k: f and f.as_dict() for k, f in self.detection.items()},
            "timeline": [m.as_dict() for m in self.timeline],
            "runbooks": [
                {
                    "name": r.name,
                    "path": r.path,
                    "mitigation": r.mitigation,
                    "actions": [{**m.as_dict(), "in_runbook": ok} for m, ok in r.actions],
                }
                for r in self.runbooks
            ],
            "notes": list(self.notes),
        }


def utc(ns: int) -> str:
    """``ns`` since the epoch as ``YYYY-MM-DD HH:MM:SS UTC``."""
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def first_bad_minute(
    minutes: Sequence[tuple[int, float, float]],
    objective_pct: float,
    anchor_ms: int | None = None,
) -> int | None:
    """The start of the minute ``(start, good, total)`` where the incident's bad SLI began:
    a minute is bad by the SLO's own measure, its error ratio above the error budget (a burn
    rate above 1); a minute without events is not bad. With ``anchor_ms`` (the first alert),
    the first minute of the last unbroken run of bad minutes that began by the anchor's minute,
    so that an earlier, unrelated bad spell (a load test an hour before) is not this incident's
    start; without one, or when no run began by then, the first bad minute. None when no minute
    was bad."""
    bad = [start for start, good, total in minutes
           if total > 0 and burn_rate(total - good, total, objective_pct) > 1]  # fmt: skip
    if not bad:
        return None
    if anchor_ms is None:
        return bad[0]
    order = [start for start, _, _ in minutes]
    run_starts = [m for m in bad if order.index(m) == 0 or order[order.index(m) - 1] not in bad]
    begun = [m for m in run_starts if m <= anchor_ms]
    return begun[-1] if begun else bad[0]


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def mitigation_section(runbook: str) -> str | None:
    """The body of a runbook's ``Mitigation`` section (any heading level, up to the next
    heading at its level or above), without HTML comments (generated-block markers); None
    when it has no such section."""
    lines = _COMMENT.sub("", runbook).splitlines()
    for i, line in enumerate(lines):
        m = _HEADING.match(line)
        if m and m[2].strip().lower().startswith("mitigation"):
            level, body = len(m[1]), []
            for rest in lines[i + 1 :]:
                h = _HEADING.match(rest)
                if h and len(h[1]) <= level:
                    break
                body.append(rest)
            return "\n".join(body).strip()
    return None


# The words a runbook uses for each kind of mitigation the lake records (an action of a
# mitigation event, or the kind of a rollback or fault-revert event).
_NAMES = {
    "rollback": r"roll(?:ed|ing|s)?[\s-]*back|rollback|revert",
    "fault_reverted": r"revert|roll(?:ed|ing|s)?[\s-]*back|rollback",
    "deploy": r"deploy",
    "restart": r"restart",
    "scale": r"scal(?:e|es|ed|ing)\b|replicas?",
    "drain": r"drain",
    "failover": r"fail[\s-]*over",
    "monitoring": r"monitor",
}


def named_in(section: str, action: str) -> bool:
    """Whether a runbook's Mitigation ``section`` names ``action`` (``rollback``, ``scale``
    ...; an action of no known kind: its own words)."""
    pattern = _NAMES.get(action, re.escape(action.replace("_", " ")))
    return re.search(pattern, section, re.I) is not None
