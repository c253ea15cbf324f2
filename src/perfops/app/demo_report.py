"""The demo's report step: the leadership report of the demo's own period (from its start
to now), as report.html, report.pdf and deck.pptx in the workspace, with the top
recommendation said aloud."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from perfops.app.report import build_report
from perfops.app.runtime import Runtime

__all__ = ["report_step"]

Say = Callable[[str], None]


def report_step(rt: Runtime, directory: Path, say: Say, started_ns: int) -> dict[str, object]:
    from perfops.report import deck, html, pdf

    minutes = max(1, math.ceil((rt.clock.now_ns() - started_ns) / 60e9))
    report = build_report(rt, f"{minutes}m")
    page = html.render_html(report)
    paths = {
        "html": directory / "report.html",
        "pdf": directory / "report.pdf",
        "deck": directory / "deck.pptx",
    }
    paths["html"].write_text(page, encoding="utf-8")
    pdf.write_pdf(page, paths["pdf"])
    deck.write_deck(report, paths["deck"])
    say(f"report of {report.period}: wrote {', '.join(str(p) for p in paths.values())}")
    top = report.recommendations[0] if report.recommendations else None
    if top is not None:
        say(f"  top recommendation: {top.title} ({top.impact.text} a month, "
            f"{top.confidence} confidence)")  # fmt: skip
    else:
        say("  no recommendation from the demo's figures")
    return {
        "period": report.period,
        "files": {k: str(p) for k, p in paths.items()},
        "figures": sum(1 for f in report.figures() if f.key),
        "top_recommendation": None if top is None else top.as_dict(),
    }
