"""The exit code of a `perfops load` command, decided from what it measured, once its result
is printed or written.

- ``load run``: 3 when the target refused every connection (nothing was measured); 1 when
  every request failed, or ``--slo`` was given and missed; else 0.
- ``load sweep``: 3 when every step found the target unreachable; 1 when no step completed a
  request. A step that misses ``--slo`` is a finding of the sweep, not a failure of it (gate
  on ``load run --slo`` or ``load capacity``).
- ``load capacity``: 3 when the target was unreachable; 1 when even the first rate missed the
  SLO. A first rate that met the SLO but that the client could not keep to its schedule
  (client-limited) is no verdict on the target: no capacity, the reason, and exit 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from perfops.errors import CheckFailed, Unreachable

if TYPE_CHECKING:
    from perfops.loadgen.search import CapacityResult
    from perfops.loadgen.summary import Summary

__all__ = ["check_capacity", "check_run", "check_sweep"]

_START_IT = "start the server (e.g. `perfops sim`), or check --url / the service's endpoint"


def _unreachable(summary: Summary) -> bool:
    """Every request failed to connect: the run could not happen at all."""
    return summary.count > 0 and summary.errors.get("connect", 0) == summary.count


_FIXES = {  # the most frequent error kind -> what to try
    "http_401": "the server wants an API key: --api-key-env NAME (a variable holding it)",
    "http_403": "the server refuses this API key: check the variable --api-key-env names",
    "http_404": "check --url (it ends in /v1), --endpoint and --model",
    "timeout": "the server answered too slowly: lower --rate or raise --timeout",
}


def _errors(summary: Summary) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in sorted(summary.errors.items()))


def _fix(summary: Summary) -> str:
    kind = max(summary.errors, key=lambda k: summary.errors[k], default="")
    return _FIXES.get(kind, "the errors by kind above say what the server answered")


def check_run(summary: Summary, url: str) -> None:
    """Raise for a run that could not happen or that failed its check."""
    if _unreachable(summary):
        raise Unreachable(
            f"load run: {url} refused every connection ({summary.count} requests)", hint=_START_IT
        )
    if summary.count and not summary.completed:
        raise CheckFailed(
            f"load run: every request failed ({_errors(summary)})",
            hint=_fix(summary),
            result=summary.as_dict(),
        )
    if summary.slo_met is False:
        missed = [key for key, d in summary.slo_detail.items() if not d["met"]]
        failed = summary.count - summary.completed
        why = ", ".join(
            [*(f"{key} missed" for key in missed), *([f"{failed} failed"] if failed else [])]
        )
        raise CheckFailed(f"load run: SLO missed ({why or 'no request'})", result=summary.as_dict())


def check_sweep(summaries: Sequence[Summary], url: str) -> None:
    """Raise for a sweep that could not happen or measured nothing."""
    if summaries and all(_unreachable(s) for s in summaries):
        raise Unreachable(f"load sweep: {url} refused every connection", hint=_START_IT)
    if summaries and not any(s.completed for s in summaries):
        raise CheckFailed(
            "load sweep: every request of every step failed",
            hint="the errors column says how many; rerun one step with `perfops load run`",
        )


def check_capacity(found: CapacityResult, url: str) -> None:
    """Raise for a capacity search that could not happen or found no rate meeting the SLO."""
    summaries = [p.summary for p in found.points]
    if summaries and all(_unreachable(s) for s in summaries):
        raise Unreachable(f"load capacity: {url} refused every connection", hint=_START_IT)
    missed = bool(summaries) and summaries[0].slo_met is False
    if not found.capacity_rps and missed:  # client-limited alone is no verdict on the target
        raise CheckFailed(f"load capacity: no rate met the SLO ({found.reason})")
