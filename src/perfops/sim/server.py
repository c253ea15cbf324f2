"""The simulated fleet over HTTP: one port per replica, a front port that balances, and a
dcgm-exporter port. Binds 127.0.0.1 unless given a token.

    front   :PORT        OpenAI API, least-outstanding-requests balancing, /admin/faults
    replica :PORT+1+i    OpenAI API, /metrics (vLLM names), /health, /admin/faults
    dcgm    :DCGM_PORT   /metrics (dcgm-exporter names), one series set per simulated GPU
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from perfops._internal.net import is_loopback
from perfops.errors import UsageError
from perfops.sim import dcgm
from perfops.sim._records import EngineConfig
from perfops.sim.faults import FAULT_ID, ActiveFault, FaultBoard, FaultIdTaken, parse_fault
from perfops.sim.model import RequestRejected
from perfops.sim.openai_api import (
    ApiError,
    Endpoint,
    ParsedRequest,
    block_hashes,
    error_body,
    full_response,
    parse_request,
    sse_chunk_encoder,
)
from perfops.sim.profiles import ServingProfile
from perfops.sim.realtime import Replica, TokenStream
from perfops.sim.tokenizer import filler_token

__all__ = ["Fleet", "FleetOptions"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class FleetOptions:
    model_name: str
    replicas: int = 2
    host: str = "127.0.0.1"
    port: int = 8000  # 0: every port ephemeral (tests)
    dcgm_port: int | None = 9400  # None: no GPU metrics endpoint; 0: ephemeral
    seed: int = 0
    token: str | None = None
    hostname: str = "sim-node"
    engine: EngineConfig = field(default_factory=EngineConfig)
    dcgm_interval: float = 1.0


class Fleet:
    """Replicas, their ports, the fault board and the GPU telemetry, in one event loop."""

    def __init__(self, profile: ServingProfile, options: FleetOptions) -> None:
        if not is_loopback(options.host) and not options.token:
            raise UsageError(
                f"binding {options.host} exposes the simulator beyond this machine",
                hint="pass --token (clients then send it as their API key)",
            )
        self.profile = profile
        self.options = options
        self.replicas = [
            Replica(i, profile, options.engine, seed=options.seed, model_name=options.model_name)
            for i in range(options.replicas)
        ]
        self.board = FaultBoard()
        self._rng = random.Random(options.seed)
        tp = profile.tensor_parallel
        self.gpus = [
            dcgm.new_gpu(g, profile.gpu, f"{options.hostname}-{g // 8}", options.seed)
            for g in range(options.replicas * tp)
        ]
        self._busy = [(0.0, 0.0, 0.0)] * options.replicas  # (at, busy, compute)
        self._runners: list[web.AppRunner] = []
        self._sites: dict[str, web.TCPSite] = {}
        self.ports: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closed: set[str] = set()  # replica sites closed by a crash fault

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        opts = self.options
        await self._listen("front", self._app(None), opts.port)
        for r in self.replicas:
            r.start()
            await self._listen(
                f"replica-{r.index}",
                self._app(r.index),
                opts.port + 1 + r.index if opts.port else 0,
            )
        if opts.dcgm_port is not None:
            app = web.Application()
            app.router.add_get("/metrics", self._guard(self._dcgm_metrics))
            await self._listen("dcgm", app, opts.dcgm_port)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._expiry_loop()), loop.create_task(self._gpu_loop())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for r in self.replicas:
            await r.stop()
        for runner in self._runners:
            await runner.cleanup()

    async def _listen(self, name: str, app: web.Application, port: int) -> None:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.options.host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise UsageError(
                f"cannot listen on {self.options.host}:{port} for {name}: {exc.strerror}",
                hint="pick another --port",
            ) from None
        self._runners.append(runner)
        self._sites[name] = site
        server = site._server  # the bound socket tells the port chosen for port 0
        sockets = getattr(server, "sockets", None) or []
        self.ports[name] = sockets[0].getsockname()[1] if sockets else port

    def url(self, name: str) -> str:
        host = self.options.host if ":" not in self.options.host else f"[{self.options.host}]"
        return f"http://{host}:{self.ports[name]}"

    def endpoints(self) -> dict[str, str]:
        out = {"openai": self.url("front") + "/v1"}
        for r in self.replicas:
            out[f"replica-{r.index}"] = self.url(f"replica-{r.index}") + "/v1"
            out[f"replica-{r.index}-metrics"] = self.url(f"replica-{r.index}") + "/metrics"
        if "dcgm" in self.ports:
            out["dcgm-metrics"] = self.url("dcgm") + "/metrics"
        return out

    # -- routing ------------------------------------------------------------------------------

    def _app(self, replica: int | None) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        guard = self._guard
        app.router.add_post(
            "/v1/chat/completions",
            guard(partial(self._serve, endpoint="chat", replica_index=replica)),
        )
        app.router.add_post(
            "/v1/completions",
            guard(partial(self._serve, endpoint="completions", replica_index=replica)),
        )
        app.router.add_get("/v1/models", guard(self._models))
        app.router.add_get("/health", partial(self._health, replica=replica))
        app.router.add_get("/admin/faults", guard(self._list_faults))
        app.router.add_post("/admin/faults", guard(partial(self._inject, replica=replica)))
        app.router.add_delete("/admin/faults/{fault_id}", guard(self._revert))
        if replica is not None:
            app.router.add_get("/metrics", guard(partial(self._metrics, replica=replica)))
        return app

    def _guard(self, handler: Handler) -> Handler:
        token = self.options.token

        async def guarded(request: web.Request) -> web.StreamResponse:
            if token and request.headers.get("Authorization") != f"Bearer {token}":
                return _error(
                    ApiError(
                        401, "missing or wrong API key (send the sim's --token as a Bearer token)"
                    )
                )
            return await handler(request)

        return guarded

    def pick(self) -> Replica | None:
        """Least outstanding requests among replicas that are up and healthy."""
        ready = [r for r in self.replicas if r.healthy and not r.down]
        return min(ready, key=lambda r: (r.outstanding, r.index)) if ready else None

    # -- OpenAI API ---------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.StreamResponse:
        model = self.options.model_name
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {
                        "id": model,
                        "object": "model",
                        "created": int(time.time()),
                        "owned_by": "perfops",
                        "root": model,
                        "max_model_len": self.options.engine.max_model_len,
                    }
                ],
            }
        )

    async def _serve(
        self, request: web.Request, endpoint: Endpoint, replica_index: int | None
    ) -> web.StreamResponse:
        prefix = "chatcmpl" if endpoint == "chat" else "cmpl"
        rid = request.headers.get("X-Request-Id") or f"{prefix}-{uuid.uuid4().hex}"
        handler = "/v1/chat/completions" if endpoint == "chat" else "/v1/completions"
        replica = self.replicas[replica_index] if replica_index is not None else self.pick()
        try:
            parsed, stream, replica = await self._admit(request, endpoint, replica, rid)
        except ApiError as err:
            if replica is not None:
                replica.metrics.http_request(handler, "POST", err.status)
            return _error(err, rid)
        try:
            if parsed.stream:
                response = await self._stream(request, parsed, stream, replica, rid)
            else:
                response = await self._complete(parsed, stream, replica, rid)
        except asyncio.CancelledError:
            replica.cancel(stream.request_id)
            raise
        replica.metrics.http_request(handler, "POST", response.status)
        return response

    async def _admit(
        self, request: web.Request, endpoint: Endpoint, replica: Replica | None, rid: str
    ) -> tuple[ParsedRequest, TokenStream, Replica]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "the request body is not valid JSON") from None
        parsed = parse_request(
            endpoint,
            body,
            served_model=self.options.model_name,
            max_model_len=self.options.engine.max_model_len,
            seed=self.options.seed,
        )
        if replica is None or replica.down or not replica.healthy:
            raise ApiError(503, "no healthy replica is available", retry_after=1)
        injected = self.board.error_for(replica.index, self._rng)
        if injected is not None:
            raise ApiError(
                injected.status,
                f"injected fault: HTTP {injected.status}",
                retry_after=injected.retry_after,
            )
        hashes = block_hashes(parsed.prompt_text, self.options.engine.block_size)
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
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Request-Id": rid,
            }
        )
        await response.prepare(request)
        enc = sse_chunk_encoder(parsed, rid)
        if parsed.endpoint == "chat":
            await response.write(enc.role())
        sent, seed = 0, self.options.seed
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
            return _error(ApiError(502, f"the replica failed mid-request: {stream.error}"), rid)
        text = "".join(filler_token(i, self.options.seed) for i in range(sent))
        body = full_response(parsed, rid, text, sent, "length" if parsed.explicit_max else "stop")
        return web.json_response(body, headers={"X-Request-Id": rid})

    # -- health and metrics -------------------------------------------------------------------

    async def _health(self, request: web.Request, replica: int | None) -> web.StreamResponse:
        ok = (
            self.pick() is not None
            if replica is None
            else (self.replicas[replica].healthy and not self.replicas[replica].down)
        )
        return web.Response(status=200 if ok else 503, text="" if ok else "unhealthy")

    async def _metrics(self, request: web.Request, replica: int) -> web.StreamResponse:
        return web.Response(
            body=self.replicas[replica].metrics.exposition(),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Prometheus-Format": "0.0.4"},
        )

    async def _dcgm_metrics(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=dcgm.exposition(self.gpus), content_type="text/plain")

    # -- faults -------------------------------------------------------------------------------

    async def _list_faults(self, request: web.Request) -> web.StreamResponse:
        every = request.query.get("all") in ("1", "true")
        faults = self.board.history if every else self.board.active
        return web.json_response({"faults": [f.as_json() for f in faults.values()]})

    async def _inject(self, request: web.Request, replica: int | None) -> web.StreamResponse:
        """201 with the new fault; 200 with the fault already in force under the body's
        optional client-chosen ``id`` (a retry); 409 for an id in use otherwise."""
        try:
            body = await request.json()
            fault_id = None
            if isinstance(body, dict):
                fault_id = body.pop("id", None)
                if replica is not None:
                    body.setdefault("replica", replica)
            spec = parse_fault(body)
        except json.JSONDecodeError:
            return _error(ApiError(400, "the fault is not valid JSON"))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            return _error(ApiError(400, f"invalid fault: {problems}"))
        if fault_id is not None and not isinstance(fault_id, str):
            return _error(ApiError(400, "id: the fault id is a string", param="id"))
        problem = self._check_target(spec)
        if problem:
            return _error(ApiError(400, problem, param="replica"))
        again = fault_id is not None and fault_id in self.board.active
        try:
            fault = self.board.inject(spec, time.monotonic(), time.time_ns(), fault_id)
        except FaultIdTaken as exc:
            status = 409 if FAULT_ID.match(fault_id or "") else 400
            return _error(ApiError(status, str(exc), param="id"))
        self._apply_faults()
        return web.json_response(fault.as_json(), status=200 if again else 201)

    def _check_target(self, spec: Any) -> str | None:
        if spec.replica is not None and spec.replica >= len(self.replicas):
            return f"replica {spec.replica} does not exist (0..{len(self.replicas) - 1})"
        if spec.kind == "xid" and spec.gpu >= self.profile.tensor_parallel:
            return (
                f"gpu {spec.gpu} does not exist in a replica of "
                f"{self.profile.tensor_parallel} GPU(s)"
            )
        return None

    async def _revert(self, request: web.Request) -> web.StreamResponse:
        fault = self.revert(request.match_info["fault_id"])
        if fault is None:
            return _error(ApiError(404, f"no fault {request.match_info['fault_id']!r}"))
        await self._sync_sites()
        return web.json_response(fault.as_json())

    def inject(self, spec_data: dict[str, Any]) -> ActiveFault:
        """Inject a fault from Python (tests, the chaos runner in-process); ``spec_data`` may
        carry a client-chosen ``id``, as over HTTP."""
        data = dict(spec_data)
        fault_id = data.pop("id", None)
        spec = parse_fault(data)
        problem = self._check_target(spec)
        if problem:
            raise UsageError(problem)
        try:
            fault = self.board.inject(spec, time.monotonic(), time.time_ns(), fault_id)
        except FaultIdTaken as exc:
            raise UsageError(str(exc)) from None
        self._apply_faults()
        return fault

    def revert(self, fault_id: str) -> ActiveFault | None:
        fault = self.board.revert(fault_id, time.monotonic())
        self._apply_faults()
        return fault

    def _apply_faults(self) -> None:
        """Make every replica match the faults in force (idempotent)."""
        for r in self.replicas:
            board = self.board
            r.engine.slowdown = 1.0 / board.clock_factor(r.index)
            r.engine.set_kv_capacity_fraction(board.kv_fraction(r.index))
            r.healthy = not board.xids(r.index)
            r.extra_ttft = board.extra_ttft(r.index)
            r.step_delay = board.extra_per_token(r.index)
            crashed = board.crashed(r.index)
            if crashed and not r.down:
                r.down = True
                r.crash("the replica crashed (injected fault)")
            elif not crashed and r.down:
                r.down = False
                r.engine.slowdown = 1.0 / board.clock_factor(r.index)
                r.engine.set_kv_capacity_fraction(board.kv_fraction(r.index))
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(self._sync_sites())

    async def _sync_sites(self) -> None:
        """Close the port of a crashed replica; reopen it once it restarts."""
        for r in self.replicas:
            name = f"replica-{r.index}"
            site = self._sites.get(name)
            if site is None:
                continue
            listening = name not in self._closed
            if r.down and listening:
                self._closed.add(name)
                await site.stop()
            elif not r.down and not listening:
                fresh = web.TCPSite(
                    site._runner, self.options.host, self.ports[name], reuse_address=True
                )
                await fresh.start()
                self._sites[name] = fresh
                self._closed.discard(name)

    async def _expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            if self.board.expire(time.monotonic()):
                self._apply_faults()

    async def _gpu_loop(self) -> None:
        while True:
            self.sample_gpus()
            await asyncio.sleep(self.options.dcgm_interval)

    def sample_gpus(self) -> None:
        """Advance every simulated GPU's readings to now."""
        tp = self.profile.tensor_parallel
        weights = int(self.profile.model.weight_bytes / tp)
        for r in self.replicas:
            now = r.now()
            busy = r.engine.busy_seconds(now)
            compute = r.compute_seconds
            at, busy0, compute0 = self._busy[r.index]
            dt = max(1e-9, now - at)
            self._busy[r.index] = (now, busy, compute)
            used = busy - busy0
            stats = r.engine.stats()
            xids = self.board.xids(r.index)
            for k in range(tp):
                g = r.index * tp + k
                activity = dcgm.GpuActivity(
                    busy=0.0 if r.down else used / dt,
                    compute=(compute - compute0) / used if used > 0 else 0.0,
                    kv_used_bytes=0 if r.down else stats.kv_used_bytes,
                    weight_bytes=0 if r.down else weights,
                    clock_factor=self.board.clock_factor(r.index),
                    xid=xids.get(k, 0),
                )
                state = dcgm.advance(self.gpus[g], activity, self.profile.gpu, dt)
                self.gpus[g] = state if xids.get(k) else _clear_xid(state)


def _clear_xid(state: dcgm.GpuState) -> dcgm.GpuState:
    from dataclasses import replace

    return replace(state, xid=0) if state.xid else state


def _error(err: ApiError, rid: str | None = None) -> web.Response:
    headers = {}
    if err.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(err.retry_after)))
    if rid:
        headers["X-Request-Id"] = rid
    return web.json_response(error_body(err), status=err.status, headers=headers)
