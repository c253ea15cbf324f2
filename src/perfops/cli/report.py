"""`perfops report`: the performance and cost report for leadership, as one HTML page, its
PDF, a briefing deck and the figures as JSON, for a period of the lake."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfops._internal.atomic_file import replace_file
from perfops.cli._context import echo_json, runtime
from perfops.cli._terminal import echo
from perfops.errors import UsageError


def _write(path: Path, data: str | bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}",
                         hint="pick a writable path") from None  # fmt: skip


def report(
    ctx: typer.Context,
    period: Annotated[
        str, typer.Option(help="7d, 30d (any duration, ending now) or month:YYYY-MM")
    ] = "7d",
    service: Annotated[
        list[str] | None, typer.Option("--service", help="only this service (repeatable)")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="the HTML report to write")] = Path(
        "report.html"
    ),
    pdf: Annotated[Path | None, typer.Option("--pdf", help="also write its PDF here")] = None,
    deck: Annotated[
        Path | None, typer.Option("--deck", help="also write a briefing deck (.pptx) here")
    ] = None,
    json_out: Annotated[
        str | None,
        typer.Option("--json", help="also write every figure and its source as JSON (- stdout)"),
    ] = None,
) -> None:
    """The performance and cost report of PERIOD: executive summary, SLO scorecard,
    performance and capacity, cost, reliability evidence, changes and ROI, recommendations
    ranked by money, and an appendix giving each figure's query and table versions."""
    from perfops._internal import strict_json
    from perfops.app import build_report
    from perfops.report import html as report_html

    rt = runtime(ctx)
    rep = build_report(rt, period, services=service or ())
    html = report_html.render_html(rep)
    _write(out, html)
    written = [str(out)]
    if pdf is not None:
        from perfops.report import pdf as report_pdf

        _write(pdf, report_pdf.pdf_bytes(html))
        written.append(str(pdf))
    if deck is not None:
        from perfops.report import deck as report_deck

        report_deck.write_deck(rep, deck)
        written.append(str(deck))
    if json_out == "-":
        echo_json(rep.as_dict())
        return
    if json_out:
        _write(Path(json_out), strict_json.dumps(rep.as_dict(), indent=2) + "\n")
        written.append(json_out)
    echo(f"report of {rep.period} ({len(rep.services)} service(s)): wrote {', '.join(written)}")
    missing = sum(len(s.missing) for s in rep.sections)
    if missing:
        echo(f"{missing} gap(s) in the lake are listed in the report under 'What is missing'")
    if rep.recommendations:
        top = rep.recommendations[0]
        echo(f"top recommendation: {top.title} ({top.impact.text} a month, {top.confidence} "
             "confidence)")  # fmt: skip
