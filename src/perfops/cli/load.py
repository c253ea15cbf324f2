"""`perfops load run|sweep|capacity`: open-loop load tests against OpenAI-compatible endpoints."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from perfops.cli._context import warn
from perfops.cli.collect import _seconds
from perfops.errors import UsageError

if TYPE_CHECKING:
    from perfops.app.load import LoadOptions, LoadResult
    from perfops.app.runtime import Runtime
    from perfops.loadgen.records import RequestRecord

app = typer.Typer(
    help="Open-loop LLM load tests: TTFT, TPOT, ITL, goodput, capacity at SLO.",
    no_args_is_help=True,
)
T = TypeVar("T")

Url = Annotated[
    str | None, typer.Option(help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
]
Service = Annotated[str | None, typer.Option(help="a service of perfops.yaml instead of --url")]
Model = Annotated[
    str | None,
    typer.Option(help="model name (default: the service's, else the first of GET /v1/models)"),
]
Endpoint = Annotated[str, typer.Option(help="completions or chat")]
Rate = Annotated[float, typer.Option(help="requests per second (open loop)", min=0.001)]
Arrival = Annotated[
    str,
    typer.Option(
        help="poisson, constant, gamma:BURSTINESS, burst:N/2s, ramp:1..50, stages:30s@5,60s@20"
    ),
]
Duration = Annotated[str, typer.Option(help="how long to send, e.g. 60s, 5m")]
MaxRequests = Annotated[int | None, typer.Option(help="stop after this many requests")]
PromptTokens = Annotated[
    str, typer.Option(help="prompt length: 512, uniform:100,900, normal:512,64, lognormal:512,0.5")
]
MaxTokens = Annotated[str, typer.Option("--max-tokens", help="output length (same forms)")]
Slo = Annotated[str | None, typer.Option(help="e.g. ttft_p99=500ms,tpot_p99=50ms")]
JsonOut = Annotated[
    str | None,
    typer.Option("--json", help="write the result as JSON to this file ('-' for stdout)"),
]


def _run_async(ctx: typer.Context, factory: Callable[[asyncio.Event], Coroutine[Any, Any, T]]) -> T:
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


def _models(url: str, api_key: str | None) -> str:
    req = urllib.request.Request(
        url.rstrip("/") + "/models",
        headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            data = json.loads(resp.read())
        return str(data["data"][0]["id"])
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise UsageError(
            f"cannot list the models at {url}/models: {exc}", hint="pass --model, and check --url"
        ) from None


def _options(
    ctx: typer.Context,
    url: str | None,
    service: str | None,
    model: str | None,
    endpoint: str,
    rate: float,
    arrival: str,
    duration: str,
    max_requests: int | None,
    prompt_tokens: str,
    max_tokens: str,
    slo: str | None,
    **extra: Any,
) -> tuple[Runtime, LoadOptions]:
    """The load options from the command line (and perfops.yaml when --service is used);
    results go to the workspace's lake, or to ./.perfops/lake without a perfops.yaml."""
    from perfops.app.load import LoadOptions, WorkloadSource
    from perfops.loadgen.arrivals import parse_arrival
    from perfops.loadgen.client import Target
    from perfops.loadgen.slo import parse_slo
    from perfops.loadgen.workload import parse_length
    from perfops.telemetry.runner import TargetSpec

    rt = _maybe_runtime(ctx, required=service is not None)
    svc = rt.config.service(service) if rt and service else None
    base = url or (svc.endpoint if svc else None)
    if base is None:
        raise UsageError("no target: pass --url http://HOST:PORT/v1 or --service NAME")
    if endpoint not in ("completions", "chat"):
        raise UsageError(f"--endpoint {endpoint!r}", hint="completions or chat")
    key_env = extra.pop("api_key_env") or (svc.api_key_env if svc else None)
    api_key = os.environ.get(key_env) if key_env else os.environ.get("OPENAI_API_KEY")
    model = model or (svc.model if svc else None) or _models(base, api_key)
    seconds = _seconds(duration, "--duration") or 60.0
    closed = extra.pop("concurrency")
    scrape = tuple(
        TargetSpec(f"server-{i}", u, "vllm", 1.0, 2.0, {"service": svc.name} if svc else {})
        for i, u in enumerate(extra.pop("metrics") or (svc.metrics if svc else ()))
    )
    if svc is not None and rt is not None:  # and the GPUs behind it (dcgm-exporter, NVML)
        scrape += tuple(
            TargetSpec(t.name, t.url, t.kind, 1.0, 2.0, {**t.labels, "service": svc.name})
            for t in rt.config.telemetry.targets
            if t.service == svc.name
        )
    target = Target(
        base,
        model,
        "chat" if endpoint == "chat" else "completions",
        api_key,
        timeout_s=extra.pop("timeout"),
        extra_body=(("ignore_eos", True),) if extra.pop("ignore_eos") else (),
    )
    workload = WorkloadSource(
        parse_length(prompt_tokens),
        parse_length(max_tokens),
        prefix_tokens=extra.pop("prefix_tokens"),
        prefix_groups=extra.pop("prefix_groups"),
        turns=extra.pop("turns"),
        dataset=extra.pop("dataset"),
        trace=extra.pop("trace"),
        speed=extra.pop("speed"),
    )
    limit = max_requests or max(10, int(rate * seconds * 1.5) + 10)
    return rt or _scratch_runtime(), LoadOptions(
        target=target,
        workload=workload,
        arrival=None if closed else parse_arrival(arrival, rate),
        duration_s=seconds,
        max_requests=limit,
        concurrency=closed,
        max_in_flight=extra.pop("max_in_flight"),
        slo=tuple(parse_slo(slo)),
        seed=extra.pop("seed"),
        scrape=scrape,
        gpus=extra.pop("gpus", None) or (svc.gpu.count if svc else None),
        service=svc.name if svc else None,
    )


