"""`perfops slo` over the lake: each SLO's events per window, then the pure engine's verdict.

What an SLI reads is chosen once, by :func:`perfops.slo.sources.sli_source`, for status and
for the generated rules alike: latency SLIs read the engine's histograms (or, with
``source: requests``, the load-test request records, exactly), goodput SLIs the request
records, availability the scraped request counters (Prometheus' ``increase`` semantics), GPU
health the DCGM series. The series are those the service's selector matches
(``services[].selector``, ``gpu_selector``), the same selectors the rules write. Ratio SLIs
are PromQL and are evaluated by the generated recording rules in Prometheus, not here.

An SLO whose SLI finds no series, or no events in its period, has ``no_data`` (the reason),
never a full budget; one that cannot be evaluated has ``error`` (with its place in
perfops.yaml), and the others are evaluated all the same.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from perfops._internal.durations import format_duration
from perfops.app._sli import Counts, Reader, Window, request_counts
from perfops.app.runtime import Runtime
from perfops.config import SLO, Matcher, Selector, Service
from perfops.config.models import AvailabilitySLI, GoodputSLI, GpuHealthSLI, LatencySLI
from perfops.errors import PerfopsError, UsageError
from perfops.loadgen.judge import request_meets
from perfops.slo import (
    AlertState,
    Budget,
    WindowSet,
    error_budget,
    evaluate_alerts,
    feasibility,
    load_window_set,
)
from perfops.slo.engine import burn_rate
from perfops.slo.sources import HISTOGRAMS, SliSource, sli_source
from perfops.store import LoggedRequest, window_range
from perfops.telemetry.catalog import LABEL_RENAMES

__all__ = [
    "SliReading",
    "SloStatus",
    "counts_for",
    "counts_over",
    "period_of",
    "request_good",
    "request_limits",
    "sli_reading",
    "slo_history",
    "slo_status",
    "slo_histories",
    "slo_statuses",
]

_GOOD_OUTCOMES = ("stop", "length", "success")


@dataclass
class SloStatus:
    """One SLO as ``perfops slo status`` shows it. ``source`` says what its SLI read and
    ``selector`` which series (or which endpoint's request records); ``no_data`` why there is
    no verdict (no series match, no events), ``error`` why it could not be evaluated (with its
    place in perfops.yaml). With either, ``sli_pct`` and ``budget`` are None."""

    name: str
    service: str
    kind: str
    objective_pct: float
    period: str
    sli_pct: float | None
    good: float
    total: float
    budget: Budget | None
    burn_rates: dict[str, float] = field(default_factory=dict)
    alerts: list[AlertState] = field(default_factory=list)
    note: str = ""
    source: str = ""
    selector: str = ""
    no_data: str | None = None
    error: str | None = None

    @property
    def firing(self) -> list[str]:
        return [
            f"{a.severity} {format_duration(a.long_window)}/{format_duration(a.short_window)}"
            for a in self.alerts
            if a.firing
        ]

    @property
    def state(self) -> str:
        """``error``, ``no data``, ``firing`` or ``ok``."""
        if self.error is not None:
            return "error"
        if self.no_data is not None:
            return "no data"
        return "firing" if self.firing else "ok"


def period_of(slo: SLO, now_ms: int) -> tuple[int, str]:
    """Start of the SLO period in ms, and its name (rolling 28d, or the calendar week/month)."""
    if isinstance(slo.window, str):
        now = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        start = (
            day - dt.timedelta(days=now.weekday()) if slo.window == "week" else day.replace(day=1)
        )
        return int(start.timestamp() * 1000), f"calendar {slo.window}"
    return now_ms - int(slo.window * 1000), f"rolling {format_duration(slo.window)}"


def request_limits(slo: SLO) -> list[tuple[str, float]]:
    """The ``(metric, seconds)`` limits each request must meet to be a good event of a
    request-based SLI (latency, goodput); none for the others."""
    sli = slo.sli
    if isinstance(sli, LatencySLI):
        return [(sli.metric, sli.threshold)]
    if isinstance(sli, GoodputSLI):
        return list(sli.thresholds.items())
    return []


def request_good(slo: SLO) -> Callable[[LoggedRequest], bool]:
    """Whether a logged request is a good event of ``slo``: the one per-request judge,
    :func:`~perfops.loadgen.judge.request_meets`."""
    limits = request_limits(slo)

    def good(r: LoggedRequest) -> bool:
        return request_meets(
            limits,
            failed=r.failed,
            sent_ns=r.sent_ns,
            first_token_ns=r.first_token_ns,
            end_ns=r.end_ns,
            output_tokens=r.output_tokens,
            max_gap_s=r.max_gap_s,
        )

    return good


class _Lake:
    """One :class:`Reader` for all windows asked of the SLOs at hand; a window it was not
    built for gets a reader of its own."""

    def __init__(self, rt: Runtime, windows: list[Window], *, closed: bool = False) -> None:
        self.rt = rt
        self.reader = Reader(rt.store, windows, closed=closed)
        self.windows = windows

    def read(self, window: Window) -> Reader:
        if window in self.reader.windows:
            return self.reader
        return Reader(self.rt.store, [window], closed=self.reader.closed)

    def ids(self, metric: str, selector: Selector) -> list[int]:
        """The series of ``metric`` that ``selector`` (in Prometheus' label names) matches."""
        return list(self.rt.store.timeseries.series(metric, selector.renamed(LABEL_RENAMES)))

    def missing(self, metric: str, selector: Selector, what: str) -> str:
        """Why ``selector`` finds no ``metric`` series: none stored, or none with its labels
        (and the labels one stored series does have, to compare with)."""
        stored = self.rt.store.timeseries.series(metric)
        if not stored:
            return what
        one = dict(next(iter(stored.values())).labels)
        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(one.items()) if k != "le")
        return f"no series match {selector} ({metric} has {len(stored)} series, e.g. {shown})"


@dataclass(frozen=True)
class SliReading:
    """How an SLO's events are read: ``counts`` per window, what they come from, and why
    there can be none (``missing``: no series match, nothing stored)."""

    counts: Counts | None
    source: SliSource
    selector: str = ""
    missing: str | None = None


class _SliError(PerfopsError):
    """An SLO that cannot be evaluated, at ``path`` under its entry in perfops.yaml."""

    def __init__(self, path: tuple[str, ...], message: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


def _histogram(lake: _Lake, svc: Service, sli: LatencySLI, source: SliSource) -> SliReading:
    """Requests at or under the threshold from the engine's histogram: the threshold must be
    one of the live bucket boundaries, as in Prometheus."""
    family = HISTOGRAMS[sli.metric][0]
    selector = svc.series_selector
    total_ids = lake.ids(f"{family}_count", selector)
    if not total_ids:
        what = f"latency SLI reads histograms: none stored for {svc.name}"
        missing = lake.missing(f"{family}_count", selector, what)
        return SliReading(None, source, str(selector), missing)
    bucket_ids = lake.ids(f"{family}_bucket", selector)
    buckets = lake.rt.store.timeseries.series(f"{family}_bucket")
    bounds = sorted(
        {float(buckets[i].labels["le"]) for i in bucket_ids if "le" in buckets[i].labels}
    )
    match = next((b for b in bounds if math.isclose(b, sli.threshold, rel_tol=1e-9)), None)
    if match is None:
        below = max((b for b in bounds if b < sli.threshold), default=None)
        above = min((b for b in bounds if b > sli.threshold), default=None)
        raise _SliError(
            ("sli", "threshold"),
            f"{sli.threshold:g}s is not a bucket boundary of {family} for service {svc.name}",
            hint=f"the nearest boundaries are {below}s and {above}s; use one, or "
            "source: requests for an exact SLI from load tests",
        )
    good_ids = [i for i in bucket_ids if float(buckets[i].labels.get("le", "nan")) == match]

    def counts(start_ms: int, end_ms: int) -> tuple[float, float]:
        reader = lake.read((start_ms, end_ms))
        good = reader.increase(f"{family}_bucket", good_ids, (start_ms, end_ms))
        total = reader.increase(f"{family}_count", total_ids, (start_ms, end_ms))
        return good, total

    return SliReading(counts, source, str(selector))


_GOOD = Selector((Matcher("outcome", "=~", "|".join(_GOOD_OUTCOMES)),))


def _counter(lake: _Lake, svc: Service, source: SliSource) -> SliReading:
    """Finished requests by outcome, from the scraped ``llm.requests_total`` (vLLM counts
    aborts and errors there too: only stop, length and success are good)."""
    metric, selector = "llm.requests_total", svc.series_selector
    total_ids = lake.ids(metric, selector)
    if not total_ids:
        what = f"availability SLI reads counters ({metric}): none stored for {svc.name}"
        return SliReading(None, source, str(selector), lake.missing(metric, selector, what))
    good_ids = lake.ids(metric, Selector(selector.matchers + _GOOD.matchers))

    def counts(start_ms: int, end_ms: int) -> tuple[float, float]:
        reader = lake.read((start_ms, end_ms))
        total = reader.increase(metric, total_ids, (start_ms, end_ms))
        good = reader.increase(metric, good_ids, (start_ms, end_ms))
        return good, total

    return SliReading(counts, source, str(selector))


_THROTTLED = 0xEC  # clocks event reasons that slow a GPU: power cap, HW slowdown, thermal


def _gpu(lake: _Lake, svc: Service, source: SliSource) -> SliReading:
    """GPU-time free of XID errors and throttling: of the samples of ``gpu.xid``, those that
    are zero and whose GPU's ``gpu.clocks_event_reasons`` shows no throttle bit. The two are
    scraped together, so the bad samples are the XID ones plus the throttled ones, capped at
    all samples (a sample both throttled and in XID would count twice otherwise)."""
    selector = lake.rt.config.gpu_selector(svc)
    if selector is None:
        raise _SliError(
            ("service",),
            f"no GPU series selector for service {svc.name!r}",
            hint="set services[].gpu_selector, services[].labels, or a telemetry target "
            f"with service: {svc.name}",
        )
    ids = lake.ids("gpu.xid", selector)
    if not ids:
        what = f"GPU health SLI reads DCGM series (gpu.xid): none stored for {svc.name}"
        return SliReading(None, source, str(selector), lake.missing("gpu.xid", selector, what))
    reasons = lake.ids("gpu.clocks_event_reasons", selector)

    def throttled(start_ms: int, end_ms: int) -> int:
        if not reasons:
            return 0
        return lake.rt.store.timeseries.count_flagged(
            "gpu.clocks_event_reasons", reasons, *window_range(start_ms, end_ms), _THROTTLED
        )

    def counts(start_ms: int, end_ms: int) -> tuple[float, float]:
        n, bad = lake.read((start_ms, end_ms)).sample_counts("gpu.xid", ids, (start_ms, end_ms))
        bad = min(n, bad + throttled(start_ms, end_ms))
        return float(n - bad), float(n)

    return SliReading(counts, source, str(selector))


def sli_reading(rt: Runtime, slo: SLO, lake: _Lake | None = None) -> SliReading:
    """How ``slo``'s events are read from the lake (what :func:`sli_source` chose); raises a
    PerfopsError, whose ``path`` names the field at fault, when they cannot be."""
    lake = lake or _Lake(rt, [])
    svc = rt.config.service(slo.service)
    sli, source = slo.sli, sli_source(slo)
    if source.kind == "requests":
        counts = request_counts(rt.store, svc.endpoint, request_good(slo), lake.windows)
        return SliReading(counts, source, svc.endpoint)
    if isinstance(sli, LatencySLI):
        return _histogram(lake, svc, sli, source)
    if isinstance(sli, AvailabilitySLI):
        return _counter(lake, svc, source)
    if isinstance(sli, GpuHealthSLI):
        return _gpu(lake, svc, source)
    return SliReading(None, source)


def counts_for(rt: Runtime, slo: SLO, lake: _Lake | None = None) -> Counts | None:
    """:func:`sli_reading`'s counts: None for a PromQL ratio SLI or when no series match."""
    return sli_reading(rt, slo, lake).counts


def counts_over(rt: Runtime, slo: SLO, windows: Sequence[Window]) -> Counts | None:
    """:func:`counts_for` with ``windows`` read from the lake together (each minute of an
    incident, say): one query per metric instead of one per window."""
    return counts_for(rt, slo, _Lake(rt, list(windows)))


def _status_windows(slo: SLO, now_ms: int) -> tuple[int, str, WindowSet, list[Window]]:
    start_ms, period = period_of(slo, now_ms)
    windows = load_window_set(
        slo.alerting,
        period_s=(now_ms - start_ms) / 1000 if isinstance(slo.window, str) else slo.window,
    )
    wanted = [(start_ms, now_ms)] + [
        (now_ms - int(w * 1000), now_ms) for w in windows.window_lengths()
    ]
    return start_ms, period, windows, wanted


def slo_statuses(
    rt: Runtime, slos: Sequence[SLO], *, min_events: int = 10, at_ms: int | None = None
) -> list[SloStatus]:
    """:func:`slo_status` of many SLOs, their windows read from the lake together. An SLO
    that cannot be evaluated gets a status whose ``error`` says why and where in perfops.yaml;
    the others are evaluated all the same."""
    now_ms = rt.clock.now_ns() // 1_000_000 if at_ms is None else at_ms
    plans = [_status_windows(slo, now_ms) for slo in slos]
    lake = _Lake(rt, [w for plan in plans for w in plan[3]])
    return [
        _guarded(rt, slo, lake, plan, min_events=min_events)
        for slo, plan in zip(slos, plans, strict=True)
    ]


def slo_status(
    rt: Runtime, slo: SLO, *, min_events: int = 10, at_ms: int | None = None
) -> SloStatus:
    """The SLO now (or as of ``at_ms``, every window ending there): SLI over its period,
    budget left, burn rate per alert window, alerts."""
    return slo_statuses(rt, [slo], min_events=min_events, at_ms=at_ms)[0]


def _guarded(
    rt: Runtime,
    slo: SLO,
    lake: _Lake,
    plan: tuple[int, str, WindowSet, list[Window]],
    *,
    min_events: int,
) -> SloStatus:
    try:
        return _status(rt, slo, lake, plan, min_events=min_events)
    except (_SliError, UsageError, ValueError) as exc:  # the SLO's; a damaged lake is not
        path = exc.path if isinstance(exc, _SliError) else ()
        message = f"{rt.config.slo_where(slo, *path)}: {exc}"
        status = _empty(slo, plan[1], sli_source(slo))
        status.error = message
        return status


def _empty(slo: SLO, period: str, source: SliSource, selector: str = "") -> SloStatus:
    return SloStatus(
        slo.name, slo.service, slo.sli.kind, slo.objective, period, None, 0, 0, None,
        source=source.describe(), selector=selector,
    )  # fmt: skip


def _status(
    rt: Runtime,
    slo: SLO,
    lake: _Lake,
    plan: tuple[int, str, WindowSet, list[Window]],
    *,
    min_events: int,
) -> SloStatus:
    start_ms, period, windows, wanted = plan
    reading = sli_reading(rt, slo, lake)
    status = _empty(slo, period, reading.source, reading.selector)
    if reading.source.kind == "promql":
        status.note = "PromQL ratio SLI: evaluated by the generated rules"
        return status
    lengths = windows.window_lengths()
    if reading.counts is None:
        status.no_data = reading.missing
        status.burn_rates = {format_duration(w): math.nan for w in lengths}
        return status
    counts = reading.counts
    good, total = counts(*wanted[0])
    by_window = {w: counts(*window) for w, window in zip(lengths, wanted[1:], strict=True)}
    status.burn_rates = {
        format_duration(w): burn_rate(t - g, t, slo.objective) for w, (g, t) in by_window.items()
    }
    status.note = "; ".join(feasibility(slo.objective, windows))
    if not total:
        status.no_data = f"no events in the {period} period ({reading.source.describe()})"
        return status
    status.good, status.total = good, total
    status.sli_pct = 100.0 * good / total
    status.budget = error_budget(slo.objective, good, total)
    status.alerts = evaluate_alerts(by_window, slo.objective, windows, min_events=min_events)
    return status


def slo_history(
    rt: Runtime, slo: SLO, *, at_ms: int | None = None
) -> list[tuple[str, float, float, float | None]]:
    """Per day of the period ending now (or at ``at_ms``): (day, good, total, budget
    remaining % at the end of the day)."""
    return slo_histories(rt, [slo], at_ms=at_ms)[0]


def slo_histories(
    rt: Runtime, slos: Sequence[SLO], *, at_ms: int | None = None
) -> list[list[tuple[str, float, float, float | None]]]:
    """:func:`slo_history` of many SLOs, their days read from the lake together."""
    now_ms = rt.clock.now_ns() // 1_000_000 if at_ms is None else at_ms
    day_ms = 86_400_000
    plans = []
    for slo in slos:
        start_ms, _ = period_of(slo, now_ms)
        days = range(start_ms - start_ms % day_ms, now_ms + 1, day_ms)
        spans = [(max(day, start_ms), min(day + day_ms, now_ms)) for day in days]
        plans.append((days, spans))
    lake = _Lake(rt, [span for _, spans in plans for span in spans])
    out = []
    for slo, (days, spans) in zip(slos, plans, strict=True):
        try:
            counts = counts_for(rt, slo, lake)
        except _SliError as exc:
            where = rt.config.slo_where(slo, *exc.path)
            raise PerfopsError(f"{where}: {exc.message}", hint=exc.hint) from None
        rows: list[tuple[str, float, float, float | None]] = []
        if counts is not None:
            good_sum, total_sum = 0.0, 0.0
            for day, (lo, hi) in zip(days, spans, strict=True):
                good, total = counts(lo, hi)
                good_sum, total_sum = good_sum + good, total_sum + total
                left = (
                    error_budget(slo.objective, good_sum, total_sum).remaining_pct
                    if total_sum
                    else None
                )
                stamp = dt.datetime.fromtimestamp(day / 1000, dt.UTC).date().isoformat()
                rows.append((stamp, good, total, left))
        out.append(rows)
    return out
