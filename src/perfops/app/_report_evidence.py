"""The report's reliability evidence (chaos experiments, drills and game days run in the
period, their pass rate and times to detect and restore; incidents; runbooks whose
mitigations are stale or untested) and its changes with their ROI (consecutive capacity
searches of a service compared as `perfops cost roi --runs` compares them, with the
significance of the capacity difference)."""

from __future__ import annotations

from decimal import Decimal

from perfops.app._report_context import Ctx, stamp
from perfops.app._report_slo import period_incidents
from perfops.app.cost import CostReport
from perfops.app.cost_plan import roi_of_runs
from perfops.app.runbook import plan_runbooks
from perfops.errors import PerfopsError
from perfops.report.model import Part, Section, Table
from perfops.respond import runbook as rbk
from perfops.store import RunRecord

__all__ = ["changes", "reliability"]

_PASSED = {"chaos": ("passed",), "drill": ("restored",), "gameday": ("passed",)}


def _runs(ctx: Ctx, kind: str) -> list[RunRecord]:
    lo, hi = ctx.start_ms * 1_000_000, ctx.end_ms * 1_000_000
    key = f"runs:{kind}"
    if key not in ctx.cache:
        ctx.cache[key] = ctx.rt.store.journal.runs(kind)
    runs: list[RunRecord] = ctx.cache[key]
    return sorted((r for r in runs if lo <= r.started_ns < hi), key=lambda r: r.started_ns)


def _secs(value: object) -> str:
    return f"{value:.0f} s" if isinstance(value, int | float) else "n/a"


