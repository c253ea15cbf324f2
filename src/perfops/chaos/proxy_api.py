"""The control API of the fault proxy, shaped like Toxiproxy's (port 8474 by default).

    GET    /proxies                          every proxy, by name
    POST   /proxies                          {name, listen, upstream, enabled?} -> 201
    GET    /proxies/{name}                   one proxy, its toxics and counters
    PATCH  /proxies/{name}                   {enabled}
    DELETE /proxies/{name}                   204
    GET    /proxies/{name}/toxics            list
    POST   /proxies/{name}/toxics            {kind, name?, expires_in?, ...fields} -> 201
    GET    /proxies/{name}/toxics/{toxic}
    PATCH  /proxies/{name}/toxics/{toxic}    {...fields to change}
    DELETE /proxies/{name}/toxics/{toxic}    204
    POST   /reset                            every toxic removed, every proxy enabled -> 204
    GET    /stats                            counters per proxy, JSON
    GET    /metrics                          the same in Prometheus text format
    GET    /version

Errors are ``{"error": message, "status": code, "field": name-or-null}``: 400 for bad input
(naming the field), 404 for an unknown proxy or toxic, 409 for a name taken, 401 without the
token when one is set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from perfops import __version__
from perfops._internal import strict_json
from perfops._internal.net import is_loopback
from perfops.chaos.proxy import (
    Proxy,
    ProxyApiError,
    format_address,
    parse_address,
)
from perfops.chaos.toxics import InvalidToxic
from perfops.errors import UsageError

__all__ = ["ProxyServer"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def _json_response(data: Any, status: int = 200) -> web.Response:
    """``data`` as a strict JSON response (non-finite numbers as ``null``)."""
    return web.json_response(data, status=status, dumps=strict_json.dumps)


class ProxyServer:
    """Proxies and the control API, in one event loop."""

    def __init__(
        self, *, api: str = "127.0.0.1:8474", token: str | None = None, seed: int = 0
    ) -> None:
        self.api = parse_address(api, what="--api")
        if not is_loopback(self.api[0]) and not token:
            raise UsageError(
                f"binding the control API to {self.api[0]} exposes it beyond this machine",
                hint="pass --token (clients then send it as a Bearer token)",
            )
        self.token = token
        self.seed = seed
        self.proxies: dict[str, Proxy] = {}
        self._runner: web.AppRunner | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._errors])
        routes = [
            ("GET", "/proxies", self._list),
            ("POST", "/proxies", self._create),
            ("GET", "/proxies/{proxy}", self._get),
            ("PATCH", "/proxies/{proxy}", self._patch),
            ("POST", "/proxies/{proxy}", self._patch),  # Toxiproxy < 2.6
            ("DELETE", "/proxies/{proxy}", self._delete),
            ("GET", "/proxies/{proxy}/toxics", self._toxics),
            ("POST", "/proxies/{proxy}/toxics", self._add_toxic),
            ("GET", "/proxies/{proxy}/toxics/{toxic}", self._get_toxic),
            ("PATCH", "/proxies/{proxy}/toxics/{toxic}", self._patch_toxic),
            ("POST", "/proxies/{proxy}/toxics/{toxic}", self._patch_toxic),
            ("DELETE", "/proxies/{proxy}/toxics/{toxic}", self._remove_toxic),
            ("POST", "/reset", self._reset),
            ("GET", "/stats", self._stats),
            ("GET", "/metrics", self._metrics),
            ("GET", "/version", self._version),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        host, port = self.api
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise UsageError(
                f"cannot listen on {host}:{port} for the control API: {exc.strerror}",
                hint="pick another --api port",
            ) from None
        sockets = getattr(site._server, "sockets", None) or []
        self.api = (host, int(sockets[0].getsockname()[1]) if sockets else port)

    async def stop(self) -> None:
        for proxy in self.proxies.values():
            proxy.close()
            await proxy.stop()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://{format_address(self.api)}"

    # -- proxies from Python ------------------------------------------------------------------

    async def create_proxy(
        self, name: str, *, listen: str, upstream: str, enabled: bool = True
    ) -> Proxy:
        """Create and start a proxy; raises UsageError on a bad name or address."""
        if not _NAME.match(name):
            raise ProxyApiError(400, f"proxy name {name!r}: use 1-100 of A-Z a-z 0-9 _ . -", "name")
        if name in self.proxies:
            raise ProxyApiError(409, f"a proxy named {name!r} exists", "name")
        listen_at = _field(parse_address, listen, what="listen")
        upstream_at = _field(parse_address, upstream, what="upstream")
        if upstream_at[1] == 0:
            raise ProxyApiError(400, "upstream port 0 is not a port to connect to", "upstream")
        try:
            proxy = Proxy(
                name,
                listen_at,
                upstream_at,
                seed=self.seed + len(self.proxies),
                token=self.token,
                enabled=enabled,
            )
            await proxy.start()
        except ProxyApiError:
            raise
        except UsageError as exc:
            raise ProxyApiError(400, exc.message, "listen", hint=exc.hint) from None
        self.proxies[name] = proxy
        return proxy

    def proxy(self, name: str) -> Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            known = ", ".join(self.proxies) or "none"
            raise ProxyApiError(404, f"no proxy {name!r} (proxies: {known})") from None

    # -- HTTP ---------------------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return _problem(
                ProxyApiError(401, "missing or wrong token (send it as a Bearer token)")
            )
        try:
            return await handler(request)
        except ProxyApiError as exc:
            return _problem(exc)
        except InvalidToxic as exc:
            return _problem(ProxyApiError(400, str(exc), exc.field))
        except UsageError as exc:
            return _problem(ProxyApiError(400, str(exc)))

    async def _list(self, request: web.Request) -> web.StreamResponse:
        return _json_response({n: p.as_json() for n, p in self.proxies.items()})

    async def _create(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        unknown = set(body) - {"name", "listen", "upstream", "enabled"}
        if unknown:
            field = sorted(unknown)[0]
            raise ProxyApiError(
                400, f"unknown field {field!r} (fields: name, listen, upstream, enabled)", field
            )
        for key in ("name", "upstream"):
            if not isinstance(body.get(key), str):
                raise ProxyApiError(400, f"{key} is required, a string", key)
        listen = body.get("listen", "127.0.0.1:0")
        enabled = body.get("enabled", True)
        if not isinstance(listen, str):
            raise ProxyApiError(400, "listen is a string HOST:PORT", "listen")
        if not isinstance(enabled, bool):
            raise ProxyApiError(400, "enabled is true or false", "enabled")
        proxy = await self.create_proxy(
            body["name"], listen=listen, upstream=body["upstream"], enabled=enabled
        )
        return _json_response(proxy.as_json(), status=201)

    async def _get(self, request: web.Request) -> web.StreamResponse:
        return _json_response(self.proxy(request.match_info["proxy"]).as_json())

    async def _patch(self, request: web.Request) -> web.StreamResponse:
        proxy = self.proxy(request.match_info["proxy"])
        body = await _json(request)
        unknown = set(body) - {"enabled"}
        if unknown:
            field = sorted(unknown)[0]
            raise ProxyApiError(400, f"field {field!r} cannot change (only enabled can)", field)
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise ProxyApiError(400, "enabled is true or false", "enabled")
            await proxy.set_enabled(body["enabled"])
        return _json_response(proxy.as_json())

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        proxy = self.proxy(request.match_info["proxy"])
        del self.proxies[proxy.name]
        proxy.close()
        await proxy.stop()
        return web.Response(status=204)

    async def _toxics(self, request: web.Request) -> web.StreamResponse:
        proxy = self.proxy(request.match_info["proxy"])
        now = proxy.loop.time()
        return _json_response([t.as_json(now) for t in proxy.toxics.values()])

    async def _add_toxic(self, request: web.Request) -> web.StreamResponse:
        proxy = self.proxy(request.match_info["proxy"])
        toxic = proxy.add_toxic(await _json(request))
        return _json_response(toxic.as_json(proxy.loop.time()), status=201)

    async def _get_toxic(self, request: web.Request) -> web.StreamResponse:
        proxy = self.proxy(request.match_info["proxy"])
        toxic = proxy.toxic(request.match_info["toxic"])
        return _json_response(toxic.as_json(proxy.loop.time()))

    async def _patch_toxic(self, request: web.Request) -> web.StreamResponse:
        proxy = self.proxy(request.match_info["proxy"])
        toxic = proxy.update_toxic(request.match_info["toxic"], await _json(request))
        return _json_response(toxic.as_json(proxy.loop.time()))

    async def _remove_toxic(self, request: web.Request) -> web.StreamResponse:
        proxy = self.proxy(request.match_info["proxy"])
        proxy.remove_toxic(request.match_info["toxic"])
        return web.Response(status=204)

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        for proxy in self.proxies.values():
            proxy.reset()
            if not proxy.enabled:
                await proxy.set_enabled(True)
        return web.Response(status=204)

    async def _stats(self, request: web.Request) -> web.StreamResponse:
        return _json_response({n: asdict(p.current_stats()) for n, p in self.proxies.items()})

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=self.exposition(), content_type="text/plain")

    async def _version(self, request: web.Request) -> web.StreamResponse:
        return _json_response({"version": __version__, "api": "toxiproxy-like"})

    def exposition(self) -> str:
        """Prometheus text: one counter or gauge per stats field, labelled by proxy."""
        lines: list[str] = []
        stats = {n: asdict(p.current_stats()) for n, p in self.proxies.items()}
        fields = list(asdict(next(iter(self.proxies.values())).stats)) if self.proxies else []
        for key in fields:
            gauge = key == "connections_active"
            metric = f"perfops_proxy_{key.removesuffix('_total')}" + ("" if gauge else "_total")
            lines.append(f"# TYPE {metric} {'gauge' if gauge else 'counter'}")
            lines.extend(f'{metric}{{proxy="{n}"}} {s[key]}' for n, s in stats.items())
        return "\n".join(lines) + "\n"


def _field(parse: Callable[..., Any], value: str, *, what: str) -> Any:
    try:
        return parse(value, what=what)
    except UsageError as exc:
        raise ProxyApiError(400, str(exc), what) from None


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProxyApiError(400, "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ProxyApiError(400, f"the request body is a JSON object, got {type(body).__name__}")
    return body


def _problem(exc: ProxyApiError) -> web.Response:
    body = {"error": str(exc), "status": exc.status, "field": exc.field}
    return _json_response(body, status=exc.status)
