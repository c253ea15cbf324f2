"""`perfops sim`: run the simulated GPU inference fleet; `perfops sim run-workload`: the same
model in virtual time over a workload file."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from perfops.cli._bounds import PORT, SEED, SPEED, Bounded, port_block

if TYPE_CHECKING:
    from perfops.config import Service

MAX_REPLICAS = 64  # one port and one engine loop each, in one process

app = typer.Typer(
    help="A simulated GPU inference fleet speaking the OpenAI API, with vLLM's and "
    "dcgm-exporter's metrics.",
    invoke_without_command=True,
)


@app.callback()
def sim(
    ctx: typer.Context,
    replicas: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_REPLICAS,
            help="engine replicas (default: the first service's GPU count / --tp "
            "in perfops.yaml, else 2)",
        ),
    ] = None,
    gpu: Annotated[
        str | None, typer.Option(help="GPU profile (default: from perfops.yaml, else H100-SXM)")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="model (default: from perfops.yaml, else llama-3.1-8b)")
    ] = None,
    tensor_parallel: Annotated[int, typer.Option("--tp", min=1, max=8)] = 1,
    port: Annotated[
        int | None,
        typer.Option(
            help="front port; replicas take the next ports (default: the first service's endpoint "
            "port in perfops.yaml, else 8000; 0: any free ports)",
            parser=PORT,
        ),
    ] = None,
    dcgm_port: Annotated[int, typer.Option(help="dcgm-exporter port", parser=PORT)] = 9400,
    host: Annotated[
        str, typer.Option(help="bind address (non-loopback needs --token)")
    ] = "127.0.0.1",
    token: Annotated[
        str | None, typer.Option(envvar="PERFOPS_SIM_TOKEN", help="API key clients must send")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed for jitter and answers", parser=SEED)] = 0,
    max_num_seqs: Annotated[
        int,
        typer.Option(
            help="sequences a replica batches at once",
            parser=Bounded(1, 100_000, integer=True, why="vLLM's default is 256"),
        ),
    ] = 256,
    max_waiting: Annotated[
        int,
        typer.Option(
            help="queue length beyond which requests get 429",
            parser=Bounded(1, 1_000_000, integer=True, why="requests queued per replica"),
        ),
    ] = 1000,
    duration: Annotated[
        float | None,
        typer.Option(
            help="stop after this many seconds",
            parser=Bounded(0, 366 * 86400, low_open=True, unit=" s", why="a year at most"),
        ),
    ] = None,
) -> None:
    """Start the fleet on 127.0.0.1 and serve until Ctrl-C (or --duration)."""
    if ctx.invoked_subcommand is not None:
        return
    from perfops.sim import EngineConfig
    from perfops.sim.profiles import serving_profile
    from perfops.sim.server import Fleet, FleetOptions

    found = _service(ctx)
    if found is not None:
        gpu = gpu or found.gpu.type
        model = model or found.model
        replicas = replicas or _replicas_of(found, tensor_parallel)
        port = urlsplit(found.endpoint).port if port is None else port
    gpu, model = gpu or "H100-SXM", model or "llama-3.1-8b"
    port = 8000 if port is None else port  # 0 is a value: any free ports
    _check_ports(port, replicas or 2, dcgm_port)
    profile = serving_profile(gpu, model, tensor_parallel)
    options = FleetOptions(
        model_name=model,
        replicas=replicas or 2,
        host=host,
        port=port,
        dcgm_port=dcgm_port,
        seed=seed,
        token=token,
        engine=EngineConfig(max_num_seqs=max_num_seqs, max_waiting=max_waiting),
    )
    asyncio.run(_serve(Fleet(profile, options), duration))


def _replicas_of(svc: Service, tensor_parallel: int) -> int:
    """One replica per ``tensor_parallel`` GPUs the service declares, 64 at most."""
    from perfops.errors import UsageError

    count = max(1, svc.gpu.count // tensor_parallel)
    if count > MAX_REPLICAS:
        raise UsageError(
            f"service {svc.name!r} declares {svc.gpu.count:,} GPUs, {count:,} replicas at "
            f"--tp {tensor_parallel}; the simulator runs at most {MAX_REPLICAS}",
            hint="pass --replicas N (or a larger --tp)",
        )
    return count


def _check_ports(port: int, replicas: int, dcgm_port: int) -> None:
    """The front port and the replicas' ports after it all exist, and the DCGM port is none
    of them (port 0: every port ephemeral)."""
    from perfops.errors import UsageError

    port_block("--port", port, replicas + 1)
    if port and port <= dcgm_port <= port + replicas:
        raise UsageError(
            f"--dcgm-port {dcgm_port} is one of the fleet's ports {port}..{port + replicas} "
            f"(the front port, then one per replica)",
            hint=f"use --dcgm-port {port + replicas + 1} or a port below {port}",
        )


def _service(ctx: typer.Context) -> Service | None:
    """The first service of perfops.yaml, when there is a valid one."""
    import os

    from perfops.config import find_config, load_config
    from perfops.errors import ConfigError

    try:
        config = load_config(find_config((ctx.find_root().obj or {}).get("config"), os.environ))
    except ConfigError:
        return None
    return config.services[0] if config.services else None


async def _serve(fleet: object, duration: float | None) -> None:
    from perfops.sim.server import Fleet

    assert isinstance(fleet, Fleet)
    await fleet.start()
    opts = fleet.options
    typer.echo(
        f"perfops sim: {len(fleet.replicas)} x {fleet.profile.name} "
        f"({opts.model_name}), seed {opts.seed}"
    )
    for name, url in fleet.endpoints().items():
        typer.echo(f"  {name:<20} {url}")
    typer.echo("Ctrl-C to stop" + (f" (stops by itself after {duration:g} s)" if duration else ""))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=duration)
    except TimeoutError:
        pass
    finally:
        await fleet.stop()
        typer.echo("perfops sim: stopped")


@app.command("run-workload")
def run_workload(
    workload: Annotated[
        Path,
        typer.Argument(
            help="JSONL: one request a line with arrival_s, "
            "prompt_tokens, output_tokens; or an Azure LLM "
            "trace CSV"
        ),
    ],
    replicas: Annotated[int, typer.Option(min=1, max=MAX_REPLICAS)] = 1,
    gpu: Annotated[str, typer.Option()] = "H100-SXM",
    model: Annotated[str, typer.Option()] = "llama-3.1-8b",
    tensor_parallel: Annotated[int, typer.Option("--tp", min=1, max=8)] = 1,
    seed: Annotated[int, typer.Option(parser=SEED)] = 0,
    speed: Annotated[
        float, typer.Option(help="arrival-time speed factor (2 = twice as fast)", parser=SPEED)
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run a workload through the latency model in virtual time and print its latencies."""
    from perfops.cli._context import echo_json
    from perfops.sim.workload_file import read_workload, run_file

    requests = read_workload(workload, speed=speed)
    summary = run_file(
        requests,
        gpu=gpu,
        model=model,
        tensor_parallel=tensor_parallel,
        replicas=replicas,
        seed=seed,
    )
    if as_json:
        echo_json(summary)
        return
    _print_summary(summary)


def _print_summary(summary: dict[str, object]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"{summary['requests']} requests on {summary['deployment']}: "
        f"{summary['simulated_s']:.1f} simulated s in {summary['wall_s']:.2f} wall s"
    )
    table = Table("metric", "p50", "p90", "p99", "mean", title="latency (ms)", title_justify="left")
    for name, row in summary["latency_ms"].items():  # type: ignore[attr-defined]
        table.add_row(name, *(f"{row[k]:.1f}" for k in ("p50", "p90", "p99", "mean")))
    console.print(table)
    console.print(
        f"throughput: {summary['output_tokens_per_s']:.0f} output tok/s, "
        f"{summary['requests_per_s']:.2f} req/s; rejected: {summary['rejected']}"
    )