def _maybe_runtime(ctx: typer.Context, *, required: bool) -> Runtime | None:
    from perfops.app import open_runtime
    from perfops.errors import ConfigError

    try:
        return open_runtime((ctx.find_root().obj or {}).get("config"), warn=warn)
    except ConfigError:
        if required:
            raise
        return None


def _scratch_runtime() -> Runtime:
    """A lake in ./.perfops when no perfops.yaml is around: results are kept all the same."""
    from perfops._internal.clock import SystemClock
    from perfops.app.runtime import Runtime
    from perfops.config import parse_config
    from perfops.store import Store

    config = parse_config("apiVersion: perfops/v1\n")
    return Runtime(config=config, store=Store(Path(".perfops/lake").resolve()), clock=SystemClock())


def _emit(path: str | None, data: dict[str, Any]) -> None:
    if path is None:
        return
    text = json.dumps(data, indent=2, default=str)
    if path == "-":
        typer.echo(text)
    else:
        Path(path).write_text(text + "\n", encoding="utf-8")


class _Live:
    """The live view: elapsed, sent/completed, current rate, TTFT p50/p99, errors."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.start = time.monotonic()
        self.done = 0
        self.errors = 0
        self.recent: list[tuple[float, float]] = []  # (finish time, ttft)

    def record(self, rec: RequestRecord) -> None:
        self.done += 1
        if rec.error:
            self.errors += 1
        elif rec.ttft_s is not None:
            self.recent.append((time.monotonic(), rec.ttft_s))
            if len(self.recent) > 5000:
                del self.recent[:1000]

    def render(self) -> Any:
        from rich.table import Table

        now = time.monotonic()
        window = [t for at, t in self.recent if now - at <= 5]
        rate = len(window) / min(5.0, max(0.1, now - self.start))
        ttfts = sorted(t for _, t in self.recent[-2000:])
        p50 = ttfts[len(ttfts) // 2] * 1000 if ttfts else 0
        p99 = ttfts[min(len(ttfts) - 1, int(len(ttfts) * 0.99))] * 1000 if ttfts else 0
        table = Table(title=self.title, title_justify="left")
        for col in ("elapsed", "completed", "req/s (5 s)", "TTFT p50", "TTFT p99", "errors"):
            table.add_column(col, justify="right")
        table.add_row(
            f"{now - self.start:.1f} s",
            str(self.done),
            f"{rate:.1f}",
            f"{p50:.0f} ms",
            f"{p99:.0f} ms",
            str(self.errors),
        )
        return table


async def _with_live(
    title: str,
    quiet: bool,
    body: Callable[[Callable[[RequestRecord], None]], Coroutine[Any, Any, T]],
) -> T:
    live_view = _Live(title)
    if quiet:
        return await body(live_view.record)
    from rich.live import Live

    with Live(live_view.render(), refresh_per_second=2, transient=True) as live:
        ticker = asyncio.create_task(_tick(live, live_view))
        try:
            return await body(live_view.record)
        finally:
            ticker.cancel()


async def _tick(live: Any, view: _Live) -> None:
    while True:
        await asyncio.sleep(0.5)
        live.update(view.render())


def _ms(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _row(label: str, result: LoadResult) -> list[str]:
    s = result.summary
    lat = s.latency_ms
    good = "-" if s.goodput_rps is None else f"{s.goodput_rps:.2f}"
    return [
        label,
        str(s.completed),
        str(sum(s.errors.values())),
        f"{s.requests_per_s:.2f}",
        f"{s.output_tokens_per_s:,.0f}",
        good,
        _ms(lat["ttft"].get("p99")),
        _ms(lat["tpot"].get("p99")),
        _ms(lat["e2e_from_schedule"].get("p99")),
        "-" if s.slo_met is None else ("yes" if s.slo_met else "no"),
    ]


def _print_table(title: str, rows: list[list[str]], notes: list[str]) -> None:
    """One row per run of a sweep or capacity search."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in (
        "run",
        "done",
        "err",
        "req/s",
        "tok/s",
        "goodput",
        "TTFT p99",
        "TPOT p99",
        "E2E* p99",
        "SLO",
    ):
        table.add_column(col, justify="left" if col == "run" else "right")
    for row in rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(
        "ms; TTFT/TPOT from the send (service time); E2E* from the schedule "
        "(response time, free of coordinated omission)"
    )
    for note in notes:
        console.print(note)


