"""The fleet's listening ports: one aiohttp site per name (front, replica-N, dcgm), the port
each got, and the closing and reopening of a replica's port while a crash fault holds it down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiohttp import web

from perfops.errors import UsageError
from perfops.sim.realtime import Replica

__all__ = ["Listeners"]


class Listeners:
    def __init__(self, host: str) -> None:
        self.host = host
        self.ports: dict[str, int] = {}
        self._runners: list[web.AppRunner] = []
        self._sites: dict[str, web.TCPSite] = {}
        self._closed: set[str] = set()  # replica sites closed by a crash fault
        self._sync = asyncio.Lock()

    async def listen(self, name: str, app: web.Application, port: int) -> None:
        """Serve ``app`` on ``port`` (0: any free one) under ``name``."""
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise UsageError(
                f"cannot listen on {self.host}:{port} for {name}: {exc.strerror}",
                hint="pick another --port",
            ) from None
        self._runners.append(runner)
        self._sites[name] = site
        server = site._server  # the bound socket tells the port chosen for port 0
        sockets = getattr(server, "sockets", None) or []
        self.ports[name] = sockets[0].getsockname()[1] if sockets else port

    def url(self, name: str) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.ports[name]}"

    async def close(self) -> None:
        for runner in self._runners:
            await runner.cleanup()

    async def sync(self, replicas: Sequence[Replica]) -> None:
        """Close the port of each crashed replica; reopen it once it restarts. One sync at a
        time, so a port is never closed or reopened twice."""
        async with self._sync:
            for r in replicas:
                name = f"replica-{r.index}"
                site = self._sites.get(name)
                if site is None:
                    continue
                listening = name not in self._closed
                if r.down and listening:
                    self._closed.add(name)
                    await site.stop()
                elif not r.down and not listening:
                    fresh = web.TCPSite(site._runner, self.host, self.ports[name],
                                        reuse_address=True)  # fmt: skip
                    await fresh.start()
                    self._sites[name] = fresh
                    self._closed.discard(name)
