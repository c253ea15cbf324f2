"""Drive a fault proxy from Python: :class:`ProxyClient` speaks the control API (standard
library only, synchronous), :func:`running_proxy` runs proxies in a background thread."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Self, TypeVar
from urllib.parse import quote

from perfops._internal import strict_json
from perfops.chaos.proxy import ProxyApiError, format_address
from perfops.chaos.proxy_api import ProxyServer

__all__ = ["ProxyClient", "ProxyThread", "running_proxy"]

T = TypeVar("T")


class ProxyClient:
    """The control API of a running proxy (``perfops chaos proxy`` or :func:`running_proxy`).

    Every method raises :class:`ProxyApiError` (status, message, field) when refused."""

    def __init__(
        self, url: str = "http://127.0.0.1:8474", *, token: str | None = None, timeout: float = 10
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _call(self, method: str, path: str, body: object = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else strict_json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            try:
                problem = json.loads(err.read())
            except ValueError:
                problem = {}
            raise ProxyApiError(
                err.code, str(problem.get("error") or err.reason), problem.get("field")
            ) from None
        except urllib.error.URLError as err:
            raise ProxyApiError(
                0, f"cannot reach the proxy API at {self.url}: {err.reason}"
            ) from None
        return json.loads(raw) if raw else None

    # -- proxies ------------------------------------------------------------------------------

    def proxies(self) -> dict[str, dict[str, Any]]:
        return dict(self._call("GET", "/proxies"))

    def create_proxy(
        self, name: str, *, upstream: str, listen: str = "127.0.0.1:0", enabled: bool = True
    ) -> dict[str, Any]:
        body = {"name": name, "upstream": upstream, "listen": listen, "enabled": enabled}
        return dict(self._call("POST", "/proxies", body))

    def proxy(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/proxies/{quote(name)}"))

    def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        return dict(self._call("PATCH", f"/proxies/{quote(name)}", {"enabled": enabled}))

    def delete_proxy(self, name: str) -> None:
        self._call("DELETE", f"/proxies/{quote(name)}")

    # -- toxics -------------------------------------------------------------------------------

    def toxics(self, proxy: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/proxies/{quote(proxy)}/toxics"))

    def add_toxic(self, proxy: str, kind: str, **fields: Any) -> dict[str, Any]:
        """Add a toxic: ``add_toxic("llm", "latency", latency=100, expires_in="30s")``."""
        return dict(self._call("POST", f"/proxies/{quote(proxy)}/toxics", {"kind": kind, **fields}))

    def update_toxic(self, proxy: str, name: str, **fields: Any) -> dict[str, Any]:
        path = f"/proxies/{quote(proxy)}/toxics/{quote(name)}"
        return dict(self._call("PATCH", path, fields))

    def toxic(self, proxy: str, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/proxies/{quote(proxy)}/toxics/{quote(name)}"))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{quote(proxy)}/toxics/{quote(name)}")

    def reset(self) -> None:
        """Remove every toxic of every proxy and enable every proxy."""
        self._call("POST", "/reset")

    def stats(self) -> dict[str, dict[str, int]]:
        return dict(self._call("GET", "/stats"))


class ProxyThread:
    """A :class:`ProxyServer` serving from its own event loop in a daemon thread."""

    def __init__(self, server: ProxyServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, daemon=True, name="perfops-proxy"
        )
        self.client = ProxyClient(server.url, token=server.token)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the proxy's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> Self:
        self.thread.start()
        try:
            self.call(self.server.start())
        except BaseException:
            self._close()
            raise
        self.client = ProxyClient(self.server.url, token=self.server.token)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self.server.stop())
        finally:
            self._close()

    def _close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def address(self, name: str = "proxy") -> tuple[str, int]:
        """(host, port) a proxy listens on."""
        return self.server.proxy(name).listen

    def url(self, name: str = "proxy", path: str = "") -> str:
        """``http://HOST:PORT`` of a proxy, plus ``path``."""
        return f"http://{format_address(self.address(name))}{path}"


@contextmanager
def running_proxy(
    upstream: str | None = None,
    *,
    name: str = "proxy",
    listen: str = "127.0.0.1:0",
    api: str = "127.0.0.1:0",
    seed: int = 0,
    toxics: Sequence[Mapping[str, Any]] = (),
) -> Iterator[ProxyThread]:
    """Proxies on 127.0.0.1 for the duration of the block; with ``upstream``, one proxy
    ``name`` to it, carrying ``toxics`` from the start."""
    with ProxyThread(ProxyServer(api=api, seed=seed)) as running:
        if upstream is not None:
            running.client.create_proxy(name, upstream=upstream, listen=listen)
            for toxic in toxics:
                fields = dict(toxic)
                running.client.add_toxic(name, fields.pop("kind"), **fields)
        yield running
