"""Good and total events of SLIs over many windows, read from the lake in a few queries.

Counter SLIs (availability, histogram latency) follow Prometheus' ``increase``. A window
``(start, end)`` is Prometheus 3.x's left-open range (start, end]: the samples after
``start`` up to and including ``end``, extrapolated to both edges. Its samples (the
half-open ms range of :func:`~perfops.store.window_range`) are cut into the raw samples of
its partial first and last hours and the whole hours between, which come from the
``samples_1h`` rollups: each piece is a :class:`~perfops.slo.engine.CounterSpan`, and spans
combine exactly, so the answer equals a recomputation from every raw sample while a 28-day
window reads about 700 rows per series. All windows of all SLOs on one metric share one
hourly query and one raw query.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from perfops.slo.engine import CounterSpan, extrapolated_increase, join_spans, span_of
from perfops.store import LoggedRequest, RequestLog, Store, window_range

__all__ = ["Counts", "Reader", "Window", "request_counts"]

Window = tuple[int, int]  # (start_ms, end_ms]: Prometheus 3.x's left-open range
Counts = Callable[[int, int], tuple[float, float]]  # window -> (good, total)
_HOUR = 3_600_000


def _pieces(start: int, end: int) -> tuple[list[Window], Window | None]:
    """Raw ranges and the whole hours ``[h0, h1)`` that make up the ms range ``[start, end)``
    (an hour whose rollup would bring in a sample outside it is read raw)."""
    h0 = -(-start // _HOUR) * _HOUR
    h1 = end // _HOUR * _HOUR
    if h0 >= h1:
        return [(start, end)], None
    raw = [r for r in ((start, h0), (h1, end)) if r[0] < r[1]]
    return raw, (h0, h1)


def _merged(ranges: Iterable[Window]) -> list[Window]:
    out: list[Window] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


@dataclass
class _Hours:
    """One series' hourly rollups as arrays, with prefix sums so that any run of whole hours
    joins in O(1), to the same result as :func:`join_spans` over the hours' spans."""

    ts: np.ndarray
    first_ts: np.ndarray
    first: np.ndarray
    last_ts: np.ndarray
    last: np.ndarray
    n_cum: np.ndarray  # [k]: samples in hours < k
    nonzero_cum: np.ndarray
    inner_cum: np.ndarray  # [k]: reset corrections inside hours < k
    seam_cum: np.ndarray  # [k]: drops across the seams between hours < k

    @classmethod
    def of(cls, t: dict[str, np.ndarray]) -> _Hours:
        first, last = t["first"], t["last"]
        seams = np.where(first[1:] < last[:-1], last[:-1], 0.0)
        zero_i, zero_f = np.zeros(1, dtype=np.int64), np.zeros(1)
        return cls(
            t["ts"],
            t["first_ts"],
            first,
            t["last_ts"],
            last,
            np.concatenate([zero_i, np.cumsum(t["n"])]),
            np.concatenate([zero_i, np.cumsum(np.nan_to_num(t["nonzero"]).astype(np.int64))]),
            np.concatenate([zero_f, np.cumsum(np.nan_to_num(t["resets"]))]),
            np.concatenate([zero_f, zero_f, np.cumsum(seams)]),
        )

    def span(self, h0: int, h1: int) -> tuple[CounterSpan | None, int]:
        a = int(np.searchsorted(self.ts, h0, "left"))
        b = int(np.searchsorted(self.ts, h1, "left"))
        if a >= b:
            return None, 0
        resets = (self.inner_cum[b] - self.inner_cum[a]) + (self.seam_cum[b] - self.seam_cum[a + 1])
        span = CounterSpan(
            int(self.first_ts[a]),
            float(self.first[a]),
            int(self.last_ts[b - 1]),
            float(self.last[b - 1]),
            int(self.n_cum[b] - self.n_cum[a]),
            float(resets),
        )
        return span, int(self.nonzero_cum[b] - self.nonzero_cum[a])


@dataclass
class _Series:
    ts: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    hours: _Hours | None = None

    def piece(self, lo: int, hi: int) -> tuple[CounterSpan | None, int]:
        a, b = bisect_left(self.ts, lo), bisect_left(self.ts, hi)
        values = self.values[a:b]
        return span_of(self.ts[a:b], values), sum(1 for v in values if v != 0 and v == v)


