"""One request to an OpenAI-compatible endpoint, timed to the chunk.

SSE is read from the socket as it arrives (no SDK in the timing path), one clock reading per
network read for every line in it; TTFT is the first non-empty content chunk, every later
non-empty chunk adds one inter-chunk gap. Failures are recorded by kind and never raised: a
load test keeps going through them.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from perfops.loadgen.records import RequestRecord

__all__ = ["Endpoint", "Target", "WallClock", "send", "wall_clock"]


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


_raw_decode = json.JSONDecoder().raw_decode


def _loads(data: bytes) -> Any:
    """``json.loads(data)``, same result and same errors, minus its encoding sniffing and
    wrappers for the usual chunk (an object: ``{"`` can only be UTF-8 to the sniffer)."""
    if not data.startswith(b'{"'):
        return json.loads(data)
    text = data.decode("utf-8", "surrogatepass")
    value, end = _raw_decode(text)
    if end != len(text):  # ``data`` is stripped: anything left is extra data
        raise ValueError(f"extra data after the JSON object at {end}")
    return value


_MORE, _TOKEN, _DONE, _FAILED = 0, 1, 2, 3


def _event(line: bytes, rec: RequestRecord) -> int:
    """Take one SSE line: _TOKEN (a chunk with content), _MORE, _DONE (``data: [DONE]``) or
    _FAILED (``rec.error`` says why). Usage is taken from any chunk that carries it."""
    line = line.strip()
    if not line.startswith(b"data:"):
        return _MORE  # blank separators, comments, event: lines
    data = line[5:].strip()
    if data == b"[DONE]":
        return _DONE
    try:
        chunk = _loads(data)
    except ValueError:
        rec.error = "malformed_sse"
        return _FAILED
    if not isinstance(chunk, dict):
        rec.error = "malformed_sse"
        return _FAILED
    if chunk.get("error"):
        rec.error = "stream_error"
        return _FAILED
    usage = chunk.get("usage")
    if usage:
        rec.output_tokens = int(usage.get("completion_tokens") or 0)
        rec.prompt_tokens = usage.get("prompt_tokens")
        rec.tokens_source = "usage"
    return _TOKEN if _content(chunk) else _MORE


async def _read_stream(resp: aiohttp.ClientResponse, rec: RequestRecord, clock: Any) -> bool:
    """Read the SSE body as it arrives; True once ``data: [DONE]`` came.

    Every line of one network read carries the moment that read returned (one clock reading
    per read, taken before any line is parsed, so parsing never shows up as latency).
    """
    content = resp.content
    state, tail, last = _MORE, b"", None
    while state != _DONE:
        data = await content.readany()
        if data:
            now = clock()
            lines = (tail + data if tail else data).split(b"\n")
            tail = lines.pop()
        elif tail:  # the body ended with a line that has no newline: it counts too
            now, lines, tail = clock(), [tail], b""
        else:
            break
        for line in lines:
            state = _event(line, rec)
            if state == _TOKEN:
                if last is None:
                    rec.first_token_ns = now
                else:
                    rec.chunk_gaps_ns.append(now - last)
                last = now
                rec.chunks += 1
            elif state == _DONE:
                break
            elif state == _FAILED:
                return False
    rec.end_ns = last if last is not None else clock()
    if state != _DONE:
        rec.error = "truncated"  # the stream ended before data: [DONE]
        return False
    if rec.tokens_source != "usage":
        rec.output_tokens = rec.chunks
    return True


async def send(
    session: aiohttp.ClientSession,
    target: Target,
    payload: dict[str, Any],
    rec: RequestRecord,
    clock: Any,
) -> RequestRecord:
    """Send ``payload`` now and fill ``rec``; ``clock()`` returns wall-clock nanoseconds.

    Once the answer is complete (``data: [DONE]``) the rest of the body is read, as the
    OpenAI SDK does, so the connection can serve the next request; a failure while doing so
    (the server hangs up, or holds the body open until the timeout) is not the request's.
    """
    rec.sent_ns = clock()
    complete = False
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
            complete = await _read_stream(resp, rec, clock)
            if complete:
                while await resp.content.readany():
                    pass
    except TimeoutError:
        rec.error = None if complete else "timeout"
    except aiohttp.ClientConnectorError:
        rec.error = "connect"
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, ConnectionResetError):
        rec.error = None if complete else "disconnected"
    except aiohttp.ClientError:
        rec.error = None if complete else "client_error"
    if rec.end_ns is None:
        rec.end_ns = clock()
    return rec


class WallClock:
    """Wall-clock nanoseconds that advance with the monotonic clock (no NTP steps mid-run):
    ``clock()`` is ``time.perf_counter_ns()`` (CLOCK_MONOTONIC on Linux) plus an offset taken
    once, so a wall-clock moment converts back to the monotonic clock exactly."""

    __slots__ = ("offset_ns",)

    def __init__(self) -> None:
        self.offset_ns = time.time_ns() - time.perf_counter_ns()

    def __call__(self) -> int:
        return time.perf_counter_ns() + self.offset_ns


def wall_clock() -> WallClock:
    return WallClock()
