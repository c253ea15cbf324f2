"""Read ranges from a Prometheus-compatible HTTP API (Prometheus, VictoriaMetrics, Thanos,
Mimir), retried with backoff on transient failures, authenticated from the environment:

- :func:`query_raw`: the raw samples of a selector, with their scrape timestamps (an instant
  query of ``selector[d]``), for one left-open window;
- :func:`query_range`: an expression evaluated at each step, in chunks under the
  11,000-points-per-series limit.

A server that cannot be reached is :class:`Unreachable` (exit 3)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from perfops._internal.durations import parse_duration
from perfops.errors import PerfopsError, Unreachable, UsageError

__all__ = [
    "RangeSeries",
    "TooManySamples",
    "auth_headers",
    "chunk_bounds",
    "parse_time",
    "query_range",
    "query_raw",
]

MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series


@dataclass(frozen=True, slots=True)
class RangeSeries:
    labels: dict[str, str]  # includes __name__ when the result has one
    ts_ms: list[int]
    values: list[float]


def parse_time(text: str, now_s: float) -> float:
    """Unix seconds from 'now', Unix seconds, RFC 3339, or a duration ago ('7d', '90m')."""
    value = text.strip()
    if value == "now":
        return now_s
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return seconds
        raise UsageError(f"the time {text!r} is not a finite number of Unix seconds")
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        return stamp.timestamp()
    except ValueError:
        pass
    try:
        return now_s - parse_duration(value)
    except ValueError:
        raise UsageError(
            f"cannot read the time {text!r}",
            hint="write RFC 3339 (2026-11-01T00:00:00Z), Unix seconds, 'now', "
            "or a duration ago such as 7d",
        ) from None


def chunk_bounds(
    start: float, end: float, step: float, max_points: int = MAX_POINTS
) -> list[tuple[float, float]]:
    """``[start, end]`` cut into pieces of at most ``max_points`` steps on the same grid, with
    no point requested twice."""
    if step <= 0 or end < start:
        raise UsageError(
            f"bad range: start {start}, end {end}, step {step}",
            hint="end must not be before start, and step must be positive",
        )
    out, s = [], start
    span = step * (max_points - 1)
    while s <= end:
        e = min(end, s + span)
        out.append((s, e))
        s = e + step
    return out


def auth_headers(environ: Mapping[str, str]) -> dict[str, str]:
    """Bearer token from PERFOPS_PROMETHEUS_TOKEN, else basic auth from
    PERFOPS_PROMETHEUS_USER / PERFOPS_PROMETHEUS_PASSWORD."""
    token = environ.get("PERFOPS_PROMETHEUS_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user = environ.get("PERFOPS_PROMETHEUS_USER")
    if user:
        pair = f"{user}:{environ.get('PERFOPS_PROMETHEUS_PASSWORD', '')}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return {}


def _value(text: str) -> float:
    return float(text)  # Prometheus writes "NaN", "+Inf", "-Inf", which float() reads


class _Transient(Exception):
    def __init__(self, message: str, *, connect: bool = False) -> None:
        super().__init__(message)
        self.connect = connect  # no answer at all (refused, unresolvable, timed out)


class TooManySamples(PerfopsError):
    """The server refused a read that would load more samples than it allows
    (``--query.max-samples``): ask for a shorter window."""


async def _once(
    session: aiohttp.ClientSession, url: str, params: dict[str, str], headers: Mapping[str, str]
) -> list[RangeSeries]:
    try:
        async with session.post(url, data=params, headers=dict(headers)) as resp:
            text = await resp.text()
            if resp.status in (429, 502, 503, 504) or resp.status >= 500:
                raise _Transient(f"HTTP {resp.status}")
            try:
                body = await resp.json(content_type=None)
            except ValueError:
                raise PerfopsError(
                    f"{url} answered HTTP {resp.status} with no JSON: {text[:120]!r}",
                    hint="is this a Prometheus API URL?",
                ) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        connect = isinstance(exc, aiohttp.ClientConnectionError | TimeoutError)
        raise _Transient(str(exc) or type(exc).__name__, connect=connect) from exc
    if body.get("status") != "success":
        if "too many samples" in str(body.get("error")):
            raise TooManySamples(f"the server refused the read: {body.get('error')}")
        raise PerfopsError(
            f"the server rejected the query ({body.get('errorType')}): {body.get('error')}",
            hint="check the PromQL and the time range",
        )
    data = body["data"]
    if data.get("resultType") != "matrix":
        raise PerfopsError(f"expected a range (matrix) result, got {data.get('resultType')}")
    return [
        RangeSeries(
            dict(item["metric"]),
            [round(float(t) * 1000) for t, _ in item["values"]],
            [_value(v) for _, v in item["values"]],
        )
        for item in data["result"]
    ]


async def query_range(
    session: aiohttp.ClientSession,
    base_url: str,
    query: str,
    start: float,
    end: float,
    step: float,
    *,
    headers: Mapping[str, str] | None = None,
    retries: int = 4,
    backoff: float = 0.5,
) -> list[RangeSeries]:
    """One range query over one chunk, retried on 5xx, 429, timeouts and connection errors
    (exponential backoff); a 4xx answer is an error at once."""
    params = {"query": query, "start": _fmt(start), "end": _fmt(end), "step": _fmt(step)}
    return await _retried(
        session, base_url, "query_range", params, headers or {}, retries=retries, backoff=backoff
    )


async def query_raw(
    session: aiohttp.ClientSession,
    base_url: str,
    selector: str,
    lo_ms: int,
    hi_ms: int,
    *,
    headers: Mapping[str, str] | None = None,
    retries: int = 4,
    backoff: float = 0.5,
) -> list[RangeSeries]:
    """The raw samples of ``selector`` with ``lo_ms < ts <= hi_ms``, as scraped: an instant
    query of ``selector[hi - lo]`` at ``hi``. Prometheus 3 reads that range left-open, 2.x
    closed (a sample exactly at ``lo`` comes too); keeping ``(lo, hi]`` here makes adjacent
    windows neither drop nor repeat a sample on either. Staleness markers never come back
    (Prometheus leaves them out of range reads). Retried like :func:`query_range`."""
    params = {"query": f"{selector}[{hi_ms - lo_ms}ms]", "time": _fmt_ms(hi_ms)}
    found = await _retried(
        session, base_url, "query", params, headers or {}, retries=retries, backoff=backoff
    )
    out = []
    for item in found:
        keep = [i for i, t in enumerate(item.ts_ms) if lo_ms < t <= hi_ms]
        if keep:
            out.append(
                RangeSeries(
                    item.labels, [item.ts_ms[i] for i in keep], [item.values[i] for i in keep]
                )
            )
    return out


async def _retried(
    session: aiohttp.ClientSession,
    base_url: str,
    endpoint: str,
    params: dict[str, str],
    headers: Mapping[str, str],
    *,
    retries: int,
    backoff: float,
) -> list[RangeSeries]:
    url = base_url.rstrip("/") + "/api/v1/" + endpoint
    for attempt in range(retries + 1):
        try:
            return await _once(session, url, params, headers)
        except _Transient as exc:
            if attempt < retries:
                await asyncio.sleep(backoff * 2**attempt)
                continue
            error = Unreachable if exc.connect else PerfopsError
            raise error(
                f"{url}: still failing after {retries + 1} tries: {exc}",
                hint="check that the server is up and reachable",
            ) from None
    raise AssertionError("unreachable")


def _fmt_ms(ms: int) -> str:
    """Unix seconds with millisecond precision, as the API takes them."""
    return f"{ms // 1000}.{ms % 1000:03d}"


def _fmt(x: float) -> str:
    return repr(x) if not math.isfinite(x) or x != int(x) else str(int(x))
