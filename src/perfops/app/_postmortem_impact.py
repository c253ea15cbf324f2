"""The figures of a postmortem's impact and detection, each read by the function that owns
it and returned with its :class:`~perfops.respond.postmortem.Source`:

* the SLI per minute and over the window: :func:`perfops.app.slo.counts_over`, what
  ``perfops slo status`` reads;
* the error budget spent: :func:`perfops.slo.budget_spent` against the period's events of
  :func:`perfops.app.slo.slo_status` as of the window's end;
* requests and tokens affected: the request log (:meth:`Journal.request_log`) judged by
  :func:`perfops.app.slo.request_good`, request by request;
* GPU-hours and money: :func:`perfops.app.cost.cost_report` over the window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from perfops._internal.durations import format_duration
from perfops.app.cost import cost_report
from perfops.app.runtime import Runtime
from perfops.app.slo import counts_over, request_good, slo_status
from perfops.config import SLO, Service
from perfops.errors import PerfopsError
from perfops.finops import IDLE, SHARED
from perfops.loadgen.judge import request_meets
from perfops.respond import postmortem as draft
from perfops.slo import budget_spent, sli_source
from perfops.store import LoggedRequest

__all__ = [
    "SloMinutes",
    "cost_figures",
    "counter_figures",
    "request_figures",
    "slo_impact",
    "slo_minutes",
    "window_figure",
]

_MINUTE = 60_000


def _ns(ms: int) -> int:
    """(start, end] in ms is [start + 1, end + 1) in ns, as the SLIs read request records."""
    return ms * 1_000_000 + 1


def _tables(rt: Runtime, slo: SLO | None) -> tuple[tuple[str, int], ...]:
    names = (
        ("requests",)
        if slo is None or sli_source(slo).kind == "requests"
        else ("samples", "samples_1h", "series")
    )
    return tuple(rt.store.versions(*names).items())


def _sql(rt: Runtime, slo: SLO, start_ms: int, end_ms: int) -> str | None:
    if sli_source(slo).kind != "requests":
        return None
    endpoint = rt.config.service(slo.service).endpoint
    return rt.store.journal.request_log_sql(endpoint, _ns(start_ms), _ns(end_ms))


@dataclass(frozen=True)
class SloMinutes:
    """An SLO's first bad minute in a scan (None: none), with the source of the scan."""

    slo: SLO
    first_bad_ms: int | None
    source: draft.Source
    note: str = ""


def slo_minutes(
    rt: Runtime, slo: SLO, start_ms: int, end_ms: int, anchor_ms: int | None = None
) -> SloMinutes:
    """Each whole UTC minute ``(m, m + 60 s]`` from ``start_ms``'s minute to ``end_ms``,
    read as ``perfops slo status`` reads the SLO; where the bad SLI began before
    ``anchor_ms`` (:func:`~perfops.respond.postmortem.first_bad_minute`)."""
    lo = start_ms - start_ms % _MINUTE
    windows = [(m, m + _MINUTE) for m in range(lo, max(end_ms, lo + 1), _MINUTE)]
    source = draft.Source(
        f"perfops.app.slo.counts_over(rt, {slo.name!r}, every minute (m, m+60s] from "
        f"{lo} to {windows[-1][1]} ms); bad: error ratio above 1 - {slo.objective:g}% "
        f"({sli_source(slo).describe()})",
        _sql(rt, slo, lo, windows[-1][1]),
        _tables(rt, slo),
    )
    try:
        counts = counts_over(rt, slo, windows)
    except PerfopsError as exc:
        return SloMinutes(slo, None, source, f"{slo.name}: {exc.message}")
    if counts is None:
        return SloMinutes(slo, None, source, f"{slo.name}: its SLI has no data in the lake")
    minutes = [(w[0], *counts(*w)) for w in windows]
    return SloMinutes(slo, draft.first_bad_minute(minutes, slo.objective, anchor_ms), source)


