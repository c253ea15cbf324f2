"""Scrape one Prometheus endpoint: negotiate the format, bound the time and size, parse."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from perfops.errors import PerfopsError
from perfops.telemetry.exposition import (
    Exposition,
    ExpositionError,
    LineCache,
    content_type_is_openmetrics,
    parse,
)

__all__ = ["ACCEPT", "MAX_BODY_BYTES", "ScrapeOutcome", "scrape"]

# What Prometheus 2.x sends: OpenMetrics first, then the classic text format.
ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScrapeOutcome:
    """One scrape: what came back, or why the target is down."""

    started_ms: int
    duration_s: float
    exposition: Exposition | None
    error: str | None

    @property
    def up(self) -> bool:
        return self.error is None


async def _body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise ValueError(
                f"body larger than {limit // (1024 * 1024)} MiB; is this a metrics "
                "endpoint? (raise the limit with max_body_bytes)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def _nvml(limit_s: float) -> bytes:
    from perfops.telemetry.nvml import nvml_exposition

    async with asyncio.timeout(limit_s):
        return (await asyncio.to_thread(nvml_exposition)).encode()


async def scrape(
    session: aiohttp.ClientSession,
    url: str,
    *,
    timeout_s: float,
    headers: dict[str, str] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_samples: int = 2_000_000,
    line_cache: LineCache | None = None,
) -> ScrapeOutcome:
    """Scrape ``url`` once; never raises for a bad target, the outcome says what went wrong."""
    started_ms = time.time_ns() // 1_000_000
    t0 = time.perf_counter()
    try:
        ctype = None
        if url.startswith("nvml:"):
            body = await _nvml(timeout_s)
        else:
            async with (
                asyncio.timeout(timeout_s),
                session.get(url, headers={"Accept": ACCEPT, **(headers or {})}) as resp,
            ):
                if resp.status != 200:
                    raise ValueError(f"HTTP {resp.status} {resp.reason or ''}".rstrip())
                body = await _body(resp, max_body_bytes)
                ctype = resp.headers.get("Content-Type")
        exposition = parse(
            body,
            openmetrics=True if content_type_is_openmetrics(ctype) else None,
            max_samples=max_samples,
            line_cache=line_cache,
        )
        return ScrapeOutcome(started_ms, time.perf_counter() - t0, exposition, None)
    except TimeoutError:
        error = f"timeout: no complete answer within {timeout_s:g}s"
    except ExpositionError as exc:
        error = f"bad exposition: {exc}"
    except PerfopsError as exc:  # NVML unavailable
        error = str(exc)
    except aiohttp.ClientConnectorError as exc:
        error = f"connection failed: {exc.os_error.strerror or exc}"
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        error = str(exc) or type(exc).__name__
    return ScrapeOutcome(started_ms, time.perf_counter() - t0, None, error)
