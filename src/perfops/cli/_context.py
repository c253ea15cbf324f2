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

__all__ = ["echo_json", "evaluation_ms", "positive_seconds", "rfc3339", "runtime", "warn"]


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


AT_HELP = (
    "evaluate as of this time (RFC 3339, Unix seconds, or a duration ago such as 1h or -1h), "
    "so that a figure can be reproduced later; default now"
)


def rfc3339(ms: int) -> str:
    """``ms`` as an RFC 3339 UTC time to the millisecond, which ``--at`` reads back."""
    import datetime as dt

    stamp = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def evaluation_ms(rt: Runtime, text: str | None, option: str = "--at") -> int:
    """The time a figure is evaluated at, in ms: now, or ``--at`` (RFC 3339, Unix seconds,
    'now', or a duration ago written ``1h`` or ``-1h``, as ``collect import --start`` takes).
    A time still to come, or one before the lake's first sample or request, is a usage
    error: the first would change as data arrives, the second has nothing to show."""
    from perfops.telemetry.promql import parse_time

    now_ms = rt.clock.now_ns() // 1_000_000
    if text is None:
        return now_ms
    value = text.strip()
    if value.startswith("-") and value[1:2].isdigit() and not _is_number(value):
        value = value[1:]  # "-1h": a duration ago, as "1h"
    try:
        at_ms = round(parse_time(value, now_ms / 1000) * 1000)
    except UsageError as exc:
        raise UsageError(f"{option}: {exc.message}", hint=exc.hint) from None
    if at_ms > now_ms:
        raise UsageError(
            f"{option} {text!r} is {format_duration((at_ms - now_ms) / 1000)} in the future "
            f"({rfc3339(at_ms)})",
            hint="a figure as of a time still to come would change as data arrives; give a "
            f"time up to now ({rfc3339(now_ms)}), or leave {option} out",
        )
    first = _first_data_ms(rt)
    if first is None or at_ms < first:
        raise UsageError(
            f"{option} {text!r} ({rfc3339(at_ms)}) is before the lake's first data"
            + ("" if first is None else f" ({rfc3339(first)})"),
            hint="the lake holds no samples or requests yet"
            if first is None
            else f"give a time from {rfc3339(first)} on; `perfops store info` shows each "
            "table's span",
        )
    return at_ms


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_data_ms(rt: Runtime) -> int | None:
    """The earliest sample or load-test request in the lake (from the Delta log's file
    statistics; no data file is read)."""
    firsts = [
        i.first_ns // 1_000_000
        for i in rt.store.info()
        if i.name in ("samples", "requests") and i.first_ns is not None
    ]
    return min(firsts, default=None)
