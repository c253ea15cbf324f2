"""What every fault kind shares: where it lands (:class:`FaultContext`), the plugin protocol
(:class:`Fault`), the undo entry it plans, and the checks on ids, durations and params.

An undo entry is plain JSON: everything ``revert`` needs in a fresh process. Keys that start
with ``_`` are for this process only (a bearer token given as a literal): the undo journal
and the lake never get them (:func:`public_entry`), so a secret never reaches the disk. A
fault that needs a secret names the environment variable holding it (``token_env``), which
is read each time the fault's control API is called, so a recovery in a fresh process
authenticates too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

from pydantic import ValidationError

from perfops._internal.clock import Clock, SystemClock
from perfops.config.faults import FAULT_ID
from perfops.errors import PerfopsError

__all__ = [
    "Fault",
    "FaultContext",
    "UndoEntry",
    "base_entry",
    "bearer",
    "model_problems",
    "public_entry",
    "refuse",
    "reserved_params",
    "unknown_params",
    "with_token",
]

UndoEntry = dict[str, Any]


@dataclass(frozen=True)
class FaultContext:
    """Where a fault lands; the runner builds it from perfops.yaml.

    ``admin_url`` defaults to ``scheme://host:port/admin/faults`` of ``endpoint`` (the
    simulator's admin API). ``token`` is the bearer token of the control API a fault talks
    to (sim admin or fault proxy); it is never journaled: give ``token_env`` too, the name of
    the environment variable holding it, so that a recovery in a fresh process can
    authenticate. ``state_dir`` holds the state files of process faults (default: a private
    directory under the system temp dir); the undo journal's directory is a good choice.
    ``clock`` is when the fault is planned: its entry's ``expires_at`` (Unix seconds) is that
    clock's now plus the duration. A process fault's watchdog, a detached process, waits for
    ``expires_at`` on the real wall clock.
    """

    service: str
    endpoint: str
    admin_url: str | None = None
    proxy_api: str | None = None
    token: str | None = field(default=None, repr=False)
    token_env: str | None = None
    state_dir: str | None = None
    clock: Clock = field(default_factory=SystemClock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.admin_url is None:
            parts = urlsplit(self.endpoint)
            if parts.scheme and parts.netloc:
                object.__setattr__(
                    self, "admin_url", f"{parts.scheme}://{parts.netloc}/admin/faults"
                )


class Fault(Protocol):
    """One fault kind. ``check`` lists what is wrong with its params; ``plan`` is pure;
    ``probe``, before a run, raises :class:`perfops.errors.Unreachable` when the fault's target
    does not answer and a UsageError when it refuses the credentials or cannot take the
    fault, touching nothing; ``inject`` raises PerfopsError when it cannot; ``revert``
    succeeds silently when the fault is already gone, expired or never injected, and raises
    PerfopsError when it cannot tell (the fault may still be in). A revert that found the
    fault's owner gone (a simulator or proxy that no longer listens: the fault went with it)
    sets ``entry["_gone"]`` to why, for a runner to whom that matters."""

    kind: ClassVar[str]

    @classmethod
    def check(cls, params: Mapping[str, Any]) -> list[str]: ...

    def plan(
        self, ctx: FaultContext, params: Mapping[str, Any], *, fault_id: str, duration_s: float
    ) -> UndoEntry: ...

    def probe(self, entry: UndoEntry) -> None: ...

    def inject(self, entry: UndoEntry) -> None: ...

    def revert(self, entry: UndoEntry) -> None: ...


def base_entry(
    kind: str, ctx: FaultContext, *, fault_id: str, duration_s: float, max_s: float | None = None
) -> UndoEntry:
    """The keys every entry has; raises PerfopsError for a bad id or duration."""
    if not isinstance(fault_id, str) or not FAULT_ID.match(fault_id):
        raise PerfopsError(
            f"{kind}: fault id {fault_id!r} is not 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'"
        )
    if not isinstance(duration_s, int | float) or not math.isfinite(duration_s) or duration_s <= 0:
        raise PerfopsError(f"{kind}: the duration must be a positive number of seconds")
    if max_s is not None and duration_s > max_s:
        raise PerfopsError(f"{kind}: {duration_s:g} s is longer than the {max_s:g} s it allows")
    return {
        "kind": kind,
        "id": fault_id,
        "service": ctx.service,
        "duration_s": float(duration_s),
        "expires_at": ctx.clock.now_ns() / 1e9 + float(duration_s),
    }


def with_token(entry: UndoEntry, ctx: FaultContext) -> UndoEntry:
    """Add how ``revert`` authenticates: the variable's name, and the literal in-process only."""
    if ctx.token_env:
        entry["token_env"] = ctx.token_env
    if ctx.token:
        entry["_token"] = ctx.token
    return entry


def public_entry(entry: Mapping[str, Any]) -> UndoEntry:
    """``entry`` without its in-process keys (``_token``): what may be written anywhere."""
    return {k: v for k, v in entry.items() if not k.startswith("_")}


def bearer(entry: UndoEntry) -> str | None:
    """The token for ``entry``: the in-process literal, else the named environment variable."""
    token = entry.get("_token")
    if isinstance(token, str) and token:
        return token
    name = entry.get("token_env")
    return os.environ.get(name) if isinstance(name, str) and name else None


def unknown_params(kind: str, params: Mapping[str, Any], known: Mapping[str, str]) -> list[str]:
    """A problem for each param not in ``known`` (name -> what it is), listing the valid ones."""
    valid = ", ".join(f"{k} ({v})" for k, v in known.items())
    return [
        f"params.{key}: {kind} has no such param; valid: {valid}"
        for key in params
        if key not in known
    ]


def model_problems(
    kind: str, exc: ValidationError, fields: list[str], *, tag: str | None = None
) -> list[str]:
    """One problem per error of a pydantic model of params, each naming ``params.FIELD``;
    ``tag``: the union member's tag that leads each error location, to drop."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        where = ".".join(loc[1:] if tag is not None and loc[:1] == [tag] else loc)
        if err["type"] == "extra_forbidden":
            out.append(f"params.{where}: {kind} has no such param; valid: {', '.join(fields)}")
        elif err["type"] == "missing":
            out.append(f"params.{where}: required by {kind}; add it")
        elif where:
            out.append(f"params.{where}: {err['msg']} (got {err.get('input')!r})")
        else:
            out.append(f"params: {str(err['msg']).removeprefix('Value error, ')}")
    return out


def reserved_params(kind: str, params: Mapping[str, Any], reserved: Mapping[str, str]) -> list[str]:
    """A problem for each param the runner sets itself (name -> where it comes from)."""
    return [
        f"params.{key}: {kind} sets it from {source}; remove it from params"
        for key, source in reserved.items()
        if key in params
    ]


def refuse(kind: str, problems: list[str]) -> None:
    """Raise PerfopsError listing ``problems``, if any."""
    if problems:
        raise PerfopsError(f"{kind}: " + "; ".join(problems))
