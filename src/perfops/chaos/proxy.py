"""A Toxiproxy-style TCP proxy that also understands HTTP/1.1 and SSE, for LLM serving.

A :class:`Proxy` listens on one address and forwards every connection to one upstream
``host:port``. Toxics (see :mod:`perfops.chaos.toxics`) are added and removed while it runs;
TCP toxics attach to live connections at once, HTTP toxics apply from the next request of
every connection, keep-alive ones included. Every toxic may carry ``expires_in`` and is then
removed by itself. The proxy binds 127.0.0.1 unless given a token.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from perfops._internal.net import is_loopback
from perfops.chaos._conn import ClientSide, Connection
from perfops.chaos._plan import Plan
from perfops.chaos.toxics import HttpToxicSpec, InvalidToxic, Toxic, ToxicSpec, parse_toxic
from perfops.errors import UsageError

__all__ = [
    "NoSuchToxic",
    "Proxy",
    "ProxyApiError",
    "ProxyStats",
    "ToxicExists",
    "format_address",
    "parse_address",
]


def parse_address(text: str, *, what: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``"host:port"``, ``"[::1]:port"`` or ``":port"`` -> (host, port); port 0 is allowed."""
    host, colon, port = text.strip().rpartition(":")
    if not colon:
        raise UsageError(
            f"{what} {text!r} has no port", hint="write HOST:PORT, e.g. 127.0.0.1:8000"
        )
    host = host.strip("[]") or default_host
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise UsageError(f"{what} {text!r}: the port must be a number from 0 to 65535")
    return host, number


@dataclass
class ProxyStats:
    connections_total: int = 0
    connections_active: int = 0
    upstream_errors: int = 0
    requests_total: int = 0
    responses_injected: int = 0
    bytes_upstream: int = 0  # client to server, written to the server
    bytes_downstream: int = 0  # server to client, written to the client


