"""Faults the simulated fleet can suffer, and the board that tracks which are in force.

The fault specs themselves (the admin API's body) live in :mod:`perfops.config.faults`,
which ``perfops chaos`` checks its ``sim.*`` steps against too; they are re-exported here.

Every fault has a time limit and expires by itself; reverting is idempotent. The board is
plain data: the fleet reads from it what each replica should do (extra latency, errors, a
slower clock, a smaller KV cache, an XID on a GPU, a crash) and applies it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from perfops._internal.ids import new_id
from perfops.config.faults import (
    FAULT_ID,
    MAX_FAULT_SECONDS,
    Crash,
    ErrorResponses,
    FaultSpec,
    KvShrink,
    SimFaultBase,
    Throttle,
    TokenLatency,
    TtftLatency,
    Xid,
    parse_fault,
)

__all__ = [
    "FAULT_ID",
    "MAX_FAULT_SECONDS",
    "ActiveFault",
    "FaultBoard",
    "FaultIdTaken",
    "FaultSpec",
    "parse_fault",
]

_RETIRED_IDS = 4096  # ids reverted before they were injected, remembered so they stay unused


def _seconds(spec: object) -> float:
    return spec.seconds if isinstance(spec, TtftLatency | TokenLatency) else 0.0


@dataclass
class ActiveFault:
    id: str
    spec: FaultSpec
    injected_at: float
    expires_at: float
    reverted_at: float | None = None

    def applies_to(self, replica: int) -> bool:
        return self.spec.replica is None or self.spec.replica == replica

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            **self.spec.model_dump(),
            "injected_at": self.injected_at,
            "expires_at": self.expires_at,
            "reverted_at": self.reverted_at,
            "active": self.reverted_at is None,
        }


class FaultIdTaken(ValueError):
    """A client-chosen fault id that cannot be used: in force with another spec, or spent."""


@dataclass
class FaultBoard:
    """Faults in force, by id. Times are seconds on the fleet's monotonic clock.

    A client may choose the id (so that it can journal the id before it injects): injecting
    an id already in force with the same spec returns that fault (a retry is harmless); an id
    that has ended, or was reverted before it was ever injected, is never used again, so a
    late or retried injection cannot resurrect a fault its client has already undone."""

    active: dict[str, ActiveFault] = field(default_factory=dict)
    history: dict[str, ActiveFault] = field(default_factory=dict)
    retired: dict[str, None] = field(default_factory=dict)

    def inject(
        self, spec: FaultSpec, now: float, now_ns: int, fault_id: str | None = None
    ) -> ActiveFault:
        """Put ``spec`` in force; raises :class:`FaultIdTaken` for an id that cannot be used."""
        if fault_id is not None:
            existing = self._reusable(fault_id, spec)
            if existing is not None:
                return existing
        limit = spec.restart_after if isinstance(spec, Crash) else spec.duration
        fault = ActiveFault(fault_id or new_id(now_ns, "flt-"), spec, now, now + limit)
        self.active[fault.id] = fault
        self.history[fault.id] = fault
        return fault

    def _reusable(self, fault_id: str, spec: FaultSpec) -> ActiveFault | None:
        if not FAULT_ID.match(fault_id):
            raise FaultIdTaken(
                f"fault id {fault_id!r} is not 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'"
            )
        existing = self.active.get(fault_id)
        if existing is not None:
            if existing.spec != spec:
                raise FaultIdTaken(f"fault {fault_id} is already in force with another spec")
            return existing
        if fault_id in self.history or fault_id in self.retired:
            raise FaultIdTaken(
                f"fault id {fault_id} was already used and has ended; choose a new id"
            )
        return None

    def revert(self, fault_id: str, now: float) -> ActiveFault | None:
        """Revert ``fault_id``; reverting twice is harmless. None when the id is unknown (the
        id is then retired: a later injection under it is refused)."""
        fault = self.active.pop(fault_id, None) or self.history.get(fault_id)
        if fault is None:
            self.retired[fault_id] = None
            while len(self.retired) > _RETIRED_IDS:
                del self.retired[next(iter(self.retired))]
        elif fault.reverted_at is None:
            fault.reverted_at = now
        return fault

    def expire(self, now: float) -> list[ActiveFault]:
        due = [f for f in self.active.values() if f.expires_at <= now]
        for f in due:
            self.revert(f.id, now)
        return due

    def _of(self, replica: int, kind: type[SimFaultBase]) -> list[ActiveFault]:
        return [
            f for f in self.active.values() if isinstance(f.spec, kind) and f.applies_to(replica)
        ]

    def extra_ttft(self, replica: int) -> float:
        return sum(_seconds(f.spec) for f in self._of(replica, TtftLatency))

    def extra_per_token(self, replica: int) -> float:
        return sum(_seconds(f.spec) for f in self._of(replica, TokenLatency))

    def error_for(self, replica: int, rng: random.Random) -> ErrorResponses | None:
        for f in self._of(replica, ErrorResponses):
            spec = f.spec
            assert isinstance(spec, ErrorResponses)
            if rng.random() < spec.rate:
                return spec
        return None

    def clock_factor(self, replica: int) -> float:
        factor = 1.0
        for f in self._of(replica, Throttle):
            assert isinstance(f.spec, Throttle)
            factor = min(factor, f.spec.clock_factor)
        return factor

    def kv_fraction(self, replica: int) -> float:
        fraction = 1.0
        for f in self._of(replica, KvShrink):
            assert isinstance(f.spec, KvShrink)
            fraction = min(fraction, f.spec.fraction)
        return fraction

    def xids(self, replica: int) -> dict[int, int]:
        """GPU index within the replica -> XID code."""
        out: dict[int, int] = {}
        for f in self._of(replica, Xid):
            assert isinstance(f.spec, Xid)
            out[f.spec.gpu] = f.spec.code
        return out

    def crashed(self, replica: int) -> bool:
        return bool(self._of(replica, Crash))