def _print_run(title: str, result: LoadResult) -> None:
    """One run: a header line, then one row per latency with its percentiles."""
    from rich.console import Console
    from rich.table import Table

    s = result.summary
    console = Console()
    good = "" if s.goodput_rps is None else f", goodput {s.goodput_rps:.2f} req/s"
    slo = "" if s.slo_met is None else (" SLO met" if s.slo_met else " [red]SLO missed[/]")
    console.print(
        f"[bold]{title}[/]: {s.completed}/{s.count} completed, "
        f"{sum(s.errors.values())} errors, {s.requests_per_s:.2f} req/s, "
        f"{s.output_tokens_per_s:,.0f} output tok/s{good}.{slo}"
    )
    table = Table(title_justify="left")
    table.add_column("latency (ms)")
    for col in ("p50", "p90", "p99", "p99.9", "mean"):
        table.add_column(col, justify="right")
    names = {
        "ttft": "TTFT",
        "tpot": "TPOT",
        "itl": "ITL",
        "e2e": "E2E",
        "ttft_from_schedule": "TTFT from schedule",
        "e2e_from_schedule": "E2E from schedule",
    }
    for key, name in names.items():
        lat = s.latency_ms[key]
        table.add_row(name, *(_ms(lat.get(q)) for q in ("p50", "p90", "p99", "p99.9", "mean")))
    table.add_row(
        "schedule lag", *(_ms(s.lag_ms.get(q)) for q in ("p50", "p90", "p99", "p99.9")), ""
    )
    console.print(table)
    console.print(
        "TTFT/TPOT/ITL/E2E from the send (service time); 'from schedule' is the "
        "response time, free of coordinated omission"
    )
    for row, (key, detail) in enumerate(s.slo_detail.items()):
        del row
        mark = "met" if detail["met"] else "missed"
        console.print(
            f"SLO {key}: {_ms(float(detail['observed_ms']))} ms against "
            f"{_ms(float(detail['limit_ms']))} ms: {mark}"
        )
    for note in _notes(result):
        console.print(note)


