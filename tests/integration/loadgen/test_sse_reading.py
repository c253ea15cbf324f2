"""The SSE client reads what the stream says, however the bytes are cut into network reads,
and gives its connection back for the next request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from perfops.loadgen.client import Target, send, wall_clock
from perfops.loadgen.records import RequestRecord
from perfops.loadgen.runner import Plan, run_open_loop


def sse(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def chat(text: str, key: str = "content") -> bytes:
    return sse({"id": "x", "choices": [{"index": 0, "delta": {key: text}}]})


USAGE = sse({"id": "x", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3}})
DONE = b"data: [DONE]\n\n"

# body -> (error, content chunks, output tokens, tokens source)
BODIES: dict[str, tuple[bytes, tuple[str | None, int, int, str]]] = {
    "chat with role chunk and usage": (
        chat("", "role") + chat("") + chat(" a") + chat(" b") + chat(" c") + USAGE + DONE,
        (None, 3, 3, "usage"),
    ),
    "completions, CRLF, comments, no usage": (
        b": ping\r\n\r\nevent: message\r\n"
        + sse({"choices": [{"text": " x"}]}).replace(b"\n", b"\r\n")
        + sse({"choices": [{"text": " y"}]}).replace(b"\n", b"\r\n")
        + b"data: [DONE]\r\n\r\n",
        (None, 2, 2, "chunks"),
    ),
    "reasoning is not content": (
        chat("thinking", "reasoning_content") + chat(" a") + DONE,
        (None, 1, 1, "chunks"),
    ),
    "[DONE] without a final newline, then nothing": (
        chat(" a") + b"data: [DONE]",
        (None, 1, 1, "chunks"),
    ),
    "what follows [DONE] is ignored": (
        chat(" a") + DONE + b"data: {broken\n\n",
        (None, 1, 1, "chunks"),
    ),
    "malformed chunk": (
        chat(" a") + b"data: {broken\n\n" + chat(" b") + DONE,
        ("malformed_sse", 1, 0, "chunks"),
    ),
    "not an object": (chat(" a") + b"data: [1, 2]\n\n" + DONE, ("malformed_sse", 1, 0, "chunks")),
    "bytes that are not UTF-8": (
        chat(" a") + b'data: {"choices": [{"text": "\xff"}]}\n\n' + DONE,
        ("malformed_sse", 1, 0, "chunks"),
    ),
    "error chunk": (
        chat(" a") + sse({"error": {"message": "boom"}}) + DONE,
        ("stream_error", 1, 0, "chunks"),
    ),
    "no [DONE]": (chat(" a") + chat(" b"), ("truncated", 2, 0, "chunks")),
}


def cuts(body: bytes, how: str) -> list[bytes]:
    if how == "whole":
        return [body]
    if how == "lines":
        return [line + b"\n" for line in body.split(b"\n")[:-1]] + [body.rsplit(b"\n", 1)[-1]]
    size = int(how)
    return [body[i : i + size] for i in range(0, len(body), size)]


class Stream:
    """A server answering every POST with ``fragments``, each its own write, a little apart."""

    def __init__(self) -> None:
        self.fragments: list[bytes] = []
        self.hold_open_s = 0.0
        self.peers: list[Any] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.peers.append(
            request.transport.get_extra_info("peername") if request.transport else None
        )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for fragment in self.fragments:
            if fragment:
                await resp.write(fragment)
                await asyncio.sleep(0.001)
        await asyncio.sleep(self.hold_open_s)
        await resp.write_eof()
        return resp


@asynccontextmanager
async def serving(stream: Stream) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", stream.handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


PAYLOAD = {"model": "m", "messages": [{"role": "user", "content": "q"}], "stream": True}


def read(
    fragments: list[bytes], *, hold_open_s: float = 0.0, timeout_s: float = 10.0
) -> RequestRecord:
    stream = Stream()
    stream.fragments, stream.hold_open_s = fragments, hold_open_s

    async def main() -> RequestRecord:
        clock = wall_clock()
        async with serving(stream) as url, aiohttp.ClientSession() as session:
            target = Target(url, "m", "chat", timeout_s=timeout_s)
            return await send(session, target, PAYLOAD, RequestRecord(0, clock()), clock)

    return asyncio.run(main())


@pytest.mark.parametrize("how", ["whole", "lines", "1", "7", "64"])
@pytest.mark.parametrize("name", list(BODIES))
def test_the_record_depends_on_the_stream_not_on_how_it_was_cut(name: str, how: str) -> None:
    body, (error, chunks, tokens, source) = BODIES[name]
    rec = read(cuts(body, how))
    assert (rec.error, rec.chunks, rec.output_tokens, rec.tokens_source) == (
        error,
        chunks,
        tokens,
        source,
    )
    assert rec.sent_ns <= (rec.first_token_ns or rec.end_ns or 0) <= (rec.end_ns or 0)
    if rec.first_token_ns is not None and error is None:
        assert len(rec.chunk_gaps_ns) == chunks - 1
        assert rec.first_token_ns + sum(rec.chunk_gaps_ns) == rec.end_ns


def test_a_server_holding_the_body_open_after_done_costs_the_request_nothing() -> None:
    """The answer was complete at [DONE]: the client reads on for the connection's sake, and
    the timeout that stops it does not turn a complete answer into a failure."""
    body, _ = BODIES["chat with role chunk and usage"]
    rec = read([body], hold_open_s=5.0, timeout_s=2.0)
    assert rec.ok
    assert (rec.chunks, rec.output_tokens) == (3, 3)
    assert rec.e2e_s is not None
    # the end is the last content chunk, not the timeout (ending there would read >= 2 s; a
    # busy machine delays a chunk sent at once by far less)
    assert rec.e2e_s < 2.0


def test_one_connection_serves_requests_one_after_another() -> None:
    """The body's end (the terminating chunk) comes after [DONE]; reading to it lets the
    connection go back to the pool instead of being closed after every answer."""
    stream = Stream()
    body, _ = BODIES["chat with role chunk and usage"]
    stream.fragments = [body]
    n = 5

    async def main() -> list[RequestRecord]:
        async with serving(stream) as url:
            plan = Plan([PAYLOAD] * n, [i * 0.1 for i in range(n)], n * 0.1)
            return await run_open_loop(Target(url, "m", "chat"), plan)

    records = asyncio.run(main())
    assert all(r.ok for r in records)
    assert len(set(stream.peers)) == 1