def slo_impact(rt: Runtime, slo: SLO, start_ms: int, end_ms: int) -> draft.SloImpact:
    """``slo``'s bad and total events in ``(start_ms, end_ms]`` and the share of its error
    budget (of the period's events as of ``end_ms``) the bad ones spent."""
    tables = _tables(rt, slo)
    call = f"perfops.app.slo.counts_over(rt, {slo.name!r}, [({start_ms}, {end_ms})])"
    try:
        counts = counts_over(rt, slo, [(start_ms, end_ms)])
        period = slo_status(rt, slo, at_ms=end_ms)
    except PerfopsError as exc:
        return draft.SloImpact(slo.name, slo.objective, note=exc.message)
    if counts is None:
        return draft.SloImpact(slo.name, slo.objective, note="its SLI has no data in the lake")
    good, total = counts(start_ms, end_ms)
    source = draft.Source(call, _sql(rt, slo, start_ms, end_ms), tables)
    bad = draft.Figure(f"{total - good:,.0f}", source, total - good)
    events = draft.Figure(f"{total:,.0f}", source, total)
    if not period.total:
        return draft.SloImpact(slo.name, slo.objective, bad, events, note=period.no_data or "")
    spent = 100 * budget_spent(total - good, period.total, slo.objective)
    budget = draft.Figure(
        "n/a (100% objective)" if math.isinf(spent) else f"{spent:.2f}%",
        draft.Source(
            f"100 x perfops.slo.budget_spent(bad={total - good:g}, events={period.total:g}, "
            f"objective={slo.objective:g}); bad from {call}; events of its {period.period} "
            f"period from perfops.app.slo.slo_status(rt, {slo.name!r}, at_ms={end_ms})",
            _sql(rt, slo, start_ms, end_ms),
            tables,
        ),
        None if math.isinf(spent) else spent,
    )
    return draft.SloImpact(slo.name, slo.objective, bad, events, budget)


Judge = Callable[[LoggedRequest], bool]


def _judges(slos: Sequence[SLO]) -> list[Judge]:
    """The incident's SLOs of one service as per-request judges; with none, a request is
    good when it did not fail (request_meets with no limit)."""
    if slos:
        return [request_good(slo) for slo in slos]

    def not_failed(r: LoggedRequest) -> bool:
        return request_meets(
            (),
            failed=r.failed,
            sent_ns=r.sent_ns,
            first_token_ns=None,
            end_ns=None,
            output_tokens=0,
            max_gap_s=0.0,
        )

    return [not_failed]


def request_figures(
    rt: Runtime, services: Sequence[Service], slos: Sequence[SLO], start_ms: int, end_ms: int
) -> dict[str, draft.Figure]:
    """Requests in the window, those affected (failed, or missed one of the incident's SLOs
    of their service) and their tokens, from the load-test request records; without any,
    from the engine's counters (:func:`counter_figures`)."""
    total = affected = tokens = 0
    sql = []
    for svc in services:
        log = rt.store.journal.request_log(svc.endpoint, _ns(start_ms), _ns(end_ms))
        sql.append(rt.store.journal.request_log_sql(svc.endpoint, _ns(start_ms), _ns(end_ms)))
        judges = _judges([s for s in slos if s.service == svc.name])
        bad = [r for r in log.requests if not all(good(r) for good in judges)]
        total += len(log)
        affected += len(bad)
        tokens += sum(r.prompt_tokens + r.output_tokens for r in bad)
    names = ", ".join(repr(s.name) for s in slos) or "none: failed requests"
    source = draft.Source(
        f"Journal.request_log(endpoint of each of {[s.name for s in services]}, "
        f"{_ns(start_ms)}, {_ns(end_ms)}), each request judged by "
        f"perfops.app.slo.request_good of the SLOs {names}",
        "; ".join(sql) or None,
        _tables(rt, None),
    )
    if total == 0:
        counted = counter_figures(rt, slos, start_ms, end_ms)
        if counted is not None:
            return counted
    return {
        "requests": draft.Figure(f"{total:,}", source, total),
        "requests_affected": draft.Figure(f"{affected:,}", source, affected),
        "tokens_affected": draft.Figure(f"{tokens:,}", source, tokens),
    }


