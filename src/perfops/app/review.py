"""`perfops review`: the review cadence of perfops.yaml as a calendar (weekly performance
review, monthly FinOps review, a post-incident review per SEV-1/2 incident in the lake), and
a review's pack: the leadership report of its period (HTML and PDF), and ``pack.md`` listing
the open action items of the postmortems, the SLOs at risk and the decisions needed."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from perfops._internal.atomic_file import replace_file
from perfops.app.incident import incidents
from perfops.app.runtime import Runtime
from perfops.errors import UsageError
from perfops.respond import action_items as pm_items
from perfops.respond import review_calendar

__all__ = [
    "PACK_KINDS",
    "ActionItems",
    "Pack",
    "action_items",
    "pack_period",
    "plan",
    "plan_ical",
    "shown_folder",
    "today",
    "write_pack",
]

_MAX_POSTMORTEM_BYTES = 4 * 1024 * 1024
PACK_KINDS = ("weekly", "monthly")


def _now(rt: Runtime) -> dt.datetime:
    return dt.datetime.fromtimestamp(rt.clock.now_ns() / 1e9, dt.UTC)


def today(rt: Runtime) -> dt.date:
    """The clock's day (UTC)."""
    return _now(rt).date()


def shown_folder(path: Path) -> str:
    """``path`` as the agendas and packs show it: relative to the working directory when it
    is below it (``postmortems``), else as it is."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else str(path)
    except (OSError, ValueError):
        return str(path)


def plan(
    rt: Runtime, start: dt.date | None = None, weeks: int | None = None
) -> list[review_calendar.Meeting]:
    """The reviews from ``start`` (default today) on, for ``weeks`` weeks or open-ended."""
    return review_calendar.plan_meetings(
        rt.config.reviews,
        rt.config.workspace.name,
        incidents(rt),
        start or today(rt),
        weeks=weeks,
        postmortems=shown_folder(rt.config.reviews.postmortems),
    )


def plan_ical(rt: Runtime, meetings: list[review_calendar.Meeting]) -> bytes:
    """``meetings`` as an iCalendar file stamped with the clock's now."""
    name = f"perfops reviews: {rt.config.workspace.name}"
    return review_calendar.to_ical(meetings, name=name, stamp=_now(rt))


def pack_period(kind: str, day: dt.date) -> str:
    """The report period of a review held on ``day``: the last 7 days for the weekly one,
    the previous calendar month (``month:YYYY-MM``) for the monthly one."""
    if kind == "weekly":
        return "7d"
    last = day.replace(day=1) - dt.timedelta(days=1)
    return f"month:{last:%Y-%m}"


@dataclass
class ActionItems:
    """The action items of the postmortems in ``folder``, and what could not be read."""

    folder: Path
    items: list[pm_items.ActionItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read(file: Path) -> str | None:
    if file.stat().st_size > _MAX_POSTMORTEM_BYTES:
        return None
    return file.read_text(encoding="utf-8")


def action_items(rt: Runtime) -> ActionItems:
    """Every action item of the Markdown files under ``reviews.postmortems``, in file and
    line order; a file that cannot be read is named in ``notes``, not fatal."""
    folder = rt.config.reviews.postmortems
    found = ActionItems(folder)
    shown = shown_folder(folder)
    if not folder.is_dir():
        found.notes.append(
            f"no postmortems folder at {shown}: draft each postmortem there with `perfops "
            f"incident postmortem ID --out {shown}/ID.md` (reviews.postmortems in perfops.yaml)"
        )
        return found
    for file in sorted(folder.glob("*.md")):
        name = shown_folder(file)
        try:
            text = _read(file)
        except (OSError, UnicodeDecodeError) as exc:
            found.notes.append(f"{name} could not be read: {getattr(exc, 'strerror', exc)}")
            continue
        if text is None:
            found.notes.append(f"{name} is larger than 4 MiB: not read")
            continue
        found.items += pm_items.parse_action_items(text, name)
    return found


@dataclass(frozen=True)
class Pack:
    """A pack written to ``folder``: its ``files``, the report's period, and the counts the
    CLI shows (open action items, SLOs at risk, decisions needed)."""

    folder: Path
    files: tuple[Path, ...]
    period: str
    open_items: int
    at_risk: int
    decisions: int


def write_pack(rt: Runtime, kind: str, folder: Path) -> Pack:
    """Assemble the ``kind`` review's pack in ``folder``: ``report.html`` and ``report.pdf``
    (the leadership report of :func:`pack_period`), ``pack.md`` and ``pack.html``."""
    from perfops.app.report import build_report
    from perfops.report import html, pdf, review_pack
    from perfops.respond import postmortem_render

    if kind not in PACK_KINDS:
        raise UsageError(f"no {kind!r} review", hint="a pack is weekly or monthly")
    day = today(rt)
    report = build_report(rt, pack_period(kind, day))
    found = action_items(rt)
    page = html.render_html(report)
    text = review_pack.render_pack(
        "weekly" if kind == "weekly" else "monthly", report, found.items, today=day,
        folder=shown_folder(found.folder), notes=found.notes,
    )  # fmt: skip
    title = text.splitlines()[0].removeprefix("# ")
    files = [folder / n for n in ("report.html", "report.pdf", "pack.md", "pack.html")]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        replace_file(files[0], page)
        replace_file(files[1], pdf.pdf_bytes(page))
        replace_file(files[2], text)
        replace_file(files[3], postmortem_render.render_html(text, title))
    except OSError as exc:
        raise UsageError(
            f"cannot write the pack in {folder}: {exc.strerror or exc}",
            hint="give --out a folder that can be written",
        ) from None
    return Pack(
        folder, tuple(files), report.period, sum(not i.done for i in found.items),
        len(review_pack.slos_at_risk(report)), len(report.recommendations),
    )  # fmt: skip
