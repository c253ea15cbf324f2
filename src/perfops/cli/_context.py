"""Helpers the command modules share: the runtime from global options, duration options, and
output."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from perfops._internal import strict_json
from perfops._internal.durations import format_duration, parse_duration
from perfops.cli._terminal import echo
from perfops.errors import UsageError

if TYPE_CHECKING:
    from perfops.app import Runtime

__all__ = ["echo_json", "positive_seconds", "runtime", "warn"]


def warn(message: str) -> None:
    echo(f"warning: {message}", err=True)


def runtime(ctx: typer.Context) -> Runtime:
    """Open the runtime named by --config (or the defaults)."""
    from perfops.app import open_runtime

    obj = ctx.find_root().obj or {}
    return open_runtime(obj.get("config"), warn=warn)


def echo_json(value: Any) -> None:
    """``value`` as strict JSON on stdout: undefined or infinite numbers are ``null``."""
    strict_json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")


def positive_seconds(text: str, option: str, *, most: float = 10 * 366 * 86400.0) -> float:
    """The seconds in a duration option such as ``--duration 30s``. A malformed duration, one
    of zero, or one longer than ``most`` (ten years unless the command says less) is a usage
    error naming the option: zero is a value, never "not given"."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None
    if seconds <= 0:
        raise UsageError(
            f"{option} {text!r}: durations must be above 0", hint="e.g. 500ms, 30s, 5m, 1h"
        )
    if seconds > most:
        raise UsageError(
            f"{option} {text!r}: at most {format_duration(most)} here",
            hint=f"give {format_duration(most)} or less",
        )
    return seconds
