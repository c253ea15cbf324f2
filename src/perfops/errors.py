"""The perfops error tree.

Every error perfops raises on purpose derives from :class:`PerfopsError`, carries the exit
code the CLI uses, and says what went wrong, where, and how to fix it::

    PerfopsError                 exit 1: a runtime failure
    ├── UsageError               exit 2: the command line is wrong
    ├── ConfigError              exit 2: a spec file is invalid; lists every problem
    ├── StoreError               exit 1: the lake cannot be read or written
    └── Unreachable              exit 3: the run could not happen (its target does not answer)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ConfigError", "PerfopsError", "Problem", "StoreError", "Unreachable", "UsageError"]


class PerfopsError(Exception):
    """Root of every error perfops raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class UsageError(PerfopsError):
    """The command line asks for something that cannot be done as written."""

    exit_code = 2


class StoreError(PerfopsError):
    """The lake cannot be opened, read or written."""


class Unreachable(PerfopsError):
    """The run could not happen: a target it needs (a service, a simulator's admin API, a
    fault proxy, a process) does not answer before anything was done to it."""

    exit_code = 3


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a spec file: where it is, which field, what is wrong, how to fix it."""

    location: str  # "perfops.yaml:14:5" or "env PERFOPS__WORKSPACE__LAKE"
    path: str  # "slos[0].objective"
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = (
            f"{self.location} {self.path}: {self.message}"
            if self.path
            else (f"{self.location} {self.message}")
        )
        return f"{text}; {self.hint}" if self.hint else text


class ConfigError(PerfopsError):
    """A spec file is invalid. ``problems`` lists every problem found, not only the first."""

    exit_code = 2

    def __init__(self, problems: Sequence[Problem], *, source: str = "config") -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = f"{source}: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))
