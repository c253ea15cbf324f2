"""`perfops collect`: scrape the configured targets into the lake, with a live table;
`perfops collect import`: pull a range from a Prometheus-compatible server."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from perfops.cli._bounds import http_url
from perfops.cli._context import echo_json, positive_seconds, runtime, warn
from perfops.cli._terminal import rich_text
from perfops.errors import CheckFailed, Unreachable, UsageError

if TYPE_CHECKING:
    from rich.table import Table

    from perfops.app.collect import WriterStats
    from perfops.telemetry.runner import CollectRunner

MAX_IMPORT_POINTS = 10_000_000  # per series: a year at a 3 s step

app = typer.Typer(
    help="Scrape GPU, engine and business telemetry into the lake.", invoke_without_command=True
)


@app.callback()
def collect(
    ctx: typer.Context,
    duration: Annotated[
        str | None, typer.Option(help="stop after this long, e.g. 10m (default: until Ctrl-C)")
    ] = None,
    target: Annotated[
        list[str] | None,
        typer.Option("--target", "-t", help="collect only these targets (repeatable)"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="no live table; print a JSON summary at the end")
    ] = False,
) -> None:
    """Scrape every telemetry target and service /metrics URL of perfops.yaml into the lake."""
    if ctx.invoked_subcommand is not None:
        return
    from perfops.app.collect import LakeWriter, run_collect, targets_from_config

    seconds = None if duration is None else positive_seconds(duration, "--duration")
    rt = runtime(ctx)
    targets = targets_from_config(rt.config, target or ())
    writer = LakeWriter(rt.store)

    async def main() -> CollectRunner:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if as_json:
            return await run_collect(rt, targets, duration=seconds, stop=stop, writer=writer)
        from rich.live import Live

        with Live(_table(None, targets), refresh_per_second=2, transient=False) as live:
            done = await run_collect(
                rt,
                targets,
                duration=seconds,
                stop=stop,
                writer=writer,
                on_tick=lambda r: live.update(_table(r, targets, writer.stats())),
            )
            live.update(_table(done, targets, writer.stats(), final=True))
            return done

    runner = asyncio.run(main())
    lake = writer.stats()
    if lake.dropped_batches:
        warn(
            f"the lake fell behind: {lake.dropped_samples:,} samples of "
            f"{lake.dropped_batches:,} scrape(s) were dropped (at most "
            f"{writer.max_queued:,} samples wait for the lake)"
        )
    if as_json:
        health = {
            h.name: {
                "url": h.url,
                "up": h.up,
                "scrapes": h.scrapes,
                "failures": h.failures,
                "samples": h.samples_total,
                "last_error": h.last_error,
            }
            for h in runner.health.values()
        }
        echo_json({"lake": str(rt.store.root), "targets": health, "writer": lake.as_dict()})
    _check(runner)


def _check(runner: CollectRunner) -> None:
    """Exit 1 when every target failed every scrape it had; 3 when none of them ever accepted
    a connection (the collect could not happen). Some targets up is a success: the table and
    the JSON say which were down."""
    health = list(runner.health.values())
    down = [h for h in health if h.scrapes and h.failures == h.scrapes]
    if not health or len(down) < len(health):
        return
    why = "; ".join(f"{h.name}: {h.last_error}" for h in down)
    # the scraper words a refused or unresolvable connection "connection failed: ..."
    if all((h.last_error or "").startswith("connection failed") for h in down):
        raise Unreachable(
            f"collect: no target accepted a connection ({why})",
            hint="start the exporters, or check the target URLs in perfops.yaml",
        )
    raise CheckFailed(
        f"collect: every target was down ({why})",
        hint="the last error of each says why; `perfops collect -t NAME` retries one target",
    )


def _table(
    runner: CollectRunner | None,
    targets: Sequence[object],
    lake: WriterStats | None = None,
    final: bool = False,
) -> Table:
    from rich.table import Table
    from rich.text import Text

    title = "perfops collect: done" if final else "perfops collect (Ctrl-C to stop)"
    table = Table(title=title, title_justify="left")
    if lake is not None:
        table.caption = (
            f"lake: {lake.samples:,} samples in {lake.commits:,} commits, "
            f"{lake.queued_samples:,} waiting"
            + (f", {lake.dropped_samples:,} dropped" if lake.dropped_samples else "")
        )
        table.caption_justify = "left"
    for col in ("target", "state", "samples/s", "scrapes", "failures", "last error"):
        table.add_column(col, overflow="fold")
    if runner is None:
        for t in targets:
            table.add_row(rich_text(getattr(t, "name", "?")), "starting", "", "", "", "")
        return table
    for h in runner.health.values():
        state = (
            Text("up", "green")
            if h.up
            else Text("down", "red")
            if h.up is False
            else Text("pending", "yellow")
        )
        spec = next(t for t in runner.targets if t.name == h.name)
        rate = h.samples_last / spec.interval if h.up else 0.0
        table.add_row(
            rich_text(h.name),
            state,
            f"{rate:,.0f}",
            str(h.scrapes),
            str(h.failures),
            rich_text(h.last_error or "", "red"),
        )
    return table


@app.command("import")
def import_range(
    ctx: typer.Context,
    prometheus: Annotated[
        str,
        typer.Option(
            "--prometheus",
            help="base URL of a Prometheus-compatible API, e.g. http://prom:9090",
            parser=http_url,
        ),
    ],
    query: Annotated[
        list[str],
        typer.Option(
            "--query",
            "-q",
            help="a series selector, read raw with its scrape timestamps, or an expression "
            "stored under its --as name (repeatable)",
        ),
    ],
    start: Annotated[
        str, typer.Option(help="RFC 3339 time, Unix seconds, or a duration ago such as 7d")
    ],
    end: Annotated[
        str, typer.Option(help="RFC 3339, Unix seconds, 'now' or a duration ago")
    ] = "now",
    name: Annotated[
        list[str] | None,
        typer.Option(
            "--as",
            help="the metric name of each expression's result, in the order of the "
            "expressions (repeatable)",
        ),
    ] = None,
    step: Annotated[
        str, typer.Option(help="resolution of expressions, e.g. 15s (selectors are read raw)")
    ] = "15s",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import a time range into the lake; importing it again adds nothing twice (auth from
    PERFOPS_PROMETHEUS_TOKEN, or PERFOPS_PROMETHEUS_USER and PERFOPS_PROMETHEUS_PASSWORD)."""
    from perfops.app.imports import import_prometheus, plan_queries
    from perfops.telemetry.promql import parse_time

    rt = runtime(ctx)
    now = rt.clock.now_ns() / 1e9
    lo, hi = parse_time(start, now), parse_time(end, now)
    seconds = positive_seconds(step, "--step")
    if hi < lo:
        raise UsageError(f"--end {end!r} is before --start {start!r}")
    if any(not q.strip() for q in query):
        raise UsageError("an empty --query", hint="give PromQL, e.g. --query up")
    plan = plan_queries(query, name or [])
    if any(not q.raw for q in plan) and (hi - lo) / seconds > MAX_IMPORT_POINTS:
        raise UsageError(
            f"{(hi - lo) / seconds:,.0f} steps of {step} from --start to --end: more than "
            f"{MAX_IMPORT_POINTS:,} points per series",
            hint="raise --step or shorten the range",
        )
    report = asyncio.run(import_prometheus(rt, prometheus, plan, start=lo, end=hi, step=seconds))
    if as_json:
        echo_json(report)
        return
    typer.echo(
        f"imported {report['samples']:,} samples of {report['series']:,} series "
        f"({report['chunks']} request(s)) into {rt.store.root}"
        + (f"; {report['duplicates']:,} already in the lake" if report["duplicates"] else "")
    )
