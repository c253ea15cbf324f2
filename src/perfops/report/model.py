"""The leadership report as plain data: sections of sentences, key figures, tables and charts,
ranked recommendations. Every number is a :class:`Figure` with its :class:`Source`; the
renderers (HTML, PDF, deck) number them as footnotes in document order and list their queries
and table versions in the appendix, so any figure can be read again from the same lake."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from perfops._internal.provenance import Figure, Source

__all__ = [
    "Chart",
    "Figure",
    "Part",
    "Recommendation",
    "Report",
    "Section",
    "Source",
    "Table",
    "part_text",
]

Part = Figure | str
"""A piece of a sentence or of a table cell: plain text, or a figure (footnoted)."""

SectionId = Literal[
    "summary", "scorecard", "performance", "cost", "reliability", "changes", "recommendations"
]


def part_text(part: Part) -> str:
    return part.text if isinstance(part, Figure) else part


@dataclass(frozen=True)
class Table:
    """A table: ``rows`` of cells, each plain text or a :class:`Figure`."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Part, ...], ...]
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [[_part_dict(c) for c in row] for row in self.rows],
            "note": self.note,
        }


@dataclass(frozen=True)
class Chart:
    """A chart as data (the renderer draws it): ``x`` labels, named ``series`` of values
    (None is a gap), a ``kind`` (line, bar: grouped, stacked: stacked bars), its unit and
    the source of its values."""

    title: str
    kind: Literal["line", "bar", "stacked"]
    x: tuple[str, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]
    unit: str
    source: Source
    key: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "kind": self.kind,
            "x": list(self.x),
            "series": {name: list(values) for name, values in self.series},
            "unit": self.unit,
            "source": self.source.as_dict(),
        }


@dataclass(frozen=True)
class Section:
    """One section: ``paragraphs`` (each a sequence of parts, read as one paragraph),
    ``tiles`` (the key figures, label and figure), tables, charts, and ``missing``: what the
    lake lacks for this section and how to get it."""

    id: SectionId
    title: str
    paragraphs: tuple[tuple[Part, ...], ...] = ()
    tiles: tuple[tuple[str, Figure], ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()
    missing: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "paragraphs": [[_part_dict(p) for p in para] for para in self.paragraphs],
            "tiles": [{"label": label, **fig.as_dict()} for label, fig in self.tiles],
            "tables": [t.as_dict() for t in self.tables],
            "charts": [c.as_dict() for c in self.charts],
            "missing": list(self.missing),
        }


@dataclass(frozen=True)
class Recommendation:
    """One recommendation: what to do, its impact in money per month (a figure), a
    confidence (high / medium / low), the evidence behind it and the assumptions it makes."""

    title: str
    action: str
    impact: Figure
    confidence: Literal["high", "medium", "low"]
    evidence: tuple[Part, ...] = ()
    assumptions: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "action": self.action,
            "impact": self.impact.as_dict(),
            "confidence": self.confidence,
            "evidence": [_part_dict(p) for p in self.evidence],
            "assumptions": list(self.assumptions),
        }


@dataclass(frozen=True)
class Report:
    """The whole report. ``start_ms``/``end_ms`` is the period, ``previous`` the period
    before it of the same length (what changes are measured against)."""

    title: str
    workspace: str
    period: str
    start_ms: int
    end_ms: int
    previous: tuple[int, int]
    services: tuple[str, ...]
    currency: str
    generated_ns: int
    sections: tuple[Section, ...]
    recommendations: tuple[Recommendation, ...] = ()
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    def section(self, section_id: str) -> Section:
        return next(s for s in self.sections if s.id == section_id)

    def figures(self) -> Iterator[Figure]:
        """Every figure in document order (a figure shown twice is listed twice)."""
        for section in self.sections:
            for para in section.paragraphs:
                yield from (p for p in para if isinstance(p, Figure))
            yield from (fig for _, fig in section.tiles)
            for table in section.tables:
                for row in table.rows:
                    yield from (c for c in row if isinstance(c, Figure))
            if section.id == "recommendations":
                for rec in self.recommendations:
                    yield rec.impact
                    yield from (p for p in rec.evidence if isinstance(p, Figure))

    def footnotes(self) -> tuple[dict[int, int], list[list[Figure]]]:
        """Footnote numbers: ``id(figure)`` → n (from 1), and per number the figures citing
        it in document order: figures read by the same query share one footnote."""
        by_source: dict[Source, int] = {}
        numbers: dict[int, int] = {}
        groups: list[list[Figure]] = []
        for fig in self.figures():
            n = by_source.get(fig.source)
            if n is None:
                groups.append([])
                n = by_source[fig.source] = len(groups)
            if all(f.key != fig.key or f.text != fig.text for f in groups[n - 1]):
                groups[n - 1].append(fig)
            numbers[id(fig)] = n
        return numbers, groups

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "workspace": self.workspace,
            "period": self.period,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "previous": list(self.previous),
            "services": list(self.services),
            "currency": self.currency,
            "generated_ns": self.generated_ns,
            "sections": [s.as_dict() for s in self.sections],
            "recommendations": [r.as_dict() for r in self.recommendations],
            "figures": {f.key: f.as_dict() for f in self.figures() if f.key},
        }


def _part_dict(part: Part) -> Any:
    return part.as_dict() if isinstance(part, Figure) else part
