"""The report's SLO scorecard: per service and SLO, attainment over the period and the change
against the previous one, budget left at the end of the period, the state a non-SRE reads
(healthy / recovering / at risk / breached) with the burn windows behind it, and the
incidents of the period with the share of the budget each burned and what its bad tokens
cost."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from perfops._internal.provenance import Figure
from perfops.app._report_context import Ctx, day, pct
from perfops.app.incident import incidents
from perfops.app.incident_figures import incident_impact
from perfops.app.slo import SloStatus, _Lake, counts_for, slo_histories, slo_statuses
from perfops.config import SLO
from perfops.errors import PerfopsError
from perfops.report.model import Chart, Part, Section, Table
from perfops.respond import incident as lifecycle
from perfops.slo import SloHealth, slo_health

__all__ = ["ScoreRow", "scorecard"]

_MAX_CHART_SLOS = 8


@dataclass(frozen=True)
class ScoreRow:
    """One SLO's line, kept for the summary and the recommendations."""

    slo: SLO
    attainment: Figure
    previous: float | None
    budget_left: Figure
    health: SloHealth | None
    incidents: list[lifecycle.Incident]
    incident_budget_pct: float | None
    incident_cost: Decimal | None


def _tables(ctx: Ctx, slo: SLO) -> tuple[str, ...]:
    from perfops.slo import sli_source

    return ("requests",) if sli_source(slo).kind == "requests" else ("samples", "series")


def period_incidents(ctx: Ctx) -> list[lifecycle.Incident]:
    """Incidents open at some time in the period, of the services in scope."""
    if "incidents" not in ctx.cache:
        lo, hi = ctx.start_ms * 1_000_000, ctx.end_ms * 1_000_000
        ctx.cache["incidents"] = [
            inc
            for inc in incidents(ctx.rt)
            if inc.opened_ns < hi
            and (inc.resolved_ns is None or inc.resolved_ns >= lo)
            and (not inc.services or ctx.names & set(inc.services))
        ]
    found: list[lifecycle.Incident] = ctx.cache["incidents"]
    return found


