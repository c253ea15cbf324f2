"""Scrape one Prometheus endpoint: negotiate the format, bound the time and size, parse.

The body is read as it streams in and the scrape fails as soon as it passes
``max_body_bytes`` (at once when the answer announces a larger Content-Length), so reading
holds at most about the limit in memory; parsing then holds about 30 times what was read, at
most ``max_samples`` samples. Both limits are settings of perfops.yaml (``telemetry`` and
each target).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from perfops.config import SCRAPE_BODY_BYTES, SCRAPE_SAMPLES
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
MAX_BODY_BYTES = SCRAPE_BODY_BYTES


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


def _too_big(limit: int, announced: int | None = None) -> ValueError:
    size = f"{limit / (1024 * 1024):.3g} MiB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
    said = f" (it announces {announced:,} bytes)" if announced is not None else ""
    return ValueError(
        f"the answer is larger than max_body_bytes, {size}{said}: is this a metrics "
        "endpoint? If so, raise max_body_bytes for the target (or telemetry.max_body_bytes) "
        "in perfops.yaml"
    )


async def _body(resp: aiohttp.ClientResponse, limit: int) -> bytearray:
    """The body, read until it ends or passes ``limit`` bytes (then ValueError)."""
    if resp.content_length is not None and resp.content_length > limit:
        raise _too_big(limit, resp.content_length)
    body = bytearray()
    async for chunk in resp.content.iter_chunked(1 << 16):
        if len(body) + len(chunk) > limit:
            raise _too_big(limit)
        body += chunk
    return body


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
    max_body_bytes: int = SCRAPE_BODY_BYTES,
    max_samples: int = SCRAPE_SAMPLES,
    line_cache: LineCache | None = None,
) -> ScrapeOutcome:
    """Scrape ``url`` once; never raises for a bad target, the outcome says what went wrong."""
    started_ms = time.time_ns() // 1_000_000
    t0 = time.perf_counter()
    try:
        ctype = None
        body: bytes | bytearray
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
