"""The fault catalogue of ``perfops chaos``: one small plugin per kind, chosen by ``kind``.

=================  =====================================================================
kind               what it does, and how it ends
=================  =====================================================================
``sim.<kind>``     a simulator fault (ttft_latency, token_latency, error, throttle, xid,
                   crash, kv_shrink) through its admin API; the simulator also ends it at
                   its expiry
``proxy.<toxic>``  a toxic on the fault proxy (latency, bandwidth, …, http_error, ttft,
                   token_delay, truncate, malformed_chunk); the proxy also removes it at
                   its expiry
``process.stop``   SIGSTOP a pid; SIGCONT at revert, or by a detached watchdog at expiry
``process.kill``   kill a command's process; restart it at revert, or by a detached
                   watchdog at expiry
=================  =====================================================================

Before a run, each planned fault is probed (:meth:`Fault.probe`): a target that does not
answer, or refuses the token, stops the run before anything lands. Every fault is planned
first (:meth:`Fault.plan`, pure): the plan is the undo entry, which
the runner journals (:mod:`perfops.chaos.undo`) before it injects, and which holds all that
:func:`revert_entry` needs to undo the fault from a fresh process. Every fault also ends by
itself at ``expires_at``, so one whose runner and journal are both lost still ends.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType

from perfops.chaos._fault_base import Fault, FaultContext, UndoEntry, public_entry
from perfops.chaos._process_faults import ProcessKill, ProcessStop
from perfops.chaos._proxy_faults import PROXY_FAULTS
from perfops.chaos._sim_faults import SIM_FAULTS
from perfops.errors import PerfopsError, UsageError

__all__ = [
    "FAULTS",
    "Fault",
    "FaultContext",
    "UndoEntry",
    "fault_for",
    "public_entry",
    "revert_entry",
]

FAULTS: Mapping[str, type[Fault]] = MappingProxyType(
    {
        **SIM_FAULTS,
        **PROXY_FAULTS,
        ProcessStop.kind: ProcessStop,
        ProcessKill.kind: ProcessKill,
    }
)


def fault_for(kind: str) -> Fault:
    """The plugin for ``kind``; a UsageError (a PerfopsError) lists the valid kinds."""
    cls = FAULTS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        close = difflib.get_close_matches(str(kind), FAULTS, n=1, cutoff=0.6)
        family = str(kind).partition(".")[0]
        same = [k for k in FAULTS if k.startswith(f"{family}.")]
        valid = ", ".join(same or FAULTS)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UsageError(f"unknown fault kind {kind!r}", hint=f"{hint}valid kinds: {valid}")
    return cls()


def revert_entry(entry: UndoEntry) -> None:
    """Undo the fault ``entry`` describes (its ``kind`` picks the plugin); idempotent."""
    kind = entry.get("kind") if isinstance(entry, Mapping) else None
    if not isinstance(kind, str) or not isinstance(entry.get("id"), str):
        raise PerfopsError(f"an undo entry needs a kind and an id, got {entry!r:.200}")
    fault_for(kind).revert(entry)
