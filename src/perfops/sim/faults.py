"""Faults the simulated fleet can suffer, and the board that tracks which are in force.

Every fault has a time limit and expires by itself; reverting is idempotent. The board is
plain data: the fleet reads from it what each replica should do (extra latency, errors, a
slower clock, a smaller KV cache, an XID on a GPU, a crash) and applies it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from perfops._internal.durations import parse_duration
from perfops._internal.ids import new_id

__all__ = [
    "FAULT_ID",
    "MAX_FAULT_SECONDS",
    "ActiveFault",
    "FaultBoard",
    "FaultIdTaken",
    "FaultSpec",
    "parse_fault",
]

MAX_FAULT_SECONDS = 3600.0
FAULT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # a fault id a client may choose
_RETIRED_IDS = 4096  # ids reverted before they were injected, remembered so they stay unused
_Seconds = Annotated[float, Field(ge=0)]


def _duration(v: object) -> object:
    return parse_duration(v) if isinstance(v, str) else v


class _Fault(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    replica: int | None = Field(default=None, ge=0, description="None: every replica")
    duration: Annotated[float, Field(gt=0, le=MAX_FAULT_SECONDS)] = 60.0


class TtftLatency(_Fault):
    kind: Literal["ttft_latency"]
    seconds: Annotated[float, Field(gt=0, le=600)]


class TokenLatency(_Fault):
    kind: Literal["token_latency"]
    seconds: Annotated[float, Field(gt=0, le=10)]


class ErrorResponses(_Fault):
    kind: Literal["error"]
    rate: Annotated[float, Field(gt=0, le=1)] = 1.0
    status: Annotated[int, Field(ge=400, le=599)] = 500
    retry_after: _Seconds | None = None


class Throttle(_Fault):
    kind: Literal["throttle"]
    clock_factor: Annotated[float, Field(gt=0.05, lt=1)] = 0.5


class Xid(_Fault):
    kind: Literal["xid"]
    gpu: Annotated[int, Field(ge=0)] = 0
    code: Annotated[int, Field(ge=1)] = 79  # "GPU has fallen off the bus"


class Crash(_Fault):
    kind: Literal["crash"]
    restart_after: Annotated[float, Field(gt=0, le=MAX_FAULT_SECONDS)] = 5.0


class KvShrink(_Fault):
    kind: Literal["kv_shrink"]
    fraction: Annotated[float, Field(gt=0, lt=1)] = 0.25


FaultSpec = Annotated[
    TtftLatency | TokenLatency | ErrorResponses | Throttle | Xid | Crash | KvShrink,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[FaultSpec] = TypeAdapter(FaultSpec)


def parse_fault(data: object) -> FaultSpec:
    """Validate a fault request body; raises pydantic.ValidationError listing the problems."""
    if isinstance(data, dict):
        data = {
            k: _duration(v) if k in ("duration", "restart_after") else v for k, v in data.items()
        }
    return _ADAPTER.validate_python(data)


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

    def _of(self, replica: int, kind: type[_Fault]) -> list[ActiveFault]:
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
