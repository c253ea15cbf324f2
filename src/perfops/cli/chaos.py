"""`perfops chaos proxy`: the LLM-aware fault proxy (Toxiproxy's toxics plus per-request HTTP
and SSE faults), with its control API."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from perfops.chaos import ProxyServer

app = typer.Typer(
    help="SLO-guarded chaos experiments with guaranteed rollback, rollback drills, game days, "
    "and the LLM-aware fault proxy.",
    no_args_is_help=True,
)


@app.callback()
def chaos() -> None:
    """Chaos experiments on inference services."""


@app.command("proxy")
def proxy(
    upstream: Annotated[
        str, typer.Option(help="HOST:PORT every connection is forwarded to", show_default=False)
    ],
    listen: Annotated[
        str,
        typer.Option(
            help="HOST:PORT to accept connections on (port 0: any free one; non-loopback "
            "needs --token)",
            show_default=False,
        ),
    ],
    name: Annotated[str, typer.Option(help="proxy name in the control API")] = "proxy",
    api: Annotated[
        str, typer.Option(help="HOST:PORT of the Toxiproxy-like control API")
    ] = "127.0.0.1:8474",
    toxic: Annotated[
        list[str] | None,
        typer.Option(
            "--toxic",
            help="a toxic from the start, KIND:key=value,... e.g. latency:latency=100,jitter=10 "
            "or http_error:status=429,rate=0.1,retry_after=2 (repeatable)",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed for toxicity, rates and jitter")] = 0,
    token: Annotated[
        str | None,
        typer.Option(envvar="PERFOPS_PROXY_TOKEN", help="Bearer token the control API requires"),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(min=0, help="stop after this many seconds")
    ] = None,
) -> None:
    """Forward LISTEN to UPSTREAM with faults, until Ctrl-C (or --duration)."""
    from perfops.chaos import ProxyServer, parse_toxic, parse_toxic_arg

    toxics = [parse_toxic(parse_toxic_arg(t)) for t in toxic or []]  # fail before listening
    server = ProxyServer(api=api, token=token, seed=seed)
    _run(_serve(server, name, listen, upstream, [t.model_dump() for t in toxics], duration))


def _run(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        asyncio.run(main)
    else:
        uvloop.run(main)


async def _serve(
    server: ProxyServer,
    name: str,
    listen: str,
    upstream: str,
    toxics: list[dict[str, object]],
    duration: float | None,
) -> None:
    await server.start()
    try:
        proxy = await server.create_proxy(name, listen=listen, upstream=upstream)
        for spec in toxics:
            proxy.add_toxic(spec)
        typer.echo(f"perfops chaos proxy: {listen} -> {upstream} as {name!r}")
        typer.echo(f"  listening  {proxy.as_json()['listen']}")
        typer.echo(f"  control    {server.url}  (GET /proxies, POST /proxies/{name}/toxics)")
        for t in proxy.toxics.values():
            typer.echo(f"  toxic      {t.name} ({t.kind})")
        typer.echo(
            "Ctrl-C to stop" + (f" (stops by itself after {duration:g} s)" if duration else "")
        )
        await _until_signal(duration)
    finally:
        await server.stop()
        typer.echo("perfops chaos proxy: stopped")


async def _until_signal(duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(sig, stop.set)  # only the main thread may
            handled.append(sig)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=duration)
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
