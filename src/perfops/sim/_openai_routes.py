"""The serving surface of each port: the OpenAI API (``/v1/chat/completions``,
``/v1/completions``, ``/v1/models``), and vLLM's ``/health`` and ``/metrics``.

A request is admitted (parsed, sent to its replica or the balancer's pick, refused with the
error a fault injects or a full queue answers), then streamed as SSE or answered whole.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Sequence
from functools import partial

from aiohttp import web

from perfops._internal.clock import Clock
from perfops.sim._balancer import Balancer
from perfops.sim._http import error_response, guarded
from perfops.sim._records import EngineConfig
from perfops.sim.faults import FaultBoard
from perfops.sim.model import RequestRejected
from perfops.sim.openai_api import (
    ApiError,
    Endpoint,
    ParsedRequest,
    block_hashes,
    full_response,
    parse_request,
    sse_chunk_encoder,
)
from perfops.sim.realtime import Replica, TokenStream
from perfops.sim.tokenizer import filler_token

__all__ = ["OpenAIRoutes"]

_PATHS: dict[Endpoint, str] = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}


class OpenAIRoutes:
    """The handlers of one fleet; ``add`` puts them on a port's app."""

    def __init__(
        self,
        *,
        model_name: str,
        engine: EngineConfig,
        seed: int,
        replicas: Sequence[Replica],
        balancer: Balancer,
        board: FaultBoard,
        clock: Clock,
    ) -> None:
        self.model_name, self.engine, self.seed = model_name, engine, seed
        self.replicas, self.balancer, self.board, self.clock = replicas, balancer, board, clock
        self._rng = random.Random(seed)  # which requests an error fault fails

    def add(self, app: web.Application, replica: int | None, token: str | None) -> None:
        """The routes of the front port (``replica`` None) or of one replica's port."""
        for endpoint, path in _PATHS.items():
            serve = partial(self.serve, endpoint=endpoint, replica_index=replica)
            app.router.add_post(path, guarded(serve, token))
        app.router.add_get("/v1/models", guarded(self.models, token))
        app.router.add_get("/health", partial(self.health, replica=replica))
        if replica is not None:
            app.router.add_get("/metrics", guarded(partial(self.metrics, replica=replica), token))

    def _created(self) -> int:
        return self.clock.now_ns() // 1_000_000_000

    async def models(self, request: web.Request) -> web.StreamResponse:
        model = self.model_name
        card = {"id": model, "object": "model", "created": self._created(), "owned_by": "perfops",
                "root": model, "max_model_len": self.engine.max_model_len}  # fmt: skip
        return web.json_response({"object": "list", "data": [card]})

    async def health(self, request: web.Request, replica: int | None) -> web.StreamResponse:
        ok = self.balancer.healthy(replica)
        return web.Response(status=200 if ok else 503, text="" if ok else "unhealthy")

    async def metrics(self, request: web.Request, replica: int) -> web.StreamResponse:
        return web.Response(
            body=self.replicas[replica].metrics.exposition(),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Prometheus-Format": "0.0.4"},
        )

    async def serve(
        self, request: web.Request, endpoint: Endpoint, replica_index: int | None
    ) -> web.StreamResponse:
        prefix = "chatcmpl" if endpoint == "chat" else "cmpl"
        rid = request.headers.get("X-Request-Id") or f"{prefix}-{uuid.uuid4().hex}"
        replica = (
            self.replicas[replica_index] if replica_index is not None else self.balancer.pick()
        )
        try:
            parsed, stream, replica = await self._admit(request, endpoint, replica, rid)
        except ApiError as err:
            if replica is not None:
                replica.metrics.http_request(_PATHS[endpoint], "POST", err.status)
            return error_response(err, rid)
        try:
            if parsed.stream:
                response = await self._stream(request, parsed, stream, replica, rid)
            else:
                response = await self._complete(parsed, stream, replica, rid)
        except asyncio.CancelledError:
            replica.cancel(stream.request_id)
            raise
        replica.metrics.http_request(_PATHS[endpoint], "POST", response.status)
        return response

    async def _admit(
        self, request: web.Request, endpoint: Endpoint, replica: Replica | None, rid: str
    ) -> tuple[ParsedRequest, TokenStream, Replica]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "the request body is not valid JSON") from None
        parsed = parse_request(endpoint, body, served_model=self.model_name,
                               max_model_len=self.engine.max_model_len, seed=self.seed)  # fmt: skip
        if replica is None or replica.down or not replica.healthy:
            raise ApiError(503, "no healthy replica is available", retry_after=1)
        injected = self.board.error_for(replica.index, self._rng)
        if injected is not None:
            raise ApiError(injected.status, f"injected fault: HTTP {injected.status}",
                           retry_after=injected.retry_after)  # fmt: skip
        hashes = block_hashes(parsed.prompt_text, self.engine.block_size)
        try:
            stream = replica.submit(
                rid, parsed.prompt_tokens, parsed.max_tokens, hashes, parsed.explicit_max
            )
        except RequestRejected as exc:
            raise ApiError(400, exc.message) from None
        if stream is None:
            raise ApiError(
                429, "the server is overloaded: its waiting queue is full", retry_after=1
            )
        return parsed, stream, replica

    async def _stream(
        self,
        request: web.Request,
        parsed: ParsedRequest,
        stream: TokenStream,
        replica: Replica,
        rid: str,
    ) -> web.StreamResponse:
        headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                   "X-Request-Id": rid}  # fmt: skip
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        enc = sse_chunk_encoder(parsed, rid, created=self._created())
        if parsed.endpoint == "chat":
            await response.write(enc.role())
        sent, seed = 0, self.seed
        try:
            while (n := await stream.next()) > 0:
                for _ in range(n):
                    await response.write(enc.content(filler_token(sent, seed)))
                    sent += 1
        except ConnectionResetError:  # the client went away: free its slot, stop quietly
            replica.cancel(stream.request_id)
            return response
        if stream.error is not None:  # the replica crashed: cut the stream, as a dead server does
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write(enc.finish("length" if parsed.explicit_max else "stop"))
        if parsed.include_usage:
            await response.write(enc.usage(sent))
        await response.write(enc.done())
        await response.write_eof()
        return response

    async def _complete(
        self, parsed: ParsedRequest, stream: TokenStream, replica: Replica, rid: str
    ) -> web.StreamResponse:
        sent = 0
        while (n := await stream.next()) > 0:
            sent += n
        if stream.error is not None:
            return error_response(
                ApiError(502, f"the replica failed mid-request: {stream.error}"), rid
            )
        text = "".join(filler_token(i, self.seed) for i in range(sent))
        reason = "length" if parsed.explicit_max else "stop"
        body = full_response(parsed, rid, text, sent, reason, created=self._created())
        return web.json_response(body, headers={"X-Request-Id": rid})
