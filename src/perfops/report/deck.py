"""The briefing deck: the leadership report as at most eight 16:9 slides (summary, SLO
scorecard, cost, capacity, incidents, recommendations, asks, sources), with speaker notes
citing the call, query and Delta table versions behind every number shown. It lays out the
figures of a :class:`Report` and computes none; a slide whose section has no data says what
is missing and how to get it. Only the default template, native tables and native charts are
used, so the file opens in PowerPoint, Keynote, LibreOffice and Google Slides."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeGuard

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.presentation import Presentation as Deck
from pptx.util import Inches

from perfops.report._deck_shapes import (
    GREY,
    SLIDE_H,
    SLIDE_W,
    Canvas,
    chart,
    finish,
    footer,
    new_slide,
    source_line,
    table,
    text_block,
    tiles,
)
from perfops.report.model import Part, Report, Section, Table, part_text

__all__ = ["TOP_RECOMMENDATIONS", "write_deck"]

TOP_RECOMMENDATIONS = 5
STATE_FILLS = {  # the scorecard's states as a non-SRE reads them, each its own colour
    "healthy": RGBColor(0x2E, 0x7D, 0x32),
    "recovering": RGBColor(0x15, 0x65, 0xC0),
    "at risk": RGBColor(0xB2, 0x6A, 0x00),
    "breached": RGBColor(0xC6, 0x28, 0x28),
}
IN_DECK = ("summary", "scorecard", "cost", "performance", "reliability", "recommendations")


def write_deck(report: Report, path: Path) -> None:
    """Write the briefing deck of ``report`` to ``path`` (.pptx)."""
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(SLIDE_W), Inches(SLIDE_H)
    slides: tuple[Callable[[Deck, Report], Canvas], ...] = (
        _summary,
        _scorecard,
        _cost,
        _capacity,
        _incidents,
        _recommendations,
        _asks,
        _sources,
    )
    for draw in slides:
        finish(draw(deck, report))
    deck.save(str(path))


def _summary(deck: Deck, report: Report) -> Canvas:
    c = new_slide(deck, report.title)
    services = ", ".join(report.services) or "all services"
    line = f"{report.workspace} · {report.period}: {_period(report.start_ms, report.end_ms)}"
    text_block(c, [[line], [f"Services: {services}"]], 0.9, (18, 16, 14, 12), colour=GREY)
    section = _section(report, "summary")
    if _has_data(section):
        footer(c, [f"Missing: {m}" for m in section.missing])
        text_block(c, section.paragraphs, c.room)
    else:
        _missing(c, section, "Executive summary")
    return c


def _scorecard(deck: Deck, report: Report) -> Canvas:
    return _section_slide(deck, report, "scorecard", "SLO scorecard", fills=STATE_FILLS)


def _cost(deck: Deck, report: Report) -> Canvas:
    return _section_slide(deck, report, "cost", "Cost", chart_first=True)


def _capacity(deck: Deck, report: Report) -> Canvas:
    return _section_slide(deck, report, "performance", "Capacity and performance")


def _incidents(deck: Deck, report: Report) -> Canvas:
    return _section_slide(deck, report, "reliability", "Incidents and reliability")


def _section_slide(
    deck: Deck,
    report: Report,
    section_id: str,
    title: str,
    chart_first: bool = False,
    fills: dict[str, RGBColor] | None = None,
) -> Canvas:
    c = new_slide(deck, title)
    section = _section(report, section_id)
    if _has_data(section):
        footer(c, [f"Missing: {m}" for m in section.missing])
        _lead(c, section)
        tiles(c, section.tiles)
        if section.charts and (chart_first or not section.tables):
            chart(c, section.charts[0])
        elif section.tables:
            table(c, section.tables[0], fills=fills)
    else:
        _missing(c, section, title)
    return c


def _recommendations(deck: Deck, report: Report) -> Canvas:
    c = new_slide(deck, "Recommendations")
    recs = report.recommendations[:TOP_RECOMMENDATIONS]
    _why_none(c, report)
    rows: list[tuple[Part, ...]] = [
        (str(i), r.title, r.impact, r.confidence) for i, r in enumerate(recs, 1)
    ]
    if rows:
        columns = ("#", "Recommendation", "Impact", "Confidence")
        table(c, _table(columns, rows), row_lines=2)
    _more(c, report)
    for i, rec in enumerate(recs, 1):
        evidence = "".join(part_text(p) for p in rec.evidence) or "none given"
        c.notes.append(f"{i}. {rec.title}. Evidence: {evidence}.")
        c.notes += [f"   Assumes: {a}" for a in rec.assumptions]
        c.notes += [source_line(p.text, p.source) for p in rec.evidence if not isinstance(p, str)]
    return c


def _asks(deck: Deck, report: Report) -> Canvas:
    c = new_slide(deck, "Decisions needed")
    _why_none(c, report)
    asks: list[list[Part]] = [
        [f"{i}. {r.action} (", r.impact, f"; {r.confidence} confidence)"]
        for i, r in enumerate(report.recommendations[:TOP_RECOMMENDATIONS], 1)
    ]
    if asks:
        text_block(c, asks, c.room - 0.5)
    _more(c, report)
    return c


def _sources(deck: Deck, report: Report) -> Canvas:
    c = new_slide(deck, "Appendix: sources")
    tables = {f"{n}@{v}" for f in report.figures() for n, v in f.source.tables}
    tables |= {f"{n}@{v}" for s in report.sections for ch in s.charts for n, v in ch.source.tables}
    lines: list[list[Part]] = [
        [
            f"Period {report.period}: {_period(report.start_ms, report.end_ms)}; compared with "
            f"{_period(*report.previous)}."
        ],
        ["Lake tables read (Delta versions): " + (", ".join(sorted(tables)) or "none")],
        [
            "The speaker notes of each slide give every number's call, query and table versions; "
            "the report's appendix lists them all."
        ],
    ]
    lines += [
        [f"Not in this deck: {s.title} (see the report)."]
        for s in report.sections
        if s.id not in IN_DECK and (_has_data(s) or s.missing)
    ]
    lines += [[f"Missing ({s.title}): {m}"] for s in report.sections for m in s.missing]
    text_block(c, lines, c.room, (16, 14, 12))
    return c


def _lead(c: Canvas, section: Section) -> None:
    if section.paragraphs:
        text_block(c, section.paragraphs, 1.0, (16, 14, 12))


def _missing(c: Canvas, section: Section | None, title: str) -> None:
    """A slide with nothing to show: what the lake lacks for it and how to get it."""
    if section is None:
        text_block(c, [[f"The report has no {title} section."]], c.room)
        return
    head = "Not in the lake for this period:" if section.missing else "No data for this period."
    text_block(c, [[head], *([f"• {m}"] for m in section.missing)], c.room, (18, 16, 14, 12))


def _why_none(c: Canvas, report: Report) -> None:
    """With no recommendation, why none; with some, what the ranking lacked (at the foot)."""
    section = _section(report, "recommendations")
    missing = section.missing if section is not None else ()
    if not report.recommendations:
        head = "No recommendations for this period" + (":" if missing else ".")
        text_block(c, [[head], *([f"• {m}"] for m in missing)], c.room, (18, 16, 14, 12))
    else:
        footer(c, [f"Missing: {m}" for m in missing])


def _more(c: Canvas, report: Report) -> None:
    more = len(report.recommendations) - TOP_RECOMMENDATIONS
    if more > 0:
        text_block(c, [[f"{more} more in the report"]], 0.5, [14], colour=GREY)


def _section(report: Report, section_id: str) -> Section | None:
    return next((s for s in report.sections if s.id == section_id), None)


def _has_data(section: Section | None) -> TypeGuard[Section]:
    return section is not None and bool(
        section.paragraphs or section.tiles or section.tables or section.charts
    )


def _table(columns: tuple[str, ...], rows: list[tuple[Part, ...]]) -> Table:
    return Table(title="", columns=columns, rows=tuple(rows))


def _period(start_ms: int, end_ms: int) -> str:
    def day(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")

    return f"{day(start_ms)} to {day(end_ms)} UTC"
