"""One request to an OpenAI-compatible endpoint, timed to the chunk.

SSE is read line by line from the socket (no SDK in the timing path); TTFT is the first
non-empty content chunk, every later non-empty chunk adds one inter-chunk gap. Failures are
recorded by kind and never raised: a load test keeps going through them.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from perfops.loadgen.records import RequestRecord

__all__ = ["Endpoint", "Target", "send"]


@dataclass(frozen=True, slots=True)
class Target:
    base_url: str  # ...:8000/v1
    model: str
    endpoint: Literal["completions", "chat"] = "completions"
    api_key: str | None = None
    timeout_s: float = 300.0
    include_usage: bool = True
    extra_body: tuple[tuple[str, Any], ...] = ()

    @property
    def url(self) -> str:
        path = "/chat/completions" if self.endpoint == "chat" else "/completions"
        return self.base_url.rstrip("/") + path

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


Endpoint = Literal["completions", "chat"]


def body(
    target: Target, prompt: str, messages: tuple[tuple[str, str], ...], max_tokens: int
) -> dict[str, Any]:
    out: dict[str, Any] = {"model": target.model, "max_tokens": max_tokens, "stream": True}
    if target.include_usage:
        out["stream_options"] = {"include_usage": True}
    if target.endpoint == "chat":
        turns = messages or (("user", prompt),)
        out["messages"] = [{"role": r, "content": c} for r, c in turns]
    else:
        out["prompt"] = prompt
    out.update(dict(target.extra_body))
    return out


def _content(chunk: dict[str, Any]) -> str:
    choices = chunk.get("choices") or ()
    if not choices:
        return ""
    first = choices[0]
    delta = first.get("delta")
    if delta is not None:
        return delta.get("content") or ""
    return first.get("text") or ""


async def _read_stream(resp: aiohttp.ClientResponse, rec: RequestRecord, clock: Any) -> None:
    done = False
    last = None
    async for raw in resp.content:
        line = raw.strip()
        if not line.startswith(b"data:"):
            continue  # blank separators, comments, event: lines
        data = line[5:].strip()
        if data == b"[DONE]":
            done = True
            break
        try:
            chunk = json.loads(data)
        except ValueError:
            rec.error = "malformed_sse"
            return
        if not isinstance(chunk, dict):
            rec.error = "malformed_sse"
            return
        if chunk.get("error"):
            rec.error = "stream_error"
            return
        if _content(chunk):
            now = clock()
            rec.chunks += 1
            if last is None:
                rec.first_token_ns = now
            else:
                rec.chunk_gaps_ns.append(now - last)
            last = now
        usage = chunk.get("usage")
        if usage:
            rec.output_tokens = int(usage.get("completion_tokens") or 0)
            rec.prompt_tokens = usage.get("prompt_tokens")
            rec.tokens_source = "usage"
    rec.end_ns = last if last is not None else clock()
    if not done:
        rec.error = "truncated"  # the stream ended before data: [DONE]
    elif rec.tokens_source != "usage":
        rec.output_tokens = rec.chunks


async def send(
    session: aiohttp.ClientSession,
    target: Target,
    payload: dict[str, Any],
    rec: RequestRecord,
    clock: Any,
) -> RequestRecord:
    """Send ``payload`` now and fill ``rec``; ``clock()`` returns wall-clock nanoseconds."""
    rec.sent_ns = clock()
    try:
        async with (
            asyncio.timeout(target.timeout_s),
            session.post(target.url, json=payload, headers=target.headers()) as resp,
        ):
            rec.status = resp.status
            if resp.status != 200:
                await resp.read()
                rec.error = f"http_{resp.status}"
                rec.end_ns = clock()
                return rec
            await _read_stream(resp, rec, clock)
    except TimeoutError:
        rec.error = "timeout"
    except aiohttp.ClientConnectorError:
        rec.error = "connect"
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, ConnectionResetError):
        rec.error = "disconnected"
    except aiohttp.ClientError:
        rec.error = "client_error"
    if rec.end_ns is None:
        rec.end_ns = clock()
    return rec


def wall_clock() -> Any:
    """Wall-clock nanoseconds that advance with the monotonic clock (no NTP steps mid-run)."""
    anchor_wall, anchor_mono = time.time_ns(), time.perf_counter_ns()

    def now() -> int:
        return anchor_wall + (time.perf_counter_ns() - anchor_mono)

    return now
