"""`perfops init [DIR]`: write a commented perfops.yaml that runs against `perfops sim`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from perfops.errors import UsageError


def init(
    directory: Annotated[Path, typer.Argument(help="where to write perfops.yaml")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
) -> None:
    """Write a commented example perfops.yaml (targets `perfops sim` on 127.0.0.1)."""
    target = directory / "perfops.yaml"
    if target.exists() and not force:
        raise UsageError(f"{target} already exists", hint="pass --force to overwrite it")
    directory.mkdir(parents=True, exist_ok=True)
    text = resources.files("perfops.config").joinpath("example.yaml").read_text("utf-8")
    target.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {target}")
    typer.echo("next: `perfops sim` to start a simulated fleet, `perfops doctor` to check tools")
