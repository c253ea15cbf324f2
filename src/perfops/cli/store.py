"""`perfops store info|compact|repair`: what the lake holds, its upkeep, and its repair."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer

from perfops.cli._context import echo_json, runtime
from perfops.errors import CheckFailed

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
        typer.echo(f"{name}: {_compacted(stats, retention_hours)}")


def _compacted(stats: dict[str, Any], retention_hours: float) -> str:
    """What compaction did to one table, in words."""
    parts = []
    if "rollup_rows_written" in stats:
        days = stats["days_rebuilt"]
        parts.append(
            f"{stats['rollup_rows_written']:,} rollup rows written ({days} day(s) rebuilt)"
            if days
            else "rollups current"
        )
    merged = stats["files_merged"]
    parts.append(
        f"{merged} small files merged into {stats['merged_into']}" if merged else "nothing to merge"
    )
    parts.append(
        f"{stats['files_deleted']} unreferenced file(s) older than {retention_hours:g} h deleted"
    )
    return "; ".join(parts) + f" (version {stats['version']})"


@app.command("repair")
def repair(
    ctx: typer.Context,
    table: Annotated[
        str | None, typer.Option("--table", help="repair only this table (default: all)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what is damaged and what would be done")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Make tables with a damaged Delta log readable at their last good version.

    Damaged newest log entries are moved aside (with copies of their data files) to
    _repair/<UTC time>/ in the lake; nothing is deleted, and the rows they added are
    reported. Stop every writer (collect, load, chaos) first. Exit 1 when a table stays
    damaged (or, with --dry-run, when any is damaged)."""
    rt = runtime(ctx)
    reports = [asdict(r) for r in rt.store.repair(table, dry_run=dry_run)]
    if as_json:
        echo_json({"lake": str(rt.store.root), "dry_run": dry_run, "tables": reports})
    else:
        _print_repairs(reports, dry_run)
    still = [r["table"] for r in reports if r["problems"] and (dry_run or not r["repaired"])]
    if still:
        raise CheckFailed(
            f"lake table(s) {', '.join(still)} " + ("damaged" if dry_run else "still damaged"),
            hint="run `perfops store repair` without --dry-run"
            if dry_run
            else "restore the lake folder from a backup",
        )


def _print_repairs(reports: list[dict[str, Any]], dry_run: bool) -> None:
    damaged = [r for r in reports if r["problems"]]
    if not damaged:
        typer.echo(f"no damage found in {len(reports)} table(s)")
        return
    would = "would be " if dry_run else ""
    for r in damaged:
        typer.echo(f"{r['table']}: {'; '.join(r['problems'])}")
        for action in r["actions"]:
            typer.echo(f"  {action}")
        for lost in r["lost"]:
            typer.echo(f"  {would}lost from the table: {lost}")
        if r["backup"]:
            typer.echo(f"  backup {'would go to' if dry_run else 'in'} {r['backup']}")
        if r["repaired"] and r["opens_at"] is not None:
            typer.echo(f"  {'would open' if dry_run else 'opens'} at version {r['opens_at']}")
