"""Renderers of the leadership report, its briefing deck and review packs: they format the
figures app/ computed (each with its query and table versions) and compute none. The data
model is exported here; the renderers (``html``, ``pdf``, ``deck``, ``review_pack``) are
submodules, imported where used (matplotlib, WeasyPrint and python-pptx load on demand)."""

from perfops.report.model import (
    Chart,
    Figure,
    Part,
    Recommendation,
    Report,
    Section,
    Source,
    Table,
    part_text,
)

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
