"""`perfops incident policy show|simulate|ical`: the escalation policy as a page, replayed over
the alert history, and its on-call schedules as calendars."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from perfops.cli._context import echo_json, positive_seconds, runtime
from perfops.cli._terminal import echo, rich_text

if TYPE_CHECKING:
    from perfops.respond import policy

policy_app = typer.Typer(
    help="The escalation policy: severity matrix, roles, steps and on-call schedules.",
    no_args_is_help=True,
)


def _write(out: Path, data: bytes | str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        out.write_bytes(data)
    else:
        out.write_text(data, encoding="utf-8")
    typer.echo(f"wrote {out}")


@policy_app.command("show")
def show(
    ctx: typer.Context,
    fmt: Annotated[
        Literal["md", "html"], typer.Option("--format", help="md (Markdown) or html")
    ] = "md",
    out: Annotated[Path | None, typer.Option(help="file to write (default: stdout)")] = None,
) -> None:
    """The policy as a page: severity matrix, roles, escalation steps, who is on call now and
    the next hand-offs, status-update cadence and night hours."""
    from perfops.app import incident_policy

    text = incident_policy.policy_page(runtime(ctx), fmt)
    if out is None:
        echo(text, nl=not text.endswith("\n"))
        return
    _write(out, text)


@policy_app.command("ical")
def ical(
    ctx: typer.Context,
    schedule: Annotated[str, typer.Option(help="the schedule (escalation.schedules[].name)")],
    out: Annotated[Path, typer.Option(help="the .ics file to write")],
    days: Annotated[
        str, typer.Option(help="how far ahead from the current shift, e.g. 90d or 12w")
    ] = "90d",
) -> None:
    """An on-call schedule as an iCalendar file (RFC 5545): one event per shift, in the
    schedule's time zone, for calendars to subscribe to."""
    from perfops.app import incident_policy

    seconds = positive_seconds(days, "--days", most=2 * 366 * 86400.0)
    _write(out, incident_policy.policy_ical(runtime(ctx), schedule, seconds / 86400))


def _table(sim: policy.Simulation) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    echo(
        f"{sim.alerts} alert(s) from {sim.start:%Y-%m-%d %H:%M} to {sim.end:%Y-%m-%d %H:%M} UTC: "
        f"{len(sim.pages)} page(s), {sim.night_pages} at night; {sim.routed} routed without a "
        f"page; {sim.stopped} resolved before the first step; {len(sim.unreached)} reached nobody"
    )
    people = Table("person", "pages", "night pages", title="pages per person")
    for person, row in sim.per_person.items():
        people.add_row(rich_text(person), str(row["pages"]), str(row["night"]))
    weeks = Table("week", "pages", title="pages per week")
    for week, count in sim.per_week.items():
        weeks.add_row(week, str(count))
    console.print(people, weeks)
    if sim.unreached:
        lost = Table("alert", "service", "started", "why", title="alerts that reached nobody")
        for u in sim.unreached:
            lost.add_row(rich_text(u.alert), rich_text(u.service or "-"),
                         f"{u.at:%Y-%m-%d %H:%M}", rich_text(u.reason))  # fmt: skip
        console.print(lost)


@policy_app.command("simulate")
def simulate(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(help="how far back to replay, e.g. 30d")] = "30d",
    as_json: Annotated[bool, typer.Option("--json", help="the replay as JSON on stdout")] = False,
) -> None:
    """Replay the alert history in the lake through the policy: who would have been paged at
    each step (schedules resolved at the alert's time; a resolved alert stops its escalation),
    pages per person and per week, night pages, and alerts that would have reached nobody
    (no route, nobody on call, unknown receiver)."""
    from perfops.app import incident_policy

    sim = incident_policy.simulate_history(runtime(ctx), positive_seconds(since, "--since"))
    if as_json:
        echo_json(incident_policy.simulation_json(sim))
    else:
        _table(sim)
