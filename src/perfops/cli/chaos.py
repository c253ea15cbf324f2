"""`perfops chaos proxy`: the LLM-aware fault proxy (Toxiproxy's toxics plus per-request HTTP
and SSE faults), with its control API."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from perfops._internal import strict_json
from perfops.cli._terminal import echo, rich_text
from perfops.errors import CheckFailed

if TYPE_CHECKING:
    from perfops.app import Runtime
    from perfops.chaos import ProxyServer

app = typer.Typer(
    help="SLO-guarded chaos experiments with guaranteed rollback, rollback drills, game days, "
    "and the LLM-aware fault proxy.",
    no_args_is_help=True,
)


@app.callback()
def chaos(ctx: typer.Context) -> None:
    """Chaos experiments on inference services. Every chaos command first reverts what an
    earlier, killed runner left injected (the undo journal beside the workspace's lake)."""
    if ctx.invoked_subcommand in ("recover", "run", "drill", "gameday", None):
        return  # recover is this; run, drill and gameday recover as they start
    from perfops.app.chaos import recover_faults
    from perfops.cli._context import runtime
    from perfops.errors import ConfigError

    try:
        rt = runtime(ctx)
    except ConfigError:  # no workspace here (a bare `chaos proxy`): nothing to recover
        return
    if recover_faults(rt, _say).left:
        typer.echo("warning: a fault of an earlier run may still be in (above); "
                   "`perfops chaos recover` retries it", err=True)  # fmt: skip


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


def _say(message: str) -> None:
    echo(message)


@app.command("validate")
def validate(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Experiment, Drill or GameDay YAML files")],
) -> None:
    """Check experiments, drills and game days against perfops.yaml: every problem at once,
    each with its file:line and a fix (exit 2 if any file has one)."""
    from perfops.cli._context import runtime
    from perfops.errors import ConfigError

    rt = runtime(ctx)
    failed = 0
    for path in paths:
        try:
            echo(f"{path}: valid {_check_spec(rt, path)}")
        except ConfigError as exc:
            if len(paths) == 1:
                raise
            echo(f"error: {exc}", err=True)
            failed += 1
    if failed:
        raise typer.Exit(2)


def _check_spec(rt: Runtime, path: Path) -> str:
    """Load ``path`` as the kind it declares; a summary of it, or a located ConfigError."""
    from perfops.app.chaos import load_experiment
    from perfops.app.drill import load_drill
    from perfops.app.gameday import load_gameday

    kind = _spec_kind(path)
    if kind == "Drill":
        drill = load_drill(rt, path)
        return (
            f"drill ({drill.deploy.kind} after {drill.deploy_after:g}s of "
            f"{drill.load.duration:g}s of load, judged by {drill.slo})"
        )
    if kind == "GameDay":
        day = load_gameday(rt, path)
        faults = sum(len(e.method) for e in day.experiments)
        return f"game day ({len(day.experiments)} experiment(s), {faults} fault(s))"
    spec = load_experiment(rt, path)
    return (
        f"({len(spec.method)} fault(s), {spec.load.duration:g}s window, "
        f"{len(spec.stop)} stop condition(s))"
    )


def _spec_kind(path: Path) -> str:
    """The file's ``kind:`` when it is a Drill or a GameDay, else Experiment (whose loader
    then reports whatever is wrong with the file, located)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return "Experiment"
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if kind in ("Drill", "GameDay") else "Experiment"


@app.command("run")
def run(
    ctx: typer.Context,
    experiment: Annotated[Path, typer.Argument(help="an Experiment YAML file")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the result (journal) as JSON here")
    ] = None,
) -> None:
    """Run an experiment: hypothesis before, load and faults with SLO checks during,
    hypothesis after; every fault reverted whatever happens. Exit 0 when it passed (every
    fault went in and came out, the hypothesis held); 1 when it did not (deviated, aborted,
    or failed: a fault did not land or could not be reverted); 2 for a bad spec or a
    missing token; 3 when the service or a fault's target does not answer, before anything
    ran; 130 when interrupted."""

    from perfops.app.chaos import load_experiment, run_experiment
    from perfops.cli._context import runtime

    rt = runtime(ctx)
    spec = load_experiment(rt, experiment)
    result = _with_signals(lambda stop: run_experiment(rt, spec, say=_say, stop=stop))
    _print_result(result)
    if json_out is not None:
        json_out.write_text(strict_json.dumps(result.as_dict(), indent=2))
    if result.status == "interrupted":
        raise typer.Exit(130)
    if result.status != "passed":
        raise CheckFailed(f"the experiment {result.status}: {result.reason}")


def _with_signals(factory: Any) -> Any:
    """Run the coroutine with SIGINT and SIGTERM setting its stop event, so that the runner
    reverts its faults and journals the run before the process ends."""

    async def main() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await factory(stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(main())


def _print_result(result: Any) -> None:
    echo(f"verdict: {result.status} ({result.reason})")
    for name, hyp in (("before", result.before), ("during", result.during),
                      ("after", result.after)):  # fmt: skip
        if hyp is not None:
            checks = "; ".join(c.describe() for c in hyp.checks) or "no checks"
            echo(
                f"  {name:<6} {'met' if hyp.met else 'NOT met':<8} {hyp.requests:>4} req  {checks}"
            )
    for imp in result.impact:
        budget = ", ".join(f"{k} {v:.3f}% of budget" for k, v in imp.budget_consumed_pct.items())
        cost = "" if imp.wasted_cost is None else f", {imp.wasted_cost:.4f} wasted on GPU time"
        echo(
            f"  fault {imp.fault}: {(imp.end_ns - imp.start_ns) / 1e9:.1f}s, {imp.requests} req, "
            f"{budget}, goodput {imp.goodput_rps:.2f}/s, {imp.goodput_lost:.0f} good requests "
            f"lost{cost}"
        )
    typer.echo(f"journal: run {result.run_id} in the lake (runs, events, requests)")


@app.command("recover")
def recover(
    ctx: typer.Context,
    everything: Annotated[
        bool, typer.Option("--all", help="also revert the faults of runs still going")
    ] = False,
) -> None:
    """Revert every fault a killed runner left injected (every chaos command does this for
    faults whose runner is gone). Exit 1 when a fault could not be reverted: it may still be
    in, and stays in the undo journal for the next try."""
    from perfops.app.chaos import recover_faults
    from perfops.cli._context import runtime

    recovery = recover_faults(runtime(ctx), _say, everything=everything)
    if recovery.left:
        raise CheckFailed(
            f"{len(recovery.left)} fault(s) could not be reverted and may still be in (above)",
            hint="run `perfops chaos recover` again once their targets answer",
        )
    if not recovery.reverted:
        typer.echo("nothing to recover: no fault is left injected")


@app.command("init")
def init(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="the file to write")] = Path("experiment.yaml"),
    force: Annotated[bool, typer.Option("--force", help="overwrite the file")] = False,
) -> None:
    """Write a complete, commented example experiment for the workspace's first service and
    its SLOs; `perfops chaos validate` accepts it as written."""
    from perfops.app.chaos import example_experiment
    from perfops.cli._context import runtime
    from perfops.errors import UsageError

    if path.exists() and not force:
        raise UsageError(f"{path} already exists", hint="pass --force to overwrite it")
    text = example_experiment(runtime(ctx))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    echo(f"wrote {path}")
    echo(f"next: `perfops chaos validate {path}`, then `perfops chaos run {path}`")


@app.command("drill")
def drill(
    ctx: typer.Context,
    spec: Annotated[Path, typer.Argument(help="a Drill YAML file")],
    json_out: Annotated[Path | None, typer.Option("--json", help="write the result here")] = None,
) -> None:
    """Rollback drill: deploy a candidate under load, detect the SLO regression from burn
    rates, roll back automatically; time to detect, time to restore, budget spent."""

    from perfops.app.drill import load_drill, run_drill
    from perfops.cli._context import runtime

    rt = runtime(ctx)
    plan = load_drill(rt, spec)
    result = _with_signals(lambda stop: run_drill(rt, plan, say=_say, stop=stop))

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}s"

    echo(f"drill: {result.status} ({result.reason})")
    typer.echo(
        f"  time to detect {seconds(result.time_to_detect_s)}, time to restore "
        f"{seconds(result.time_to_restore_s)} after the rollback, {result.bad_events} bad "
        "events, budget spent "
        + ("-" if result.budget_spent_pct is None else f"{result.budget_spent_pct:.3f}%")
    )
    if json_out is not None:
        json_out.write_text(strict_json.dumps(result.as_dict(), indent=2))
    if result.status == "interrupted":
        raise typer.Exit(130)
    if result.status != "restored":
        raise CheckFailed(f"the drill ended {result.status}: {result.reason}")


@app.command("gameday")
def gameday(
    ctx: typer.Context,
    spec: Annotated[Path, typer.Argument(help="a GameDay YAML file (experiments in order)")],
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results here")] = None,
) -> None:
    """Several experiments in sequence: one summary table and a resilience score (0-100)."""

    from rich.console import Console
    from rich.table import Table

    from perfops.app.gameday import load_gameday, run_gameday
    from perfops.cli._context import runtime

    rt = runtime(ctx)
    day = load_gameday(rt, spec)
    result = _with_signals(lambda stop: run_gameday(rt, day, say=_say, stop=stop))
    table = Table(title=rich_text(f"game day: {result.title}"), title_justify="left")
    for col in ("experiment", "verdict", "weight", "score", "worst budget hit", "reason"):
        table.add_column(col, justify="right" if col in ("weight", "score") else "left")
    for res, weight, points in result.results:
        worst = max((v for i in res.impact for v in i.budget_consumed_pct.values()), default=0.0)
        table.add_row(rich_text(res.title), res.status, f"{weight:g}", f"{points:.1f}",
                      f"{worst:.3f}%", rich_text(res.reason[:80]))  # fmt: skip
    Console(width=max(120, Console().width)).print(table)
    typer.echo(f"resilience score: {result.score:.1f} / 100")
    if json_out is not None:
        json_out.write_text(strict_json.dumps(
            {"title": result.title, "score": result.score,
             "experiments": [{**r.as_dict(), "weight": w, "score": s}
                             for r, w, s in result.results]}, indent=2))  # fmt: skip
    failed = [r for r, _, _ in result.results if r.status != "passed"]
    if failed:
        raise CheckFailed(f"{len(failed)} of {len(result.results)} experiments did not pass")


@app.command("export")
def export(
    ctx: typer.Context,
    experiment: Annotated[Path, typer.Argument(help="an Experiment YAML file")],
    out: Annotated[Path, typer.Option(help="Chaos Toolkit experiment JSON to write")],
    journal: Annotated[
        str | None, typer.Option(help="also export this chaos run's journal (a run id)")
    ] = None,
    journal_out: Annotated[
        Path | None, typer.Option(help="where the journal goes (default: OUT.journal.json)")
    ] = None,
) -> None:
    """The experiment (and a run's journal) in Chaos Toolkit's format: its sim and proxy
    faults become HTTP actions with HTTP rollbacks that always run; the SLO judgement stays
    with `perfops chaos run` and is listed in the perfops extension."""

    from perfops.app.chaos import load_experiment
    from perfops.chaos.ctk import journal_to_chaostoolkit, to_chaostoolkit, unsupported_steps
    from perfops.cli._context import runtime

    rt = runtime(ctx)
    spec = load_experiment(rt, experiment)
    endpoints = {s.name: s.endpoint for s in rt.config.services}
    out.write_text(strict_json.dumps(to_chaostoolkit(spec, endpoints=endpoints), indent=2))
    typer.echo(f"wrote {out}")
    for warning in unsupported_steps(spec):
        echo(f"note: {warning}")
    if journal is not None:
        run = rt.store.journal.run(journal)
        started, ended = run.started_ns / 1e9, (run.ended_ns or run.started_ns) / 1e9
        doc = journal_to_chaostoolkit(
            spec, dict(run.summary), started=started, ended=ended, endpoints=endpoints
        )
        target = journal_out or out.with_suffix(".journal.json")
        target.write_text(strict_json.dumps(doc, indent=2))
        typer.echo(f"wrote {target}")
