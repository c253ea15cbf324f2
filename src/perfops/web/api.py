"""The dashboard's JSON API (``/api/...``, documented in docs/dashboard.md): parse the scope
from the query string, ask the app layer in a worker thread (the lake's queries block), and
answer JSON with every non-finite number as null. Nothing here computes a figure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from perfops import __version__
from perfops._internal import strict_json
from perfops.app import (
    PANELS,
    Runtime,
    Scope,
    cost_panel,
    events_in,
    filter_choices,
    histogram_latency_panel,
    latency_panel,
    overview,
    series_panel,
    slo_misses,
    slo_panel,
)
from perfops.errors import PerfopsError, UsageError

__all__ = ["RANGES_MS", "add_routes", "scope_of"]

RANGES_MS = {
    "15m": 15 * 60_000,
    "1h": 3_600_000,
    "6h": 6 * 3_600_000,
    "24h": 24 * 3_600_000,
    "7d": 7 * 24 * 3_600_000,
}
_FILTERS = ("service", "team", "model", "host", "gpu")
_GROUPS = ("overview", "gpu", "engine", "slos", "cost", "events")


def _int(query: Any, name: str) -> int | None:
    text = query.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{name}={text!r} is not a whole number of milliseconds") from None


def scope_of(query: Any, now_ms: int) -> Scope:
    """The scope of a request: ``range`` (15m, 1h, 6h, 24h, 7d) ending now, or ``start`` and
    ``end`` (ms since the epoch); ``width`` (px), the filters, and ``since`` for live updates."""
    start, end = _int(query, "start"), _int(query, "end")
    if start is None or end is None:
        name = query.get("range", "1h")
        if name not in RANGES_MS:
            raise UsageError(f"range {name!r} is unknown", hint=f"use one of {list(RANGES_MS)}")
        end = now_ms + 1
        start = end - RANGES_MS[name]
    filters = {k: query.get(k) or None for k in _FILTERS}
    return Scope(start_ms=start, end_ms=end, width_px=_int(query, "width") or 1000,
                 since_ms=_int(query, "since"), **filters)  # fmt: skip


def _json(body: Any, status: int = 200) -> web.Response:
    text = strict_json.dumps(body, separators=(",", ":"))
    return web.Response(text=text, status=status, content_type="application/json")


Figure = Callable[[Runtime, Scope], Any]


def _endpoint(rt: Runtime, figure: Figure) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.Response:
        now_ms = rt.clock.now_ns() // 1_000_000
        try:
            scope = scope_of(request.query, now_ms)
            body = await asyncio.to_thread(figure, rt, scope)
        except UsageError as exc:
            return _json({"error": str(exc), "hint": exc.hint}, 400)
        except PerfopsError as exc:
            return _json({"error": str(exc), "hint": exc.hint}, 500)
        return _json({"now_ms": now_ms, "start_ms": scope.start_ms, "end_ms": scope.end_ms,
                      "bucket_ms": scope.bucket_ms, "data": body})  # fmt: skip

    return handle


def _panel(rt: Runtime, scope: Scope, panel_id: str) -> Any:
    if panel_id == "latency":
        return latency_panel(rt, scope)
    if panel_id == "engine_latency":
        return histogram_latency_panel(rt, scope)
    return series_panel(rt, panel_id, scope)


def add_routes(app: web.Application, rt: Runtime) -> None:
    """Register the API's GET routes on ``app``."""

    async def meta(_: web.Request) -> web.Response:
        choices = await asyncio.to_thread(filter_choices, rt)
        panels = {k: {"group": p.group, "title": p.title, "unit": p.unit}
                  for k, p in PANELS.items()}  # fmt: skip
        panels["latency"] = {"group": "engine", "title": "Latency p95 (load tests)", "unit": "ms"}
        panels["engine_latency"] = {"group": "engine", "unit": "ms",
                                    "title": "Latency p95 (engine histograms)"}  # fmt: skip
        return _json({"workspace": rt.config.workspace.name, "version": __version__,
                      "ranges": list(RANGES_MS), "groups": list(_GROUPS),
                      "filters": choices, "panels": panels,
                      "now_ms": rt.clock.now_ns() // 1_000_000})  # fmt: skip

    async def panel(request: web.Request) -> web.Response:
        panel_id = request.match_info["panel"]
        return await _endpoint(rt, lambda r, s: _panel(r, s, panel_id))(request)  # type: ignore[no-any-return]

    app.router.add_get("/api/meta", meta)
    app.router.add_get("/api/overview", _endpoint(rt, overview))
    app.router.add_get("/api/panel/{panel}", panel)

    async def misses(request: web.Request) -> web.Response:
        name = request.match_info["slo"]
        return await _endpoint(rt, lambda r, s: slo_misses(r, s, name))(request)  # type: ignore[no-any-return]

    app.router.add_get("/api/slos", _endpoint(rt, slo_panel))
    app.router.add_get("/api/slos/{slo}/misses", misses)
    app.router.add_get("/api/cost", _endpoint(rt, cost_panel))
    app.router.add_get("/api/events", _endpoint(rt, events_in))
