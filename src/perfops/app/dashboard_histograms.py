"""The engine's own latency percentiles, from the histograms it exports (vLLM's
``time_to_first_token_seconds``, ``inter_token_latency_seconds``,
``e2e_request_latency_seconds``; TGI's and Triton's through the catalog), per dashboard bucket.

Each bucket's growth of every ``le`` series is summed over the series that pass the page's
filters (as ``sum by (le) (increase(..._bucket[bucket]))``) and
:func:`~perfops._internal.histogram_quantile.histogram_quantile` estimates the quantile from
it, as Prometheus would. These are estimates within bucket bounds; the load tests' percentiles
(:func:`perfops.app.dashboard_figures.latency_panel`) are exact nearest-rank values of the
requests the load generator sent. The page shows both and says which is which.
"""

from __future__ import annotations

import math
from typing import Any

from perfops._internal.histogram_quantile import histogram_quantile
from perfops.app.dashboard import Scope
from perfops.app.runtime import Runtime

__all__ = ["HISTOGRAM_LATENCIES", "histogram_latency_panel"]

HISTOGRAM_LATENCIES = (("TTFT", "llm.ttft_seconds"), ("ITL", "llm.itl_seconds"),
                       ("E2E", "llm.e2e_seconds"))  # fmt: skip
QUANTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}


def _bound(le: str) -> float | None:
    try:
        value = float(le)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _bucket_increases(rt: Runtime, family: str, scope: Scope) -> dict[int, dict[float, float]]:
    """Per dashboard bucket start: the summed increase of each upper bound's counter."""
    metric = f"{family}_bucket"
    infos = {sid: info for sid, info in rt.store.timeseries.series(metric).items()
             if scope.admits(info.labels, rt) and "le" in info.labels}  # fmt: skip
    if not infos:
        return {}
    bounds = {sid: _bound(info.labels["le"]) for sid, info in infos.items()}
    table, _ = rt.store.timeseries.query_buckets(
        metric, scope.query_start_ms, scope.end_ms, scope.bucket_ms, infos
    )
    out: dict[int, dict[float, float]] = {}
    sids, ts = table.column("series_id").to_pylist(), table.column("t").to_pylist()
    for sid, t, inc in zip(sids, ts, table.column("increase").to_pylist(), strict=True):
        bound = bounds.get(sid)
        if bound is None or inc is None or math.isnan(inc):
            continue
        per = out.setdefault(t, {})
        per[bound] = per.get(bound, 0.0) + inc
    return out


def histogram_latency_panel(rt: Runtime, scope: Scope, quantile: str = "p95") -> dict[str, Any]:
    """TTFT, ITL and E2E ``quantile`` per bucket (ms) estimated from the engines' histograms,
    with the requests each bucket's estimate rests on (the ``+Inf`` bucket's growth)."""
    q = QUANTILES[quantile]
    series = []
    for name, family in HISTOGRAM_LATENCIES:
        per = _bucket_increases(rt, family, scope)
        ts = sorted(per)
        values = []
        for t in ts:
            est = histogram_quantile(q, per[t].items())
            values.append(None if math.isnan(est) else float(f"{est * 1000:.6g}"))
        observed = [per[t].get(math.inf, 0.0) for t in ts]
        series.append({"name": f"{name} {quantile}", "metric": f"{family}_bucket",
                       "t": ts, "v": values, "observations": observed})  # fmt: skip
    return {
        "panel": "engine_latency",
        "title": f"Latency {quantile} from engine histograms (estimate within buckets)",
        "unit": "ms",
        "bucket_ms": scope.bucket_ms,
        "source": "histograms",
        "series": series,
    }
