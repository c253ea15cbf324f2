"""`perfops dashboard`: serve the workspace's live page until Ctrl-C."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path
from typing import Annotated

import typer

from perfops.cli._context import runtime
from perfops.cli._terminal import echo
from perfops.errors import UsageError


def _token(var: str | None) -> str | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise UsageError(
            f"--token-env {var}: the variable is not set or empty",
            hint=f"export {var}=<a long random string> first",
        )
    return value


def dashboard(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="bind address; anything but loopback needs --token-env")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port (0: a free one)")] = 8080,
    token_env: Annotated[
        str | None,
        typer.Option("--token-env", help="environment variable holding the access token"),
    ] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="open it in a browser")] = False,
    grafana_out: Annotated[
        Path | None,
        typer.Option(
            "--grafana-out",
            help="write the same page as a Grafana dashboard JSON into this folder and exit",
        ),
    ] = None,
    datasource_uid: Annotated[
        str, typer.Option(help="with --grafana-out: the Prometheus datasource uid")
    ] = "${datasource}",
) -> None:
    """Serve the composite dashboard (GPU, engine, SLOs, cost, events) of the workspace's lake,
    read-only, until Ctrl-C; or, with --grafana-out, write its Grafana twin and exit."""
    import asyncio

    from perfops.web import check_bind, serve

    if grafana_out is not None:
        _grafana(ctx, grafana_out, datasource_uid)
        return
    token = _token(token_env)
    check_bind(host, token)
    rt = runtime(ctx)
    if not rt.store.root.exists():
        raise UsageError(f"no lake at {rt.store.root}", hint="run `perfops collect` first")

    def ready(url: str) -> None:
        echo(f"perfops dashboard of {rt.store.root} at {url} (Ctrl-C stops it)")
        if token:
            echo(f"open it once with {url}?token=... (the value of ${token_env})")
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    with suppress(KeyboardInterrupt):  # a second Ctrl-C while stopping
        asyncio.run(serve(rt, host, port, token, ready))
    echo("dashboard stopped")


def _grafana(ctx: typer.Context, out: Path, datasource_uid: str) -> None:
    """Write the Grafana twin of the page; it reads the rules `perfops slo rules` writes."""
    from perfops.app import TWIN_UID, render_twin_json

    rt = runtime(ctx)
    text = render_twin_json(rt, datasource_uid=datasource_uid)
    try:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{TWIN_UID}.json"
        path.write_text(text)
    except OSError as exc:
        raise UsageError(
            f"--grafana-out {out}: {exc.strerror}", hint="give a folder you can write"
        ) from None
    typer.echo(f"wrote {path}")
    typer.echo(
        "it reads the SLO and cost recording rules: load the output of "
        "`perfops slo rules --out DIR` into the same Prometheus"
    )
