"""`perfops init [DIR]`: write a commented perfops.yaml that runs against `perfops sim`, or,
with ``--example NAME``, copy one of the example workspaces shipped in ``perfops/examples``
(the repository's ``examples/`` folder is a link to it)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Annotated

import typer

from perfops.errors import UsageError

CONFIG = "perfops.yaml"


def init(
    directory: Annotated[Path, typer.Argument(help="where to write perfops.yaml")] = Path("."),
    example: Annotated[
        str | None,
        typer.Option(
            "--example",
            "-e",
            help="copy this example workspace (its perfops.yaml, experiments, drill, game day) "
            "instead; see --list-examples",
            show_default=False,
        ),
    ] = None,
    list_examples: Annotated[
        bool, typer.Option("--list-examples", help="list the examples and exit")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="overwrite existing files")] = False,
) -> None:
    """Write a commented example perfops.yaml (targets `perfops sim` on 127.0.0.1), or copy
    an example workspace with --example."""
    if list_examples:
        for name, description in examples().items():
            typer.echo(f"{name:<12} {description}")
        return
    if example is not None:
        _copy_example(example, directory, force=force)
        return
    target = directory / CONFIG
    if target.exists() and not force:
        raise UsageError(f"{target} already exists", hint="pass --force to overwrite it")
    directory.mkdir(parents=True, exist_ok=True)
    text = resources.files("perfops.config").joinpath("example.yaml").read_text("utf-8")
    target.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {target}")
    typer.echo("next: `perfops sim` to start a simulated fleet, `perfops doctor` to check tools")


def _root() -> Traversable:
    return resources.files("perfops").joinpath("examples")


def examples() -> dict[str, str]:
    """Example name -> its one-line description (the first comment line of its perfops.yaml).
    An example is a folder of ``perfops/examples`` holding a perfops.yaml."""
    found = {}
    for entry in sorted(_root().iterdir(), key=lambda e: e.name):
        config = entry.joinpath(CONFIG)
        if entry.is_dir() and config.is_file():
            first = config.read_text("utf-8").partition("\n")[0]
            found[entry.name] = first.removeprefix("#").strip()
    return found


def example_files(name: str) -> dict[PurePosixPath, Traversable]:
    """The files of example ``name`` by their path within it; an unknown name is a usage
    error naming the examples, with a did-you-mean."""
    known = examples()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UsageError(
            f"unknown example {name!r}",
            hint=f"{hint}examples: {', '.join(known)} (`perfops init --list-examples`)",
        )
    return dict(_walk(_root().joinpath(name), PurePosixPath()))


def _walk(
    folder: Traversable, prefix: PurePosixPath
) -> Iterator[tuple[PurePosixPath, Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith((".", "__")):  # a stray lake, __pycache__
            continue
        if entry.is_dir():
            yield from _walk(entry, prefix / entry.name)
        else:
            yield prefix / entry.name, entry


def _copy_example(name: str, directory: Path, *, force: bool) -> None:
    files = example_files(name)
    targets = {rel: directory.joinpath(*rel.parts) for rel in files}
    taken = [str(rel) for rel, path in targets.items() if path.exists()]
    if taken and not force:
        raise UsageError(
            f"{directory} already has {', '.join(taken)}",
            hint="pass --force to overwrite them, or choose another directory",
        )
    for rel, source in files.items():
        targets[rel].parent.mkdir(parents=True, exist_ok=True)
        targets[rel].write_bytes(source.read_bytes())
    typer.echo(f"wrote example {name!r} to {directory}:")
    for rel in files:
        typer.echo(f"  {rel}")
    typer.echo(f"next: the comments at the top of {directory / CONFIG} say what to start and run")
