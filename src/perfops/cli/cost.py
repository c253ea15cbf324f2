"""`perfops cost report|roi|scenario|export|reconcile`: the GPU bill, split and explained."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from perfops.cli._bounds import TOKENS, Bounded
from perfops.cli._context import echo_json, positive_seconds, runtime, warn
from perfops.cli._terminal import echo, rich_text
from perfops.errors import CheckFailed, UsageError

if TYPE_CHECKING:
    from perfops.app.cost import CostReport
    from perfops.app.cost_plan import RunsRoi

app = typer.Typer(
    help="GPU cost attribution, $/1M tokens (and $/1M SLO-compliant tokens), ROI of a change, "
    "what-if scenarios, FOCUS export.",
    no_args_is_help=True,
)


def _money(x: Decimal | None, currency: str = "") -> str:
    if x is None:
        return "n/a"
    text = f"{x:,.2f}" if abs(x) >= 1 or x == 0 else f"{x:.4f}"
    return f"{text} {currency}".strip()


def _since(since: str) -> float:
    """The seconds of a window ending now: at most a year (it is attributed hour by hour)."""
    from perfops.finops import MAX_PERIOD_DAYS

    return positive_seconds(since, "--since", most=MAX_PERIOD_DAYS * 86400.0)


def _window(ctx_end_ms: int, seconds: float) -> tuple[int, int]:
    return ctx_end_ms - int(seconds * 1000), ctx_end_ms + 1


@app.command("report")
def report(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="window ending now, e.g. 1h, 1d, 30d")] = "1d",
    by: Annotated[str, typer.Option(help="group by service, model, team or tenant")] = "service",
    basis: Annotated[
        str | None,
        typer.Option(help="allocation (GPU-hours held) or usage (busy time); default perfops.yaml"),
    ] = None,
    idle: Annotated[str | None, typer.Option(help="idle cost: separate, weighted or even")] = None,
    daily: Annotated[bool, typer.Option("--daily", help="one row per group and UTC day")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Who spent the GPU bill, idle and shared costs apart, and what each token cost."""
    from perfops.app.cost import cost_report, report_json

    seconds = _since(since)
    if by not in ("service", "model", "team", "tenant"):
        raise UsageError(f"--by {by!r}", hint="use service, model, team or tenant")
    if basis not in (None, "allocation", "usage"):
        raise UsageError(f"--basis {basis!r}", hint="use allocation or usage")
    if idle not in (None, "separate", "weighted", "even"):
        raise UsageError(f"--idle {idle!r}", hint="use separate, weighted or even")
    rt = runtime(ctx)
    start, end = _window(rt.clock.now_ns() // 1_000_000, seconds)
    options: dict[str, Any] = {"by": by, "basis": basis, "idle": idle, "daily": daily}
    result = cost_report(rt, start, end, **options)
    if as_json:
        echo_json(report_json(result))
        return
    _print_report(result, since)


def _print_report(result: CostReport, since: str) -> None:
    from rich.console import Console
    from rich.table import Table

    cur = result.currency
    table = Table(
        title=rich_text(
            f"perfops cost report: last {since}, {result.basis} basis, idle {result.idle} ({cur})"
        ),
        title_justify="left",
    )
    daily = any(r.day for r in result.rows)
    if daily:
        table.add_column("day")
    for col in (
        result.by, "GPU-h", "GPU", "idle", "shared", "total",
        "tokens", "$/1M tok", "$/1M SLO tok", "SLO waste", "tok/J",
    ):  # fmt: skip
        table.add_column(col, justify="left" if col == result.by else "right")
    for r in result.rows:
        tokens = r.work.input_tokens + r.work.output_tokens
        tpj = r.unit.tokens_per_joule
        table.add_row(
            *([r.day or ""] if daily else []),
            rich_text(r.group),
            f"{r.gpu_hours:.3f}",
            _money(r.gpu_cost),
            _money(r.idle_cost),
            _money(r.shared_cost),
            _money(r.total),
            f"{tokens:,}" if tokens else "-",
            _money(r.unit.per_1m_tokens),
            _money(r.unit.per_1m_slo_tokens),
            _money(r.unit.slo_waste),
            "-" if tpj is None else f"{tpj:.2f}",
        )
    table.add_section()
    table.add_row(
        *([""] if daily else []), "total", f"{sum(r.gpu_hours for r in result.rows):.3f}",
        _money(sum((r.gpu_cost for r in result.rows), Decimal(0))),
        _money(sum((r.idle_cost for r in result.rows), Decimal(0))),
        _money(sum((r.shared_cost for r in result.rows), Decimal(0))),
        _money(result.total), "", "", "", "", "",
    )  # fmt: skip
    console = Console(width=max(120, Console().width))
    console.print(table)
    console.print(
        f"paid {_money(result.paid, cur)} = allocated + idle + shared "
        f"({'balanced' if result.total == result.paid else 'MISMATCH'})"
    )
    for note in result.notes:
        console.print(rich_text(f"note: {note}"))


MAX_TRAFFIC = 10_000_000.0  # req/s: more than any fleet serves


def _rate(text: str, option: str) -> float:
    value = text.strip().lower().removesuffix("rps").removesuffix("req/s").strip()
    try:
        rate = float(value)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a rate", hint="e.g. 40rps or 40") from None
    if not 0 < rate <= MAX_TRAFFIC:  # NaN and infinity too
        raise UsageError(
            f"{option} {text!r}: a rate must be above 0 and at most {MAX_TRAFFIC:,.0f} req/s",
            hint="e.g. 40rps or 40",
        )
    return rate


def _fraction(text: str, option: str, low: float = 0.0, high: float = 1.0) -> float:
    """A fraction (0.7) or a percentage (70%) in ``[low, high]``."""
    value = text.strip()
    try:
        number = float(value.removesuffix("%")) / (100 if value.endswith("%") else 1)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a fraction", hint="e.g. 0.7 or 70%") from None
    if not low <= number <= high:  # NaN and infinity too
        raise UsageError(
            f"{option} {text!r}: a fraction from {low:g} to {high:g} "
            f"({low * 100:g}% to {high * 100:g}%)"
        )
    return number


def _utilisation(text: str) -> float:
    value = _fraction(text, "--utilisation")
    if value == 0:
        raise UsageError("--utilisation 0: a GPU kept idle serves nothing", hint="e.g. 0.7 or 70%")
    return value


def _interval(text: str) -> tuple[int, int] | None:
    """``2026-11-01/2026-11-08`` (ISO 8601 dates or times, UTC) as ms; None for a run id."""
    import datetime as dt

    if "/" not in text:
        return None
    try:
        lo, hi = (dt.datetime.fromisoformat(part.strip()) for part in text.split("/", 1))
    except ValueError:
        raise UsageError(
            f"{text!r} is not a period", hint="use START/END, e.g. 2026-11-01/2026-11-08"
        ) from None
    lo, hi = (t if t.tzinfo else t.replace(tzinfo=dt.UTC) for t in (lo, hi))
    if hi <= lo:
        raise UsageError(f"the period {text!r} ends before it starts")
    from perfops.finops import MAX_PERIOD_DAYS, YEARS

    if not (YEARS[0] <= lo.year and hi.year <= YEARS[1]):
        raise UsageError(f"the period {text!r} is outside the years {YEARS[0]} to {YEARS[1]}")
    if hi - lo > dt.timedelta(days=MAX_PERIOD_DAYS):
        raise UsageError(
            f"the period {text!r} is longer than {MAX_PERIOD_DAYS} days",
            hint="compare periods of a year or less",
        )
    return int(lo.timestamp() * 1000), int(hi.timestamp() * 1000)


@app.command("roi")
def roi(
    ctx: typer.Context,
    before: Annotated[
        str, typer.Option(help="before the change: a capacity run id, or a period START/END")
    ],
    after: Annotated[
        str, typer.Option(help="after the change: a capacity run id, or a period START/END")
    ],
    traffic: Annotated[
        str | None,
        typer.Option(help="traffic to serve, e.g. 40rps (periods: default their own rate)"),
    ] = None,
    service: Annotated[str | None, typer.Option(help="periods: one service (default all)")] = None,
    one_off: Annotated[
        float,
        typer.Option(
            help="one-off cost of the change (engineering, migration)",
            parser=Bounded(0, 1e12, why="an amount of money"),
        ),
    ] = 0.0,
    utilisation: Annotated[
        str, typer.Option(help="runs: utilisation target per GPU, e.g. 0.7 or 70%")
    ] = "0.7",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What a change (quantisation, batching, GPU type, engine flags) bought, from two capacity
    runs (capacity at the SLO) or two periods of production (what was paid and served):
    $/1M output tokens, GPUs and monthly cost at a traffic, payback of a one-off cost."""
    from dataclasses import asdict

    from perfops.app.cost import workspace_prices
    from perfops.app.cost_plan import roi_of_periods, roi_of_runs

    periods = _interval(before), _interval(after)
    if (periods[0] is None) != (periods[1] is None):
        raise UsageError("compare two runs or two periods", hint="not one of each")
    share = _utilisation(utilisation)
    rps = None if traffic is None else _rate(traffic, "--traffic")
    rt = runtime(ctx)
    cur = workspace_prices(rt).currency
    if periods[0] is not None and periods[1] is not None:
        if service is not None:
            rt.config.service(service)  # a typo is a usage error naming the services
        tokens_s = None
        if rps is not None:
            tokens_s = rps * _tokens_per_request(rt, periods[1], service)
        result, pb, pa = roi_of_periods(
            rt, periods[0], periods[1], service=service, traffic_tokens_s=tokens_s,
            one_off=Decimal(repr(one_off)),
        )  # fmt: skip
        if as_json:
            echo_json({"roi": asdict(result), "before": asdict(pb), "after": asdict(pa)})
            return
        notes, bound = [], ""
        rows = [
            ("", "before", "after"),
            ("output tokens/s per GPU", f"{pb.tokens_per_gpu_s:,.1f}",
             f"{pa.tokens_per_gpu_s:,.1f}"),
            ("paid per GPU-hour", _money(pb.price_per_gpu_hour, cur),
             _money(pa.price_per_gpu_hour, cur)),
        ]  # fmt: skip
    else:
        if rps is None:
            raise UsageError("comparing runs needs --traffic", hint="e.g. --traffic 40rps")
        runs = roi_of_runs(
            rt, before, after, traffic_rps=rps,
            one_off=Decimal(repr(one_off)), utilisation=share,
        )  # fmt: skip
        result, b, a = runs.roi, runs.before, runs.after
        for line in runs.warnings:
            warn(line)
        if as_json:
            echo_json(_runs_json(runs))
            return
        rows = [
            ("", "before", "after"),
            ("run", b.source, a.source),
            ("GPU", b.gpu, a.gpu),
            ("capacity / GPU at SLO", f"{b.rps_per_gpu:.2f} req/s", f"{a.rps_per_gpu:.2f} req/s"),
        ]
        notes = [_significance(runs), *runs.notes]
        bound = {"upper": "at most ", "lower": "at least ", "unknown": "unknown, "}.get(
            runs.bound, ""
        )
    rows += [
        ("$/1M output tokens", _money(result.cost_per_1m_before, cur),
         _money(result.cost_per_1m_after, cur)),
        (f"GPUs for {traffic or 'the traffic'}", str(result.gpus_before), str(result.gpus_after)),
        ("monthly cost", _money(result.monthly_cost_before, cur),
         _money(result.monthly_cost_after, cur)),
    ]  # fmt: skip
    for label, x, y in rows:
        echo(f"{label:<26} {x:>22} {y:>22}")
    typer.echo(
        f"capacity per GPU {bound}{result.capacity_change:+.1%}; $/1M tokens "
        f"{_money(result.cost_per_1m_change, cur)}; monthly savings "
        f"{bound}{_money(result.monthly_savings, cur)}; payback "
        + (
            f"{result.payback_months} months"
            if result.payback_months is not None
            else "never (nothing saved)"
        )
    )
    for note in notes:
        typer.echo(f"note: {note}")


def _runs_json(runs: RunsRoi) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "roi": asdict(runs.roi),
        "before": asdict(runs.before),
        "after": asdict(runs.after),
        "significant": runs.significant,
        "capacity_difference": runs.capacity.as_dict(),
        "bound": runs.bound,
        "warnings": runs.warnings,
        "notes": runs.notes,
    }


def _significance(runs: RunsRoi) -> str:
    """The capacity difference behind the ROI, as `perfops load compare` judges it."""
    d = runs.capacity
    text = "capacity difference (after - before)"
    if d.delta is not None:
        text += f" {d.delta:+.2f} {d.unit}"
    if d.low is not None and d.high is not None:
        text += f" [{d.low:+.2f}, {d.high:+.2f}]"
    return f"{text}: {d.verdict}"


def _tokens_per_request(rt: Any, period: tuple[int, int], service: str | None) -> float:
    """Output tokens per request in a period, to turn req/s into tokens/s."""
    from perfops.app.cost import cost_report

    rows = [
        r
        for r in cost_report(rt, *period).rows
        if (service is None or r.group == service) and r.work.requests
    ]
    requests = sum(r.work.requests for r in rows)
    return sum(r.work.output_tokens for r in rows) / requests if requests else 0.0


def _gpu_choice(text: str) -> tuple[str, dict[str, float]]:
    """``H200`` or ``H200:spot=0.5,on_demand=0.5``."""
    gpu, _, mix_text = text.partition(":")
    if not mix_text:
        return gpu, {"on_demand": 1.0}
    mix: dict[str, float] = {}
    for item in mix_text.split(","):
        key, _, value = item.partition("=")
        if key not in ("on_demand", "committed", "spot"):
            raise UsageError(
                f"--gpu {text!r}: unknown purchase option {key!r}",
                hint="use on_demand, committed or spot, e.g. H200:spot=0.3,on_demand=0.7",
            )
        mix[key] = _fraction(value, "--gpu")
    return gpu, mix


@app.command("scenario")
def scenario(
    ctx: typer.Context,
    traffic: Annotated[str, typer.Option(help="forecast traffic now, e.g. 40rps")],
    gpu: Annotated[
        list[str],
        typer.Option(
            help="candidate GPU, with a purchase mix: H200 or H200:spot=0.3,on_demand=0.7"
        ),
    ],
    service: Annotated[
        str | None, typer.Option(help="the service whose model and SLO to plan for")
    ] = None,
    slo: Annotated[
        str | None, typer.Option(help="SLO to size for, e.g. ttft_p99=300ms,tpot_p99=40ms")
    ] = None,
    growth: Annotated[str, typer.Option(help="traffic growth per month, e.g. 10%")] = "0",
    months: Annotated[
        int,
        typer.Option(
            help="months to plan", parser=Bounded(1, 120, integer=True, why="ten years at most")
        ),
    ] = 1,
    utilisation: Annotated[str, typer.Option(help="utilisation target, e.g. 70%")] = "0.7",
    output_tokens: Annotated[
        int, typer.Option(help="output tokens per request", parser=TOKENS)
    ] = 128,
    prompt_tokens: Annotated[
        int, typer.Option(help="prompt tokens per request", parser=TOKENS)
    ] = 512,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What-if on GPU type, purchase mix, traffic growth, utilisation and SLO: each
    candidate's GPUs and monthly cost, and the cheapest that meets the SLO."""
    from dataclasses import asdict

    from perfops.app.cost import workspace_prices
    from perfops.app.cost_plan import scenario as plan_scenario
    from perfops.loadgen.slo import parse_slo

    thresholds = parse_slo("ttft_p99=500ms,tpot_p99=50ms" if slo is None else slo)
    if not thresholds:
        raise UsageError(
            "--slo names no threshold", hint="give one, e.g. --slo ttft_p99=300ms,tpot_p99=40ms"
        )
    options: dict[str, Any] = {
        "traffic_rps": _rate(traffic, "--traffic"),
        "growth": _fraction(growth, "--growth", -1.0, 10.0),
        "utilisation": _utilisation(utilisation),
    }
    choices = [_gpu_choice(g) for g in gpu]
    rt = runtime(ctx)
    svc = rt.config.service(service)  # the first one without --service
    result, caps = plan_scenario(
        rt,
        choices,  # type: ignore[arg-type]
        model=svc.model,
        slo=thresholds,
        months=months,
        **options,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
    )
    cur = workspace_prices(rt).currency
    if as_json:
        echo_json(
            {
                "plans": [asdict(p) for p in result.plans],
                "cheapest": None if result.cheapest is None else result.cheapest.candidate.name,
                "capacity": [asdict(c) for c in caps],
            }
        )
        return
    from rich.console import Console
    from rich.table import Table

    wanted = ",".join(f"{t.key}={t.seconds * 1000:g}ms" for t in thresholds)
    table = Table(
        title=rich_text(
            f"perfops cost scenario: {svc.model} at {traffic} (+{growth}/month, {months} "
            f"months), SLO {wanted}"
        ),
        title_justify="left",
    )
    for col in ("candidate", "capacity/GPU", "source", "GPUs (peak)", "cost", "$/1M out tok"):
        table.add_column(col, justify="left" if col in ("candidate", "source") else "right")
    by_gpu = {c.gpu: c for c in caps}
    for p in result.plans:
        cap = by_gpu[p.candidate.gpu_type]
        mark = " *" if result.cheapest is p else ""
        table.add_row(
            rich_text(p.candidate.name + mark),
            "fails SLO" if cap.rps_per_gpu is None else f"{cap.rps_per_gpu:.2f} req/s",
            rich_text(cap.source),
            str(p.peak_gpus) if p.candidate.meets_slo else "-",
            _money(p.total_cost, cur) if p.candidate.meets_slo else "-",
            _money(p.cost_per_1m_tokens, cur) if p.candidate.meets_slo else "-",
        )
    Console(width=max(120, Console().width)).print(table)
    if result.cheapest is None:
        typer.echo("no candidate meets the SLO")
    else:
        echo(f"cheapest meeting the SLO: {result.cheapest.candidate.name} (*)")


@app.command("export")
def export(
    ctx: typer.Context,
    focus: Annotated[
        Path, typer.Option("--focus", help="FOCUS 1.2 file to write: .parquet or .csv")
    ],
    since: Annotated[str, typer.Option(help="window ending now, e.g. 1d, 30d")] = "1d",
) -> None:
    """The attributed costs, hour by hour from the hour --since falls in, as a FOCUS 1.2 file
    (x_Tokens, x_SloCompliantTokens, x_GpuSeconds, x_Service, x_Team beside the standard
    columns), also kept in the lake's costs table (an hour exported again is replaced)."""
    from perfops.app.cost import export_focus

    seconds = _since(since)
    rt = runtime(ctx)
    start, end = _window(rt.clock.now_ns() // 1_000_000, seconds)
    path, rows, result = export_focus(rt, start, end, focus)
    echo(
        f"wrote {rows} FOCUS 1.2 rows ({_money(result.paid, result.currency)}) to {path} "
        "and the lake's costs table"
    )


@app.command("reconcile")
def reconcile(
    ctx: typer.Context,
    bill: Annotated[Path, typer.Argument(help="a FOCUS bill (CSV or Parquet, FOCUS 1.0-1.2)")],
    by: Annotated[
        list[str] | None, typer.Option(help="FOCUS column to compare by, e.g. Day or SkuId")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Does perfops' attribution account for the bill? perfops attributes the bill's own
    period and compares totals (and groups, with --by); exit 1 when they disagree."""
    from dataclasses import asdict

    from perfops.app.cost import reconcile_bill

    rt = runtime(ctx)
    result, _ = reconcile_bill(rt, bill, by=by or ())
    if as_json:
        echo_json({**asdict(result), "difference": result.difference})
    else:
        echo(result.summary())
    if not result.ok:
        raise CheckFailed("perfops' attribution does not account for the bill (above)")
