"""A scrape reads at most ``max_body_bytes`` and parses at most ``max_samples``: an endless or
oversized answer fails the scrape with the setting to raise, and memory stays a small multiple
of the limit however much the target sends."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web

from perfops.telemetry.scrape import scrape

MIB = 1024 * 1024
LINE = b'flood{i="' + b"x" * 90 + b'"} 1\n'


class Sender:
    """/endless streams sample lines until the client hangs up; /announced claims 100 MiB and
    sends one line; /samples answers ``n`` distinct samples."""

    def __init__(self) -> None:
        self.sent = 0

    async def endless(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "text/plain"
        await resp.prepare(request)
        chunk = LINE * 1000
        try:
            while self.sent < 1024 * MIB:
                await resp.write(chunk)
                self.sent += len(chunk)
        except (ConnectionError, RuntimeError):  # the client stopped reading
            pass
        return resp

    async def announced(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "text/plain"
        resp.content_length = 100 * MIB
        await resp.prepare(request)
        try:
            await resp.write(LINE)
            await asyncio.sleep(5)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    async def samples(self, request: web.Request) -> web.Response:
        n = int(request.query["n"])
        return web.Response(text="".join(f's{{i="{i}"}} {i}\n' for i in range(n)))


@asynccontextmanager
async def serving() -> AsyncIterator[tuple[Sender, str]]:
    sender = Sender()
    app = web.Application()
    app.router.add_get("/endless", sender.endless)
    app.router.add_get("/announced", sender.announced)
    app.router.add_get("/samples", sender.samples)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield sender, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def run(path: str, **limits: Any) -> tuple[Any, Sender, int]:
    """Scrape ``path`` of a fresh server; the outcome, the server, and the peak of memory
    Python allocated during the scrape (bytes)."""

    async def main() -> tuple[Any, Sender, int]:
        async with serving() as (sender, base), aiohttp.ClientSession() as session:
            tracemalloc.start()
            try:
                outcome = await scrape(session, base + path, timeout_s=60, **limits)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            return outcome, sender, peak

    return asyncio.run(main())


def test_an_endless_answer_stops_at_the_limit_in_bounded_memory() -> None:
    outcome, sender, peak = run("/endless", max_body_bytes=2 * MIB)
    assert outcome.exposition is None
    assert "larger than max_body_bytes, 2 MiB" in outcome.error
    assert "raise max_body_bytes for the target (or telemetry.max_body_bytes)" in outcome.error
    assert peak < 2 * 2 * MIB, f"{peak / MIB:.1f} MiB held to read a 2 MiB limit"
    assert sender.sent < 1024 * MIB  # the reader hung up: the target did not send it all


def test_an_answer_announcing_more_than_the_limit_is_refused_before_reading() -> None:
    outcome, _, peak = run("/announced", max_body_bytes=MIB)
    assert "(it announces 104,857,600 bytes)" in outcome.error
    assert peak < MIB


def test_an_answer_within_the_limits_is_parsed() -> None:
    outcome, _, _ = run("/samples?n=1000", max_body_bytes=64 * 1024, max_samples=1000)
    assert outcome.error is None
    assert len(outcome.exposition) == 1000


def test_more_samples_than_max_samples_fail_the_scrape_naming_the_setting() -> None:
    outcome, _, _ = run("/samples?n=1000", max_samples=999)
    assert outcome.exposition is None
    assert "more than 999 samples" in outcome.error
    assert "raise max_samples for it (or telemetry.max_samples) in perfops.yaml" in outcome.error
