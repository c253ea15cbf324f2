"""`perfops collect import`: history from a Prometheus-compatible server into the lake."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from perfops._internal.ids import new_id, series_id
from perfops.app.collect import LakeSink
from perfops.app.runtime import Runtime
from perfops.store import RunRecord
from perfops.telemetry.catalog import Catalog, load_catalog, normalize_labels
from perfops.telemetry.promql import RangeSeries, auth_headers, chunk_bounds, query_range
from perfops.telemetry.series import Rows, Series

__all__ = ["import_prometheus"]


def _rows(
    series: list[RangeSeries], catalog: Catalog, source: str, query: str, seen: set[int]
) -> Rows:
    out = Rows()
    for item in series:
        labels = dict(item.labels)
        raw = labels.pop("__name__", None) or query
        found = catalog.resolve(raw, labels)
        metric, scale = (found.metric, found.scale) if found else (raw, 1.0)
        final = dict(found.labels) if found else normalize_labels(labels)
        sid = series_id(metric, final)
        if sid not in seen:
            seen.add(sid)
            out.new_series.append(Series(metric, final, found.source if found else source, raw))
        for ts, value in zip(item.ts_ms, item.values, strict=True):
            out.add(ts, sid, metric, value * scale)
    return out


async def import_prometheus(
    rt: Runtime, base_url: str, queries: list[str], *, start: float, end: float, step: float
) -> dict[str, Any]:
    """Import ``queries`` over ``[start, end]`` at ``step``; journaled as an `import` run."""
    bounds = chunk_bounds(start, end, step)
    headers = auth_headers(os.environ)
    source = f"prometheus:{urlsplit(base_url).netloc}"
    sink = LakeSink(rt.store)
    catalog = load_catalog()
    seen: set[int] = set()
    started = rt.clock.now_ns()
    run_id = new_id(started, "import-")
    spec = {"url": base_url, "queries": queries, "start": start, "end": end, "step": step}
    rt.store.journal.write_run(RunRecord(run_id, "import", started, "running", spec=spec))
    status, chunks = "failed", 0
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            for query in queries:
                for lo, hi in bounds:
                    series = await query_range(
                        session, base_url, query, lo, hi, step, headers=headers
                    )
                    sink(_rows(series, catalog, source, query, seen))
                    chunks += 1
        status = "passed"
    finally:
        sink.flush()
        summary = {"samples": sink.samples, "series": len(seen), "chunks": chunks}
        rt.store.journal.write_run(
            RunRecord(run_id, "import", started, status, rt.clock.now_ns(), spec, summary)
        )
    return {"run_id": run_id, **summary}
