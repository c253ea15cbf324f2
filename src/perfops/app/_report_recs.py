"""The report's recommendations, each priced per month from figures the other sections
computed, ranked by the money at stake, with a confidence and the assumptions it makes:
idle GPUs to release, SLO waste to remove, capacity to add before a breach (or to release
where the measured capacity far exceeds the peak), and a cheaper purchase option for GPUs
that run all month."""

from __future__ import annotations

import math
from decimal import Decimal

from perfops.app._report_context import Ctx, money, pct
from perfops.app._report_cost import CostFigures
from perfops.app._report_perf import Headroom
from perfops.app._report_slo import ScoreRow
from perfops.app.cost import workspace_prices
from perfops.errors import PerfopsError
from perfops.finops import IDLE
from perfops.report.model import Part, Recommendation

__all__ = ["recommendations"]

_TARGET_HEADROOM = 0.25  # plan for the peak plus a quarter
_CENT = Decimal("0.01")


def _monthly(ctx: Ctx, amount: Decimal) -> Decimal:
    """A figure of the period per 30-day month, exactly (then to the cent)."""
    return (amount * 30 * 86_400_000 / (ctx.end_ms - ctx.start_ms)).quantize(_CENT)


def _idle(ctx: Ctx, cost: CostFigures) -> list[Recommendation]:
    row = next((r for r in cost.report.rows if r.group == IDLE), None)
    if row is None or row.total <= 0:
        return []
    hours = (ctx.end_ms - ctx.start_ms) / 3_600_000
    gpus = row.gpu_hours / hours
    amount = _monthly(ctx, row.total)
    src = ctx.source(f"cost_report(rt, {ctx.start_ms}, {ctx.end_ms}) row '__idle__' x "
                     f"{ctx.month_factor:.4f} (30 days / period)", "samples", "series")  # fmt: skip
    return [Recommendation(
        f"Release or consolidate about {gpus:.1f} idle GPUs",
        f"Scale idle replicas down or pack services onto fewer GPUs (idle {row.gpu_hours:,.0f} "
        "GPU-hours in the period).",
        ctx.money_fig("recommendations.idle.monthly", amount, src),
        "high" if not cost.report.notes else "medium",
        ("Idle cost in the period: ", cost.idle),
        ("Next month's traffic follows this period's pattern.",
         "Idle means allocated GPUs with no engine work, as dcgm-exporter and the price book "
         "saw them; released GPUs stop being billed."),
    )]  # fmt: skip


def _waste(ctx: Ctx, cost: CostFigures, scores: list[ScoreRow]) -> list[Recommendation]:
    waste = None if cost.waste.value is None else Decimal(str(cost.waste.value))
    if waste is None or waste <= 0:
        return []
    worst = min((s for s in scores if isinstance(s.attainment.value, float)),
                key=lambda s: float(s.attainment.value or 100.0), default=None)  # fmt: skip
    target = f" starting with {worst.slo.name} ({worst.slo.service})" if worst else ""
    call = (
        f"cost_report(rt, {ctx.start_ms}, {ctx.end_ms}): the services' unit.slo_waste, summed, "
        f"x {ctx.month_factor:.4f} (30 days / period)"
    )
    src = ctx.source(call, "samples", "series", "requests")
    evidence: list[Part] = ["SLO waste in the period: ", cost.waste]
    if worst:
        evidence += ["; lowest attainment ", worst.attainment]
    return [Recommendation(
        "Remove SLO waste: tokens served outside their SLOs",
        f"Fix the latency or errors behind the SLO misses{target}; see the scorecard.",
        ctx.money_fig("recommendations.slo_waste.monthly", _monthly(ctx, waste), src),
        "medium",
        tuple(evidence),
        ("The waste is the cost share of the tokens of load-test requests that missed an "
         "SLO, applied to all tokens served.",
         "Fixing the misses makes those tokens compliant at the same cost."),
    )]  # fmt: skip