def _notes(result: LoadResult) -> list[str]:
    s, out = result.summary, []
    if s.errors:
        out.append("errors: " + ", ".join(f"{k} {v}" for k, v in sorted(s.errors.items())))
    if s.client_limited:
        out.append(
            f"[yellow]client-limited: p99 schedule lag {s.lag_ms['p99']:.1f} ms exceeds "
            "the 5 ms budget; the client, not the server, set the pace (use --workers or "
            "a bigger machine)[/]"
        )
    if result.server:
        out.append(
            "server during the run: " + ", ".join(f"{k} {v:.3g}" for k, v in result.server.items())
        )
    out.append(f"run {result.run_id} stored in the lake (requests, runs)")
    return out


@app.command("run")
def run(
    ctx: typer.Context,
    url: Url = None,
    service: Service = None,
    model: Model = None,
    endpoint: Endpoint = "completions",
    rate: Rate = 5.0,
    arrival: Arrival = "poisson",
    duration: Duration = "30s",
    max_requests: MaxRequests = None,
    prompt_tokens: PromptTokens = "512",
    max_tokens: MaxTokens = "128",
    prefix_tokens: Annotated[int, typer.Option(help="shared prefix length")] = 0,
    prefix_groups: Annotated[int, typer.Option(help="number of shared prefixes")] = 1,
    turns: Annotated[int, typer.Option(help="turns per conversation")] = 1,
    dataset: Annotated[Path | None, typer.Option(help="JSONL prompts or ShareGPT file")] = None,
    trace: Annotated[
        Path | None,
        typer.Option(help="replay a trace (Azure CSV, Mooncake JSONL) with its own timing"),
    ] = None,
    speed: Annotated[float, typer.Option(help="trace speed factor")] = 1.0,
    concurrency: Annotated[
        int | None, typer.Option(help="closed loop instead: this many users back to back")
    ] = None,
    max_in_flight: Annotated[
        int | None,
        typer.Option(help="client-side cap on requests in flight (waiting shows as lag)"),
    ] = None,
    slo: Slo = None,
    seed: Annotated[int, typer.Option()] = 0,
    timeout: Annotated[float, typer.Option(help="seconds per request")] = 300.0,
    metrics: Annotated[
        list[str] | None, typer.Option(help="server /metrics to scrape during the run (repeatable)")
    ] = None,
    api_key_env: Annotated[str | None, typer.Option(help="env var with the API key")] = None,
    ignore_eos: Annotated[
        bool, typer.Option(help="send ignore_eos (vLLM) for exact lengths")
    ] = False,
    workers: Annotated[
        str,
        typer.Option(
            help="processes sharing the schedule: a number, or auto (one per "
            "~800 req/s, at most one per CPU)"
        ),
    ] = "1",
    json_out: JsonOut = None,
) -> None:
    """One open-loop load test (or closed loop with --concurrency)."""
    from perfops.app.load import run_load

    rt, opts = _options(
        ctx,
        url,
        service,
        model,
        endpoint,
        rate,
        arrival,
        duration,
        max_requests,
        prompt_tokens,
        max_tokens,
        slo,
        prefix_tokens=prefix_tokens,
        prefix_groups=prefix_groups,
        turns=turns,
        dataset=dataset,
        trace=trace,
        speed=speed,
        concurrency=concurrency,
        max_in_flight=max_in_flight,
        seed=seed,
        timeout=timeout,
        metrics=metrics,
        api_key_env=api_key_env,
        ignore_eos=ignore_eos,
    )
    opts = _with_workers(opts, workers, rate)
    mode = (
        f"closed loop x{opts.concurrency}"
        if opts.arrival is None
        else f"{opts.arrival.kind} {rate:g} req/s"
        + (f", {opts.workers} workers" if opts.workers > 1 else "")
    )
    result = _run_async(
        ctx,
        lambda stop: _with_live(
            f"perfops load: {mode} -> {opts.target.base_url}",
            json_out == "-",
            lambda on: run_load(rt, opts, stop=stop, on_record=on),
        ),
    )
    _emit(
        json_out,
        {"run_id": result.run_id, "summary": result.summary.as_dict(), "server": result.server},
    )
    if json_out != "-":
        _print_run(f"perfops load ({mode})", result)


