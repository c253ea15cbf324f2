"""`perfops load compare RUN_A RUN_B`: the command and what it shows (a table, or strict JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from perfops._internal import strict_json
from perfops.cli._bounds import SEED
from perfops.cli._context import warn
from perfops.errors import UsageError

if TYPE_CHECKING:
    from perfops.app.compare import RunComparison
    from perfops.loadgen.compare import Difference

__all__ = ["compare"]

RunRef = Annotated[
    str, typer.Argument(help="a run id, or the file `perfops load run --json FILE` wrote")
]


def compare(
    ctx: typer.Context,
    run_a: RunRef,
    run_b: RunRef,
    slo: Annotated[
        str | None,
        typer.Option(help="judge goodput of both runs on this SLO (default: the runs' own)"),
    ] = None,
    confidence: Annotated[
        float, typer.Option(min=0.5, max=0.999, help="confidence of the intervals")
    ] = 0.95,
    resamples: Annotated[
        int, typer.Option(min=100, max=100_000, help="bootstrap resamples")
    ] = 2000,
    seed: Annotated[
        int, typer.Option(help="seed of the resampling (same seed, same answer)", parser=SEED)
    ] = 0,
    json_out: Annotated[
        str | None,
        typer.Option("--json", help="write the comparison as JSON to this file ('-' for stdout)"),
    ] = None,
) -> None:
    """Run B against run A: each latency percentile, goodput and tokens/s (or, for two
    capacity runs, their capacities), the difference B - A with a bootstrap confidence
    interval over the requests, and a verdict: better, worse, or no significant difference."""
    from perfops.app import open_runtime
    from perfops.app.compare import compare_runs
    from perfops.loadgen.slo import parse_slo

    config = (ctx.find_root().obj or {}).get("config")
    rt = open_runtime(config, warn=warn, scratch=True)
    result = compare_runs(
        rt,
        _run_id(run_a),
        _run_id(run_b),
        slo=parse_slo(slo) or None,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )
    if json_out is not None:
        text = strict_json.dumps(result.as_dict(), indent=2)
        if json_out == "-":
            typer.echo(text)
            return
        Path(json_out).write_text(text + "\n", encoding="utf-8")
    show(result)


def _run_id(ref: str) -> str:
    """A run id as given, or the ``run_id`` of a JSON file of `perfops load run`."""
    path = Path(ref)
    if not ref.endswith(".json") or not path.is_file():
        return ref
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {ref}: {exc}", hint="pass a run id instead") from None
    run_id = data.get("run_id") if isinstance(data, dict) else None
    if not isinstance(run_id, str):
        raise UsageError(
            f"{ref} has no run_id", hint="pass the file `perfops load run --json FILE` wrote"
        )
    return run_id


_NAMES = {
    "ttft": "TTFT",
    "ttft_from_schedule": "TTFT from schedule",
    "tpot": "TPOT",
    "itl": "ITL",
    "e2e": "E2E",
    "e2e_from_schedule": "E2E from schedule",
    "goodput_rps": "goodput",
    "output_tokens_per_s": "output tokens",
    "capacity_rps": "capacity",
    "capacity_rps_per_gpu": "capacity per GPU",
}
_COLOURS = {"better": "green", "worse": "red"}


def _num(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "-"
    sign = "+" if signed and x > 0 else ""
    return sign + (f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}" if abs(x) < 1 else f"{x:.1f}")


def _name(d: Difference) -> str:
    return _NAMES.get(d.metric, d.metric) + (f" {d.stat}" if d.stat else "")


def _row(d: Difference) -> list[str]:
    delta = _num(d.delta, signed=True)
    if d.low is not None:
        delta += f" [{_num(d.low, True)}, {_num(d.high, True)}]"
    rel = "-" if d.relative is None else f"{d.relative:+.1f}%"
    if d.relative_low is not None and d.relative_high is not None:
        rel += f" [{d.relative_low:+.1f}, {d.relative_high:+.1f}]"
    colour = _COLOURS.get(d.verdict)
    verdict = f"[{colour}]{d.verdict}[/]" if colour else d.verdict
    return [f"{_name(d)} ({d.unit})", _num(d.a), _num(d.b), delta, rel, verdict]


def show(result: RunComparison) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=max(120, Console().width))
    level = f"{result.confidence:.1%}".replace(".0%", "%")
    if result.workload_differences:
        console.print(
            "[yellow]warning: the runs differ in their workload; compare only like with "
            "like:[/] " + escape("; ".join(result.workload_differences))
        )
    table = Table(
        title=f"perfops load compare: B {result.run_b} against A {result.run_a}",
        title_justify="left",
    )
    for col in ("", "A", "B", f"B - A [{level} interval]", "B/A - 1 (%)", "verdict"):
        table.add_column(
            col, justify="left" if col in ("", "verdict") else "right", no_wrap=col == ""
        )
    for d in result.differences:
        table.add_row(*_row(d))
    console.print(table)
    for line in _notes(result.differences) + _footer(result, level):
        console.print(escape(line))


def _notes(diffs: list[Difference]) -> list[str]:
    """Each note once, with the figures it is about."""
    by_note: dict[str, list[str]] = {}
    for d in diffs:
        if d.note:
            by_note.setdefault(d.note, []).append(_name(d))
    return [f"{note} ({', '.join(names)})" for note, names in by_note.items()]


def _footer(result: RunComparison, level: str) -> list[str]:
    out = []
    if result.target_differences:
        out.append("target: " + "; ".join(result.target_differences))
    if result.slo:
        judged = "goodput judged on " if result.kind == "requests" else "SLO of run A: "
        out.append(judged + ", ".join(result.slo))
    out += [f"read {r.read}" for r in result.capacities]
    out += result.notes
    if result.kind == "requests":
        out.append(
            f"{level} percentile bootstrap over requests ({result.resamples} resamples, seed "
            f"{result.seed}); percentiles nearest rank, as the load summary's; latencies "
            "from the send unless 'from schedule'"
        )
    else:
        out.append(f"{level} interval of B - A from each run's capacity interval")
    return out
