"""Helpers the command modules share: the runtime from global options, and output."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from perfops.app import Runtime

__all__ = ["echo_json", "runtime", "warn"]


def warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


def runtime(ctx: typer.Context) -> Runtime:
    """Open the runtime named by --config (or the defaults)."""
    from perfops.app import open_runtime

    obj = ctx.find_root().obj or {}
    return open_runtime(obj.get("config"), warn=warn)


def echo_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
