"""The simulator's fault specs: one source for the simulator and for ``perfops chaos``.

These models are the body of the simulator's admin API (``POST /admin/faults``), which
:mod:`perfops.sim` validates and applies, and the params of the ``sim.<kind>`` steps of a
chaos experiment, which :mod:`perfops.chaos` checks before anything runs. The limits every
fault shares live here too: the longest a fault may last, and the ids a client may choose
(the simulator's fault ids, the proxy's toxic names and the undo journal's entries).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from perfops._internal.durations import parse_duration

__all__ = [
    "FAULT_ID",
    "MAX_FAULT_SECONDS",
    "SIM_FAULT_KINDS",
    "Crash",
    "ErrorResponses",
    "FaultSpec",
    "KvShrink",
    "SimFaultBase",
    "Throttle",
    "TokenLatency",
    "TtftLatency",
    "Xid",
    "parse_fault",
]

MAX_FAULT_SECONDS = 3600.0
FAULT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # a fault id a client may choose
_Seconds = Annotated[float, Field(ge=0)]


class SimFaultBase(BaseModel):
    """What every simulator fault has: the replica it hits and how long it lasts."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    replica: int | None = Field(default=None, ge=0, description="None: every replica")
    duration: Annotated[float, Field(gt=0, le=MAX_FAULT_SECONDS)] = 60.0


class TtftLatency(SimFaultBase):
    kind: Literal["ttft_latency"]
    seconds: Annotated[float, Field(gt=0, le=600)]


class TokenLatency(SimFaultBase):
    kind: Literal["token_latency"]
    seconds: Annotated[float, Field(gt=0, le=10)]


class ErrorResponses(SimFaultBase):
    kind: Literal["error"]
    rate: Annotated[float, Field(gt=0, le=1)] = 1.0
    status: Annotated[int, Field(ge=400, le=599)] = 500
    retry_after: _Seconds | None = None


class Throttle(SimFaultBase):
    kind: Literal["throttle"]
    clock_factor: Annotated[float, Field(gt=0.05, lt=1)] = 0.5


class Xid(SimFaultBase):
    kind: Literal["xid"]
    gpu: Annotated[int, Field(ge=0)] = 0
    code: Annotated[int, Field(ge=1)] = 79  # "GPU has fallen off the bus"


class Crash(SimFaultBase):
    kind: Literal["crash"]
    restart_after: Annotated[float, Field(gt=0, le=MAX_FAULT_SECONDS)] = 5.0


class KvShrink(SimFaultBase):
    kind: Literal["kv_shrink"]
    fraction: Annotated[float, Field(gt=0, lt=1)] = 0.25


FaultSpec = Annotated[
    TtftLatency | TokenLatency | ErrorResponses | Throttle | Xid | Crash | KvShrink,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[FaultSpec] = TypeAdapter(FaultSpec)

SIM_FAULT_KINDS: dict[str, type[SimFaultBase]] = {
    get_args(m.model_fields["kind"].annotation)[0]: m for m in get_args(get_args(FaultSpec)[0])
}
"""Each simulator fault kind and its model."""


def _duration(v: object) -> object:
    return parse_duration(v) if isinstance(v, str) else v


def parse_fault(data: object) -> FaultSpec:
    """Validate a fault request body; raises pydantic.ValidationError listing the problems."""
    if isinstance(data, dict):
        data = {
            k: _duration(v) if k in ("duration", "restart_after") else v for k, v in data.items()
        }
    return _ADAPTER.validate_python(data)
