"""`perfops metrics ls|show|kpis`: browse what the lake holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from perfops.cli._context import (
    AT_HELP,
    echo_json,
    evaluation_ms,
    positive_seconds,
    rfc3339,
    runtime,
)
from perfops.cli._terminal import rich_text

if TYPE_CHECKING:
    from rich.table import Table

    from perfops.app.metrics import MetricSummary

app = typer.Typer(help="Browse the metrics stored in the lake.", no_args_is_help=True)


def _when(ms: int | None, time_format: str = "%m-%d %H:%M:%S") -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime(time_format)


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


@app.command("ls")
def ls(
    ctx: typer.Context,
    vendor: Annotated[
        bool, typer.Option("--vendor", help="also show the vendor (raw) names of each metric")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every stored metric with its series, samples and time span (and vendor names)."""
    from perfops.app.metrics import as_json as to_json
    from perfops.app.metrics import list_metrics

    rows = list_metrics(runtime(ctx))
    if as_json:
        echo_json(to_json(rows))
        return
    from rich.console import Console

    Console().print(_ls_table(rows, vendor))


def _ls_table(rows: Sequence[MetricSummary], vendor: bool) -> Table:
    """One line per metric in 80 columns: no box, times without the date when the whole
    lake spans one UTC day (the title names it), and a name too long for the width folded,
    never cut. With ``vendor``, each metric's vendor names follow it, one per line."""
    from rich import box
    from rich.table import Table

    days = {_when(ms, "%Y-%m-%d") for r in rows for ms in (r.first_ms, r.last_ms)}
    one_day = len(days) == 1
    time_format = "%H:%M:%S" if one_day else "%m-%d %H:%M:%S"
    title = "metrics in the lake, times UTC" + (f", on {days.pop()}" if one_day else "")
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("metric" + (" / vendor names" if vendor else ""), overflow="fold")
    table.add_column("series", justify="right", no_wrap=True)
    table.add_column("samples", justify="right", no_wrap=True)
    table.add_column("from", no_wrap=True)
    table.add_column("to", no_wrap=True)
    for r in rows:
        table.add_row(
            rich_text(r.metric),
            str(r.series),
            f"{r.samples:,}",
            _when(r.first_ms, time_format),
            _when(r.last_ms, time_format),
        )
        if vendor and r.raw_names != (r.metric,):  # a name kept as written is not repeated
            table.add_row(rich_text("\n".join(f"  {n}" for n in r.raw_names), "dim"))
    return table


@app.command("show")
def show(
    ctx: typer.Context,
    metric: Annotated[str, typer.Argument(help="canonical name, e.g. gpu.util")],
    labels: Annotated[
        str | None, typer.Option(help='matchers, e.g. gpu="0",hostname=~"node-.*"')
    ] = None,
    since: Annotated[str, typer.Option(help="how far back, e.g. 15m, 1h, 7d")] = "1h",
    at: Annotated[str | None, typer.Option("--at", help=AT_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="every point as JSON")] = False,
) -> None:
    """Each series of METRIC: last value, min, mean and max over the window (the --since
    before now, or before --at)."""
    from perfops.app.metrics import as_json as to_json
    from perfops.app.metrics import show_metric
    from perfops.errors import UsageError

    seconds = positive_seconds(since, "--since")
    rt = runtime(ctx)
    at_ms = evaluation_ms(rt, at)
    end = at_ms + 1  # the samples in (at - since, at]
    start = end - int(seconds * 1000)
    views = show_metric(rt, metric, start, end, labels)
    if not views:
        raise UsageError(
            f"no series of {metric!r} match in the lake",
            hint="`perfops metrics ls` lists what is stored",
        )
    if as_json:
        echo_json(
            {
                "metric": metric,
                "at": rfc3339(at_ms),
                "start_ms": start,
                "end_ms": end,
                "series": to_json(views),
            }
        )
        return
    from rich.console import Console
    from rich.table import Table

    shared = _shared_labels([v.labels for v in views])
    common = ", ".join(f"{k}={val}" for k, val in sorted(shared.items()))
    table = Table(
        title=rich_text(
            f"{metric} since {since}, as of {rfc3339(at_ms)}"
            + (f"\nall series: {common}" if common else "")
        ),
        title_justify="left",
    )
    table.add_column("series", overflow="fold")
    for col in ("samples", "last", "min", "mean", "max"):
        table.add_column(col, justify="right")
    table.add_column("last at (UTC)", no_wrap=True)
    for v in views:
        text = ",".join(f"{k}={val}" for k, val in sorted(v.labels.items()) if k not in shared)
        table.add_row(
            rich_text(text),
            str(v.samples),
            _num(v.last),
            _num(v.min),
            _num(v.mean),
            _num(v.max),
            _when(v.last_ts_ms),
        )
    Console().print(table)


def _shared_labels(label_sets: list[Mapping[str, str]]) -> dict[str, str]:
    """Labels with the same value on every series (shown once, above the table)."""
    if len(label_sets) < 2:
        return {}
    first = label_sets[0]
    return {k: v for k, v in first.items() if all(ls.get(k) == v for ls in label_sets[1:])}


@app.command("kpis")
def kpis(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="window, e.g. 1h, 1d")] = "1h",
    by: Annotated[str, typer.Option(help="service, model or team")] = "service",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Requests/s, output tokens/s, tokens per joule and GPU-hours over the window."""
    from perfops.app.metrics import as_json as to_json
    from perfops.app.metrics import kpis as compute
    from perfops.errors import UsageError

    seconds = positive_seconds(since, "--since")
    if by not in ("service", "model", "team"):
        raise UsageError(f"--by {by!r}", hint="group by service, model or team")
    rt = runtime(ctx)
    end = rt.clock.now_ns() // 1_000_000 + 1
    start = end - int(seconds * 1000)
    rows = compute(rt, start, end, by)
    if as_json:
        echo_json(to_json(rows))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        by,
        "requests",
        "req/s",
        "output tok",
        "tok/s",
        "energy kJ",
        "tok/J",
        "GPU-hours",
        title=f"KPIs over {since}",
        title_justify="left",
    )
    for r in rows:
        table.add_row(
            rich_text(r.group),
            _num(r.requests),
            f"{r.requests_per_s:.2f}",
            _num(r.output_tokens),
            f"{r.output_tokens_per_s:.1f}",
            f"{r.energy_joules / 1000:.1f}",
            _num(r.output_tokens_per_joule),
            f"{r.gpu_hours:.3f}",
        )
    Console().print(table)
