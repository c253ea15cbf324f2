"""`perfops incident postmortem ID`: draft the incident's postmortem from the lake, as
Markdown (and a standalone HTML page with ``--html``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfops.cli._context import echo_json, runtime
from perfops.cli._terminal import echo
from perfops.errors import UsageError

__all__ = ["postmortem"]


def _runbooks_dir(ctx: typer.Context) -> Path:
    """``runbooks/`` beside the perfops.yaml in use."""
    config = (ctx.find_root().obj or {}).get("config") or Path("perfops.yaml")
    return Path(config).resolve().parent / "runbooks"


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write {path}: {exc.strerror}", hint="give --out a writable file"
        ) from None


def postmortem(
    ctx: typer.Context,
    incident_id: Annotated[str, typer.Argument(help="the incident's id (inc-...)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the Markdown file to write")] = Path(
        "postmortem.md"
    ),
    html: Annotated[
        bool, typer.Option("--html", help="also write a standalone HTML page beside it (.html)")
    ] = False,
    json_out: Annotated[
        str | None,
        typer.Option("--json", help="also write the figures and their queries as JSON (- stdout)"),
    ] = None,
) -> None:
    """Draft a postmortem of incident ID from the lake: summary, impact, timeline, detection,
    response and what the runbook said, every figure footnoted with the query behind it; root
    cause, lessons and action items are left for the responders."""
    from perfops.app.postmortem import draft_postmortem
    from perfops.respond import postmortem_render

    rt = runtime(ctx)
    pm = draft_postmortem(rt, incident_id, _runbooks_dir(ctx))
    text = postmortem_render.render_markdown(pm)
    _write(out, text)
    written = [str(out)]
    if html:
        page = out.with_suffix(".html")
        _write(page, postmortem_render.render_html(text, f"Postmortem: {pm.title}"))
        written.append(str(page))
    if json_out == "-":
        echo_json(pm.as_dict())
        return
    if json_out:
        from perfops._internal import strict_json

        _write(Path(json_out), strict_json.dumps(pm.as_dict(), indent=2) + "\n")
        written.append(json_out)
    echo(f"postmortem of {incident_id}: wrote {', '.join(written)}")
