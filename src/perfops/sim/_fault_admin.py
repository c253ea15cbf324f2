"""Faults on the fleet: the board applied to the replicas, on the fleet's clock, and the
admin API that drives it (``GET/POST /admin/faults``, ``DELETE /admin/faults/{id}``).

Injection and expiry times are the fleet clock's monotonic seconds; a fault ends when that
clock passes its expiry (checked every 50 ms of it), so a test on a manual clock ends a
fault by moving the clock, not by waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from perfops._internal.clock import Clock
from perfops.errors import UsageError
from perfops.sim._http import error_response, guarded
from perfops.sim.faults import FAULT_ID, ActiveFault, FaultBoard, FaultIdTaken, parse_fault
from perfops.sim.openai_api import ApiError
from perfops.sim.realtime import Replica

__all__ = ["EXPIRY_TICK_S", "FaultControl"]

EXPIRY_TICK_S = 0.05


class FaultControl:
    """The faults in force over ``replicas`` (of ``tp_size`` GPUs each); ``sync_ports`` closes
    and reopens the ports of replicas a crash takes down."""

    def __init__(
        self,
        replicas: Sequence[Replica],
        tp_size: int,
        clock: Clock,
        sync_ports: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        self.replicas, self.tp_size, self.clock = replicas, tp_size, clock
        self.sync_ports = sync_ports
        self.board = FaultBoard()

    # -- from Python ---------------------------------------------------------------------------

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
            fault = self._put(spec, fault_id)
        except FaultIdTaken as exc:
            raise UsageError(str(exc)) from None
        self.apply()
        return fault

    def revert(self, fault_id: str) -> ActiveFault | None:
        fault = self.board.revert(fault_id, self.clock.monotonic())
        self.apply()
        return fault

    async def expire(self) -> list[ActiveFault]:
        """End the faults whose time is up on the fleet's clock; their ports reopen before
        this returns."""
        due = self.board.expire(self.clock.monotonic())
        if due:
            self._match()
        # always: the background tick may have expired these faults a moment ago and still be
        # reopening their ports; the sync lock makes this wait for it
        await self.sync_ports()
        return due

    async def run_expiry(self) -> None:
        """:meth:`expire` every tick of the fleet's clock, until cancelled."""
        while True:
            await self.clock.sleep(EXPIRY_TICK_S)
            await self.expire()

    def _put(self, spec: Any, fault_id: str | None) -> ActiveFault:
        return self.board.inject(spec, self.clock.monotonic(), self.clock.now_ns(), fault_id)

    def _check_target(self, spec: Any) -> str | None:
        if spec.replica is not None and spec.replica >= len(self.replicas):
            return f"replica {spec.replica} does not exist (0..{len(self.replicas) - 1})"
        if spec.kind == "xid" and spec.gpu >= self.tp_size:
            return f"gpu {spec.gpu} does not exist in a replica of {self.tp_size} GPU(s)"
        return None

    def apply(self) -> None:
        """Make every replica match the faults in force (idempotent); the ports follow as a
        task of the running loop, if any (else at the next sync)."""
        self._match()
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(self.sync_ports())

    def _match(self) -> None:
        board = self.board
        for r in self.replicas:
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

    # -- the admin API -------------------------------------------------------------------------

    def add_routes(self, app: web.Application, replica: int | None, token: str | None) -> None:
        app.router.add_get("/admin/faults", guarded(self.list_route, token))
        app.router.add_post("/admin/faults", guarded(partial(self.inject_route, replica=replica),
                                                     token))  # fmt: skip
        app.router.add_delete("/admin/faults/{fault_id}", guarded(self.revert_route, token))

    async def list_route(self, request: web.Request) -> web.StreamResponse:
        every = request.query.get("all") in ("1", "true")
        faults = self.board.history if every else self.board.active
        return web.json_response({"faults": [f.as_json() for f in faults.values()]})

    async def inject_route(self, request: web.Request, replica: int | None) -> web.StreamResponse:
        """201 with the new fault; 200 with the fault already in force under the body's
        optional client-chosen ``id`` (a retry); 409 for an id in use otherwise. A crashed
        replica's port is closed before the answer."""
        try:
            spec, fault_id = _parse(await request.read(), replica)
        except ApiError as err:
            return error_response(err)
        problem = self._check_target(spec)
        if problem:
            return error_response(ApiError(400, problem, param="replica"))
        again = fault_id is not None and fault_id in self.board.active
        try:
            fault = self._put(spec, fault_id)
        except FaultIdTaken as exc:
            status = 409 if FAULT_ID.match(fault_id or "") else 400
            return error_response(ApiError(status, str(exc), param="id"))
        self._match()
        await self.sync_ports()
        return web.json_response(fault.as_json(), status=200 if again else 201)

    async def revert_route(self, request: web.Request) -> web.StreamResponse:
        fault_id = request.match_info["fault_id"]
        fault = self.board.revert(fault_id, self.clock.monotonic())
        self._match()
        await self.sync_ports()
        if fault is None:
            return error_response(ApiError(404, f"no fault {fault_id!r}"))
        return web.json_response(fault.as_json())


def _parse(raw: bytes, replica: int | None) -> tuple[Any, str | None]:
    """The fault spec of a request body, and its client-chosen id; ApiError 400 else."""
    try:
        body = json.loads(raw)
        fault_id = None
        if isinstance(body, dict):
            fault_id = body.pop("id", None)
            if replica is not None:
                body.setdefault("replica", replica)
        spec = parse_fault(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "the fault is not valid JSON") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ApiError(400, f"invalid fault: {problems}") from None
    if fault_id is not None and not isinstance(fault_id, str):
        raise ApiError(400, "id: the fault id is a string", param="id")
    return spec, fault_id
