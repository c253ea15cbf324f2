"""Drawing on a 16:9 briefing slide: text sized to fit its box (estimated, so the deck looks
the same in PowerPoint, Keynote, LibreOffice and Google Slides, none of which re-fits text the
same way), key-figure tiles, native tables cut to the rows that fit, native charts, and speaker
notes citing the source of every figure drawn. Only the default template's layouts are used."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from pptx.chart.data import CategoryChartData, ChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.presentation import Presentation
from pptx.shapes.graphfrm import GraphicFrame
from pptx.slide import Slide
from pptx.text.text import TextFrame
from pptx.util import Inches, Length, Pt

from perfops.report.model import Chart, Figure, Part, Source, Table, part_text

SLIDE_W, SLIDE_H = 13.333, 7.5  # inches: 16:9
LEFT, WIDTH = 0.5, 12.333
BODY_TOP, BODY_BOTTOM = 1.35, 7.1
MIN_PT = 12
GREY = RGBColor(0x59, 0x59, 0x59)
TITLE_ONLY = 5  # the default template's "Title Only" layout
_CHAR_EM = 0.55  # a generous average glyph width, in ems, for the fit estimate
_CHART_TYPES = {
    "line": XL_CHART_TYPE.LINE_MARKERS,
    "bar": XL_CHART_TYPE.COLUMN_CLUSTERED,
    "stacked": XL_CHART_TYPE.COLUMN_STACKED,
}


@dataclass
class Canvas:
    """One slide being drawn: the free band from ``top`` to ``bottom`` (inches), the figures
    and charts drawn so far (their sources go to the notes) and extra lines for the notes."""

    slide: Slide
    top: float = BODY_TOP
    bottom: float = BODY_BOTTOM
    figures: list[Figure] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def room(self) -> float:
        return self.bottom - self.top


def new_slide(prs: Presentation, title: str) -> Canvas:
    slide = prs.slides.add_slide(prs.slide_layouts[TITLE_ONLY])
    shape = slide.shapes.title
    assert shape is not None  # the Title Only layout has one
    shape.left, shape.top, shape.width, shape.height = _box(LEFT, 0.3, WIDTH, 0.95)
    _fill(shape.text_frame, [title], 28, bold=True)
    return Canvas(slide)


def lines_needed(text: str, width: float, size: int) -> int:
    per_line = max(1, int(width * 72 / (size * _CHAR_EM)))
    return max(1, math.ceil(len(text) / per_line))


def text_height(texts: Sequence[str], width: float, size: int) -> float:
    lines = sum(lines_needed(t, width - 0.2, size) for t in texts)
    return lines * size * 1.2 / 72 + len(texts) * 6 / 72 + 0.1


def text_block(
    c: Canvas,
    paragraphs: Sequence[Sequence[Part]],
    max_height: float,
    sizes: Sequence[int] = (20, 18, 16, 14, 12),
    colour: RGBColor | None = None,
) -> None:
    """The paragraphs at the largest size that fits ``max_height`` (and the room left); at the
    smallest, those that fit and a line saying how many more are in the report."""
    height = min(max_height, c.room)
    texts = ["".join(part_text(p) for p in para) for para in paragraphs]
    size = next((s for s in sizes if text_height(texts, WIDTH, s) <= height), sizes[-1])
    shown = _fitting(texts, height, size)
    used = min(height, text_height(shown, WIDTH, size))
    box = c.slide.shapes.add_textbox(*_box(LEFT, c.top, WIDTH, used))
    _fill(box.text_frame, shown, size, colour=colour)
    drawn = "\n".join(shown)
    for para in paragraphs[: len(shown)]:
        c.figures.extend(p for p in para if isinstance(p, Figure) and p.text in drawn)
    c.top += used + 0.1


def _fitting(texts: list[str], height: float, size: int) -> list[str]:
    """``texts`` if they fit; else the first ones that do, the first cut short if need be,
    and a line counting the rest."""
    if text_height(texts, WIDTH, size) <= height:
        return texts

    def cut(k: int) -> list[str]:
        return [*texts[:k], f"… {len(texts) - k} more in the report"]

    fits = (k for k in range(len(texts) - 1, 0, -1) if text_height(cut(k), WIDTH, size) <= height)
    kept = next(fits, 0)
    if kept:
        return cut(kept)
    lines = max(1, int((height - 0.1) * 72 / (size * 1.2)) - (len(texts) > 1) - 1)
    first = _clip(texts[0], lines * _per_line(WIDTH - 0.2, size))
    return [first, *cut(1)[1:]] if len(texts) > 1 else [first]


def tiles(c: Canvas, items: Sequence[tuple[str, Figure]], per_row: int = 4) -> None:
    """Key figures as tiles, at most two rows; any left over are counted in a line."""
    shown = items[: 2 * per_row]
    gap, height = 0.2, 0.95
    width = (WIDTH - gap * (per_row - 1)) / per_row
    for start in range(0, len(shown), per_row):
        for i, (label, fig) in enumerate(shown[start : start + per_row]):
            _tile(c, LEFT + i * (width + gap), width, height, label, fig)
        c.top += height + gap
    if len(items) > len(shown):
        more = len(items) - len(shown)
        text_block(c, [[f"{more} more key figure{'s' * (more > 1)} in the report"]], 0.4, [12])


def _tile(c: Canvas, left: float, width: float, height: float, label: str, fig: Figure) -> None:
    box = c.slide.shapes.add_textbox(*_box(left, c.top, width, height))
    box.fill.solid()
    box.fill.fore_color.rgb = RGBColor(0xF2, 0xF2, 0xF2)
    _fill(box.text_frame, [_clip(label, _per_line(width - 0.2, MIN_PT))], MIN_PT, colour=GREY)
    size = next(s for s in (24, 20, 16, 14, 12) if _fits_line(fig.text, width, s))
    run = box.text_frame.add_paragraph().add_run()
    run.text = _clip(fig.text, _per_line(width - 0.2, size))
    run.font.size, run.font.bold = Pt(size), True
    c.figures.append(fig)


def footer(c: Canvas, lines: Sequence[str], max_height: float = 1.0) -> None:
    """Grey lines at the foot of the slide (what is missing), drawn first so that the tables
    and charts above keep clear of them."""
    if not lines:
        return
    texts = [_clip(line, 2 * _per_line(WIDTH - 0.2, MIN_PT)) for line in lines]
    height = min(max_height, text_height(texts, WIDTH, MIN_PT))
    top, c.top = c.top, c.bottom - height
    text_block(c, [[t] for t in texts], height, [MIN_PT], colour=GREY)
    c.top, c.bottom = top, c.bottom - height - 0.1


def table(
    c: Canvas, tbl: Table, row_lines: int = 1, fills: dict[str, RGBColor] | None = None
) -> None:
    """A native table with the rows that fit the room; a line counts the rest. Cells are cut
    to ``row_lines`` lines; a cell whose state word is a key of ``fills`` is filled so."""
    row_h = 0.22 * row_lines + 0.14
    tail = [_clip(tbl.note, _per_line(WIDTH - 0.2, MIN_PT))] if tbl.note else []
    title_h = 0.55 if tbl.title else 0.0
    fit = int((c.room - title_h - 0.1 - text_height([*tail, "x"], WIDTH, MIN_PT)) / row_h) - 1
    if fit < 1 or not tbl.rows:
        name = tbl.title or "A table"
        text_block(c, [[f"{name}: {len(tbl.rows)} rows in the report"]], c.room, [MIN_PT])
        return
    if tbl.title:
        text_block(c, [[tbl.title]], 0.45, [14])
    rows = tbl.rows[:fit]
    if len(rows) < len(tbl.rows):
        tail.insert(0, f"{len(tbl.rows) - len(rows)} more in the report")
    widths = _column_widths(tbl.columns, rows)
    height = row_h * (len(rows) + 1)
    grid = c.slide.shapes.add_table(
        len(rows) + 1, len(tbl.columns), *_box(LEFT, c.top, WIDTH, height)
    ).table
    for j, width in enumerate(widths):
        grid.columns[j].width = Inches(width)
    for i, cells in enumerate([tuple(tbl.columns), *rows]):
        grid.rows[i].height = Inches(row_h)
        for j, part in enumerate(cells):
            cell = grid.cell(i, j)
            cell.margin_left = cell.margin_right = Inches(0.05)
            text = _clip(part_text(part), row_lines * _per_line(widths[j] - 0.1, MIN_PT))
            fill = (fills or {}).get(_state(text))
            if fill is not None:
                cell.fill.solid()
                cell.fill.fore_color.rgb = fill
            white = RGBColor(0xFF, 0xFF, 0xFF) if fill is not None else None
            _fill(cell.text_frame, [text], MIN_PT, bold=i == 0 or fill is not None, colour=white)
            if isinstance(part, Figure) and part.text in text:
                c.figures.append(part)
    c.top += height + 0.1
    if tail:
        text_block(c, [[line] for line in tail], c.room, [MIN_PT], colour=GREY)


def chart(c: Canvas, ch: Chart) -> None:
    """A native chart (editable, its values in the deck) filling the room left, if enough."""
    if c.room < 2.0:
        text_block(c, [[f"Chart {ch.title}: in the report"]], c.room, [MIN_PT])
        return
    data = CategoryChartData()
    data.categories = list(ch.x)
    for name, values in ch.series:
        data.add_series(name, list(values))
    # python-pptx annotates add_chart as taking the ChartData alias and returning a Chart; it
    # takes any CategoryChartData and returns the GraphicFrame holding the chart
    box = _box(LEFT, c.top, WIDTH, c.room)
    added = c.slide.shapes.add_chart(_CHART_TYPES[ch.kind], *box, cast(ChartData, data))
    frame = cast(GraphicFrame, added)
    drawn = frame.chart
    drawn.font.size = Pt(MIN_PT)
    drawn.has_title = True
    drawn.chart_title.text_frame.text = f"{ch.title} ({ch.unit})" if ch.unit else ch.title
    drawn.chart_title.text_frame.paragraphs[0].runs[0].font.size = Pt(14)
    drawn.has_legend = len(ch.series) > 1
    if drawn.has_legend:
        drawn.legend.position = XL_LEGEND_POSITION.BOTTOM
        drawn.legend.include_in_layout = False
    c.charts.append(ch)
    c.top = c.bottom


def source_line(label: str, source: Source) -> str:
    """``label: call; query (first 300 characters); tables name@version, ...``"""
    parts = [f"{label}: {source.call}"]
    if source.query:
        query = " ".join(source.query.split())
        parts.append(query if len(query) <= 300 else query[:300] + "…")
    parts.append("tables " + (", ".join(f"{n}@{v}" for n, v in source.tables) or "none"))
    return "; ".join(parts)


def finish(c: Canvas) -> None:
    """Speaker notes: the source of every figure and chart drawn, then any extra lines."""
    lines = [source_line(f.text, f.source) for f in c.figures]
    lines += [source_line(f"{ch.title} (chart)", ch.source) for ch in c.charts]
    lines = list(dict.fromkeys(lines))
    head = "Sources of the numbers on this slide:" if lines else "No numbers on this slide."
    notes = c.slide.notes_slide.notes_text_frame
    assert notes is not None  # the default notes master has a body placeholder
    notes.text = "\n".join([head, *lines, *c.notes])


def _state(text: str) -> str:
    """The state word of a cell: ``at risk (fast burn)`` reads ``at risk``."""
    return re.split(r"[(:;,—]", text, maxsplit=1)[0].strip().lower()


def _column_widths(columns: Sequence[str], rows: Sequence[Sequence[Part]]) -> list[float]:
    longest = [len(col) for col in columns]
    for row in rows:
        longest = [max(n, len(part_text(p))) for n, p in zip(longest, row, strict=True)]
    weights = [min(n, 48) + 4 for n in longest]
    return [WIDTH * w / sum(weights) for w in weights]


def _fill(
    frame: TextFrame,
    texts: Sequence[str],
    size: int,
    bold: bool = False,
    colour: RGBColor | None = None,
) -> None:
    frame.clear()
    frame.word_wrap = True
    for i, text in enumerate(texts):
        para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        para.space_after = Pt(6)
        run = para.add_run()
        run.text = text
        run.font.size, run.font.bold = Pt(size), bold
        if colour is not None:
            run.font.color.rgb = colour


def _per_line(width: float, size: int) -> int:
    return max(4, int(width * 72 / (size * _CHAR_EM)))


def _fits_line(text: str, width: float, size: int) -> bool:
    return size == MIN_PT or len(text) <= _per_line(width - 0.2, size)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)].rstrip() + "…"


Box = tuple[Length, Length, Length, Length]


def _box(left: float, top: float, width: float, height: float) -> Box:
    return Inches(left), Inches(top), Inches(width), Inches(height)
