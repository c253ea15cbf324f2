"""The report's cost section: the bill by service, team and model (`perfops cost report`'s
own :func:`cost_report` and :func:`regroup`), idle and shared costs, the daily trend, $/1M
tokens and $/1M SLO-compliant tokens, SLO waste, energy and tokens per joule, and whether an
imported bill was reconciled against it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from perfops._internal.provenance import Figure
from perfops.app._report_context import Ctx, money, pct, rate
from perfops.app.cost import CostReport, GroupRow, cost_report, regroup, total_work
from perfops.finops import IDLE, SHARED, UnitCosts, unit_costs
from perfops.report.model import Chart, Part, Section, Table

__all__ = ["CostFigures", "cost_section"]

_TABLES = ("samples", "series", "requests")


@dataclass(frozen=True)
class CostFigures:
    """What the summary and the recommendations take from the cost section."""

    report: CostReport
    total: Figure
    previous_total: Decimal | None
    idle: Figure
    per_1m: dict[str, Decimal]
    fleet: UnitCosts
    fleet_per_1m: Figure
    waste: Figure


def _call(ctx: Ctx, start: int, end: int, extra: str = "") -> str:
    return f"cost_report(rt, {start}, {end}, by='service'{extra})"


def _mine(ctx: Ctx, rows: tuple[GroupRow, ...]) -> list[GroupRow]:
    """The rows in scope: the services', and the fleet's idle and shared rows when the report
    covers the whole fleet (a report of some services shows those apart)."""
    fleet = () if ctx.scoped else (IDLE, SHARED)
    return [r for r in rows if r.group in ctx.names or r.group in fleet]


def _label(group: str) -> str:
    return {IDLE: "idle GPUs", SHARED: "shared costs"}.get(group, group)


def _service_rows(ctx: Ctx, report: CostReport) -> tuple[tuple[Part, ...], ...]:
    out = []
    for row in _mine(ctx, report.rows):
        src = ctx.source(_call(ctx, report.start_ms, report.end_ms) + f" row {row.group!r}",
                         *_TABLES)  # fmt: skip
        key = f"cost.service.{row.group.strip('_')}"
        unit = row.unit
        busy = 100.0 * row.busy_gpu_hours / row.gpu_hours if row.gpu_hours else None
        out.append((
            _label(row.group),
            ctx.fig(f"{key}.gpu_hours", rate(row.gpu_hours, "h"), row.gpu_hours, src),
            pct(busy, 1),
            ctx.money_fig(f"{key}.total", row.total, src),
            ctx.money_fig(f"{key}.per_1m_tokens", unit.per_1m_tokens, src),
            ctx.money_fig(f"{key}.per_1m_slo_tokens", unit.per_1m_slo_tokens, src),
            ctx.money_fig(f"{key}.slo_waste", unit.slo_waste, src),
            rate(unit.tokens_per_joule, "tok/J", 2),
        ))  # fmt: skip
    return tuple(out)


def _group_table(ctx: Ctx, report: CostReport, by: str) -> Table:
    rows = regroup(report, "team" if by == "team" else "model",
                   services=ctx.names if ctx.scoped else None)  # fmt: skip
    src = ctx.source(f"regroup({_call(ctx, report.start_ms, report.end_ms)}, by={by!r})",
                     *_TABLES)  # fmt: skip
    return Table(
        f"By {by}",
        (by.capitalize(), "Cost", "$/1M tokens"),
        tuple(
            (_label(r.group), ctx.money_fig(f"cost.{by}.{r.group.strip('_')}.total", r.total, src),
             ctx.money_fig(f"cost.{by}.{r.group.strip('_')}.per_1m_tokens",
                           r.unit.per_1m_tokens, src))
            for r in rows
        ),
    )  # fmt: skip


def _trend(ctx: Ctx, report: CostReport) -> Chart:
    daily = cost_report(
        ctx.rt, ctx.start_ms, ctx.end_ms, daily=True, work=False, usage=report.usage
    )
    days = sorted({r.day for r in daily.rows if r.day})
    groups = list(dict.fromkeys(r.group for r in _mine(ctx, daily.rows)))
    cells = {(r.day, r.group): float(r.total) for r in daily.rows}
    series = tuple((_label(g), tuple(cells.get((d, g), 0.0) for d in days)) for g in groups)
    src = ctx.source(_call(ctx, ctx.start_ms, ctx.end_ms, ", daily=True, work=False"), *_TABLES)
    return Chart("Cost per day", "stacked", tuple(days), series, ctx.currency, src, "cost.daily")


def _reconciliation(ctx: Ctx) -> tuple[list[Part], list[str]]:
    rows = [
        e
        for e in ctx.rt.store.journal.events(0, 2**62, kind="reconciliation")
        if int(e.data.get("start_ms", 0)) < ctx.end_ms
        and int(e.data.get("end_ms", 0)) > ctx.start_ms
    ]
    if not rows:
        return [], [
            "No bill was reconciled for this period: run `perfops cost reconcile bill.csv` "
            "with the provider's FOCUS export."
        ]
    last = max(rows, key=lambda e: e.ts_ns)
    d = last.data
    src = ctx.source(f"Journal.events(kind='reconciliation') newest overlapping the period "
                     f"({last.title})", "events")  # fmt: skip
    verdict = "agrees with" if d.get("ok") else "does NOT agree with"
    fig = ctx.fig("cost.reconciliation.difference", money(Decimal(str(d["difference"])),
                  ctx.currency), str(d["difference"]), src)  # fmt: skip
    return [f"The imported bill {d.get('bill')} {verdict} perfops' attribution: difference ",
            fig, "."], []  # fmt: skip


def cost_section(ctx: Ctx) -> tuple[Section, CostFigures]:
    report = cost_report(ctx.rt, ctx.start_ms, ctx.end_ms)
    previous = cost_report(ctx.rt, *ctx.prev, work=False) if ctx.prev[1] > ctx.prev[0] else None
    mine = _mine(ctx, report.rows)
    src = ctx.source(_call(ctx, ctx.start_ms, ctx.end_ms) + " rows in scope, summed", *_TABLES)
    total_amount = sum((r.total for r in mine), Decimal(0))
    served = [r for r in mine if r.group not in (IDLE, SHARED)]
    fleet = unit_costs(total_amount, total_work(served), energy_per_kwh=report.energy_per_kwh)
    measured = [r for r in served if r.work.slo_tokens is not None]
    per_slo = unit_costs(sum((r.total for r in measured), Decimal(0)), total_work(measured))
    wastes = [r.unit.slo_waste for r in served if r.unit.slo_waste is not None]
    waste_amount = sum(wastes, Decimal(0)) if wastes else None
    fleet_rows = report.rows if ctx.scoped else mine
    idle_amount = sum((r.total for r in fleet_rows if r.group == IDLE), Decimal(0))
    shared_amount = sum((r.total for r in fleet_rows if r.group == SHARED), Decimal(0))
    prev_total = sum((r.total for r in _mine(ctx, previous.rows)), Decimal(0)) if previous else None
    total = ctx.money_fig("cost.total", total_amount, src)
    idle = ctx.money_fig("cost.idle", idle_amount, src)
    fleet_per_1m = ctx.money_fig("cost.per_1m_tokens", fleet.per_1m_tokens, src)
    wsrc = ctx.source(_call(ctx, ctx.start_ms, ctx.end_ms) + " rows in scope: the sum of "
                      "each service's unit.slo_waste where measured", *_TABLES)  # fmt: skip
    waste = ctx.money_fig("cost.slo_waste", waste_amount, wsrc)
    measured_call = (
        _call(ctx, ctx.start_ms, ctx.end_ms)
        + " rows of the services with load-test SLO shares: their cost / their SLO tokens"
    )
    ssrc = ctx.source(measured_call, *_TABLES)
    tiles: list[tuple[str, Figure]] = [
        ("Bill for the period", total),
        ("Idle GPUs (fleet)" if ctx.scoped else "Idle GPUs", idle),
        ("Shared costs (fleet)" if ctx.scoped else "Shared costs",
         ctx.money_fig("cost.shared", shared_amount, src)),
        ("$/1M tokens", fleet_per_1m),
        ("$/1M SLO-compliant tokens",
         ctx.money_fig("cost.per_1m_slo_tokens", per_slo.per_1m_slo_tokens, ssrc)),
        ("SLO waste", waste),
        ("Energy cost", ctx.money_fig("cost.energy", fleet.energy_cost, src)),
        ("Tokens per joule", ctx.fig("cost.tokens_per_joule", rate(fleet.tokens_per_joule,
                                     "tok/J", 2), fleet.tokens_per_joule, src)),
    ]  # fmt: skip
    if prev_total is not None:
        psrc = ctx.source(_call(ctx, *ctx.prev) + " rows in scope, summed", *_TABLES)
        tiles.insert(1, ("Previous period", ctx.money_fig("cost.previous_total", prev_total, psrc)))
    recon, missing = _reconciliation(ctx)
    paragraphs: list[tuple[Part, ...]] = [(
        f"Costs are attributed on the {report.basis} basis with idle GPUs {report.idle}; "
        "shared costs (per perfops.yaml `pricing.shared`) are shown apart.",
    )]  # fmt: skip
    if recon:
        paragraphs.append(tuple(recon))
    if ctx.scoped:
        paragraphs.append(
            (
                "The bill shown is the chosen services' own; the fleet's idle GPUs and unshared "
                "costs are shown apart and not included in it.",
            )
        )
    paragraphs += [(note,) for note in report.notes]
    section = Section(
        "cost", "Cost",
        paragraphs=tuple(paragraphs),
        tiles=tuple(tiles),
        tables=(Table("By service", ("Service", "GPU-hours", "Busy", "Cost", "$/1M tokens",
                                     "$/1M SLO tokens", "SLO waste", "Tokens/J"),
                      _service_rows(ctx, report)),
                _group_table(ctx, report, "team"), _group_table(ctx, report, "model")),
        charts=(_trend(ctx, report),) if mine else (),
        missing=tuple(missing) + (() if mine else (
            "No GPU usage in the period: scrape dcgm-exporter with `perfops collect` or "
            "import history with `perfops collect import`.",)),
    )  # fmt: skip
    per_1m = {r.group: r.unit.per_1m_tokens for r in served if r.unit.per_1m_tokens is not None}
    return section, CostFigures(report, total, prev_total, idle, per_1m, fleet, fleet_per_1m,
                                waste)  # fmt: skip