def _with_workers(opts: LoadOptions, workers: str, rate: float) -> LoadOptions:
    from dataclasses import replace

    from perfops.loadgen.workers import auto_workers

    if workers == "auto":
        count = auto_workers(rate)
    else:
        try:
            count = int(workers)
        except ValueError:
            raise UsageError(f"--workers {workers!r}", hint="a number, or auto") from None
        if count < 1:
            raise UsageError(f"--workers {workers!r}", hint="at least 1")
    if count > 1 and opts.arrival is None:
        raise UsageError("--workers applies to open loop", hint="drop --concurrency")
    return replace(opts, workers=count)


def _search_defaults(seed: int, metrics: list[str] | None, ignore_eos: bool) -> dict[str, Any]:
    """The options sweeps and searches do not expose: synthetic prompts, open loop."""
    return {
        "prefix_tokens": 0,
        "prefix_groups": 1,
        "turns": 1,
        "dataset": None,
        "trace": None,
        "speed": 1.0,
        "concurrency": None,
        "max_in_flight": None,
        "seed": seed,
        "timeout": 300.0,
        "metrics": metrics,
        "api_key_env": None,
        "ignore_eos": ignore_eos,
    }


def _values(text: str, option: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(
            f"{option} {text!r}", hint="a comma-separated list, e.g. 1,2,4,8"
        ) from None
    if not values or any(v <= 0 for v in values):
        raise UsageError(f"{option} {text!r}", hint="positive numbers, e.g. 1,2,4,8")
    return values


@app.command("sweep")
def sweep(
    ctx: typer.Context,
    url: Url = None,
    service: Service = None,
    model: Model = None,
    endpoint: Endpoint = "completions",
    rates: Annotated[str | None, typer.Option(help="open-loop rates, e.g. 1,2,4,8")] = None,
    concurrencies: Annotated[
        str | None, typer.Option(help="closed-loop users instead, e.g. 1,4,16")
    ] = None,
    arrival: Arrival = "poisson",
    duration: Duration = "20s",
    max_requests: MaxRequests = None,
    prompt_tokens: PromptTokens = "512",
    max_tokens: MaxTokens = "128",
    slo: Slo = None,
    seed: Annotated[int, typer.Option()] = 0,
    metrics: Annotated[list[str] | None, typer.Option(help="server /metrics to scrape")] = None,
    ignore_eos: Annotated[bool, typer.Option()] = False,
    json_out: JsonOut = None,
) -> None:
    """A load test per rate (or concurrency), with one table of the results."""
    from perfops.app.load import run_sweep

    if (rates is None) == (concurrencies is None):
        raise UsageError("give exactly one of --rates and --concurrencies")
    values = _values(rates or concurrencies or "", "--rates" if rates else "--concurrencies")
    rt, opts = _options(
        ctx,
        url,
        service,
        model,
        endpoint,
        values[0],
        arrival,
        duration,
        max_requests,
        prompt_tokens,
        max_tokens,
        slo,
        **_search_defaults(seed, metrics, ignore_eos),
    )
    if rates is None:
        from dataclasses import replace

        opts = replace(opts, max_requests=max_requests or 1_000_000)
    quiet = json_out == "-"
    steps = _run_async(
        ctx,
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
        ),
    )
    label = "users" if rates is None else "req/s"
    _emit(
        json_out,
        {
            "steps": [
                {"value": v, "run_id": r.run_id, "summary": r.summary.as_dict(), "server": r.server}
                for v, r in steps
            ]
        },
    )
    if not quiet:
        _print_table(
            f"perfops load sweep ({label})",
            [_row(f"{v:g} {label}", r) for v, r in steps],
            [f"runs stored in the lake: {', '.join(r.run_id for _, r in steps)}"],
        )


