"""`perfops review plan|pack`: the review cadence of perfops.yaml as an iCalendar file, and
the pack of a weekly or monthly review (report, open action items, SLOs at risk, decisions)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

import typer

from perfops.cli._context import runtime
from perfops.cli._terminal import echo
from perfops.errors import UsageError

app = typer.Typer(
    help="The review cadence: the weekly performance review, the monthly FinOps review and "
    "post-incident reviews (reviews: in perfops.yaml), and the packs that prepare them.",
    no_args_is_help=True,
)


def _day(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--from {text!r} is not a date", hint="write it YYYY-MM-DD, e.g. 2026-12-07"
        ) from None


def _write(out: Path, data: bytes) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as exc:
        raise UsageError(
            f"cannot write {out}: {exc.strerror or exc}", hint="give --out a writable file"
        ) from None


@app.command("plan")
def plan(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="the .ics file to write")] = Path(
        "reviews.ics"
    ),
    start: Annotated[
        str | None,
        typer.Option("--from", help="the first day of the plan, YYYY-MM-DD (default today)"),
    ] = None,
    weeks: Annotated[
        int | None,
        typer.Option(
            min=1, max=520, help="plan this many weeks (default: the reviews repeat open-ended)"
        ),
    ] = None,
) -> None:
    """Write the review cadence as an iCalendar file: the weekly performance review and the
    monthly FinOps review as recurring events in their time zones, and a post-incident
    review for each SEV-1/2 incident in the lake, within days of its resolution; each with
    its agenda and the perfops command that prepares it."""
    from perfops.app import review
    from perfops.respond import review_calendar

    rt = runtime(ctx)
    meetings = review.plan(rt, _day(start), weeks)
    _write(out, review.plan_ical(rt, meetings))
    echo(f"wrote {out}: {len(meetings)} review(s)")
    for meeting in meetings:
        echo(f"  {meeting.summary}: {review_calendar.when(meeting)}")
    if not meetings:
        echo("  no review is enabled (reviews: in perfops.yaml)")


@app.command("pack")
def pack(
    ctx: typer.Context,
    kind: Annotated[
        Literal["weekly", "monthly"], typer.Argument(help="the review: weekly or monthly")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="the folder to write (default: reviews/<kind>-<YYYY-MM-DD>)"
        ),
    ] = None,
) -> None:
    """Assemble a review's pack in a folder: the report of the period (weekly: the last 7
    days; monthly: the previous calendar month) as report.html and report.pdf, and pack.md
    (and pack.html) with the agenda, the open action items of the postmortems with their
    file and line, the SLOs at risk and the decisions needed."""
    from perfops.app import review

    rt = runtime(ctx)
    folder = out or Path("reviews") / f"{kind}-{review.today(rt).isoformat()}"
    done = review.write_pack(rt, kind, folder)
    echo(f"{kind} review pack for {done.period}: wrote {', '.join(str(f) for f in done.files)}")
    echo(
        f"{done.open_items} open action item(s), {done.at_risk} SLO(s) at risk, "
        f"{done.decisions} decision(s) needed"
    )
