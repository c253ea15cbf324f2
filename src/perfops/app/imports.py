"""`perfops collect import`: history from a Prometheus-compatible server into the lake.

A plain selector (``vllm:request_success_total{model_name="m"}``) is read raw, sample by
sample with its scrape timestamp, in left-open windows; where a series shows a gap a staleness
marker is stored, as `collect` writes one for a series that leaves a scrape. Anything else
(``rate(...)``, ``sum by``, arithmetic) is an expression: evaluated by ``query_range`` at
``step``, stored under the metric name the user gives (``--as``), without the points the
lookback only repeated after a series ended. Every commit skips the samples the lake already
holds, so importing a range again (or again after a crash) adds nothing twice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from perfops._internal.ids import new_id, series_id
from perfops.app._lake_writer import LakeSink
from perfops.app.runtime import Runtime
from perfops.errors import UsageError
from perfops.store import RunRecord
from perfops.telemetry.catalog import Catalog, load_catalog, normalize_labels
from perfops.telemetry.history import GapMarkers, LookbackTrim, RawChunks
from perfops.telemetry.promql import (
    RangeSeries,
    TooManySamples,
    auth_headers,
    chunk_bounds,
    query_range,
    query_raw,
)
from perfops.telemetry.selectors import check_metric_name, is_selector
from perfops.telemetry.series import STALE_NAN, Rows, Series, is_stale_marker

__all__ = ["ImportQuery", "import_prometheus", "plan_queries"]


@dataclass(frozen=True, slots=True)
class ImportQuery:
    """One ``--query``: a selector read raw (``name`` None), or an expression and the metric
    name its result is stored under."""

    query: str
    name: str | None = None

    @property
    def raw(self) -> bool:
        return self.name is None


def plan_queries(queries: Sequence[str], names: Sequence[str]) -> list[ImportQuery]:
    """Pair the ``--as`` names, in order, with the queries that are expressions."""
    exprs = [q for q in queries if not is_selector(q)]
    for name in names:
        check_metric_name(name)
    if len(names) != len(exprs):
        first = exprs[len(names)] if len(names) < len(exprs) else None
        raise UsageError(
            f"--query {first!r} is an expression, not a series selector: it needs a metric name"
            if first is not None
            else f"{len(names)} --as name(s) for {len(exprs)} expression(s)",
            hint="give each expression (anything but name{labels}) its name with --as NAME, in "
            "order, e.g. --query 'sum by (model_name) (rate(x[5m]))' --as chat:x:rate5m; "
            "a plain selector takes no --as",
        )
    named = iter(names)
    return [ImportQuery(q, None if is_selector(q) else next(named)) for q in queries]


class _Mapper:
    """Result series (their labels) to lake series: catalog name, scale, id; new ones kept."""

    def __init__(self, catalog: Catalog, source: str) -> None:
        self.catalog = catalog
        self.source = source
        self._known: dict[tuple[str, frozenset[tuple[str, str]]], tuple[int, str, float]] = {}
        self.new: list[Series] = []

    def __call__(self, labels: dict[str, str], name: str | None) -> tuple[int, str, float]:
        rest = {k: v for k, v in labels.items() if k != "__name__"}
        raw = name or labels.get("__name__") or ""
        key = (raw, frozenset(rest.items()))
        hit = self._known.get(key)
        if hit is None:
            found = self.catalog.resolve(raw, rest)
            metric, scale = (found.metric, found.scale) if found else (raw, 1.0)
            final = dict(found.labels) if found else normalize_labels(rest)
            hit = self._known[key] = (series_id(metric, final), metric, scale)
            self.new.append(Series(metric, final, found.source if found else self.source, raw))
        return hit


@dataclass
class _Counts:
    requests: int = 0
    markers: int = 0
    lookback_dropped: int = 0


Point = tuple[int, int, float]  # ts (ms), series id, value (unscaled)


class _Importer:
    """Reads queries window by window and hands their rows to ``sink``."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, sink: LakeSink) -> None:
        self.session = session
        self.base_url = base_url
        self.sink = sink
        self.headers = auth_headers(os.environ)
        self.mapper = _Mapper(load_catalog(), f"prometheus:{urlsplit(base_url).netloc}")
        self.counts = _Counts()
        self._series: dict[int, tuple[str, float]] = {}  # id -> metric, scale

    @property
    def series(self) -> int:
        return len(self._series)

    def _ids(self, found: list[RangeSeries], name: str | None) -> list[int]:
        ids = []
        for item in found:
            sid, metric, scale = self.mapper(item.labels, name)
            self._series[sid] = (metric, scale)
            ids.append(sid)
        return ids

    def _emit(self, points: list[Point]) -> None:
        """Points to the sink, scaled to the catalog's unit; markers stay as they are (a
        multiplied NaN loses the marker's bit pattern)."""
        rows = Rows(new_series=self.mapper.new)
        self.mapper.new = []
        for ts, sid, value in points:
            metric, scale = self._series[sid]
            marker = is_stale_marker(value)
            self.counts.markers += marker
            rows.add(ts, sid, metric, value if marker or scale == 1.0 else value * scale)
        self.sink(rows)

    async def raw(self, selector: str, start_ms: int, end_ms: int) -> None:
        """The selector's raw samples over ``[start_ms, end_ms]``, gaps marked stale."""
        chunks, gaps = RawChunks(start_ms, end_ms), GapMarkers()
        while (window := chunks.next()) is not None:
            lo, hi = window
            try:
                found = await query_raw(
                    self.session, self.base_url, selector, lo, hi, headers=self.headers
                )
            except TooManySamples:
                if chunks.too_big():
                    continue
                raise
            self.counts.requests += 1
            ids = self._ids(found, None)
            points: list[Point] = [
                (t, sid, v)
                for sid, item in zip(ids, found, strict=True)
                for t, v in zip(item.ts_ms, item.values, strict=True)
            ]
            stamps: dict[int, Sequence[int]] = {
                sid: item.ts_ms for sid, item in zip(ids, found, strict=True)
            }
            for sid, marks in gaps.window(stamps, hi).items():
                points += [(t, sid, STALE_NAN) for t in marks]
            self._emit(points)
            chunks.done(hi, len(points))

    async def expression(self, query: ImportQuery, start: float, end: float, step: float) -> None:
        """The expression at each step of ``[start, end]``, under ``query.name``."""
        trim = LookbackTrim(round(step * 1000), round(end * 1000))
        for lo, hi in chunk_bounds(start, end, step):
            found = await query_range(
                self.session, self.base_url, query.query, lo, hi, step, headers=self.headers
            )
            self.counts.requests += 1
            points: list[Point] = []
            for sid, item in zip(self._ids(found, query.name), found, strict=True):
                kept = trim.add(sid, zip(item.ts_ms, item.values, strict=True))
                points += [(t, sid, v) for t, v in kept]
            self._count_dropped(sum(len(s.ts_ms) for s in found), points)
            self._emit(points)
        points = [(t, sid, v) for sid, kept in trim.finish().items() for t, v in kept]
        self._count_dropped(0, points)
        self._emit(points)

    def _count_dropped(self, read: int, points: list[Point]) -> None:
        """Track the expression points read but not stored (the lookback's repeats)."""
        self.counts.lookback_dropped += read - sum(not is_stale_marker(p[2]) for p in points)