@dataclass(eq=False)
class Proxy:
    """One listening address forwarding to one upstream, with its toxics."""

    name: str
    listen: tuple[str, int]
    upstream: tuple[str, int]
    seed: int = 0
    token: str | None = None
    http_tracking: bool = True  # False: plain TCP, HTTP toxics have no effect
    enabled: bool = True
    toxics: dict[str, Toxic] = field(default_factory=dict)
    stats: ProxyStats = field(default_factory=ProxyStats)

    def __post_init__(self) -> None:
        if not is_loopback(self.listen[0]) and not self.token:
            raise UsageError(
                f"listening on {self.listen[0]} exposes the proxy (and {self.upstream[0]}) "
                "beyond this machine",
                hint="pass --token (the control API then requires it as a Bearer token)",
            )
        self.rng = random.Random(self.seed)
        self.connections: set[Connection] = set()
        self.http_toxics: list[Toxic] = []
        self._server: asyncio.Server | None = None
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        self._order = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (when enabled); the port chosen for port 0 is written back to ``listen``."""
        self._loop = asyncio.get_running_loop()
        if not self.enabled or self._server is not None:
            return
        host, port = self.listen
        try:
            self._server = await self.loop.create_server(
                lambda: ClientSide(self), host, port, reuse_address=True
            )
        except OSError as exc:
            raise UsageError(
                f"proxy {self.name}: cannot listen on {host}:{port}: {exc.strerror}",
                hint="pick another listen port",
            ) from None
        self.listen = (host, int(self._server.sockets[0].getsockname()[1]))

    async def stop(self) -> None:
        """Stop listening and close every connection; the toxics stay."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self.connections):
            conn.close()
        if server is not None:
            await server.wait_closed()

    async def set_enabled(self, enabled: bool) -> None:
        """Disabled: not listening, every connection closed (Toxiproxy's ``enabled: false``)."""
        self.enabled = enabled
        await (self.start() if enabled else self.stop())

    def close(self) -> None:
        """Forget every toxic and its timer (the proxy is being deleted)."""
        for handle in self._expiry.values():
            handle.cancel()
        self._expiry.clear()

    # -- connections --------------------------------------------------------------------------

    def adopt(self, transport: asyncio.Transport) -> Connection:
        conn = Connection(self, transport)
        self.connections.add(conn)
        self.stats.connections_total += 1
        self.loop.create_task(conn.connect())
        return conn

    def forget(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self.stats.bytes_upstream += conn.up.bytes
            self.stats.bytes_downstream += conn.down.bytes

    def plan(self, method: bytes, path: bytes) -> Plan | None:
        """Draw the HTTP toxics for one request (called at each complete request head)."""
        self.stats.requests_total += 1
        if not self.http_toxics:
            return None
        plan: Plan | None = None
        text = path.decode("latin-1")
        for toxic in self.http_toxics:
            spec = toxic.spec
            assert isinstance(spec, HttpToxicSpec)
            if spec.path is not None and not text.startswith(spec.path):
                continue
            if self.rng.random() < spec.rate:
                toxic.applied += 1
                plan = plan or Plan()
                plan.add(toxic)
        if plan is not None and plan.error is not None:
            self.stats.responses_injected += 1
        return plan

    # -- toxics -------------------------------------------------------------------------------

    def add_toxic(self, data: object) -> Toxic:
        """Validate and add a toxic; raises InvalidToxic (bad input) or ToxicExists."""
        spec = parse_toxic(data)
        if spec.name in self.toxics:
            raise ToxicExists(f"proxy {self.name} already has a toxic named {spec.name!r}")
        self._order += 1
        return self._install(spec, self._order)

    def update_toxic(self, name: str, changes: object) -> Toxic:
        """Change some fields of a toxic (its kind and name stay); the expiry restarts when
        ``expires_in`` is given."""
        old = self.toxic(name)
        if not isinstance(changes, dict):
            raise InvalidToxic("the changes to a toxic are a JSON object")
        for key in ("kind", "type", "name"):
            if key in changes and changes[key] != getattr(
                old.spec, key if key != "type" else "kind"
            ):
                raise InvalidToxic(f"a toxic's {key} cannot change", field=key)
        fields = old.spec.model_dump(exclude_defaults=False)
        if "expires_in" not in changes and old.expires_at is not None:
            fields["expires_in"] = max(1e-3, old.expires_at - self.loop.time())
        spec = parse_toxic({**fields, **changes})
        self._uninstall(old)
        return self._install(spec, old.order)

    def remove_toxic(self, name: str) -> Toxic:
        toxic = self.toxic(name)
        self._uninstall(toxic)
        return toxic

    def reset(self) -> None:
        for toxic in list(self.toxics.values()):
            self._uninstall(toxic)

    def toxic(self, name: str) -> Toxic:
        try:
            return self.toxics[name]
        except KeyError:
            raise NoSuchToxic(
                f"proxy {self.name} has no toxic {name!r}",
                hint=f"toxics: {', '.join(self.toxics) or 'none'}",
            ) from None

    def _install(self, spec: ToxicSpec, order: int) -> Toxic:
        now = self.loop.time()
        expires = None if spec.expires_in is None else now + spec.expires_in
        toxic = Toxic(spec, order, now, expires)
        self.toxics[spec.name] = toxic
        self.toxics = dict(sorted(self.toxics.items(), key=lambda kv: kv[1].order))
        if toxic.is_http:
            self.http_toxics = [t for t in self.toxics.values() if t.is_http]
        else:
            for conn in list(self.connections):
                conn.attach(toxic)
        if expires is not None:
            self._expiry[spec.name] = self.loop.call_at(expires, self._expire, toxic)
        return toxic

    def _uninstall(self, toxic: Toxic) -> None:
        toxic.removed = True
        self.toxics.pop(toxic.name, None)
        handle = self._expiry.pop(toxic.name, None)
        if handle is not None:
            handle.cancel()
        if toxic.is_http:
            self.http_toxics = [t for t in self.toxics.values() if t.is_http]
        else:
            for conn in list(self.connections):
                conn.detach(toxic)

    def _expire(self, toxic: Toxic) -> None:
        if self.toxics.get(toxic.name) is toxic:
            self._expiry.pop(toxic.name, None)
            self._uninstall(toxic)

    # -- views --------------------------------------------------------------------------------

    def current_stats(self) -> ProxyStats:
        stats = ProxyStats(**asdict(self.stats))
        stats.connections_active = len(self.connections)
        for conn in self.connections:
            stats.bytes_upstream += conn.up.bytes
            stats.bytes_downstream += conn.down.bytes
        return stats

    def as_json(self) -> dict[str, Any]:
        now = self.loop.time() if self._loop is not None else time.monotonic()
        return {
            "name": self.name,
            "listen": format_address(self.listen),
            "upstream": format_address(self.upstream),
            "enabled": self.enabled,
            "toxics": [t.as_json(now) for t in self.toxics.values()],
            "stats": asdict(self.current_stats()),
        }


def format_address(addr: tuple[str, int]) -> str:
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ProxyApiError(UsageError):
    """A control API request refused: ``status`` is its HTTP status, ``field`` the bad field."""

    def __init__(
        self, status: int, message: str, field: str | None = None, *, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.field = field


class ToxicExists(ProxyApiError):
    """A toxic of that name is already on the proxy."""

    def __init__(self, message: str) -> None:
        super().__init__(409, message, "name")


class NoSuchToxic(ProxyApiError):
    """No toxic of that name on the proxy."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(404, message, hint=hint)