@app.command("capacity")
def capacity(
    ctx: typer.Context,
    slo: Annotated[str, typer.Option(help="e.g. ttft_p99=500ms,tpot_p99=50ms")],
    url: Url = None,
    service: Service = None,
    model: Model = None,
    endpoint: Endpoint = "completions",
    arrival: Arrival = "poisson",
    duration: Duration = "20s",
    prompt_tokens: PromptTokens = "512",
    max_tokens: MaxTokens = "128",
    start_rate: Annotated[float, typer.Option(help="first rate tried")] = 1.0,
    max_rate: Annotated[float, typer.Option(help="highest rate tried")] = 500.0,
    tolerance: Annotated[float, typer.Option(help="stop bisecting within this fraction")] = 0.1,
    max_runs: Annotated[int, typer.Option(help="at most this many runs")] = 12,
    gpus: Annotated[
        int | None, typer.Option(help="GPUs behind the endpoint (default: the service's count)")
    ] = None,
    seed: Annotated[int, typer.Option()] = 0,
    metrics: Annotated[list[str] | None, typer.Option(help="server /metrics to scrape")] = None,
    ignore_eos: Annotated[bool, typer.Option()] = False,
    json_out: JsonOut = None,
) -> None:
    """The highest request rate whose run meets the SLO, per endpoint and per GPU."""
    from perfops.app.load import run_capacity

    rt, opts = _options(
        ctx,
        url,
        service,
        model,
        endpoint,
        start_rate,
        arrival,
        duration,
        None,
        prompt_tokens,
        max_tokens,
        slo,
        **_search_defaults(seed, metrics, ignore_eos),
        gpus=gpus,
    )
    if not opts.slo:
        raise UsageError("--slo is empty", hint="e.g. --slo ttft_p99=500ms,tpot_p99=50ms")
    from dataclasses import replace

    opts = replace(opts, max_requests=1_000_000)
    quiet = json_out == "-"
    found, run_id = _run_async(
        ctx,
        lambda stop: run_capacity(
            rt,
            opts,
            start_rate=start_rate,
            max_rate=max_rate,
            tolerance=tolerance,
            max_runs=max_runs,
            on_step=None
            if quiet
            else lambda rate, r: typer.echo(
                f"  {rate:.2f} req/s: SLO {'met' if r.summary.slo_met else 'missed'} "
                f"(TTFT p99 {r.summary.latency_ms['ttft'].get('p99', float('nan')):.0f} ms)"
            ),
        ),
    )
    per_gpu = found.per_gpu(opts.gpus)
    data = {
        "run_id": run_id,
        "slo": [str(t) for t in opts.slo],
        "capacity_rps": found.capacity_rps,
        "confirmed": found.confirmed,
        "gpus": opts.gpus,
        "capacity_rps_per_gpu": per_gpu,
        "reason": found.reason,
        "points": [
            {"rate": p.rate, "passed": p.passed, "summary": p.summary.as_dict()}
            for p in found.points
        ],
    }
    _emit(json_out, data)
    if quiet:
        return
    rows = [_row(f"{p.rate:.2f} req/s", _as_result(p)) for p in found.points]
    slo_text = ", ".join(str(t) for t in opts.slo)
    head = (
        (
            f"capacity at SLO ({slo_text}): {found.capacity_rps:.2f} req/s"
            + (f" = {per_gpu:.2f} req/s per GPU ({opts.gpus} GPUs)" if per_gpu else "")
            + ("" if found.confirmed else " (not confirmed)")
        )
        if found.capacity_rps
        else f"no capacity at SLO ({slo_text}): {found.reason}"
    )
    _print_table(f"perfops load capacity {run_id}", rows, [head])


def _as_result(point: Any) -> LoadResult:
    from perfops.app.load import LoadResult

    return LoadResult("-", point.summary)
