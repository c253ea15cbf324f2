"""`perfops report`: the performance and cost report for leadership, computed here (every
figure with its query and the Delta versions it read) and rendered by :mod:`perfops.report`.

The sections read the functions that own each number: :func:`slo_statuses` and
:func:`counts_over` for the scorecard, :func:`cost_report` for the bill and unit costs,
:func:`summarize` of the load-test records and the dashboard's panels for performance,
:func:`capacity_from_run` and :func:`roi_of_runs` for capacity and changes, the journal's
runs and the incident fold for reliability. The executive summary is written from those
figures, nothing else.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TypeVar

from perfops._internal.durations import parse_duration
from perfops.app._report_context import Ctx, day, pct
from perfops.app._report_cost import CostFigures, cost_section
from perfops.app._report_evidence import changes, reliability
from perfops.app._report_perf import performance
from perfops.app._report_recs import recommendations
from perfops.app._report_slo import ScoreRow, period_incidents, scorecard
from perfops.app.runtime import Runtime
from perfops.errors import UsageError
from perfops.report.model import Part, Recommendation, Report, Section

__all__ = ["build_report", "parse_period"]

T = TypeVar("T")
_DAY_MS = 86_400_000


def parse_period(text: str, now_ms: int) -> tuple[str, int, int, tuple[int, int]]:
    """``7d``, ``30d`` (any duration, ending now) or ``month:2026-11`` (that calendar month in
    UTC, up to now): its label, start and end in ms, and the period before it of the same
    length (the previous calendar month for a month)."""
    if text.startswith("month:"):
        try:
            first = dt.datetime.strptime(text[6:], "%Y-%m").replace(tzinfo=dt.UTC)
        except ValueError:
            raise UsageError(f"--period {text!r}: a month is month:YYYY-MM",
                             hint="e.g. --period month:2026-11") from None  # fmt: skip
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        prev = (first - dt.timedelta(days=1)).replace(day=1)
        start, end = int(first.timestamp() * 1000), int(nxt.timestamp() * 1000)
        if start >= now_ms:
            raise UsageError(f"--period {text!r} has not started yet",
                             hint="pick a month up to the current one")  # fmt: skip
        label = first.strftime("%B %Y") + (" (to date)" if end > now_ms else "")
        return label, start, min(end, now_ms), (int(prev.timestamp() * 1000), start)
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--period {text!r}: {exc}",
                         hint="use 7d, 30d or month:YYYY-MM") from None  # fmt: skip
    if seconds <= 0:
        raise UsageError(f"--period {text!r} is empty", hint="use 7d, 30d or month:YYYY-MM")
    length = int(seconds * 1000)
    return f"the last {text}", now_ms - length, now_ms, (now_ms - 2 * length, now_ms - length)


def _timed(timings: dict[str, float], name: str, fn: Callable[[], T]) -> T:
    t0 = time.perf_counter()
    try:
        return fn()
    finally:
        timings[name] = time.perf_counter() - t0


def build_report(
    rt: Runtime,
    period: str = "7d",
    *,
    services: Sequence[str] = (),
    at_ms: int | None = None,
) -> Report:
    """The report of ``period`` (see :func:`parse_period`) ending now (or at ``at_ms``), for
    ``services`` (all when empty)."""
    now_ms = rt.clock.now_ns() // 1_000_000 if at_ms is None else at_ms
    label, start, end, prev = parse_period(period, now_ms)
    chosen = [rt.config.service(n) for n in services] if services else list(rt.config.services)
    if not chosen:
        rt.config.service(None)  # the located "declares no services" error
    names = {s.name for s in chosen}
    ctx = Ctx(rt, label, start, end, prev, chosen,
              [s for s in rt.config.slos if s.service in names], rt.store.versions(),
              scoped=bool(services))  # fmt: skip
    timings: dict[str, float] = {}
    cost_sec, cost = _timed(timings, "cost", lambda: cost_section(ctx))
    score_sec, scores = _timed(timings, "scorecard", lambda: scorecard(ctx, cost.per_1m))
    perf_sec, heads = _timed(timings, "performance", lambda: performance(ctx, cost.report))
    rel_sec = _timed(timings, "reliability", lambda: reliability(ctx))
    change_sec, _ = _timed(timings, "changes", lambda: changes(ctx, cost.report))
    recs = _timed(timings, "recommendations", lambda: recommendations(ctx, cost, scores, heads))
    summary = _summary(ctx, cost, scores, recs)
    rec_sec = Section("recommendations", "Recommendations", missing=() if recs else (
        "Nothing to recommend from the figures of this period: no idle cost, no SLO waste, "
        "no capacity short of its peak and no cheaper purchase option found.",))  # fmt: skip
    return Report(
        title="Performance and cost review",
        workspace=rt.config.workspace.name,
        period=label,
        start_ms=start,
        end_ms=end,
        previous=prev,
        services=tuple(sorted(names)),
        currency=ctx.currency,
        generated_ns=rt.clock.now_ns(),
        sections=(summary, score_sec, perf_sec, cost_sec, rel_sec, change_sec, rec_sec),
        recommendations=recs,
        timings=timings,
    )


def _change(now: Decimal, before: Decimal | None) -> str:
    if before is None or before == 0:
        return "no earlier period to compare with"
    diff = float((now - before) / before * 100)
    if round(diff, 1) == 0:
        return "unchanged on the previous period"
    return f"{'up' if diff > 0 else 'down'} {abs(diff):.1f}% on the previous period"


def _summary(
    ctx: Ctx, cost: CostFigures, scores: list[ScoreRow], recs: Sequence[Recommendation]
) -> Section:
    paras: list[tuple[Part, ...]] = []
    total = Decimal(str(cost.total.value or 0))
    paras.append((
        f"From {day(ctx.start_ms)} to {day(ctx.end_ms - 1)} ({ctx.period}) the "
        f"{len(ctx.services)} service(s) in scope cost ", cost.total,
        f", {_change(total, cost.previous_total)}, at ", cost.fleet_per_1m,
        " per million tokens served.",
    ))  # fmt: skip
    judged = [s for s in scores if s.health is not None]
    if judged:
        healthy = sum(s.health is not None and s.health.state == "healthy" for s in judged)
        worst = [s for s in judged if s.health and s.health.state in ("at risk", "breached")]
        text: list[Part] = [f"{healthy} of {len(judged)} SLOs are healthy"]
        for s in worst[:3]:
            text += [f"; {s.slo.name} ({s.slo.service}) is {s.health.state if s.health else ''}"
                     " with ", s.budget_left, " of its budget left"]  # fmt: skip
        paras.append((*text, "."))
    elif ctx.slos:
        paras.append(("No SLO had events to judge in the period.",))
    incs = period_incidents(ctx)
    burned = [s for s in scores if s.incident_budget_pct is not None]
    if incs:
        line: list[Part] = [f"{len(incs)} incident(s) were open in the period"]
        if burned:
            top = max(burned, key=lambda s: s.incident_budget_pct or 0.0)
            line += [f"; the worst burned {top.incident_budget_pct:.1f}% of the "
                     f"{top.slo.name} budget"]  # fmt: skip
        paras.append((*line, "."))
    else:
        paras.append(("No incidents were open in the period.",))
    if ctx.scoped:
        paras.append(("The fleet's idle GPUs cost ", cost.idle, " (not in this bill)."))
    elif total > 0:
        idle_share = float(Decimal(str(cost.idle.value or 0)) / total * 100)
        paras.append(("Idle GPUs cost ", cost.idle, f" ({pct(idle_share, 1)} of the bill)."))
    if recs:
        top_rec = recs[0]
        title = top_rec.title[:1].lower() + top_rec.title[1:]
        paras.append(("The top recommendation: ", f"{title}, worth ",
                      top_rec.impact, " a month."))  # fmt: skip
    return Section("summary", "Executive summary", paragraphs=tuple(paras[:5]))
