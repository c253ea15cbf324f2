"""`perfops demo [DIR]`: run the loop on the embedded default and show what it recorded."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from perfops.app import Runtime


def demo(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="workspace folder")] = Path("demo-workspace"),
) -> None:
    """Create a workspace, run each stage against the embedded default, print the lake."""
    from perfops.app.demo import run_demo
    from perfops.cli.store import print_info
    from perfops.web import running_receiver

    rt = run_demo(directory, typer.echo, running_receiver)
    print_info(rt)
    _show_dashboard(rt, directory)


def _show_dashboard(rt: Runtime, directory: Path) -> None:
    """A screenshot of the dashboard's overview of the demo, and how to open it."""
    from perfops.web import find_chromium, running_dashboard, screenshot

    chromium = find_chromium()
    png = directory / "dashboard-overview.png"
    if chromium is None:
        typer.echo("no Chromium on this machine: no screenshot of the dashboard")
    else:
        runs = rt.store.journal.runs("demo", limit=1)
        end = rt.clock.now_ns() // 1_000_000 + 1_000
        start = runs[0].started_ns // 1_000_000 - 5_000 if runs else end - 900_000
        with running_dashboard(rt) as dash:
            ok = screenshot(f"{dash.url}#start={start}&end={end}", png, chromium=chromium)
        typer.echo(f"wrote {png}" if ok else f"Chromium could not take a screenshot into {png}")
    typer.echo(
        f"the dashboard of this demo: cd {directory} && perfops dashboard --port 8080, "
        "then open http://127.0.0.1:8080/"
    )
