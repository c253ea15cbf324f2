"""`perfops load run|sweep|capacity|compare`: open-loop load tests against OpenAI-compatible
endpoints, and two runs compared.

Each command declares only its own options; the shared ones (target, workload, scraping,
output) come from `_load_options`, and what is shown from `_load_view`; `compare` lives in
`_load_compare`."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from perfops.cli._bounds import COUNT, GPUS, MAX_REQUESTS, PREFIX_TOKENS, RATE, SPEED, Bounded
from perfops.cli._context import warn
from perfops.cli._load_compare import compare
from perfops.cli._load_options import LoadCommon, Slo, load_command, load_options, with_workers
from perfops.cli._load_verdict import check_capacity, check_run, check_sweep
from perfops.cli._load_view import (
    capacity_budget,
    emit,
    print_capacity,
    print_run,
    print_step,
    print_table,
    row,
    with_live,
)
from perfops.errors import UsageError

app = typer.Typer(
    help="Open-loop LLM load tests: TTFT, TPOT, ITL, goodput, capacity at SLO.",
    no_args_is_help=True,
)
T = TypeVar("T")
app.command("compare")(compare)

MaxRequests = Annotated[
    int | None, typer.Option(help="stop after this many requests", parser=MAX_REQUESTS)
]


def _run_async(factory: Callable[[asyncio.Event], Coroutine[Any, Any, T]]) -> T:
    """Run with Ctrl-C/SIGTERM setting the stop event: the run ends cleanly and keeps what it
    measured."""

    async def main() -> T:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await factory(stop)

    try:
        import uvloop

        return uvloop.run(main())
    except ImportError:
        return asyncio.run(main())


@load_command(app, "run", duration="30s")
def run(
    ctx: typer.Context,
    common: LoadCommon,
    rate: Annotated[
        float | None,
        typer.Option(
            help="requests per second of poisson, constant and gamma arrivals [default: 5]",
            parser=RATE,
        ),
    ] = None,
    max_requests: MaxRequests = None,
    prefix_tokens: Annotated[
        int, typer.Option(help="shared prefix length", parser=PREFIX_TOKENS)
    ] = 0,
    prefix_groups: Annotated[
        int,
        typer.Option(
            help="number of shared prefixes",
            parser=Bounded(1, 100_000, integer=True, why="each is generated up front"),
        ),
    ] = 1,
    turns: Annotated[
        int,
        typer.Option(
            help="turns per conversation",
            parser=Bounded(1, 1000, integer=True, why="each turn carries the ones before"),
        ),
    ] = 1,
    dataset: Annotated[Path | None, typer.Option(help="JSONL prompts or ShareGPT file")] = None,
    trace: Annotated[
        Path | None,
        typer.Option(help="replay a trace (Azure CSV, Mooncake JSONL) with its own timing"),
    ] = None,
    speed: Annotated[float, typer.Option(help="trace speed factor", parser=SPEED)] = 1.0,
    concurrency: Annotated[
        int | None,
        typer.Option(help="closed loop instead: this many users back to back", parser=COUNT),
    ] = None,
    max_in_flight: Annotated[
        int | None,
        typer.Option(
            help="client-side cap on requests in flight (waiting shows as lag)", parser=COUNT
        ),
    ] = None,
    slo: Slo = None,
    workers: Annotated[
        str,
        typer.Option(
            help="processes sharing the schedule: a number, or auto (one per "
            "~800 req/s, at most one per CPU)"
        ),
    ] = "1",
) -> None:
    """One open-loop load test (or closed loop with --concurrency)."""
    from perfops.app.load import describe_schedule, run_load

    rt, opts = load_options(
        ctx,
        common,
        rate=rate,
        slo=slo,
        max_requests=max_requests,
        concurrency=concurrency,
        trace=trace is not None,
    )
    workload = replace(
        opts.workload,
        prefix_tokens=prefix_tokens,
        prefix_groups=prefix_groups,
        turns=turns,
        dataset=dataset,
        trace=trace,
        speed=speed,
    )
    opts = with_workers(replace(opts, workload=workload, max_in_flight=max_in_flight), workers)
    mode = describe_schedule(opts) + (f", {opts.workers} workers" if opts.workers > 1 else "")
    result = _run_async(
        lambda stop: with_live(
            f"perfops load: {mode} -> {opts.target.base_url}",
            common.json_out == "-",
            lambda on: run_load(rt, opts, stop=stop, on_record=on),
        )
    )
    emit(
        common.json_out,
        {
            "run_id": result.run_id,
            "workers": opts.workers,
            "summary": result.summary.as_dict(),
            "server": result.server,
        },
    )
    if common.json_out != "-":
        print_run(f"perfops load ({mode})", result)
    if result.scrape_error:
        warn(f"the server's telemetry was not recorded in full: {result.scrape_error}")
    check_run(result.summary, opts.target.base_url)


def _values(text: str, option: str) -> list[float]:
    """The steps of a sweep: rates (--rates) or whole numbers of users (--concurrencies),
    each in range, at most 100 of them."""
    kind = COUNT if option == "--concurrencies" else RATE
    try:
        values = [float(kind(v)) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise UsageError(
            f"{option} {text[:60]!r}: {exc}", hint="a comma-separated list, e.g. 1,2,4,8"
        ) from None
    if not 1 <= len(values) <= 100:
        raise UsageError(f"{option}: give 1 to 100 steps", hint="e.g. 1,2,4,8")
    return values


@load_command(app, "sweep", duration="20s")
def sweep(
    ctx: typer.Context,
    common: LoadCommon,
    rates: Annotated[str | None, typer.Option(help="open-loop rates, e.g. 1,2,4,8")] = None,
    concurrencies: Annotated[
        str | None, typer.Option(help="closed-loop users instead, e.g. 1,4,16")
    ] = None,
    max_requests: MaxRequests = None,
    slo: Slo = None,
) -> None:
    """A load test per rate (or concurrency), with one table of the results."""
    from perfops.app.load import run_sweep

    if (rates is None) == (concurrencies is None):
        raise UsageError("give exactly one of --rates and --concurrencies")
    values = _values(rates or concurrencies or "", "--rates" if rates else "--concurrencies")
    rt, opts = load_options(
        ctx, common, rate=values[0], slo=slo, max_requests=max_requests, varies_rate="sweep"
    )
    if rates is None:
        opts = replace(opts, max_requests=1_000_000 if max_requests is None else max_requests)
    quiet = common.json_out == "-"
    steps = _run_async(
        lambda stop: run_sweep(
            rt,
            opts,
            values,
            concurrency=rates is None,
            stop=stop,
            on_step=None
            if quiet
            else lambda v, r: typer.echo(
                f"  {v:g}: {r.summary.completed} done, {r.summary.requests_per_s:.2f} req/s"
            ),
        )
    )
    label = "users" if rates is None else "req/s"
    emit(
        common.json_out,
        {
            "steps": [
                {"value": v, "run_id": r.run_id, "summary": r.summary.as_dict(), "server": r.server}
                for v, r in steps
            ]
        },
    )
    if not quiet:
        print_table(
            f"perfops load sweep ({label})",
            [row(f"{v:g} {label}", r) for v, r in steps],
            [f"runs stored in the lake: {', '.join(r.run_id for _, r in steps)}"],
        )
    check_sweep([r.summary for _, r in steps], opts.target.base_url)


@load_command(app, "capacity", duration="20s")
def capacity(
    ctx: typer.Context,
    common: LoadCommon,
    slo: Annotated[str, typer.Option(help="e.g. ttft_p99=500ms,tpot_p99=50ms")],
    start_rate: Annotated[float, typer.Option(help="first rate tried", parser=RATE)] = 1.0,
    max_rate: Annotated[float, typer.Option(help="highest rate tried", parser=RATE)] = 500.0,
    tolerance: Annotated[
        float,
        typer.Option(
            help="stop bisecting within this fraction",
            parser=Bounded(0, 1, low_open=True, high_open=True, why="a fraction of the rate"),
        ),
    ] = 0.1,
    max_runs: Annotated[
        int,
        typer.Option(
            help="at most this many runs",
            parser=Bounded(
                6, 200, integer=True, why="a search needs runs to bracket the rate and repeats"
            ),
        ),
    ] = 16,
    repeats: Annotated[
        int,
        typer.Option(
            help="runs (different seeds) at each bracketing rate",
            parser=Bounded(3, 20, integer=True, why="an interval needs at least 3 repeats"),
        ),
    ] = 3,
    gpus: Annotated[
        int | None,
        typer.Option(help="GPUs behind the endpoint (default: the service's count)", parser=GPUS),
    ] = None,
) -> None:
    """The capacity at the SLO as an interval, with a verdict on whether the runs support it."""
    from perfops.app.capacity import capacity_summary, run_capacity
    from perfops.loadgen.search import SearchSpec

    if start_rate > max_rate:
        raise UsageError(
            f"--start-rate {start_rate:g} is above --max-rate {max_rate:g}",
            hint="the search climbs from the start rate up to the maximum rate",
        )
    rt, opts = load_options(
        ctx, common, rate=start_rate, slo=slo, max_requests=1_000_000, varies_rate="capacity"
    )
    if not opts.slo:
        raise UsageError("--slo is empty", hint="e.g. --slo ttft_p99=500ms,tpot_p99=50ms")
    if gpus is not None:
        opts = replace(opts, gpus=gpus)
    try:
        spec = SearchSpec(start_rate, max_rate, tolerance, max_runs, repeats, opts.seed)
    except ValueError as exc:
        raise UsageError(f"capacity search: {exc}", hint="check --start-rate, --max-rate, "
                         "--max-runs and --repeats") from None  # fmt: skip
    quiet = common.json_out == "-"
    if not quiet:
        typer.echo(capacity_budget(spec, opts.duration_s))
    found, run_id = _run_async(
        lambda stop: run_capacity(rt, opts, spec, on_step=None if quiet else print_step)
    )
    emit(
        common.json_out,
        {"run_id": run_id, "slo": [str(t) for t in opts.slo], **capacity_summary(found, opts.gpus)},
    )
    if not quiet:
        print_capacity(run_id, found, opts)
    check_capacity(found, opts.target.base_url)
