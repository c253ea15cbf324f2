"""`perfops store info|compact`: what the lake holds, and its upkeep."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from perfops.cli._context import echo_json, runtime

if TYPE_CHECKING:
    from perfops.app import Runtime

app = typer.Typer(
    help="Inspect and maintain the lake (Delta tables under the workspace).", no_args_is_help=True
)


def _when(ns: int | None) -> str:
    if ns is None:
        return "-"
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)


@app.command("info")
def info(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Tables, rows, files, bytes and time range of the lake."""
    rt = runtime(ctx)
    if as_json:
        tables = rt.store.info()
        echo_json({"lake": str(rt.store.root), "tables": [asdict(t) for t in tables]})
        return
    print_info(rt)


def print_info(rt: Runtime) -> None:
    """Render the lake's tables as a table on the terminal."""
    from rich.console import Console
    from rich.table import Table

    tables = rt.store.info()
    table = Table(title=f"lake {rt.store.root}", title_justify="left")
    for col in ("table", "rows", "files", "bytes", "version", "from (UTC)", "to (UTC)"):
        table.add_column(
            col, justify="right" if col in {"rows", "files", "bytes", "version"} else "left"
        )
    for t in tables:
        table.add_row(
            t.name,
            f"{t.rows:,}",
            str(t.files),
            _size(t.bytes),
            str(t.version),
            _when(t.first_ns),
            _when(t.last_ns),
        )
    Console().print(table)


@app.command("compact")
def compact(
    ctx: typer.Context,
    retention_hours: Annotated[
        float,
        typer.Option(
            "--retention-hours",
            min=0,
            help="delete unreferenced files older than this (0 may break readers of old snapshots)",
        ),
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Roll samples up to 1-minute rows, merge small files, checkpoint, vacuum."""
    rt = runtime(ctx)
    report = rt.store.compact(retention_hours)
    if as_json:
        echo_json(report)
        return
    for name, stats in report.items():
        parts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in stats.items())
        typer.echo(f"{name}: {parts}")
