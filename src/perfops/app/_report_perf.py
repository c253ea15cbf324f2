"""The report's performance section, per service: TTFT, TPOT and E2E percentiles and goodput
of the load-test requests in the period (the load generator's own :func:`summarize`), tokens
and requests per second served (the cost section's served work: the engines' counters),
peak traffic and SM-active utilisation (the dashboard's panels, hourly), and the capacity
per GPU at the SLO from the newest valid capacity run, with its interval, and the headroom it
leaves at the peak."""

from __future__ import annotations

import math
from dataclasses import dataclass

from perfops.app._report_context import Ctx, pct, rate, stamp
from perfops.app.compare import records_between
from perfops.app.cost import CostReport
from perfops.app.cost_plan import MeasuredCapacity, capacity_from_run
from perfops.app.dashboard import Scope, series_panel
from perfops.config import Service
from perfops.errors import PerfopsError
from perfops.loadgen.summary import summarize
from perfops.report.model import Chart, Part, Section, Table
from perfops.store import RunRecord

__all__ = ["Headroom", "performance"]

_HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Headroom:
    """A service's measured capacity against its peak: what the recommendations read."""

    service: Service
    capacity_rps: float  # the whole service: per GPU x its GPUs
    peak_rps: float
    run_id: str

    @property
    def headroom(self) -> float:
        return self.capacity_rps / self.peak_rps - 1 if self.peak_rps else math.inf


