"""`perfops slo status|history|rules|alertmanager`: the promises, kept or not, and the files
teams deploy to their Prometheus stack."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from perfops.cli._bounds import Bounded
from perfops.cli._context import AT_HELP, echo_json, evaluation_ms, rfc3339, runtime
from perfops.cli._terminal import echo, rich_text
from perfops.errors import CheckFailed, UsageError

app = typer.Typer(
    help="SLOs, error budgets, burn-rate alerts, and the rules, routes and dashboards to deploy.",
    no_args_is_help=True,
)


def _pct(x: float | None) -> str:
    return "-" if x is None or x != x else f"{x:.3f}%" if abs(x) < 1000 else f"{x:,.0f}%"


def _burn(x: float) -> str:
    return "-" if math.isnan(x) else "inf" if math.isinf(x) else f"{x:.2f}x"


@app.command("status")
def status(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="one SLO (default: all)")] = None,
    min_events: Annotated[
        int,
        typer.Option(
            help="low-traffic guard: alerts need this many events in their long window",
            parser=Bounded(0, 1_000_000_000, integer=True, why="events in a window"),
        ),
    ] = 10,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="exit 1 unless every SLO has data, no alert fires and budget is left"
        ),
    ] = False,
    at: Annotated[str | None, typer.Option("--at", help=AT_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Each SLO now (or --at a past time): SLI over its period, budget remaining, burn rate
    per window, alerts.

    An SLO whose SLI finds no series or no events is `no data` (never a full budget); one that
    cannot be evaluated shows its error and place in perfops.yaml, and the command exits 1."""
    from dataclasses import asdict

    from perfops.app.slo import slo_statuses

    rt = runtime(ctx)
    slos = [s for s in rt.config.slos if name is None or s.name == name]
    if not slos:
        known = ", ".join(s.name for s in rt.config.slos) or "none in perfops.yaml"
        raise UsageError(
            f"no SLO {name!r}" if name else "no SLOs in perfops.yaml", hint=f"SLOs: {known}"
        )
    at_ms = evaluation_ms(rt, at)
    results = slo_statuses(rt, slos, min_events=min_events, at_ms=at_ms)
    if as_json:
        echo_json(
            [
                {**asdict(r), "firing": r.firing, "state": r.state, "at": rfc3339(at_ms)}
                for r in results
            ]
        )
    else:
        _status_table(results, at_ms)
    _verdict(results, check=check)


def _verdict(results: list[Any], *, check: bool) -> None:
    """Exit 1 when an SLO could not be evaluated; with --check also on no data, an alert
    firing or a budget spent."""
    broken = [r.name for r in results if r.error is not None]
    if broken:
        raise CheckFailed(
            f"{len(broken)} of {len(results)} SLOs could not be evaluated: {', '.join(broken)}",
            hint="each row says why and where in perfops.yaml",
        )
    if not check:
        return
    bad = [
        f"{r.name} ({r.state if r.state != 'ok' else 'budget spent'})"
        for r in results
        if r.state != "ok" or (r.budget is not None and r.budget.remaining_fraction < 0)
    ]
    if bad:
        raise CheckFailed(f"SLO check failed: {', '.join(bad)}")


def _status_table(results: list[Any], at_ms: int) -> None:
    """The table, then one line per SLO saying what it read and, for an SLO without a
    verdict, why (reasons and selectors are too long for a cell)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"perfops slo status as of {rfc3339(at_ms)}", title_justify="left")
    table.add_column("SLO", justify="left", no_wrap=True)
    table.add_column("state", justify="left", no_wrap=True)
    for col in ("SLI", "objective", "budget left", "burn 1h", "burn 6h", "burn 1d"):
        table.add_column(col, justify="right", no_wrap=True)
    styles = {"ok": "green", "firing": "red", "error": "red", "no data": "yellow"}
    for r in results:
        left = r.budget.remaining_pct if r.budget else None
        table.add_row(
            Text.assemble(rich_text(r.name), "\n", rich_text(f"{r.kind}, {r.period}", "dim")),
            rich_text(r.state, styles[r.state]),
            _pct(r.sli_pct),
            f"{r.objective_pct:g}%",
            _pct(left),
            *(_burn(r.burn_rates.get(w, math.nan)) for w in ("1h", "6h", "1d")),
        )
    Console().print(table)
    for r in results:
        echo(f"{r.name}: {_detail(r)}")


def _detail(r: Any) -> str:
    """What an SLO read, and why it has no verdict, which alerts fire, or its notes."""
    reads = f"reads {r.source} {r.selector}".strip()
    if r.error is not None:
        return f"error: {r.error}"
    if r.no_data is not None:
        return f"no data: {r.no_data}; {reads}"
    extra = [f"firing: {', '.join(r.firing)}"] if r.firing else []
    return "; ".join([reads, *extra, *([r.note] if r.note else [])])


@app.command("history")
def history(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the SLO")],
    at: Annotated[str | None, typer.Option("--at", help=AT_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Error budget over the SLO period (ending now, or --at a past time), day by day."""
    from perfops.app.slo import slo_history

    rt = runtime(ctx)
    slo = next((s for s in rt.config.slos if s.name == name), None)
    if slo is None:
        raise UsageError(
            f"no SLO {name!r}", hint=f"SLOs: {', '.join(s.name for s in rt.config.slos) or 'none'}"
        )
    at_ms = evaluation_ms(rt, at)
    rows = slo_history(rt, slo, at_ms=at_ms)
    if as_json:
        stamp = rfc3339(at_ms)
        echo_json(
            [
                {"day": d, "good": g, "total": t, "budget_remaining_pct": left, "at": stamp}
                for d, g, t, left in rows
            ]
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "day (UTC)",
        "good",
        "total",
        "budget left",
        title=f"{name}: budget by day, as of {rfc3339(at_ms)}",
        title_justify="left",
    )
    for day, good, total, left in rows:
        table.add_row(day, f"{good:,.0f}", f"{total:,.0f}", _pct(left))
    Console().print(table)


