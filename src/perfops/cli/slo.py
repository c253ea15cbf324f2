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
from perfops.errors import UsageError

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
    at: Annotated[str | None, typer.Option("--at", help=AT_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Each SLO now (or --at a past time): SLI over its period, budget remaining, burn rate
    per window, alerts."""
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
        echo_json([{**asdict(r), "firing": r.firing, "at": rfc3339(at_ms)} for r in results])
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"perfops slo status as of {rfc3339(at_ms)}", title_justify="left")
    for col in (
        "SLO",
        "SLI",
        "objective",
        "budget left",
        "burn 1h",
        "burn 6h",
        "burn 1d",
        "alerts",
    ):
        table.add_column(
            col, justify="left" if col in ("SLO", "alerts") else "right", no_wrap=col != "alerts"
        )
    for r in results:
        left = r.budget.remaining_pct if r.budget else None
        table.add_row(
            Text.assemble(rich_text(r.name), "\n", rich_text(f"{r.kind}, {r.period}", "dim")),
            _pct(r.sli_pct),
            f"{r.objective_pct:g}%",
            _pct(left),
            *(_burn(r.burn_rates.get(w, math.nan)) for w in ("1h", "6h", "1d")),
            rich_text(", ".join(r.firing), "red") if r.firing else rich_text(r.note or "ok"),
        )
    Console().print(table)


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
    runbook_url: Annotated[str | None, typer.Option(help="base URL of the runbooks")] = None,
) -> None:
    """Prometheus recording and alerting rules for every SLO, plus a promtool test file."""
    from perfops.slo.rule_tests import generate_rule_tests
    from perfops.slo.rules import DEFAULT_RUNBOOK, model_selector, render_rules_yaml

    rt = runtime(ctx)
    if not rt.config.slos:
        raise UsageError("no SLOs in perfops.yaml", hint="add an slos: section")
    options: dict[str, Any] = {
        "runbook_url_base": runbook_url or DEFAULT_RUNBOOK,
        "selector": model_selector(rt.config.services),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "rules.yml").write_text(render_rules_yaml(rt.config.slos, **options))
    (out / "rules_test.yml").write_text(generate_rule_tests(rt.config.slos, **options))
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
