"""The dashboard's figures, each read from the function that owns it (one number, one source):
latency percentiles and error ratio from the load generator's :func:`summarize` of the
request records, requests and tokens per second from :func:`kpis` (as `perfops metrics
kpis`), SLO state and budget from :func:`slo_statuses` (as `perfops slo status`), money from
:func:`cost_report` and :func:`unit_costs` (as `perfops cost report`).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from perfops.app.compare import RECORD_COLUMNS, records_between
from perfops.app.cost import _clip, cost_report
from perfops.app.dashboard import Scope
from perfops.app.metrics import kpis
from perfops.app.runtime import Runtime
from perfops.app.slo import SloStatus, _Lake, counts_for, request_limits, slo_statuses
from perfops.errors import UsageError
from perfops.finops import ServedWork, unit_costs
from perfops.finops.attribution import IDLE, SHARED
from perfops.loadgen.judge import request_meets
from perfops.loadgen.records import RequestRecord
from perfops.loadgen.summary import summarize
from perfops.slo.engine import burn_rate
from perfops.store import SeriesInfo

__all__ = ["cost_panel", "latency_panel", "overview", "slo_misses", "slo_panel"]

_LATENCIES = ("ttft", "itl", "e2e", "tpot")


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _money(x: Decimal | None) -> str | None:
    return None if x is None else str(x)


def _records(rt: Runtime, scope: Scope) -> list[RequestRecord]:
    """The load-test request records scheduled in the range, of the filtered services."""
    lo, hi = scope.query_start_ms * 1_000_000, scope.end_ms * 1_000_000
    out: list[RequestRecord] = []
    for svc in rt.config.services:
        if scope.service and svc.name != scope.service:
            continue
        if (scope.team and svc.team != scope.team) or (scope.model and svc.model != scope.model):
            continue
        out += records_between(rt, svc.endpoint, lo, hi)
    return sorted(out, key=lambda r: r.scheduled_ns)


def latency_panel(rt: Runtime, scope: Scope, quantile: str = "p95") -> dict[str, Any]:
    """TTFT, ITL, E2E and TPOT ``quantile`` per bucket (ms), each bucket's records summarised
    by the load generator; plus the requests and errors per bucket."""
    bucket = scope.bucket_ms
    groups: dict[int, list[RequestRecord]] = {}
    for rec in _records(rt, scope):
        t = rec.scheduled_ns // 1_000_000
        groups.setdefault(t - t % bucket, []).append(rec)
    ts = sorted(groups)
    summaries = [summarize(groups[t]) for t in ts]
    series = [
        {"name": f"{name.upper()} {quantile}", "t": ts,
         "v": [_num(s.latency_ms[name].get(quantile)) for s in summaries]}
        for name in _LATENCIES
    ]  # fmt: skip
    return {
        "panel": "latency",
        "title": f"Latency {quantile} from load-test requests",
        "unit": "ms",
        "bucket_ms": bucket,
        "source": "requests",
        "series": series,
        "requests": [s.count for s in summaries],
        "errors": [s.count - s.completed for s in summaries],
    }


def _gpus_up(rt: Runtime, scope: Scope) -> int:
    """GPUs with a utilisation sample in the last minute of the range."""
    infos: dict[int, SeriesInfo] = {
        sid: i
        for sid, i in rt.store.timeseries.series("gpu.util").items()
        if scope.admits(i.labels, rt)
    }
    if not infos:
        return 0
    table, _ = rt.store.timeseries.query_buckets(
        "gpu.util", scope.end_ms - 60_000, scope.end_ms, 60_000, infos
    )
    return len(set(table.column("series_id").to_pylist()))


def _slo_state(st: SloStatus) -> str:
    """ok, burning (a ticket alert fires, or any window burns budget faster than allowed),
    page (a page alert fires), no data (no series or no events: never a green), or error (the
    SLO cannot be evaluated, as `perfops slo status` says)."""
    if st.error is not None:
        return "error"
    if st.no_data is not None or not st.total:
        return "no data"
    if any(a.firing and a.severity == "page" for a in st.alerts):
        return "page"
    burning = any(a.firing for a in st.alerts) or any(b > 1 for b in st.burn_rates.values())
    return "burning" if burning else "ok"


def _slo_json(st: SloStatus) -> dict[str, Any]:
    return {
        "name": st.name,
        "service": st.service,
        "kind": st.kind,
        "objective_pct": st.objective_pct,
        "period": st.period,
        "state": _slo_state(st),
        "sli_pct": _num(st.sli_pct),
        "good": st.good,
        "total": st.total,
        "budget_left_pct": None if st.budget is None or not st.total else
        _num(st.budget.remaining_pct),
        "burn_rates": {k: _num(v) for k, v in st.burn_rates.items()},
        "alerts": [{"severity": a.severity, "long_window_s": a.long_window,
                    "short_window_s": a.short_window, "threshold": a.factor,
                    "long_burn": _num(a.long_burn), "short_burn": _num(a.short_burn),
                    "firing": a.firing} for a in st.alerts],
        "note": st.error or st.no_data or st.note,
        "source": st.source,
        "selector": st.selector,
    }  # fmt: skip


def _slos(rt: Runtime, scope: Scope) -> list[SloStatus]:
    slos = [s for s in rt.config.slos if not scope.service or s.service == scope.service]
    return slo_statuses(rt, slos, at_ms=scope.end_ms - 1)


def overview(rt: Runtime, scope: Scope) -> dict[str, Any]:
    """The headline figures of the range."""
    rows = kpis(rt, scope.start_ms, scope.end_ms)
    if scope.service:
        rows = [r for r in rows if r.group == scope.service]
    records = _records(rt, scope)
    summary = summarize(records) if records else None
    cost = cost_report(rt, scope.start_ms, scope.end_ms)
    hours = (scope.end_ms - scope.start_ms) / 3_600_000
    groups = [r for r in cost.rows if not scope.service or r.group == scope.service]
    total = sum((r.total for r in groups), Decimal(0))
    work = sum((r.work for r in groups if r.group not in (IDLE, SHARED)), ServedWork())
    unit = unit_costs(total, work)
    return {
        "requests_per_s": sum(r.requests_per_s for r in rows),
        "output_tokens_per_s": sum(r.output_tokens_per_s for r in rows),
        "error_ratio": None if not summary else (summary.count - summary.completed) /
        summary.count,
        "latency_p95_ms": {k: None if not summary else _num(summary.latency_ms[k]["p95"])
                           for k in ("ttft", "itl", "e2e")},
        "load_requests": len(records),
        "gpus_up": _gpus_up(rt, scope),
        "cost_per_hour": _money((total / Decimal(repr(hours))).quantize(Decimal("0.0001"))),
        "cost": _money(total),
        "per_1m_tokens": _money(unit.per_1m_tokens),
        "currency": cost.currency,
        "slos": [_slo_json(st) for st in _slos(rt, scope)],
    }  # fmt: skip


def slo_panel(rt: Runtime, scope: Scope) -> dict[str, Any]:
    """Per SLO its status now, and its SLI and burn rate per bucket of the range."""
    slos = [s for s in rt.config.slos if not scope.service or s.service == scope.service]
    statuses = {st.name: st for st in _slos(rt, scope)}
    bucket = scope.bucket_ms
    starts = list(range(scope.query_start_ms, scope.end_ms, bucket))
    windows = [(t, min(t + bucket, scope.end_ms)) for t in starts]
    out = []
    for slo in slos:
        entry = _slo_json(statuses[slo.name])
        ok = statuses[slo.name].error is None  # a broken SLO has its reason, not a series
        counts = counts_for(rt, slo, _Lake(rt, windows)) if ok else None
        ts, sli, burn = [], [], []
        for lo, hi in windows if counts else []:
            good, total = counts(lo, hi)  # type: ignore[misc]
            if total:
                ts.append(lo)
                sli.append(100.0 * good / total)
                burn.append(_num(burn_rate(total - good, total, slo.objective)))
        entry["series"] = {"t": ts, "sli_pct": sli, "burn_rate": burn}
        worst = sorted(range(len(ts)), key=lambda i: (sli[i], ts[i]))[:5]
        entry["worst"] = [{"start_ms": ts[i], "end_ms": min(ts[i] + bucket, scope.end_ms),
                           "sli_pct": sli[i]} for i in worst if sli[i] < slo.objective]  # fmt: skip
        out.append(entry)
    return {"panel": "slos", "bucket_ms": bucket, "slos": out}


def cost_panel(rt: Runtime, scope: Scope) -> dict[str, Any]:
    """The bill of the range by service (as `perfops cost report`), and $/h and $/1M tokens
    per cost bucket."""
    bucket = max(scope.bucket_ms, 60_000)
    report = cost_report(rt, scope.start_ms, scope.end_ms, bucket_ms=bucket)
    rows = [r for r in report.rows if not scope.service or r.group in (scope.service, IDLE)]
    per: dict[int, list[Any]] = {}
    for line in report.attribution.lines:
        if scope.service and line.service not in (scope.service, IDLE):
            continue
        start, end = _clip(line, report.attribution)  # as cost_report keys the work served
        slot = per.setdefault(start, [Decimal(0), ServedWork(), end])
        slot[0] += line.total
        slot[2] = max(slot[2], end)
        if line.service not in (IDLE, SHARED):
            slot[1] = slot[1] + report.work.get((start, line.service), ServedWork())
    ts = sorted(per)
    hours = [(per[t][2] - t) / 3_600_000 for t in ts]
    hourly = [float(per[t][0]) / h if h > 0 else None for t, h in zip(ts, hours, strict=True)]
    per_1m = [unit_costs(per[t][0], per[t][1]).per_1m_tokens for t in ts]
    return {
        "panel": "cost",
        "currency": report.currency,
        "bucket_ms": bucket,
        "rows": [_cost_row(r) for r in rows],
        "notes": list(report.notes),
        "series": [
            {"name": f"{report.currency}/h", "t": ts, "v": hourly},
            {"name": f"{report.currency}/1M tokens", "t": ts,
             "v": [None if x is None else float(x) for x in per_1m]},
        ],
    }  # fmt: skip


def _cost_row(r: Any) -> dict[str, Any]:
    return {
        "group": r.group,
        "gpu_hours": r.gpu_hours,
        "total": _money(r.total),
        "idle_cost": _money(r.idle_cost),
        "tokens": r.work.input_tokens + r.work.output_tokens,
        "per_1m_tokens": _money(r.unit.per_1m_tokens),
        "per_1m_slo_tokens": _money(r.unit.per_1m_slo_tokens),
        "tokens_per_joule": _num(r.unit.tokens_per_joule),
    }


_MISS_COLUMNS = ("run_id", "request_id", *RECORD_COLUMNS)


def slo_misses(rt: Runtime, scope: Scope, slo_name: str, limit: int = 200) -> dict[str, Any]:
    """The load-test requests in the range that missed SLO ``slo_name`` (a request SLI: its
    own checks decide, as `perfops slo status` counts them), the first ``limit`` of them."""
    slo = next((s for s in rt.config.slos if s.name == slo_name), None)
    if slo is None:
        raise UsageError(
            f"no SLO {slo_name!r} in perfops.yaml",
            hint=f"SLOs are {[s.name for s in rt.config.slos]}",
        )
    limits = request_limits(slo)
    if not limits:
        return {"slo": slo.name, "kind": slo.sli.kind, "requests": [], "missed": 0,
                "note": "not a request-based SLI: no request records to show"}  # fmt: skip
    svc = rt.config.service(slo.service)
    table = rt.store.journal.target_requests(
        svc.endpoint, scope.query_start_ms * 1_000_000, scope.end_ms * 1_000_000, _MISS_COLUMNS
    )
    missed = [r for r in table.to_pylist() if not _met(r, limits)]
    return {
        "slo": slo.name,
        "kind": slo.sli.kind,
        "missed": len(missed),
        "of": table.num_rows,
        "requests": [_miss_row(r) for r in missed[:limit]],
        "note": "",
    }


def _met(r: dict[str, Any], limits: list[tuple[str, float]]) -> bool:
    """The one per-request judge (:func:`~perfops.loadgen.judge.request_meets`) on a row."""
    return request_meets(
        limits,
        failed=r["error"] is not None,
        sent_ns=r["sent_ns"],
        first_token_ns=r["first_token_ns"],
        end_ns=r["end_ns"],
        output_tokens=int(r["output_tokens"] or 0),
        max_gap_s=max(r["chunk_gaps_us"] or [0]) / 1e6,
    )


def _miss_row(r: dict[str, Any]) -> dict[str, Any]:
    sent, first, end = r["sent_ns"], r["first_token_ns"], r["end_ns"]
    return {
        "scheduled_ms": r["scheduled_ns"] // 1_000_000,
        "run_id": r["run_id"],
        "request_id": r["request_id"],
        "ttft_ms": None if first is None or not sent else (first - sent) / 1e6,
        "e2e_ms": None if end is None or not sent else (end - sent) / 1e6,
        "output_tokens": r["output_tokens"],
        "status": r["status"],
        "error": r["error"],
    }
