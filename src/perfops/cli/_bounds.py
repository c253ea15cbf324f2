"""The command line's numbers, kept in range where they are parsed.

:class:`Bounded` is a typer ``parser``: it reads a number and refuses one that is not finite or
is out of range, naming the range and why (typer prints ``Invalid value for '--rate': ...``,
exit 2), so no command ever starts with a rate of ``inf`` or a timeout of ``-1``. A limit that
a core owns (the highest request rate, the longest cost window) is given as a function and
read from the core when the option is parsed, so that ``perfops --help`` imports no core.

:func:`port_block` checks that the ports a server takes all exist.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from perfops.errors import UsageError

__all__ = [
    "COUNT",
    "GPUS",
    "MAX_PORT",
    "MAX_REQUESTS",
    "PORT",
    "PREFIX_TOKENS",
    "RATE",
    "SEED",
    "SPEED",
    "TOKENS",
    "Bounded",
    "env_name",
    "http_url",
    "max_rate",
    "max_schedule",
    "max_tokens",
    "port_block",
]

Limit = float | Callable[[], float]
MAX_PORT = 65535


def _number(x: float) -> str:
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:,.0f}" if x.is_integer() else f"{x:g}"


def _refuse(message: str) -> ValueError:
    """The error a parser raises: a ValueError that typer shows as written (a plain one is
    shown after pydantic's "Value error, ")."""
    from pydantic_core import PydanticCustomError

    return PydanticCustomError("perfops_option", "{reason}", {"reason": message})


class Bounded:
    """Parse a number in ``[low, high]`` (either end open); the error says the range and why."""

    def __init__(
        self,
        low: Limit | None,
        high: Limit | None,
        *,
        integer: bool = False,
        low_open: bool = False,
        high_open: bool = False,
        unit: str = "",
        why: str = "",
    ) -> None:
        self.low, self.high, self.integer = low, high, integer
        self.low_open, self.high_open, self.unit, self.why = low_open, high_open, unit, why

    def __call__(self, value: object) -> float | int:
        text = str(value).strip()
        try:
            number: float | int = int(text) if self.integer else float(text)
        except ValueError:
            kind = "a whole number" if self.integer else "a number"
            raise _refuse(f"{text!r} is not {kind}") from None
        low, high = _read(self.low), _read(self.high)
        inside = math.isfinite(number)
        if inside and low is not None:
            inside = number > low if self.low_open else number >= low
        if inside and high is not None:
            inside = number < high if self.high_open else number <= high
        if not inside:
            raise _refuse(f"{text} is out of range: {self.describe(low, high)}")
        return number

    def describe(self, low: float | None, high: float | None) -> str:
        parts = []
        if low is not None:
            parts.append(f"{'above' if self.low_open else 'at least'} {_number(low)}{self.unit}")
        if high is not None:
            parts.append(f"{'below' if self.high_open else 'at most'} {_number(high)}{self.unit}")
        text = " and ".join(parts) or "a finite number"
        return f"{text} ({self.why})" if self.why else text


def _read(limit: Limit | None) -> float | None:
    return limit() if callable(limit) else limit


def max_rate() -> float:
    from perfops.loadgen import MAX_RATE

    return MAX_RATE


def max_tokens() -> float:
    from perfops.loadgen import MAX_TOKENS

    return MAX_TOKENS


def max_schedule() -> float:
    from perfops.loadgen import MAX_SCHEDULE

    return MAX_SCHEDULE


RATE = Bounded(0, max_rate, low_open=True, unit=" req/s", why="a request rate one client can send")
"""Requests per second."""
COUNT = Bounded(1, 10_000, integer=True, why="users, requests in flight or steps at once")
"""Closed-loop users, requests in flight."""
TOKENS = Bounded(1, max_tokens, integer=True, why="more than any model's context")
"""Tokens of a prompt or an answer."""
PREFIX_TOKENS = Bounded(0, max_tokens, integer=True, why="more than any model's context")
"""Tokens of a shared prefix (0: none)."""
GPUS = Bounded(1, 100_000, integer=True, why="as a service's gpu.count in perfops.yaml")
"""GPUs behind an endpoint."""
SPEED = Bounded(0, 1000, low_open=True, why="a factor on the trace's timing: 2 is twice as fast")
"""A replay speed factor."""
MAX_REQUESTS = Bounded(1, max_schedule, integer=True, why="a schedule's largest plan")
"""Requests of one run."""


PORT = Bounded(0, MAX_PORT, integer=True, why="0 takes any free port")
"""A TCP port (0: any free one)."""
SEED = Bounded(0, 2**63 - 1, integer=True, why="a seed is a non-negative 64-bit number")
"""A random seed."""


def http_url(value: object) -> str:
    """An http(s) URL with a host and, if it names one, a port from 1 to 65535."""
    text = str(value).strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise _refuse(f"{text!r} is not a URL with a valid port (1 to 65535)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise _refuse(f"{text!r} is not an http(s) URL, e.g. http://127.0.0.1:8000/v1")
    return text


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def env_name(value: object) -> str:
    """The name of an environment variable (never its value)."""
    text = str(value)
    if not _ENV_NAME.fullmatch(text):
        raise _refuse(
            f"{text!r} is not the name of an environment variable: letters, digits and _, not "
            "starting with a digit"
        )
    return text


def port_block(option: str, first: int, count: int) -> None:
    """The ``count`` ports from ``first`` (a front port and the replicas after it) all exist."""
    if first and first + count - 1 > MAX_PORT:
        raise UsageError(
            f"{option} {first} leaves no room for the {count - 1} port(s) after it: "
            f"{first}..{first + count - 1} passes {MAX_PORT}, the highest port",
            hint=f"use {option} {MAX_PORT - count + 1} or lower (or 0 for any free ports)",
        )
