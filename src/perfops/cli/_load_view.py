"""What `perfops load` shows: the live view during a run, and the tables of its results."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from perfops._internal import strict_json

if TYPE_CHECKING:
    from perfops.app.load import LoadOptions, LoadResult
    from perfops.loadgen.records import RequestRecord
    from perfops.loadgen.search import CapacityResult, SearchSpec, Step
    from perfops.loadgen.summary import Summary

__all__ = [
    "capacity_budget",
    "emit",
    "print_capacity",
    "print_run",
    "print_step",
    "print_table",
    "row",
    "with_live",
]

T = TypeVar("T")


def emit(path: str | None, data: dict[str, Any]) -> None:
    if path is None:
        return
    text = strict_json.dumps(data, indent=2)
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


async def with_live(
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


def row(label: str, result: LoadResult) -> list[str]:
    return summary_row(label, result.summary)


def _flags(s: Summary) -> str:
    """Why a run's verdict may not hold, in short: short, client, target."""
    out = []
    if any(d.get("samples", 0) < d.get("min_samples", 0) for d in s.slo_detail.values()):
        out.append("short")
    if s.client_limited:
        out.append("client")
    if s.target_limited:
        out.append("target")
    return ",".join(out) or ("ok" if s.target_limited is not None else "ok?")


def summary_row(label: str, s: Summary) -> list[str]:
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
        _flags(s),
    ]


def print_table(title: str, rows: list[list[str]], notes: list[str]) -> None:
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
        "valid",
    ):
        table.add_column(col, justify="left" if col == "run" else "right")
    for row in rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(
        "ms; TTFT/TPOT from the send (service time); E2E* from the schedule "
        "(response time, free of coordinated omission); valid: ok, or why the verdict may "
        "not hold (short: fewer requests than the percentile needs, client: the client "
        "lagged its schedule, target: the server's loop lagged wall time; ok?: the server's "
        "loop lag was not scraped)"
    )
    for note in notes:
        console.print(note)


def print_run(title: str, result: LoadResult) -> None:
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
    for key, detail in s.slo_detail.items():
        mark = "met" if detail["met"] else "missed"
        console.print(
            f"SLO {key}: {_ms(detail['observed_ms'])} ms against "
            f"{_ms(detail['limit_ms'])} ms: {mark} ({detail['samples']} samples, "
            f"{detail['min_samples']} needed)"
        )
    if s.slo_detail:
        console.print(f"percentiles: {s.definitions['percentile']}")
    for note in _notes(result):
        console.print(note)


def _notes(result: LoadResult) -> list[str]:
    from rich.markup import escape

    s, out = result.summary, []
    if s.errors:
        out.append("errors: " + ", ".join(f"{k} {v}" for k, v in sorted(s.errors.items())))
    out.extend(f"[yellow]INVALID: {escape(why)}[/]" for why in s.invalid)
    if s.client_limited:
        out.append("[yellow]use --workers or a bigger machine for the client[/]")
    if s.target_limited:
        out.append("[yellow]give the server (perfops sim) a core of its own, or lower the rate[/]")
    elif s.target_limited is None:
        out.append("the server's loop lag was not scraped (perfops sim exports it on /metrics)")
    if result.server:
        out.append(
            "server during the run: " + ", ".join(f"{k} {v:.3g}" for k, v in result.server.items())
        )
    out.append(f"run {result.run_id} stored in the lake (requests, runs)")
    return out


def capacity_budget(spec: SearchSpec, duration_s: float) -> str:
    """The time the search may take, said before it starts."""
    from perfops.loadgen.search import budget_text

    return budget_text(spec, duration_s)


def print_step(step: Step, result: LoadResult) -> None:
    s = result.summary
    margin = "-" if s.slo_margin is None else f"{s.slo_margin:.2f}"
    typer.echo(
        f"  {step.phase:<6} {step.rate:8.2f} req/s seed {step.seed}: SLO "
        f"{'met' if s.slo_met else 'missed'} (margin {margin}, {s.completed} done"
        f"{'' if s.valid else ', ' + _flags(s)})"
    )


def capacity_lines(found: CapacityResult, gpus: int | None) -> list[str]:
    """The capacity, its verdict in plain words, and how both were reached."""
    from perfops.loadgen.judge import MIN_SAMPLES_RULE, PERCENTILE_DEFINITION
    from perfops.loadgen.search import INTERVAL_METHOD

    per_gpu = found.per_gpu(gpus)
    head = f"capacity: {found.text(gpus)}"
    if per_gpu and found.high_rps is not None and found.low_rps is not None and gpus:
        head += (
            f" = {per_gpu:.2f} req/s per GPU [{found.low_rps / gpus:.2f}, "
            f"{found.high_rps / gpus:.2f}]"
        )
    lines = [head, f"verdict: {found.verdict_text()}"]
    if found.valid:
        lines.append(
            "  the decisive runs each held enough requests for the percentile they judge, "
            "the client kept its schedule, the server kept real time where it reports its "
            "loop lag, and the repeats agree with the interval"
        )
    lines += [
        f"why: {found.reason}",
        f"interval: {INTERVAL_METHOD}",
        f"percentiles: {PERCENTILE_DEFINITION}",
        f"minimum run: {MIN_SAMPLES_RULE}",
    ]
    return lines


def print_capacity(run_id: str, found: CapacityResult, opts: LoadOptions) -> None:
    rows = [
        summary_row(f"{p.phase} {p.rate:.2f} #{p.seed}", p.summary)
        for p in found.points
        if p.summary is not None
    ]
    from rich.markup import escape

    slo_text = ", ".join(str(t) for t in opts.slo)
    print_table(
        f"perfops load capacity {run_id} (SLO {slo_text})",
        rows,
        [escape(line) for line in capacity_lines(found, opts.gpus)],
    )