def counter_figures(
    rt: Runtime, slos: Sequence[SLO], start_ms: int, end_ms: int
) -> dict[str, draft.Figure] | None:
    """Requests and those affected from the engine's counters and histograms, when no
    request record tells them: the events and bad events of the incident's SLO that counted
    the most bad ones (a lower bound when several SLOs judge the same requests). Which
    requests, and so their tokens, the counters do not say. None without such an SLO."""
    found = []
    for slo in slos:
        if sli_source(slo).kind not in ("counter", "histogram"):
            continue
        try:
            counts = counts_over(rt, slo, [(start_ms, end_ms)])
        except PerfopsError:
            continue
        if counts is not None:
            good, total = counts(start_ms, end_ms)
            found.append((total - good, total, slo))
    if not found:
        return None
    bad, total, slo = max(found, key=lambda f: (f[0], f[1]))
    source = draft.Source(
        f"no request records in the window: perfops.app.slo.counts_over(rt, {slo.name!r}, "
        f"[({start_ms}, {end_ms})]) ({sli_source(slo).describe()}), the SLO of the incident "
        "with the most bad events",
        None,
        _tables(rt, slo),
    )
    none = draft.Figure("not measured (the engine's counters do not say which requests)", source)
    return {
        "requests": draft.Figure(f"{total:,.0f}", source, total),
        "requests_affected": draft.Figure(f"{bad:,.0f}", source, bad),
        "tokens_affected": none,
    }


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def cost_figures(rt: Runtime, start_ms: int, end_ms: int) -> dict[str, draft.Figure]:
    """GPU-hours and cost of the window, and the wasted part: the idle rows, plus each
    service's GPU-hours and cost times the share of its tokens that missed an SLO."""
    report = cost_report(rt, start_ms, end_ms)
    source = draft.Source(
        f"perfops.app.cost.cost_report(rt, {start_ms}, {end_ms}, by='service') "
        f"(basis {report.basis}, idle {report.idle}); wasted = rows {IDLE!r} + each "
        "service's unit.slo_waste, and its gpu_hours x (1 - slo_tokens / tokens)",
        None,
        tuple(rt.store.versions("samples", "samples_1h", "series", "requests").items()),
    )
    hours = wasted_hours = 0.0
    wasted = Decimal(0)
    for row in report.rows:
        if row.group == SHARED:
            continue
        hours += row.gpu_hours
        if row.group == IDLE:
            wasted_hours += row.gpu_hours
            wasted += row.total
        elif row.work.slo_tokens is not None and row.work.tokens:
            wasted_hours += row.gpu_hours * (1 - row.work.slo_tokens / row.work.tokens)
            wasted += row.unit.slo_waste or Decimal(0)
    total = report.total
    return {
        "gpu_hours": draft.Figure(f"{hours:.4f}", source, hours),
        "gpu_hours_wasted": draft.Figure(f"{wasted_hours:.4f}", source, wasted_hours),
        "cost": draft.Figure(_money(total, report.currency), source, str(total)),
        "cost_wasted": draft.Figure(_money(wasted, report.currency), source, str(wasted)),
    }


def window_figure(rt: Runtime, start_ms: int, end_ms: int) -> draft.Figure:
    """The impact window's length, with the times it runs between."""
    return draft.Figure(
        format_duration((end_ms - start_ms) / 1000),
        draft.Source(
            f"impact window ({start_ms}, {end_ms}] ms: from "
            f"{draft.utc(start_ms * 1_000_000)} to {draft.utc(end_ms * 1_000_000)}"
        ),
        (end_ms - start_ms) / 1000,
    )