@app.command("rules")
def rules(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="folder for rules.yml and rules_test.yml")],
    runbook_url: Annotated[
        str | None,
        typer.Option(
            help="base URL of the runbooks (default: workspace.runbook_url, else the runbooks "
            "`perfops dashboard` serves)"
        ),
    ] = None,
) -> None:
    """Prometheus recording and alerting rules for every SLO, plus a promtool test file."""
    from perfops.app.runbook import runbook_base
    from perfops.slo.rule_tests import generate_rule_tests
    from perfops.slo.rules import (
        gpu_selectors,
        render_rules_yaml,
        service_selector,
    )
    from perfops.slo.sources import sli_source

    rt = runtime(ctx)
    config = rt.config
    if not config.slos:
        raise UsageError("no SLOs in perfops.yaml", hint="add an slos: section")
    options: dict[str, Any] = {
        "runbook_url_base": runbook_base(config, runbook_url),
        "selector": service_selector(config.services),
        "gpus": gpu_selectors(config),
    }
    text = render_rules_yaml(
        config.slos, where=lambda i, *path: config.where("slos", i, *path), **options
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "rules.yml").write_text(text)
    (out / "rules_test.yml").write_text(generate_rule_tests(config.slos, **options))
    for slo in config.slos:
        if sli_source(slo).kind == "requests" and slo.sli.kind == "latency":
            echo(
                f"note: {slo.name} has source: requests, so `slo status` reads load-test "
                "records; Prometheus has none, and its rules read the engine's histograms",
                err=True,
            )
    typer.echo(f"wrote {out / 'rules.yml'} and {out / 'rules_test.yml'}")
    typer.echo(
        f"check them: promtool check rules {out / 'rules.yml'} && "
        f"promtool test rules {out / 'rules_test.yml'}"
    )


@app.command("alertmanager")
def alertmanager(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(help="file to write (default: stdout)")] = None,
) -> None:
    """An Alertmanager config from the escalation policy in perfops.yaml."""
    from perfops.slo.alertmanager import render_alertmanager_yaml

    rt = runtime(ctx)
    text = render_alertmanager_yaml(rt.config.escalation)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    typer.echo(f"wrote {out}; check it: amtool check-config {out}")


@app.command("grafana")
def grafana(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="folder for one dashboard JSON per service")],
    service: Annotated[str | None, typer.Option(help="one service (default: all)")] = None,
    datasource_uid: Annotated[
        str, typer.Option(help="Prometheus datasource uid")
    ] = "${datasource}",
) -> None:
    """A Grafana dashboard per service: SLI, budget, burn rates, engine and GPU panels."""
    from perfops.slo.grafana import render_dashboard_json

    rt = runtime(ctx)
    services = list(rt.config.services)
    if service is not None or not services:  # a typo, or no services at all: a usage error
        services = [rt.config.service(service)]
    out.mkdir(parents=True, exist_ok=True)
    for svc in services:
        path = out / f"perfops-{svc.name}.json"
        path.write_text(render_dashboard_json(svc, rt.config.slos, datasource_uid=datasource_uid))
        typer.echo(f"wrote {path}")


@app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="an OpenSLO v1 YAML file (multi-document)")],
) -> None:
    """Convert OpenSLO v1 SLOs into a perfops.yaml `slos:` block (printed; warnings on stderr)."""
    from perfops.slo.openslo import import_openslo, render_slos_yaml

    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from None
    entries, warnings = import_openslo(text, source=str(source))
    for warning in warnings:
        echo(f"warning: {warning}", err=True)
    if not entries:  # nothing to paste: the file is not what this command takes
        raise UsageError(
            f"{source}: no SLO imported",
            hint="give an OpenSLO v1 file with at least one `kind: SLO` document that perfops "
            "can map (the warnings above say why each was skipped)",
        )
    typer.echo(render_slos_yaml(entries, source=str(source)), nl=False)