def _hourly(ctx: Ctx, panel: str, svc: Service) -> tuple[list[int], list[float]]:
    """The panel's hourly means over the period, the lines summed per hour (rates) or
    averaged (gauges), as the dashboard draws them."""
    key = f"panel:{panel}:{svc.name}"
    if key not in ctx.cache:
        width = max(50, min(10_000, (ctx.end_ms - ctx.start_ms) // _HOUR_MS))
        scope = Scope(start_ms=ctx.start_ms, end_ms=ctx.end_ms, width_px=int(width),
                      service=svc.name)  # fmt: skip
        ctx.cache[key] = series_panel(ctx.rt, panel, scope)
    out = ctx.cache[key]
    per_t: dict[int, list[float]] = {}
    for line in out["series"]:
        for t, v in zip(line["t"], line["v"], strict=True):
            if v is not None and ctx.start_ms <= t < ctx.end_ms:
                per_t.setdefault(t, []).append(v)
    ts = sorted(per_t)
    if panel == "requests_rate":
        return ts, [sum(per_t[t]) for t in ts]
    return ts, [sum(per_t[t]) / len(per_t[t]) for t in ts]


def _capacity_run(ctx: Ctx, svc: Service) -> RunRecord | None:
    """The newest valid capacity search of the service that ended before the period did."""
    runs: list[RunRecord] = ctx.cache.setdefault(
        "capacity_runs", ctx.rt.store.journal.runs("capacity")
    )
    for run in runs:
        if run.spec.get("service") != svc.name or run.summary.get("valid") is False:
            continue
        if run.ended_ns is not None and run.ended_ns // 1_000_000 < ctx.end_ms:
            return run
    return None


def _latency_row(ctx: Ctx, svc: Service) -> tuple[Part, ...]:
    lo, hi = ctx.start_ms * 1_000_000, ctx.end_ms * 1_000_000
    records = records_between(ctx.rt, svc.endpoint, lo, hi)
    src = ctx.source(
        f"summarize(records_between(rt, {svc.endpoint!r}, {lo}, {hi}))",
        "requests",
        query=ctx.rt.store.journal.request_log_sql(svc.endpoint, lo, hi),
    )
    if not records:
        return (svc.name, "no load-test requests", "", "", "", "", "")
    s = summarize(records)
    key = f"performance.{svc.name}"

    def ms(name: str, q: str) -> Part:
        v = s.latency_ms.get(name, {}).get(q)
        return ctx.fig(f"{key}.{name}_{q}_ms", rate(v, "ms", 0), v, src)

    good = 100.0 * s.completed / s.count if s.count else None
    return (svc.name, ctx.fig(f"{key}.requests", f"{s.count:,}", s.count, src),
            ms("ttft", "p50"), ms("ttft", "p95"), ms("tpot", "p95"), ms("e2e", "p95"),
            ctx.fig(f"{key}.completed_pct", pct(good, 2), good, src))  # fmt: skip


def _traffic_row(
    ctx: Ctx, svc: Service, report: CostReport
) -> tuple[tuple[Part, ...], Headroom | None]:
    key = f"performance.{svc.name}"
    seconds = (ctx.end_ms - ctx.start_ms) / 1000
    row = next((r for r in report.rows if r.group == svc.name), None)
    wsrc = ctx.source(
        f"cost_report(rt, {ctx.start_ms}, {ctx.end_ms}) row {svc.name!r}: "
        "work.output_tokens / period seconds",
        "samples",
        "series",
        "requests",
    )
    tok_s = row.work.output_tokens / seconds if row else None
    _, peaks = _hourly(ctx, "requests_rate", svc)
    psrc = ctx.source(
        f"series_panel(rt, 'requests_rate', Scope({ctx.start_ms}, {ctx.end_ms}, "
        f"service={svc.name!r})): the largest hourly sum",
        "samples_1h",
        "series",
    )
    peak = max(peaks) if peaks else None
    _, sm = _hourly(ctx, "sm_active", svc)
    ssrc = ctx.source(
        f"series_panel(rt, 'sm_active', Scope({ctx.start_ms}, {ctx.end_ms}, "
        f"service={svc.name!r})): mean of hourly means",
        "samples_1h",
        "series",
    )
    sm_mean = sum(sm) / len(sm) if sm else None
    cap_run = _capacity_run(ctx, svc)
    cap_cells: list[Part] = ["no capacity run", "", "n/a"]
    head = None
    if cap_run is not None:
        try:
            cap: MeasuredCapacity | None = capacity_from_run(ctx.rt, cap_run.run_id)
        except PerfopsError:
            cap = None
        csrc = ctx.source(f"capacity_from_run(rt, {cap_run.run_id!r})", "runs")
        if cap is not None and cap.rps_per_gpu:
            lo_hi = cap_run.summary.get("interval_rps") or [None, None]
            gpus = max(1, svc.gpu.count)
            interval = (
                f"{lo_hi[0] / gpus:.2f}-{lo_hi[1] / gpus:.2f} req/s, measured "
                f"{stamp(cap_run.started_ns // 1_000_000)}"
                if None not in lo_hi else f"measured {stamp(cap_run.started_ns // 1_000_000)}"
            )  # fmt: skip
            cap_cells = [ctx.fig(f"{key}.capacity_rps_per_gpu", rate(cap.rps_per_gpu, "req/s", 2),
                                 cap.rps_per_gpu, csrc), interval, "n/a"]  # fmt: skip
            if peak:
                head = Headroom(svc, cap.rps_per_gpu * gpus, peak, cap_run.run_id)
                hsrc = ctx.source(
                    f"capacity_from_run(rt, {cap_run.run_id!r}).rps_per_gpu x "
                    f"{gpus} GPUs / peak hourly req/s - 1",
                    "runs",
                    "samples_1h",
                )
                cap_cells[2] = ctx.fig(f"{key}.headroom_pct", pct(100 * head.headroom, 0),
                                       100 * head.headroom, hsrc)  # fmt: skip
    return (
        svc.name,
        ctx.fig(f"{key}.output_tokens_per_s", rate(tok_s, "tok/s"), tok_s, wsrc),
        ctx.fig(f"{key}.peak_rps", rate(peak, "req/s", 2), peak, psrc),
        ctx.fig(f"{key}.sm_active_pct", pct(sm_mean, 1), sm_mean, ssrc),
        *cap_cells,
    ), head


def performance(ctx: Ctx, report: CostReport) -> tuple[Section, list[Headroom]]:
    latency = [_latency_row(ctx, svc) for svc in ctx.services]
    traffic, heads = [], []
    for svc in ctx.services:
        row, head = _traffic_row(ctx, svc, report)
        traffic.append(row)
        if head is not None:
            heads.append(head)
    charts = []
    series = []
    days: list[int] = []
    for svc in ctx.services:
        ts, values = _hourly(ctx, "requests_rate", svc)
        if ts:
            series.append((svc.name, dict(zip(ts, values, strict=True))))
            days = sorted(set(days) | set(ts))
    if series:
        src = ctx.source(
            f"series_panel(rt, 'requests_rate', Scope({ctx.start_ms}, "
            f"{ctx.end_ms}, service=...)) per service",
            "samples_1h",
            "series",
        )
        charts.append(Chart("Requests per second, hourly", "line",
                            tuple(stamp(t)[:13] for t in days),
                            tuple((n, tuple(v.get(t) for t in days)) for n, v in series),
                            "req/s", src, "performance.requests_rate"))  # fmt: skip
    missing = []
    if all(len(r) > 2 and r[1] == "no load-test requests" for r in latency):
        missing.append("No load-test requests in the period: run `perfops load run` against "
                       "the services for client-side TTFT/TPOT/E2E percentiles.")  # fmt: skip
    if not heads:
        missing.append("No capacity at the SLO measured for a service with traffic: run "
                       "`perfops load capacity --service NAME`.")  # fmt: skip
    return Section(
        "performance", "Performance and capacity",
        paragraphs=((
            "Latency percentiles are nearest-rank over every load-test request sent in the "
            "period (the client's view); traffic and utilisation are the engines' and "
            "dcgm-exporter's series; capacity is the highest rate a capacity search held the "
            "SLO at, per GPU, with its 95% interval.",),),
        tables=(
            Table("Latency from load tests", ("Service", "Requests", "TTFT p50", "TTFT p95",
                                              "TPOT p95", "E2E p95", "Completed"), tuple(latency)),
            Table("Traffic, utilisation and capacity", ("Service", "Output tokens/s",
                  "Peak req/s", "SM active", "Capacity/GPU at SLO", "Interval", "Headroom at peak"),
                  tuple(traffic)),
        ),
        charts=tuple(charts),
        missing=tuple(missing),
    ), heads  # fmt: skip