def _capacity(ctx: Ctx, heads: list[Headroom]) -> list[Recommendation]:
    book = workspace_prices(ctx.rt)
    out = []
    for h in heads:
        per_gpu = h.capacity_rps / max(1, h.service.gpu.count)
        need = math.ceil(h.peak_rps * (1 + _TARGET_HEADROOM) / per_gpu) if per_gpu else 0
        have = h.service.gpu.count
        if need == have or (need < have and h.headroom < 1.0):
            continue
        try:
            hourly = book.hourly(h.service.gpu.type)
        except PerfopsError:
            continue
        delta = need - have
        amount = (abs(delta) * hourly * book.hours_per_month).quantize(_CENT)
        src = ctx.source(f"|ceil(peak {h.peak_rps:.3f} req/s x {1 + _TARGET_HEADROOM} / "
                         f"{per_gpu:.3f} req/s per GPU) - {have} GPUs| x {hourly} / GPU-hour x "
                         f"{book.hours_per_month} h (capacity run {h.run_id})", "runs",
                         "samples_1h")  # fmt: skip
        head = ctx.fig(f"recommendations.capacity.{h.service.name}.headroom_pct",
                       pct(100 * h.headroom, 0), 100 * h.headroom, src)  # fmt: skip
        if delta > 0:
            title = f"Add {delta} GPU(s) to {h.service.name} before its peak breaches the SLO"
            action = (f"Scale {h.service.name} from {have} to {need} {h.service.gpu.type} GPUs "
                      f"(spend {money(amount, ctx.currency)} a month).")  # fmt: skip
        else:
            title = f"Release {-delta} GPU(s) of {h.service.name}: capacity far exceeds its peak"
            action = f"Scale {h.service.name} from {have} to {need} GPUs."
        out.append(Recommendation(
            title, action,
            ctx.money_fig(f"recommendations.capacity.{h.service.name}.monthly", amount, src),
            "high" if delta > 0 else "medium",
            ("Headroom at the peak: ", head),
            (f"Peak traffic stays at the period's hourly peak ({h.peak_rps:.2f} req/s).",
             f"Plan for {_TARGET_HEADROOM:.0%} above the peak.",
             "The capacity search's workload represents production traffic."),
        ))  # fmt: skip
    return out


def _commit(ctx: Ctx) -> list[Recommendation]:
    book = workspace_prices(ctx.rt)
    if ctx.rt.config.pricing.purchase != "on_demand":
        return []
    out = []
    for gpu in sorted({s.gpu.type for s in ctx.services}):
        count = sum(s.gpu.count for s in ctx.services if s.gpu.type == gpu)
        try:
            now, committed = book.rate(gpu), book.rate(gpu, purchase="committed")
        except PerfopsError:
            continue
        if committed.hourly >= now.hourly:
            continue
        amount = ((now.hourly - committed.hourly) * count * book.hours_per_month).quantize(_CENT)
        src = ctx.source(f"(rate({gpu!r}).hourly {now.hourly} - rate({gpu!r}, purchase="
                         f"'committed').hourly {committed.hourly}) x {count} GPUs x "
                         f"{book.hours_per_month} h ({committed.source})")  # fmt: skip
        out.append(Recommendation(
            f"Commit to the {count} {gpu} GPUs that run all month",
            f"Buy committed-use capacity for {count} {gpu} instead of on-demand.",
            ctx.money_fig(f"recommendations.commit.{gpu}.monthly", amount, src),
            "medium",
            (f"On-demand {now.hourly} vs committed {committed.hourly} {ctx.currency} per "
             "GPU-hour",),
            ("The services keep their declared GPUs for the commitment's term.",
             "The price book's committed rate is what the provider offers you."),
        ))  # fmt: skip
    return out


def recommendations(
    ctx: Ctx, cost: CostFigures, scores: list[ScoreRow], heads: list[Headroom]
) -> tuple[Recommendation, ...]:
    found = [*_idle(ctx, cost), *_waste(ctx, cost, scores), *_capacity(ctx, heads),
             *_commit(ctx)]  # fmt: skip
    return tuple(sorted(found, key=lambda r: -Decimal(str(r.impact.value or 0))))
