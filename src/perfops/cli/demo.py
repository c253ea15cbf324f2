"""`perfops demo [DIR]`: run the loop on the embedded default and show what it recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="workspace folder")] = Path("demo-workspace"),
) -> None:
    """Create a workspace, run each stage against the embedded default, print the lake."""
    from perfops.app.demo import run_demo
    from perfops.cli.store import print_info

    rt = run_demo(directory, typer.echo)
    print_info(rt)
