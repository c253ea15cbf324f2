"""Virtual-time driver: the engine model of :mod:`perfops.sim.model`, run as a discrete-event
simulation across replicas, as fast as the CPU allows.

Requests arrive at their scheduled times and go to the replica with the fewest outstanding
requests (least-outstanding-requests routing, ties taken in turn). Each replica only does work
when it has some: a single step is one event, and a stretch of pure decode steps is one event
too (planned with :meth:`Engine.plan_decode`, cut short when a request is routed to the
replica mid-stretch). Per-request timings and a summary come back; nothing touches a clock.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from perfops.sim._records import DecodePlan, EngineConfig, FinishedRequest, Request, StepResult
from perfops.sim._summary import VirtualSummary, summarize
from perfops.sim.model import Engine, RequestRejected
from perfops.sim.profiles import ServingProfile

__all__ = ["RequestTiming", "VirtualResult", "WorkloadRequest", "poisson_workload", "simulate"]


@dataclass(frozen=True, slots=True)
class WorkloadRequest:
    """One request of a workload: when it arrives and how big it is."""

    arrival: float  # seconds from the start of the run
    prompt_tokens: int
    output_tokens: int
    block_hashes: tuple[int, ...] = ()  # chained prompt-block hashes (shared prefixes hit)


@dataclass(frozen=True, slots=True)
class RequestTiming:
    """What happened to one request (times in seconds; NaN when it was rejected)."""

    index: int
    replica: int
    arrival: float
    first_token: float
    end: float
    queue_time: float
    output_tokens: int
    cached_tokens: int
    preemptions: int
    rejected: bool

    @property
    def ttft(self) -> float:
        return self.first_token - self.arrival

    @property
    def e2e(self) -> float:
        return self.end - self.arrival


@dataclass(frozen=True, slots=True)
class VirtualResult:
    timings: tuple[RequestTiming, ...]
    summary: VirtualSummary


class _Pending:
    """Marks a replica that committed decode steps up to a boundary and resumes there."""

    __slots__ = ()


_RESUME = _Pending()
_Work = StepResult | DecodePlan | _Pending | None


class _Fleet:
    """Replicas, their in-flight work, and the event heap."""

    def __init__(self, n_requests: int, engines: list[Engine]) -> None:
        self.engines = engines
        self.work: list[_Work] = [None] * len(engines)
        self.epoch = [0] * len(engines)
        self.outstanding = [0] * len(engines)
        self.heap: list[tuple[float, int, int, int]] = []
        self.seq = 0
        self.turn = 0
        self.replica = np.full(n_requests, -1, dtype=np.int64)
        self.done: list[FinishedRequest] = []
        self.itl: list[float] = []  # inter-token gaps...
        self.itl_weight: list[int] = []  # ...each standing for this many tokens

    def arrive(self, index: int, item: WorkloadRequest) -> None:
        r = self._route()
        request = Request(
            str(index), item.prompt_tokens, item.output_tokens, item.arrival, item.block_hashes
        )
        try:
            accepted = self.engines[r].submit(request)
        except RequestRejected:
            accepted = False
        if not accepted:
            return
        self.replica[index] = r
        self.outstanding[r] += 1
        work = self.work[r]
        if work is None:
            self._start(r, item.arrival)
        elif isinstance(work, DecodePlan):
            self._cut(r, work, item.arrival)

    def _route(self) -> int:
        load = self.outstanding
        least = min(load)
        try:
            r = load.index(least, self.turn)
        except ValueError:
            r = load.index(least)
        self.turn = r + 1
        return r

    def on_event(self, r: int, now: float) -> None:
        work = self.work[r]
        if isinstance(work, StepResult):
            self.itl.extend(work.next_token_gaps)
            self.itl_weight.extend([1] * len(work.next_token_gaps))
            self._finish(r, work.finished)
        elif isinstance(work, DecodePlan):
            self._record_run(r, work, work.steps)
        self._start(r, now)

    def _start(self, r: int, now: float) -> None:
        engine = self.engines[r]
        while engine.has_work:
            plan = engine.plan_decode(now)
            if plan is not None:
                return self._push(r, plan, plan.end)
            step = engine.step(now)
            if step.duration > 0:
                return self._push(r, step, step.end)
            self._finish(r, step.finished)  # only aborts: nothing could run
        self._push(r, None, math.inf)
        return None

    def _cut(self, r: int, plan: DecodePlan, t: float) -> None:
        steps = plan.steps_started_before(t)
        if steps == plan.steps:
            return  # the request waits for the step after the planned run
        if steps == 0:
            return self._start(r, plan.start)
        self._record_run(r, plan, steps)
        self._push(r, _RESUME, plan.bounds[steps])
        return None

    def _record_run(self, r: int, plan: DecodePlan, steps: int) -> None:
        run = self.engines[r].commit_decode(plan, steps)
        self.itl.extend(run.durations)
        self.itl_weight.extend([run.num_seqs] * len(run.durations))
        self._finish(r, run.finished)

    def _finish(self, r: int, finished: Sequence[FinishedRequest]) -> None:
        if finished:
            self.outstanding[r] -= len(finished)
            self.done.extend(finished)

    def _push(self, r: int, work: _Work, at: float) -> None:
        self.work[r] = work
        self.epoch[r] += 1
        if work is not None:
            self.seq += 1
            heapq.heappush(self.heap, (at, self.seq, r, self.epoch[r]))


def simulate(
    workload: Sequence[WorkloadRequest],
    profile: ServingProfile,
    config: EngineConfig | None = None,
    *,
    replicas: int = 1,
    seed: int = 0,
) -> VirtualResult:
    """Serve ``workload`` with ``replicas`` engines in virtual time; deterministic per seed."""
    if replicas < 1:
        raise ValueError(f"replicas must be >= 1, got {replicas}")
    engines = [
        Engine(profile, config, rng=np.random.default_rng([seed, r])) for r in range(replicas)
    ]
    fleet = _Fleet(len(workload), engines)
    order = sorted(range(len(workload)), key=lambda i: workload[i].arrival)
    _drive(fleet, workload, order)
    timings = _timings(workload, fleet)
    itl = np.array(fleet.itl), np.array(fleet.itl_weight, dtype=float)
    summary = summarize(timings, *itl, [e.stats() for e in engines])
    return VirtualResult(timings=timings, summary=summary)


def _drive(fleet: _Fleet, workload: Sequence[WorkloadRequest], order: Sequence[int]) -> None:
    heap, epoch, pop = fleet.heap, fleet.epoch, heapq.heappop
    for i in order:
        item = workload[i]
        while heap and heap[0][0] <= item.arrival:
            at, _, r, ep = pop(heap)
            if ep == epoch[r]:
                fleet.on_event(r, at)
        fleet.arrive(i, item)
    while heap:
        at, _, r, ep = pop(heap)
        if ep == epoch[r]:
            fleet.on_event(r, at)


def _timings(workload: Sequence[WorkloadRequest], fleet: _Fleet) -> tuple[RequestTiming, ...]:
    by_index = {int(f.request_id): f for f in fleet.done}
    out = []
    for i, item in enumerate(workload):
        f = by_index.get(i)
        if f is None or f.reason != "length":
            out.append(
                RequestTiming(
                    i,
                    int(fleet.replica[i]),
                    item.arrival,
                    math.nan,
                    math.nan,
                    math.nan,
                    0,
                    0,
                    0,
                    True,
                )
            )
            continue
        out.append(
            RequestTiming(
                i,
                int(fleet.replica[i]),
                f.arrival,
                f.first_token,
                f.end,
                f.queue_time,
                f.output_tokens,
                f.cached_tokens,
                f.preemptions,
                False,
            )
        )
    return tuple(out)


def poisson_workload(
    rate: float,
    duration: float,
    *,
    prompt_tokens: int,
    output_tokens: int,
    seed: int = 0,
    shared_prefix_tokens: int = 0,
    prefix_groups: int = 1,
    block_size: int = 16,
) -> list[WorkloadRequest]:
    """Poisson arrivals at ``rate`` req/s for ``duration`` s, fixed sizes.

    With ``shared_prefix_tokens``, each request's prompt starts with one of ``prefix_groups``
    shared prefixes (a system prompt, say), so prefix caching can hit.
    """
    rng = np.random.default_rng(seed)
    n = int(rng.poisson(rate * duration)) if rate > 0 else 0
    arrivals = np.sort(rng.uniform(0.0, duration, n))
    groups = rng.integers(0, max(prefix_groups, 1), n)
    shared_blocks = min(shared_prefix_tokens, prompt_tokens) // block_size
    prefixes = [tuple(hash((g, b)) for b in range(shared_blocks)) for g in range(prefix_groups)]
    return [
        WorkloadRequest(float(t), prompt_tokens, output_tokens, prefixes[g] if prefixes else ())
        for t, g in zip(arrivals, groups.tolist(), strict=True)
    ]
