"""The briefing deck from a report built by hand: the slides and their order, every figure shown
on its slide with its source in the notes, a native chart holding the series given, long
tables cut with a count, what is missing said, and a file PowerPoint's readers can open."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pptx import Presentation
from pptx.presentation import Presentation as Deck
from pptx.shapes.autoshape import Shape
from pptx.shapes.base import BaseShape
from pptx.shapes.graphfrm import GraphicFrame
from pptx.shapes.shapetree import SlideShapes
from pptx.slide import Slide
from pptx.text.text import _Run
from pptx.util import Pt

from perfops.report.deck import write_deck
from perfops.report.model import (
    Chart,
    Figure,
    Part,
    Recommendation,
    Report,
    Section,
    SectionId,
    Source,
    Table,
)

TITLES = [
    "Leadership review: prod",
    "SLO scorecard",
    "Cost",
    "Capacity and performance",
    "Incidents and reliability",
    "Recommendations",
    "Decisions needed",
    "Appendix: sources",
]
STATES = ("healthy", "recovering", "at risk", "breached")
LONG_QUERY = "SELECT service, sum(cost_usd) FROM cost_allocation WHERE ts >= 1 " + "AND 1=1 " * 60


def fig(text: str, call: str, *tables: tuple[str, int], query: str | None = None) -> Figure:
    return Figure(text, Source(call, query, tables), key=call)


def scorecard_rows(n: int) -> tuple[tuple[str | Figure, ...], ...]:
    return tuple(
        (
            f"svc-{i:02d}",
            "ttft-p95",
            fig(f"99.{i:02d}%", f"slo.attainment(svc-{i:02d})", ("slo_events", 40 + i)),
            STATES[i % 4] + (" (fast burn 14.4x)" if i == 2 else ""),  # a state with its why
        )
        for i in range(n)
    )


def full_report() -> Report:
    summary = Section(
        "summary",
        "Executive summary",
        paragraphs=(
            ("The fleet cost ", fig("$41,200", "finops.total", ("cost_allocation", 7)), "."),
            ("Chat met its SLO ", fig("99.2%", "slo.attainment(chat)", ("slo_events", 12)), "."),
        ),
    )
    scorecard = Section(
        "scorecard",
        "SLO scorecard",
        tables=(Table("SLOs", ("Service", "SLO", "Attainment", "State"), scorecard_rows(30)),),
    )
    cost = Section(
        "cost",
        "Cost",
        tiles=(
            ("Bill", fig("$41,200", "finops.total", ("cost_allocation", 7), query=LONG_QUERY)),
            ("Idle", fig("$6,100", "finops.idle", ("cost_allocation", 7))),
        ),
        charts=(
            Chart(
                "Daily cost",
                "stacked",
                ("11-01", "11-02", "11-03"),
                (("chat", (1200.0, None, 1310.5)), ("embed", (300.0, 280.0, 295.0))),
                "USD",
                Source("finops.daily", "SELECT day, cost", (("cost_allocation", 7),)),
            ),
        ),
    )
    performance = Section(
        "performance",
        "Performance",
        tiles=(("Capacity per GPU", fig("412 req/s", "capacity.at_slo(chat)", ("runs", 3))),),
        tables=(
            Table(
                "Latency",
                ("Service", "TTFT p95"),
                (("chat", fig("182 ms", "latency.p95(chat)", ("vllm_metrics", 99))),),
            ),
        ),
    )
    reliability = Section(
        "reliability",
        "Reliability evidence",
        missing=("no chaos experiment in the period: run `perfops chaos run`",),
    )
    changes = Section("changes", "Changes and ROI", paragraphs=(("One change compared.",),))
    recs = tuple(
        Recommendation(
            f"Consolidate idle GPUs in pool {i}",
            f"Approve draining pool {i}",
            fig(f"${9 - i},000/month", f"finops.idle_saving(pool{i})", ("cost_allocation", 7)),
            "high" if i < 3 else "medium",
            evidence=("idle ", fig(f"{40 + i}%", f"finops.idle_share(pool{i})", ("dcgm", 5))),
            assumptions=("prices unchanged",),
        )
        for i in range(7)
    )
    sections = (summary, scorecard, cost, performance, reliability, changes)
    return _report(sections, recs)


def empty_report() -> Report:
    ids: tuple[SectionId, ...] = (
        "summary",
        "scorecard",
        "cost",
        "performance",
        "reliability",
        "recommendations",
    )
    sections = tuple(Section(i, i.title(), missing=(f"no {i} data: collect it",)) for i in ids)
    return _report(sections, ())


def crowded_report() -> Report:
    """More than a slide holds: long sentences, nine tiles, wide rows, long cells."""
    words = "the budget burned during the incident on the chat service " * 12
    many = tuple(("A", fig(f"{i} units", f"call{i}", ("t", i)), words) for i in range(9))
    tiles = tuple(
        ("A tile label far longer than a tile is wide", fig(f"${i},000,000.00", f"tile{i}"))
        for i in range(9)
    )
    wide = Table("Wide", tuple(f"Column {i}" for i in range(10)), ((words,) * 10,) * 40, note=words)
    sections = (
        Section("summary", "Summary", paragraphs=many),
        Section("scorecard", "Scorecard", tables=(wide,), missing=(words,) * 3),
        Section("cost", "Cost", tiles=tiles, tables=(wide,), missing=(words,)),
        Section("performance", "Performance", paragraphs=many, tiles=tiles, tables=(wide,)),
        Section("reliability", "Reliability", missing=(words,) * 12),
    )
    recs = tuple(
        Recommendation(words, words, fig(f"${i}/month", f"rec{i}"), "low") for i in range(8)
    )
    return _report(sections, recs)


def _report(sections: tuple[Section, ...], recs: tuple[Recommendation, ...]) -> Report:
    return Report(
        title="Leadership review: prod",
        workspace="prod",
        period="month:2026-11",
        start_ms=1_793_491_200_000,
        end_ms=1_796_083_200_000,
        previous=(1_790_899_200_000, 1_793_491_200_000),
        services=("chat", "embed"),
        currency="USD",
        generated_ns=1_796_083_200_000_000_000,
        sections=sections,
        recommendations=recs,
    )


def open_deck(report: Report, tmp_path: Path) -> Deck:
    path = tmp_path / "deck.pptx"
    write_deck(report, path)
    return Presentation(str(path))


def texts(slide: Slide) -> str:
    return "\n".join(_shape_texts(slide.shapes))


def _shape_texts(shapes: SlideShapes) -> Iterator[str]:
    for shape in shapes:
        if isinstance(shape, Shape):
            yield shape.text_frame.text
        if isinstance(shape, GraphicFrame) and shape.has_table:
            yield from (cell.text for row in shape.table.rows for cell in row.cells)


def notes(slide: Slide) -> str:
    frame = slide.notes_slide.notes_text_frame
    assert frame is not None
    return str(frame.text)


def title(slide: Slide) -> str:
    assert slide.shapes.title is not None
    return str(slide.shapes.title.text_frame.text)


def test_the_deck_is_16_9_with_the_slides_in_order(tmp_path: Path) -> None:
    deck = open_deck(full_report(), tmp_path)
    assert len(deck.slides) <= 8
    assert [title(s) for s in deck.slides] == TITLES
    assert deck.slide_width is not None
    assert deck.slide_height is not None
    assert round(deck.slide_width / deck.slide_height, 2) == round(16 / 9, 2)


def test_each_figure_is_on_its_slide_and_its_source_in_the_notes(tmp_path: Path) -> None:
    report = full_report()
    slides = open_deck(report, tmp_path).slides
    by_slide: dict[int, list[Part]] = {
        0: [p for para in report.section("summary").paragraphs for p in para],
        1: [row[2] for row in report.section("scorecard").tables[0].rows[:3]],
        2: [f for _, f in report.section("cost").tiles],
        3: [
            *(f for _, f in report.section("performance").tiles),
            report.section("performance").tables[0].rows[0][1],
        ],
        5: [r.impact for r in report.recommendations[:5]],
        6: [r.impact for r in report.recommendations[:5]],
    }
    for index, parts in by_slide.items():
        shown, cited = texts(slides[index]), notes(slides[index])
        for figure in (p for p in parts if isinstance(p, Figure)):
            assert figure.text in shown, (index, figure.text)
            assert f"{figure.text}: {figure.source.call}" in cited
            for name, version in figure.source.tables:
                assert f"{name}@{version}" in cited
    # the sixth and seventh recommendations are left to the report, and counted
    for index in (5, 6):
        assert report.recommendations[5].impact.text not in texts(slides[index])
        assert "2 more in the report" in texts(slides[index])
    assert "high confidence" in texts(slides[6])
    assert report.recommendations[0].action in texts(slides[6])


def test_a_query_in_the_notes_is_cut_to_300_characters(tmp_path: Path) -> None:
    cited = notes(open_deck(full_report(), tmp_path).slides[2])
    line = next(line for line in cited.splitlines() if line.startswith("$41,200: finops.total"))
    assert "SELECT service, sum(cost_usd)" in line
    query = line.split("; ")[1]
    assert len(query) == 301
    assert query.endswith("…")
    assert line.endswith("tables cost_allocation@7")


def test_the_cost_chart_is_a_native_chart_with_the_values_given(tmp_path: Path) -> None:
    report = full_report()
    slide = open_deck(report, tmp_path).slides[2]
    frames = [s for s in slide.shapes if isinstance(s, GraphicFrame) and s.has_chart]
    assert len(frames) == 1
    drawn, given = frames[0].chart, report.section("cost").charts[0]
    assert list(drawn.plots[0].categories) == list(given.x)
    assert [(s.name, tuple(s.values)) for s in drawn.plots[0].series] == list(given.series)
    assert "finops.daily" in notes(slide)
    assert "Daily cost (chart)" in notes(slide)


def test_a_long_table_keeps_its_top_rows_and_counts_the_rest(tmp_path: Path) -> None:
    report = full_report()
    slide = open_deck(report, tmp_path).slides[1]
    grid = next(s for s in slide.shapes if isinstance(s, GraphicFrame) and s.has_table).table
    rows = report.section("scorecard").tables[0].rows
    shown = len(grid.rows) - 1
    assert 0 < shown < len(rows)
    assert [grid.cell(i + 1, 0).text for i in range(shown)] == [r[0] for r in rows[:shown]]
    assert f"{len(rows) - shown} more in the report" in texts(slide)
    first_cut = rows[shown][2]
    assert isinstance(first_cut, Figure)
    assert first_cut.text not in notes(slide)


def test_scorecard_states_are_coloured_each_their_own_way(tmp_path: Path) -> None:
    slide = open_deck(full_report(), tmp_path).slides[1]
    grid = next(s for s in slide.shapes if isinstance(s, GraphicFrame) and s.has_table).table
    fills: dict[str, set[str]] = {}
    for row in list(grid.rows)[1:]:
        state = row.cells[3]
        word = state.text.partition(" (")[0]
        fills.setdefault(word, set()).add(str(state.fill.fore_color.rgb))
        assert row.cells[0].fill.type is None  # only the state cell is coloured
    assert set(fills) == set(STATES)
    assert all(len(colours) == 1 for colours in fills.values())
    assert len(set().union(*fills.values())) == len(STATES)


def test_a_section_with_only_missing_entries_says_what_is_missing(tmp_path: Path) -> None:
    report = full_report()
    slides = open_deck(report, tmp_path).slides
    assert report.section("reliability").missing[0] in texts(slides[4])
    assert "Not in this deck: Changes and ROI" in texts(slides[7])


def test_an_empty_report_gives_a_deck_saying_what_is_missing(tmp_path: Path) -> None:
    report = empty_report()
    slides = open_deck(report, tmp_path).slides
    assert [title(s) for s in slides] == ["Leadership review: prod", *TITLES[1:]]
    for index, section_id in enumerate(("summary", "scorecard", "cost", "performance")):
        assert f"no {section_id} data: collect it" in texts(slides[index])
    assert "no reliability data: collect it" in texts(slides[4])
    for index in (5, 6):
        assert "No recommendations for this period" in texts(slides[index])
        assert "no recommendations data: collect it" in texts(slides[index])
    assert all(notes(s) for s in slides)


@pytest.mark.parametrize("make", [full_report, empty_report, crowded_report])
def test_text_is_readable_and_every_shape_on_the_slide(
    make: Callable[[], Report], tmp_path: Path
) -> None:
    deck = open_deck(make(), tmp_path)
    assert deck.slide_width is not None
    assert deck.slide_height is not None
    for slide in deck.slides:
        for shape in slide.shapes:
            assert _inside(shape, deck.slide_width, deck.slide_height), shape.name
            for run in _runs(shape):
                assert (run.font.size or 0) >= Pt(12), run.text  # set, and 12 pt or more


def _inside(shape: BaseShape, width: int, height: int) -> bool:
    return (
        shape.left >= 0
        and shape.top >= 0
        and shape.left + shape.width <= width
        and (shape.top + shape.height <= height)
    )


def _runs(shape: BaseShape) -> Iterator[_Run]:
    frames = [shape.text_frame] if isinstance(shape, Shape) else []
    if isinstance(shape, GraphicFrame) and shape.has_table:
        frames += [cell.text_frame for row in shape.table.rows for cell in row.cells]
    for frame in frames:
        yield from (run for para in frame.paragraphs for run in para.runs)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_converts_the_deck_to_pdf(tmp_path: Path) -> None:
    write_deck(full_report(), tmp_path / "deck.pptx")
    done = subprocess.run(
        ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), "deck.pptx"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "deck.pdf").read_bytes().startswith(b"%PDF")
