"""`perfops dashboard`: the page, its static files and the JSON API on one aiohttp server.

Loopback by default; any other address needs a token. The server only reads the lake.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from importlib import resources

from aiohttp import web

from perfops._internal.net import is_loopback
from perfops.app import Runtime
from perfops.errors import UsageError
from perfops.web._guard import guard_middleware
from perfops.web.api import add_routes
from perfops.web.runbooks import add_runbook_routes

__all__ = ["DashboardThread", "build_app", "check_bind", "running_dashboard", "serve"]

_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".md": "text/markdown",
    ".LICENSE": "text/plain",
}


def check_bind(host: str, token: str | None, what: str = "the dashboard") -> None:
    """Refuse a non-loopback bind without a token (anyone on the network could reach it)."""
    if not is_loopback(host) and not token:
        raise UsageError(
            f"refusing to serve {what} on {host} without a token",
            hint="bind 127.0.0.1 (the default), or set a token in an environment variable and "
            "name it with --token-env VAR",
        )


def _static_files() -> dict[str, tuple[bytes, str]]:
    """Every file of the page, read once: name -> (bytes, content type)."""
    root = resources.files("perfops.web").joinpath("static")
    out: dict[str, tuple[bytes, str]] = {}
    for folder, prefix in ((root, ""), (root.joinpath("vendor"), "vendor/")):
        for item in folder.iterdir():
            if item.is_file():
                suffix = next((s for s in _TYPES if item.name.endswith(s)), None)
                if suffix:
                    out[prefix + item.name] = (item.read_bytes(), _TYPES[suffix])
    return out


def build_app(rt: Runtime, token: str | None) -> web.Application:
    """The dashboard application over ``rt``'s lake."""
    app = web.Application(middlewares=[guard_middleware(token)])
    files = _static_files()

    async def static(request: web.Request) -> web.Response:
        name = request.match_info.get("name", "index.html")
        if name not in files:
            raise web.HTTPNotFound()
        body, ctype = files[name]
        return web.Response(body=body, content_type=ctype, charset="utf-8")

    app.router.add_get("/", static)
    app.router.add_get("/static/{name:.+}", static)
    add_routes(app, rt)
    add_runbook_routes(app, rt)
    return app


async def serve(
    rt: Runtime, host: str, port: int, token: str | None, ready: Callable[[str], None]
) -> None:
    """Serve until cancelled; ``ready`` gets the page's URL once the port is bound."""
    check_bind(host, token)
    await serve_app(build_app(rt, token), host, port, "/", ready)


async def serve_app(
    app: web.Application, host: str, port: int, path: str, ready: Callable[[str], None]
) -> None:
    """Serve ``app`` on ``host:port`` until cancelled, or (in the main thread) until SIGINT or
    SIGTERM: Ctrl-C, or a supervisor stopping it; ``ready`` gets the URL of ``path`` once the
    port is bound. The signals are the loop's own handlers, whatever handler a library left
    installed. A page's live-update stream stays open: on stopping, open connections get 1 s,
    not aiohttp's default 60 s."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror}",
                hint="pick another --port (0 picks a free one)",
            ) from None
        server = site._server
        bound = int(server.sockets[0].getsockname()[1]) if server else port  # type: ignore[attr-defined]
        shown = f"[{host}]" if ":" in host else host
        ready(f"http://{shown}:{bound}{path}")
        await _until_stopped()
    finally:
        await runner.cleanup()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    caught: list[signal.Signals] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
                caught.append(sig)
    try:
        await stop.wait()
    finally:
        for sig in caught:
            loop.remove_signal_handler(sig)


class DashboardThread:
    """The dashboard served from a thread (for tests, the demo's screenshot, benchmarks)."""

    def __init__(self, rt: Runtime, host: str = "127.0.0.1", token: str | None = None) -> None:
        check_bind(host, token)
        self.rt, self.host, self.token = rt, host, token
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _start(self) -> None:
        self._runner = web.AppRunner(build_app(self.rt, self.token), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


@contextmanager
def running_dashboard(
    rt: Runtime, host: str = "127.0.0.1", token: str | None = None
) -> Iterator[DashboardThread]:
    """The dashboard on a free port of ``host`` until the block ends."""
    dash = DashboardThread(rt, host, token)
    thread = threading.Thread(target=dash.loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(dash._start(), dash.loop).result(30)
        yield dash
    finally:
        if dash._runner is not None:
            asyncio.run_coroutine_threadsafe(dash._runner.cleanup(), dash.loop).result(30)
        dash.loop.call_soon_threadsafe(dash.loop.stop)
        thread.join(10)
        dash.loop.close()