async def import_prometheus(
    rt: Runtime,
    base_url: str,
    queries: Sequence[ImportQuery],
    *,
    start: float,
    end: float,
    step: float,
) -> dict[str, Any]:
    """Import ``queries`` over ``[start, end]`` (expressions at ``step``); journaled as an
    `import` run. The report counts the samples stored, the duplicates the lake already held,
    the series, the requests made, the staleness markers stored and the lookback repeats left
    out of expression results."""
    sink = LakeSink(rt.store, dedupe=True)
    started = rt.clock.now_ns()
    run_id = new_id(started, "import-")
    spec = {
        "url": base_url,
        "queries": [{"query": q.query, "as": q.name} for q in queries],
        "start": start,
        "end": end,
        "step": step,
    }
    rt.store.journal.write_run(RunRecord(run_id, "import", started, "running", spec=spec))
    status, importer = "failed", None
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            importer = _Importer(session, base_url, sink)
            for q in queries:
                if q.raw:
                    await importer.raw(q.query, round(start * 1000), round(end * 1000))
                else:
                    await importer.expression(q, start, end, step)
        status = "passed"
    finally:
        sink.flush()
        counts = importer.counts if importer is not None else _Counts()
        summary = {
            "samples": sink.samples,
            "duplicates": sink.duplicates,
            "series": importer.series if importer is not None else 0,
            "chunks": counts.requests,
            "markers": counts.markers,
            "lookback_dropped": counts.lookback_dropped,
        }
        rt.store.journal.write_run(
            RunRecord(run_id, "import", started, status, rt.clock.now_ns(), spec, summary)
        )
    return {"run_id": run_id, **summary}