class Reader:
    """Per-series spans of one or more metrics over a fixed set of windows. ``closed`` reads
    Prometheus 2.x's closed ranges [start, end] instead, for tests against a 2.x server."""

    def __init__(self, store: Store, windows: Sequence[Window], *, closed: bool = False) -> None:
        self.store = store
        self.windows = list(dict.fromkeys(windows))
        self.closed = closed
        self._metrics: dict[str, dict[int, _Series]] = {}

    def _range(self, window: Window) -> Window:
        return window_range(*window, closed=self.closed)

    def _load(self, metric: str) -> dict[int, _Series]:
        if metric in self._metrics:
            return self._metrics[metric]
        raw_ranges: list[Window] = []
        hour_ranges: list[Window] = []
        for window in self.windows:
            raw, hours = _pieces(*self._range(window))
            raw_ranges += raw
            if hours:
                hour_ranges.append(hours)
        series: dict[int, _Series] = {}
        for lo, hi in _merged(raw_ranges):
            table = self.store.timeseries.query_samples(metric, lo, hi)
            self._add_raw(series, table)
        if hour_ranges:
            lo = min(h[0] for h in hour_ranges)
            hi = max(h[1] for h in hour_ranges)
            table = self.store.timeseries.query_hourly(metric, lo, hi)
            for sid, arrays in _split(table).items():
                series.setdefault(sid, _Series()).hours = _Hours.of(arrays)
        for s in series.values():
            if s.ts and any(b < a for a, b in zip(s.ts, s.ts[1:], strict=False)):
                order = sorted(range(len(s.ts)), key=s.ts.__getitem__)
                s.ts = [s.ts[i] for i in order]
                s.values = [s.values[i] for i in order]
        self._metrics[metric] = series
        return series

    @staticmethod
    def _add_raw(series: dict[int, _Series], table: pa.Table) -> None:
        for sid, ts, value in zip(
            table.column("series_id").to_pylist(),
            table.column("ts").to_pylist(),
            table.column("value").to_pylist(),
            strict=True,
        ):
            entry = series.setdefault(sid, _Series())
            entry.ts.append(ts)
            entry.values.append(value)

    def spans(self, metric: str, sid: int, window: Window) -> tuple[CounterSpan | None, int]:
        """The span of series ``sid`` in ``window`` (one of this reader's), and how many of
        its finite samples are non-zero."""
        s = self._load(metric).get(sid)
        if s is None:
            return None, 0
        lo, hi = self._range(window)
        raw, hours = _pieces(lo, hi)
        parts: list[tuple[CounterSpan | None, int]] = [s.piece(*r) for r in raw]
        if hours and s.hours is not None:
            parts.insert(1 if raw and raw[0][0] == lo else 0, s.hours.span(*hours))
        return join_spans(p for p, _ in parts), sum(z for _, z in parts)

    def increase(self, metric: str, ids: Iterable[int], window: Window) -> float:
        """Sum over ``ids`` of Prometheus' increase() in the window (series with fewer than
        two samples there add nothing, as Prometheus drops them)."""
        start, end = window
        total = 0.0
        for sid in ids:
            span, _ = self.spans(metric, sid, window)
            grew = extrapolated_increase(span, start, end)
            total += 0.0 if math.isnan(grew) else grew
        return total

    def sample_counts(self, metric: str, ids: Iterable[int], window: Window) -> tuple[int, int]:
        """(finite samples, non-zero finite samples) of ``ids`` in the window."""
        n = bad = 0
        for sid in ids:
            span, nonzero = self.spans(metric, sid, window)
            n += span.n if span else 0
            bad += nonzero
        return n, bad


def _split(table: pa.Table) -> dict[int, dict[str, np.ndarray]]:
    """Rows ordered by (series_id, ts) as one dict of column arrays per series."""
    if table.num_rows == 0:
        return {}
    cols = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    sids = cols["series_id"]
    cuts = np.flatnonzero(sids[1:] != sids[:-1]) + 1
    bounds = [0, *cuts.tolist(), len(sids)]
    return {
        int(sids[a]): {k: v[a:b] for k, v in cols.items()}
        for a, b in zip(bounds, bounds[1:], strict=False)
    }


def request_counts(
    store: Store,
    endpoint: str,
    good: Callable[[LoggedRequest], bool],
    windows: Sequence[Window],
) -> Counts:
    """Good and total load-test requests of ``endpoint`` per window, by scheduled time in
    (start, end] as for samples: the request log (:meth:`~perfops.store.Journal.request_log`)
    is read once for all windows."""
    lo = min((w[0] for w in windows), default=0)
    hi = max((w[1] for w in windows), default=0)
    cache: dict[Window, tuple[float, float]] = {}
    log: RequestLog | None = None

    def ns(ms: int) -> int:  # (start, end] in ms is [start + 1, end + 1) in ns
        return ms * 1_000_000 + 1

    def counts(start: int, end: int) -> tuple[float, float]:
        nonlocal log
        if (start, end) in cache:
            return cache[(start, end)]
        if lo <= start and end <= hi:
            if log is None:
                log = store.journal.request_log(endpoint, ns(lo), ns(hi))
            part = log.between(ns(start), ns(end))
        else:
            part = store.journal.request_log(endpoint, ns(start), ns(end)).requests
        cache[(start, end)] = (float(sum(1 for r in part if good(r))), float(len(part)))
        return cache[(start, end)]

    return counts
