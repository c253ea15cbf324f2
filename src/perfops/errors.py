"""The perfops error tree and the exit codes it maps to.

Every error perfops raises on purpose derives from :class:`PerfopsError`, carries the exit
code the CLI uses, and says what went wrong, where, and how to fix it::

    PerfopsError                 exit 1: a runtime failure
    ├── UsageError               exit 2: the command line is wrong
    ├── ConfigError              exit 2: a spec file is invalid; lists every problem
    ├── StoreError               exit 1: the lake cannot be read or written (or is damaged)
    ├── CheckFailed              exit 1: the run happened, its result is out, and it failed
    └── Unreachable              exit 3: the run could not happen (the target never answered)

A command that ran but failed its check (an SLO missed, every request failed) prints or
writes its result first and then raises :class:`CheckFailed`; it never exits by hand, so
every such verdict reaches a pipeline as exit 1. :data:`EXIT_CODES` is the table the README,
``perfops --help`` and docs/cli.md show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXIT_CODES",
    "CheckFailed",
    "ConfigError",
    "PerfopsError",
    "Problem",
    "StoreError",
    "Unreachable",
    "UsageError",
    "one_line",
]

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (0, "success"),
    (
        1,
        "the run happened but failed its check (SLO missed, every request or target failed, "
        "faults left), or a runtime error (the lake damaged or unwritable)",
    ),
    (2, "usage or config error: the command line or a spec file is wrong"),
    (3, "the run could not happen: the target is unreachable"),
    (
        130,
        "interrupted (Ctrl-C) with no result to judge; a load test stopped by Ctrl-C keeps "
        "what it measured and is judged on it",
    ),
)
"""What each exit code of the CLI means, in order (the one table users read)."""


_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(text: str) -> str:
    """``text`` with every character that breaks a line shown escaped (``\\n``)."""
    return text if text.isprintable() else text.translate(_BREAKS)


class PerfopsError(Exception):
    """Root of every error perfops raises on purpose."""

    exit_code: int = 1
    label: str = "error"  # how the CLI heads the line it prints

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class UsageError(PerfopsError):
    """The command line asks for something that cannot be done as written."""

    exit_code = 2

    def __str__(self) -> str:
        """One line, whatever the user typed into it (a line break shows as ``\\n``)."""
        return one_line(super().__str__())


class StoreError(PerfopsError):
    """The lake cannot be opened, read or written."""


class CheckFailed(PerfopsError):
    """The command ran and its result is already printed or written, but the result fails
    the check it was asked for: an SLO missed, every request or target failed, faults left.
    ``result`` is that result (plain data), for callers of the library."""

    label = "failed"

    def __init__(self, message: str, *, hint: str | None = None, result: Any = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result


class Unreachable(PerfopsError):
    """The run could not happen: its target refused or never answered a connection."""

    exit_code = 3


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a spec file: where it is, which field, what is wrong, how to fix it."""

    location: str  # "perfops.yaml:14:5" or "env PERFOPS__WORKSPACE__LAKE"
    path: str  # "slos[0].objective"
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        """One line, whatever the values in it hold (a line break shows as ``\\n``)."""
        text = (
            f"{self.location} {self.path}: {self.message}"
            if self.path
            else (f"{self.location} {self.message}")
        )
        return one_line(f"{text}; {self.hint}" if self.hint else text)


class ConfigError(PerfopsError):
    """A spec file is invalid. ``problems`` lists every problem found, not only the first."""

    exit_code = 2

    def __init__(self, problems: Sequence[Problem], *, source: str = "config") -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = f"{one_line(source)}: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))