def _clip(ctx: Ctx, inc: lifecycle.Incident) -> tuple[int, int]:
    end = inc.resolved_ns if inc.resolved_ns is not None else ctx.end_ms * 1_000_000
    lo = max(inc.opened_ns // 1_000_000, ctx.start_ms)
    return lo, max(lo + 1, min(end // 1_000_000, ctx.end_ms))


def _incidents_of(ctx: Ctx, slo: SLO) -> list[lifecycle.Incident]:
    return [i for i in period_incidents(ctx) if slo.name in i.slos or slo.service in i.services]


def _windows(ctx: Ctx, slo: SLO) -> list[tuple[int, int]]:
    """What the SLO's row reads: the period, the one before, each incident's span in it."""
    return [(ctx.start_ms, ctx.end_ms), ctx.prev, *(_clip(ctx, i) for i in _incidents_of(ctx, slo))]


def _row(
    ctx: Ctx, slo: SLO, status: SloStatus, per_1m: dict[str, Decimal], lake: _Lake
) -> ScoreRow:
    mine = _incidents_of(ctx, slo)
    call = f"counts_over(rt, slo={slo.name!r}, windows=[({ctx.start_ms}, {ctx.end_ms})])"
    source = ctx.source(call, *_tables(ctx, slo))
    try:
        counts = counts_for(ctx.rt, slo, lake)
    except PerfopsError:
        counts = None
    good, total = counts(ctx.start_ms, ctx.end_ms) if counts else (0.0, 0.0)
    value = 100.0 * good / total if total else None
    attainment = ctx.fig(f"scorecard.{slo.name}.attainment_pct", pct(value, 3), value, source)
    pg, pt = counts(*ctx.prev) if counts else (0.0, 0.0)
    status_source = ctx.source(
        f"slo_statuses(rt, [{slo.name!r}], at_ms={ctx.end_ms}) (period {status.period})",
        *_tables(ctx, slo),
    )
    left = status.budget.remaining_pct if status.budget is not None else None
    budget_left = ctx.fig(
        f"scorecard.{slo.name}.budget_left_pct", pct(left, 1), left, status_source
    )
    health = None
    if left is not None:
        bad_spell = bool(mine) or (value is not None and value < slo.objective)
        health = slo_health(
            remaining_pct=left,
            burn_rates=status.burn_rates,
            firing=tuple(status.firing),
            bad_spell=bad_spell,
        )
    inc_pct, inc_cost = None, None
    if mine and counts and status.total:
        allowed = (100.0 - slo.objective) / 100.0 * status.total
        bad = sum(t - g for g, t in (counts(*_clip(ctx, i)) for i in mine))
        inc_pct = 100.0 * bad / allowed if allowed else None
        inc_cost = _incident_cost(ctx, slo, mine, per_1m)
    return ScoreRow(slo, attainment, 100.0 * pg / pt if pt else None, budget_left, health, mine,
                    inc_pct, inc_cost)  # fmt: skip


def _incident_cost(
    ctx: Ctx, slo: SLO, mine: list[lifecycle.Incident], per_1m: dict[str, Decimal]
) -> Decimal | None:
    """What the tokens that missed the SLOs during the incidents cost, at the service's
    $/1M tokens of the period."""
    price = per_1m.get(slo.service)
    if price is None:
        return None
    known = []
    for inc in mine:
        lo, hi = _clip(ctx, inc)
        impact = incident_impact(ctx.rt, [slo.service], [slo], lo * 1_000_000, hi * 1_000_000)
        if impact.tokens_bad is not None:
            known.append(impact.tokens_bad)
    if not known:  # no load-test records: which tokens missed the SLOs is not measured
        return None
    return (price * sum(known) / 1_000_000).quantize(Decimal("0.01"))


def _state_cell(ctx: Ctx, row: ScoreRow) -> Part:
    """The state as a figure (key ``scorecard.<slo>.state``), read from the same status as
    the budget left; "no data" when there is no verdict."""
    if row.health is None:
        return "no data"
    key = f"scorecard.{row.slo.name}.state"
    return ctx.fig(key, row.health.state, row.health.state, row.budget_left.source)


def _trend(row: ScoreRow) -> str:
    now = row.attainment.value
    if not isinstance(now, float) or row.previous is None:
        return "no earlier data"
    diff = now - row.previous
    if abs(diff) < 0.0005:
        return "= unchanged"
    return f"{'▲' if diff > 0 else '▼'} {abs(diff):.3f} pp"


def _incident_cell(ctx: Ctx, row: ScoreRow) -> Part:
    if not row.incidents:
        return "none"
    text = f"{len(row.incidents)}"
    if row.incident_budget_pct is not None:
        text += f", {row.incident_budget_pct:.1f}% of budget"
    if row.incident_cost is not None:
        text += f", {row.incident_cost:,.2f} {ctx.currency}"
    ids = ", ".join(i.incident_id for i in row.incidents)
    source = ctx.source(
        f"incidents(rt) of {row.slo.name!r} in the period ({ids}); budget share = bad events "
        "in each incident's window / ((1 - objective) x events in the SLO period); cost = "
        "incident_impact(...).tokens_bad x the service's $/1M tokens",
        "events", *_tables(ctx, row.slo),
    )  # fmt: skip
    return ctx.fig(f"scorecard.{row.slo.name}.incidents", text, row.incident_budget_pct, source)


def scorecard(ctx: Ctx, per_1m: dict[str, Decimal]) -> tuple[Section, list[ScoreRow]]:
    if not ctx.slos:
        return Section("scorecard", "SLO scorecard", missing=(
            "No SLOs are defined for the services in scope: add `slos:` to perfops.yaml "
            "(see docs/promise.md).",
        )), []  # fmt: skip
    statuses = slo_statuses(ctx.rt, ctx.slos, at_ms=ctx.end_ms)
    lake = _Lake(ctx.rt, [w for slo in ctx.slos for w in _windows(ctx, slo)])
    rows = [_row(ctx, slo, st, per_1m, lake) for slo, st in zip(ctx.slos, statuses, strict=True)]
    table = Table(
        "Attainment over the period, budget at its end",
        ("Service", "SLO", "Objective", "Attainment", "Trend", "Budget left", "State", "Why",
         "Incidents"),
        tuple(
            (r.slo.service, r.slo.name, f"{r.slo.objective:g}%", r.attainment, _trend(r),
             r.budget_left, _state_cell(ctx, r),
             r.health.reason if r.health else (st.no_data or st.error or "no events"),
             _incident_cell(ctx, r))
            for r, st in zip(rows, statuses, strict=True)
        ),
        note="Incident cost is what the service's tokens that missed its SLOs during the "
        "incidents cost, shown on each of its SLOs. States: healthy (budget left, burning "
        "under 1x); recovering (a bad spell in the "
        "period, under 1x now); at risk (an alert firing, the longest window over 1x, or "
        "under 25% of the budget left); breached (the period's budget is spent).",
    )  # fmt: skip
    missing = tuple(
        f"{r.slo.name}: {st.no_data or st.error}"
        for r, st in zip(rows, statuses, strict=True)
        if r.health is None and (st.no_data or st.error)
    )
    return Section(
        "scorecard", "SLO scorecard", tables=(table,), charts=_budget_chart(ctx, rows),
        missing=missing,
    ), rows  # fmt: skip


def _budget_chart(ctx: Ctx, rows: list[ScoreRow]) -> tuple[Chart, ...]:
    shown = [r for r in rows if r.health is not None][:_MAX_CHART_SLOS]
    if not shown:
        return ()
    found = slo_histories(ctx.rt, [r.slo for r in shown], at_ms=ctx.end_ms - 1)
    histories = {r.slo.name: h for r, h in zip(shown, found, strict=True)}
    first = day(ctx.start_ms)  # the SLO periods may start earlier: show the report's days
    days = sorted({d for h in histories.values() for d, *_ in h if d >= first})
    series = tuple(
        (name, tuple({d: left for d, _, _, left in h}.get(x) for x in days))
        for name, h in histories.items()
    )
    source = ctx.source(
        f"slo_histories(rt, slos, at_ms={ctx.end_ms - 1})", "requests", "samples", "series"
    )
    return (Chart("Error budget left at the end of each day", "line", tuple(days), series, "%",
                  source, "scorecard.budget_by_day"),)  # fmt: skip
