"""``sim.<kind>``: the simulator's own faults, through its admin API.

Probe, before a run, GETs the admin API's list of faults, so that a simulator that is down
or that refuses the token stops the run before anything lands. Inject POSTs the fault with
the id chosen before it was journaled and the step's duration,
so the simulator ends it by itself if nobody reverts it; revert DELETEs it. A fault the
simulator no longer knows (404), or a simulator that is gone (connection refused), counts as
reverted: its faults lived in its memory. ``sim.crash`` restarts the replica after
``restart_after``, which defaults to the step's duration.

Params are the simulator's fault fields (:mod:`perfops.config.faults`), less ``kind``,
``duration`` and ``id``, which the runner sets; those models are the admin API's schema, the
same the simulator validates with, so the params are checked against them before anything
runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import ValidationError

from perfops._internal.durations import parse_duration
from perfops.chaos._admin_api import Unreachable, call, delete_if_present, probe, problem
from perfops.chaos._fault_base import (
    FaultContext,
    UndoEntry,
    base_entry,
    bearer,
    model_problems,
    refuse,
    reserved_params,
    with_token,
)
from perfops.config.faults import MAX_FAULT_SECONDS, SIM_FAULT_KINDS, parse_fault
from perfops.errors import PerfopsError

__all__ = ["SIM_FAULTS", "SimFault"]

_RESERVED = {"kind": "the fault kind", "duration": "the step's duration", "id": "the journal"}
TOKEN_HINT = (
    "name the variable holding the simulator's --token in the step's token_env (default: the "
    "service's api_key_env in perfops.yaml), and export it"
)


class SimFault:
    """Base of the ``sim.*`` kinds; each subclass names one simulator fault kind."""

    kind: ClassVar[str]
    sim_kind: ClassVar[str]

    @classmethod
    def fields(cls) -> list[str]:
        return [f for f in SIM_FAULT_KINDS[cls.sim_kind].model_fields if f not in _RESERVED]

    @classmethod
    def check(cls, params: Mapping[str, Any]) -> list[str]:
        if not isinstance(params, Mapping):
            return [f"params: {cls.kind} takes a mapping of {', '.join(cls.fields())}"]
        problems = reserved_params(cls.kind, params, _RESERVED)
        body = {k: v for k, v in params.items() if k not in _RESERVED}
        try:
            parse_fault({**body, "kind": cls.sim_kind, "duration": 1.0})
        except ValidationError as exc:
            problems += model_problems(cls.kind, exc, cls.fields(), tag=cls.sim_kind)
        return problems

    def plan(
        self, ctx: FaultContext, params: Mapping[str, Any], *, fault_id: str, duration_s: float
    ) -> UndoEntry:
        refuse(self.kind, self.check(params))
        entry = base_entry(
            self.kind, ctx, fault_id=fault_id, duration_s=duration_s, max_s=MAX_FAULT_SECONDS
        )
        if not ctx.admin_url:
            raise PerfopsError(
                f"{self.kind}: service {ctx.service} has no simulator admin URL",
                hint="its endpoint must be an http(s) URL, or set admin_url",
            )
        body: dict[str, Any] = {**params, "kind": self.sim_kind, "id": fault_id}
        body["duration"] = float(duration_s)
        if self.sim_kind == "crash":
            restart = parse_duration(body.setdefault("restart_after", float(duration_s)))
            entry["expires_at"] = ctx.clock.now_ns() / 1e9 + restart
        entry.update(url=ctx.admin_url.rstrip("/"), body=body)
        return with_token(entry, ctx)

    def probe(self, entry: UndoEntry) -> None:
        probe(
            entry["url"],
            token=bearer(entry),
            what=f"{self.kind}: the simulator's admin API of service {entry['service']}",
            token_hint=TOKEN_HINT,
            not_found="is the service a `perfops sim`? sim.* faults need its admin API",
        )

    def inject(self, entry: UndoEntry) -> None:
        try:
            status, answer = call("POST", entry["url"], entry["body"], token=bearer(entry))
        except Unreachable as exc:
            raise PerfopsError(
                f"{self.kind} {entry['id']}: cannot reach the simulator's admin API ({exc})",
                hint="is the service up at its endpoint?",
            ) from None
        if status not in (200, 201):
            raise _refused(entry, "inject", status, answer)

    def revert(self, entry: UndoEntry) -> None:
        delete_if_present(
            entry,
            f"{entry['url']}/{quote(entry['id'], safe='')}",
            token=bearer(entry),
            gone=(200, 404),
            owner="service",
            refused=lambda status, answer: _refused(entry, "revert", status, answer),
        )


def _refused(entry: UndoEntry, action: str, status: int, answer: Any) -> PerfopsError:
    hint = TOKEN_HINT if status in (401, 403) else None
    return PerfopsError(
        f"{entry['kind']} {entry['id']}: the simulator refused to {action} it "
        f"(HTTP {status}: {problem(status, answer)})",
        hint=hint,
    )


def _sim_class(sim_kind: str) -> type[SimFault]:
    doc = f"The simulator's {sim_kind} fault; params: its fields in perfops.config.faults."
    return type(
        f"Sim_{sim_kind}",
        (SimFault,),
        {"kind": f"sim.{sim_kind}", "sim_kind": sim_kind, "__doc__": doc},
    )


SIM_FAULTS: dict[str, type[SimFault]] = {
    f"sim.{kind}": _sim_class(kind) for kind in SIM_FAULT_KINDS
}
