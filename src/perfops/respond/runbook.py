"""Runbooks: one Markdown page per alert, its sections rendered from Jinja2 templates, its
mitigations ranked by the drills and experiments that exercised them.

Pure: the app layer gathers what a runbook says (the SLO, its budget, the escalation routes,
the evidence rows from the lake) into a :class:`Runbook`; this module ranks and renders it.
Sections live in generated blocks (:mod:`perfops.respond._runbook_blocks`), so text written
around them by hand survives regeneration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Literal

import jinja2

from perfops.respond._runbook_blocks import (
    Merged,
    block,
    edited_blocks,
    merge,
    neutralize,
    strip_markers,
)

__all__ = [
    "SECTIONS",
    "Evidence",
    "Merged",
    "MitigationStep",
    "Query",
    "RankedMitigation",
    "Runbook",
    "edited_blocks",
    "merge",
    "rank",
    "render_page",
    "render_sections",
    "strip_markers",
]

SECTIONS = ("meaning", "impact", "diagnosis", "mitigation", "escalation", "evidence")
State = Literal["tested", "stale", "untested"]


@dataclass(frozen=True, slots=True)
class Query:
    """A diagnosis step: the PromQL a Prometheus user runs, and the perfops command that asks
    the workspace's lake the same (``runbook check`` runs it and reports the answer)."""

    title: str
    command: str
    promql: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """One drill or experiment that exercised a mitigation, as the lake recorded it."""

    run_id: str
    kind: str  # drill | chaos | the writer of a mitigation event
    title: str
    action: str
    ts_ns: int  # when the run started
    status: str
    time_to_detect_s: float | None = None
    time_to_restore_s: float | None = None
    budget_spent_pct: float | None = None
    goodput_lost: float | None = None  # requests that missed the SLO (drill) or goodput lost

    @property
    def date(self) -> str:
        return datetime.fromtimestamp(self.ts_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True, slots=True)
class MitigationStep:
    action: str  # the key drills and experiments record (rollback, revert:sim.crash, ...)
    text: str


@dataclass(frozen=True, slots=True)
class RankedMitigation:
    step: MitigationStep
    state: State
    evidence: tuple[Evidence, ...]  # newest first
    restore_s: float | None  # the time to restore of its latest measured run

    @property
    def last(self) -> Evidence | None:
        return self.evidence[0] if self.evidence else None


@dataclass(frozen=True, slots=True)
class Runbook:
    name: str  # the file stem and URL segment
    alert: str
    slo: str
    service: str
    severity: str
    kind: str  # the SLI kind, or gpu_xid / gpu_throttle / gpu_ecc
    meaning: str
    impact: tuple[str, ...] = ()
    queries: tuple[Query, ...] = ()
    steps: tuple[MitigationStep, ...] = ()
    escalation: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    stale_after_s: float = 90 * 86400.0
    now_ns: int = 0
    notes: tuple[str, ...] = field(default=())  # caveats shown under the title


def rank(
    steps: Sequence[MitigationStep],
    evidence: Sequence[Evidence],
    *,
    now_ns: int,
    stale_after_s: float,
) -> list[RankedMitigation]:
    """Each step with the runs that exercised it (and each action a run exercised that no
    step names), ranked: measured ones by the time to restore of their latest measurement,
    fastest first; then exercised but not timed; then *untested*. A step whose latest run is
    older than ``stale_after_s`` is *stale* (ranked all the same)."""
    known = {s.action for s in steps}
    extra = [MitigationStep(e.action, e.title) for e in evidence if e.action not in known]
    out = []
    for step in [*steps, *{s.action: s for s in extra}.values()]:
        runs = tuple(sorted((e for e in evidence if e.action == step.action),
                            key=lambda e: e.ts_ns, reverse=True))  # fmt: skip
        timed = [e.time_to_restore_s for e in runs if e.time_to_restore_s is not None]
        state: State = "untested"
        if runs:
            old = (now_ns - runs[0].ts_ns) / 1e9 > stale_after_s
            state = "stale" if old else "tested"
        out.append(RankedMitigation(step, state, runs, timed[0] if timed else None))
    return sorted(out, key=_order)


def _order(m: RankedMitigation) -> tuple[int, float]:
    if m.restore_s is not None:
        return (0, m.restore_s)
    return (1, 0.0) if m.evidence else (2, 0.0)


@cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("perfops.respond", "templates"),
        autoescape=False,  # Markdown, not HTML: the dashboard renders it with HTML disabled
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["md"] = _md
    return env


def _num(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}f}{unit}"


def _md(text: object) -> str:
    """Text from perfops.yaml or the lake, inert in Markdown: no block markers, no raw HTML
    (the renderer escapes it anyway), table cells kept whole."""
    out = neutralize(str(text)).replace("|", "\\|").replace("\n", " ")
    return out.replace("<", "&lt;").replace(">", "&gt;")


def render_sections(rb: Runbook) -> dict[str, str]:
    """Each generated section's Markdown body, by name."""
    ranked = rank(rb.steps, rb.evidence, now_ns=rb.now_ns, stale_after_s=rb.stale_after_s)
    module = _templates().get_template("runbook.md.j2").make_module({"rb": rb, "ranked": ranked})
    return {name: str(getattr(module, name)()).strip("\n") for name in SECTIONS}


def render_page(rb: Runbook) -> str:
    """A new runbook file: the title, every generated block, and a section for notes of
    one's own (outside the blocks, so regeneration keeps it)."""
    sections = render_sections(rb)
    head = "".join(
        f"{text}\n\n" for text in [f"# {_md(rb.alert)}", *(f"> {_md(n)}" for n in rb.notes)]
    )
    body = "\n\n".join(block(name, sections[name]) for name in SECTIONS)
    notes = "## Notes\n\nWrite here: perfops never rewrites text outside its generated blocks.\n"
    return f"{head}{body}\n\n{notes}"