def _run_row(ctx: Ctx, run: RunRecord) -> tuple[Part, ...]:
    s = run.summary
    title = str(s.get("title") or run.spec.get("title") or run.run_id)
    return (run.kind, title, stamp(run.started_ns // 1_000_000), run.status,
            _secs(s.get("time_to_detect_s")), _secs(s.get("time_to_restore_s")))  # fmt: skip


def _runbook_rows(ctx: Ctx) -> list[tuple[Part, ...]]:
    stale_after = ctx.rt.config.runbooks.stale_after
    out: list[tuple[Part, ...]] = []
    seen: set[str] = set()
    for planned in plan_runbooks(ctx.rt):
        rb = planned.runbook
        if rb.name in seen or (rb.service and rb.service not in ctx.names):
            continue
        seen.add(rb.name)
        ranked = rbk.rank(rb.steps, rb.evidence, now_ns=ctx.end_ms * 1_000_000,
                          stale_after_s=stale_after)  # fmt: skip
        stale = [m.step.action for m in ranked if m.state == "stale"]
        untested = [m.step.action for m in ranked if m.state == "untested"]
        if stale or untested:
            out.append((rb.name, ", ".join(stale) or "none", ", ".join(untested) or "none"))
    return out


def reliability(ctx: Ctx) -> Section:
    runs = [r for kind in ("chaos", "drill", "gameday") for r in _runs(ctx, kind)]
    runs.sort(key=lambda r: r.started_ns)
    src = ctx.source(
        f"Journal.runs(kind) for chaos, drill and gameday started in [{ctx.start_ms}, "
        f"{ctx.end_ms}) ms; passed = chaos/gameday 'passed', drill 'restored'",
        "runs",
    )
    passed = sum(r.status in _PASSED[r.kind] for r in runs)
    rate = 100.0 * passed / len(runs) if runs else None
    ttr = [float(r.summary["time_to_restore_s"]) for r in runs
           if isinstance(r.summary.get("time_to_restore_s"), int | float)]  # fmt: skip
    ttd = [float(r.summary["time_to_detect_s"]) for r in runs
           if isinstance(r.summary.get("time_to_detect_s"), int | float)]  # fmt: skip
    incs = period_incidents(ctx)
    isrc = ctx.source("incidents(rt) open in the period, of the services in scope", "events")
    sevs: dict[str, int] = {}
    for inc in incs:
        sevs[inc.severity] = sevs.get(inc.severity, 0) + 1
    tiles = [
        ("Experiments and drills", ctx.fig("reliability.runs", str(len(runs)), len(runs), src)),
        ("Pass rate", ctx.fig("reliability.pass_rate_pct",
                              "n/a" if rate is None else f"{rate:.0f}%", rate, src)),
        ("Mean time to detect", ctx.fig("reliability.mean_ttd_s",
                                        _secs(sum(ttd) / len(ttd) if ttd else None),
                                        sum(ttd) / len(ttd) if ttd else None, src)),
        ("Mean time to restore", ctx.fig("reliability.mean_ttr_s",
                                         _secs(sum(ttr) / len(ttr) if ttr else None),
                                         sum(ttr) / len(ttr) if ttr else None, src)),
        ("Incidents", ctx.fig("reliability.incidents", str(len(incs)), len(incs), isrc)),
    ]  # fmt: skip
    tables = []
    if runs:
        tables.append(Table("Experiments, drills and game days", ("Kind", "Title", "Started",
                            "Verdict", "Detect", "Restore"),
                            tuple(_run_row(ctx, r) for r in runs)))  # fmt: skip
    if incs:
        rows = tuple(
            (i.incident_id, i.severity, i.title, stamp(i.opened_ns // 1_000_000), i.status)
            for i in incs
        )
        tables.append(
            Table("Incidents", ("Incident", "Severity", "Title", "Opened", "Status"), rows)
        )
    books = _runbook_rows(ctx)
    if books:
        tables.append(Table("Runbooks with stale or untested mitigations",
                            ("Runbook", "Stale", "Untested"), tuple(books)))  # fmt: skip
    missing = []
    if not runs:
        missing.append(
            "No chaos experiment or drill ran in the period: the SLO's behaviour under "
            "failure is unproven (`perfops chaos run`, `perfops chaos drill`)."
        )
    by_sev = ", ".join(f"{n} {s}" for s, n in sorted(sevs.items())) or "none"
    return Section("reliability", "Reliability evidence",
                   paragraphs=((f"Incidents in the period by severity: {by_sev}.",),),
                   tiles=tuple(tiles), tables=tuple(tables), missing=tuple(missing))  # fmt: skip


def _traffic(ctx: Ctx, report: CostReport, service: str) -> float:
    """The service's mean requests/s over the period (the bill's served work), else 1."""
    row = next((r for r in report.rows if r.group == service), None)
    seconds = (ctx.end_ms - ctx.start_ms) / 1000
    return row.work.requests / seconds if row is not None and row.work.requests else 1.0


def changes(ctx: Ctx, report: CostReport) -> tuple[Section, list[tuple[str, Decimal]]]:
    """Consecutive valid capacity searches of each service in the period, before against
    after, at the service's mean traffic in the period; savings per month."""
    rows: list[tuple[Part, ...]] = []
    savings: list[tuple[str, Decimal]] = []
    runs = [r for r in _runs(ctx, "capacity") if r.summary.get("valid") is not False]
    for svc in ctx.services:
        mine = [r for r in runs if r.spec.get("service") == svc.name]
        rps = _traffic(ctx, report, svc.name)
        for before, after in zip(mine, mine[1:], strict=False):
            try:
                roi = roi_of_runs(ctx.rt, before.run_id, after.run_id, traffic_rps=rps,
                                  one_off=Decimal(0), utilisation=0.7)  # fmt: skip
            except PerfopsError:
                continue
            src = ctx.source(f"roi_of_runs(rt, {before.run_id!r}, {after.run_id!r}, "
                             f"traffic_rps={rps:.4f}, one_off=0, utilisation=0.7)", "runs",
                             "samples", "series")  # fmt: skip
            key = f"changes.{svc.name}.{after.run_id}"
            change = 100.0 * roi.roi.capacity_change
            rows.append((
                svc.name, f"{before.run_id} → {after.run_id}",
                ctx.fig(f"{key}.capacity_change_pct", f"{change:+.1f}%", change, src),
                "significant" if roi.significant else "not significant",
                ctx.money_fig(f"{key}.per_1m_change", roi.roi.cost_per_1m_change, src),
                ctx.money_fig(f"{key}.monthly_savings", roi.roi.monthly_savings, src),
                "n/a" if roi.roi.payback_months is None else f"{roi.roi.payback_months} months",
            ))  # fmt: skip
            if roi.significant:
                savings.append((svc.name, roi.roi.cost_per_1m_change))
    missing = () if rows else (
        "No change was measured in the period: run `perfops load capacity` before and after a "
        "change, then `perfops cost roi --runs A B`.",
    )  # fmt: skip
    table = Table("Capacity searches compared", ("Service", "Runs", "Capacity/GPU change",
                  "Significance", "$/1M tokens change", "Savings a month", "Payback"),
                  tuple(rows))  # fmt: skip
    return Section("changes", "Changes and ROI", tables=(table,) if rows else (),
                   missing=missing), savings  # fmt: skip
