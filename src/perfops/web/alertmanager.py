"""`perfops incident serve`: the Alertmanager webhook receiver, ``POST /alertmanager``.

Alertmanager's ``webhook_config`` posts its notification payload (version 4) here; each is
checked whole before anything is recorded (a bad one gets 400 and a JSON error naming the
field), then recorded by :func:`perfops.app.incident_alerts.record_notification`. Loopback
by default; any other address needs a token, sent as ``Authorization: Bearer TOKEN``
(Alertmanager's ``http_config: {authorization: {credentials_file: ...}}``), as for
`perfops dashboard`. Bodies are bounded; notifications are recorded one at a time.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from aiohttp import web

from perfops.app import Runtime
from perfops.app.incident_alerts import record_notification
from perfops.respond import webhook
from perfops.web._guard import Handler, bearer_authorised
from perfops.web.server import check_bind, serve_app

__all__ = [
    "MAX_BODY",
    "build_receiver",
    "check_receiver_bind",
    "running_receiver",
    "serve_receiver",
]

MAX_BODY = 1024 * 1024
"""The largest notification taken, in bytes (Alertmanager's are a few KiB per alert)."""


def check_receiver_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback bind without a token, as `perfops dashboard` does."""
    check_bind(host, token, "the Alertmanager receiver")


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def _token_middleware(token: str | None) -> Any:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token is not None and not bearer_authorised(request, token):
            return _error(401, "this receiver needs its token",
                          hint="send Authorization: Bearer TOKEN")  # fmt: skip
        response = await handler(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    return check


def build_receiver(rt: Runtime, token: str | None) -> web.Application:
    """The receiver application over ``rt``'s lake."""
    app = web.Application(middlewares=[_token_middleware(token)], client_max_size=MAX_BODY)
    lock = asyncio.Lock()

    async def receive(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"payload larger than {MAX_BODY} bytes", field="payload")
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"payload is not JSON: {exc}", field="payload")
        try:
            note = webhook.parse_notification(body)
        except webhook.PayloadError as exc:
            return _error(400, exc.message, field=exc.field)
        async with lock:
            done = await asyncio.to_thread(record_notification, rt, note)
        return web.json_response(done.as_dict())

    async def healthy(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_post("/alertmanager", receive)
    app.router.add_get("/-/healthy", healthy)
    return app


async def serve_receiver(
    rt: Runtime, host: str, port: int, token: str | None, ready: Callable[[str], None]
) -> None:
    """Serve until cancelled; ``ready`` gets the webhook's URL once the port is bound."""
    check_receiver_bind(host, token)
    await serve_app(build_receiver(rt, token), host, port, "/alertmanager", ready)


@contextmanager
def running_receiver(rt: Runtime, host: str = "127.0.0.1") -> Iterator[str]:
    """The receiver on a free port of ``host``, served from a thread until the block ends
    (the demo's, a test's); yields the webhook's URL."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    bound: list[str] = []
    up = threading.Event()
    stop = asyncio.Event()

    def ready(url: str) -> None:
        bound.append(url)
        up.set()

    async def serve_until_stopped() -> None:
        served = asyncio.ensure_future(serve_receiver(rt, host, 0, None, ready))
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait([served, stopped], return_when=asyncio.FIRST_COMPLETED)
        served.cancel()
        stopped.cancel()
        with suppress(asyncio.CancelledError):
            await served

    task = asyncio.run_coroutine_threadsafe(serve_until_stopped(), loop)
    try:
        while not up.wait(0.05):
            if task.done():
                task.result()  # raises what it failed with
        yield bound[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        task.result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
