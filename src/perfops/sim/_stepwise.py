"""The plain fleet driver the fast one must match: every engine step is its own event.

:func:`perfops.sim.virtual.simulate` runs stretches of pure-decode steps as one event and cuts
them short when a request arrives; this driver does none of that. It routes the same way
(least outstanding requests, ties taken in turn), a replica's finished requests count at the
end of the step that finished them, and a request arriving at the moment a replica's next
step would start joins that step. Tests and ``bench/sim_throughput.py`` hold the two to the
same timings; this one is the slower by the factor the bench reports.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from perfops.sim._records import EngineConfig, FinishedRequest, Request, StepResult
from perfops.sim._summary import summarize
from perfops.sim.model import Engine, RequestRejected
from perfops.sim.profiles import ServingProfile
from perfops.sim.virtual import VirtualResult, WorkloadRequest, _timings

__all__ = ["simulate_stepwise"]


class _Stepwise:
    def __init__(self, engines: list[Engine], n_requests: int) -> None:
        self.engines = engines
        self.running: list[StepResult | None] = [None] * len(engines)  # the step in flight
        self.outstanding = [0] * len(engines)
        self.turn = 0
        self.heap: list[tuple[float, int]] = []  # (end of the step in flight, replica)
        self.replica = np.full(n_requests, -1, dtype=np.int64)
        self.done: list[FinishedRequest] = []
        self.gaps: list[float] = []

    def start(self, r: int, now: float) -> None:
        """Run replica ``r``'s next step from ``now``, if it has work."""
        engine = self.engines[r]
        while engine.has_work:
            step = engine.step(now)
            if step.duration > 0:
                self.running[r] = step
                heapq.heappush(self.heap, (step.end, r))
                return
            self.finish(r, step.finished)  # only aborts: nothing could run
        self.running[r] = None

    def end_step(self, r: int) -> None:
        step = self.running[r]
        assert step is not None
        self.running[r] = None
        self.gaps.extend(step.next_token_gaps)
        self.finish(r, step.finished)

    def finish(self, r: int, finished: Sequence[FinishedRequest]) -> None:
        self.outstanding[r] -= len(finished)
        self.done.extend(finished)

    def route(self) -> int:
        least = min(self.outstanding)
        later = [r for r in range(self.turn, len(self.engines)) if self.outstanding[r] == least]
        r = later[0] if later else self.outstanding.index(least)
        self.turn = r + 1
        return r

    def arrive(self, index: int, item: WorkloadRequest) -> None:
        """Route and submit one request at its arrival (steps ending by then have ended)."""
        r = self.route()
        request = Request(
            str(index), item.prompt_tokens, item.output_tokens, item.arrival, item.block_hashes
        )
        try:
            accepted = self.engines[r].submit(request)
        except RequestRejected:
            accepted = False
        if accepted:
            self.replica[index] = r
            self.outstanding[r] += 1

    def run(self, workload: Sequence[WorkloadRequest]) -> None:
        heap = self.heap
        for i in sorted(range(len(workload)), key=lambda i: workload[i].arrival):
            t = workload[i].arrival
            waiting = []  # replicas whose step ended at t: the next one may take this request
            while heap and heap[0][0] <= t:
                at, r = heapq.heappop(heap)
                self.end_step(r)
                if at < t:
                    self.start(r, at)
                else:
                    waiting.append(r)
            self.arrive(i, workload[i])
            r = int(self.replica[i])
            if r >= 0 and self.running[r] is None and r not in waiting:
                self.start(r, t)
            for r in waiting:
                self.start(r, t)
        while heap:
            at, r = heapq.heappop(heap)
            self.end_step(r)
            self.start(r, at)


def simulate_stepwise(
    workload: Sequence[WorkloadRequest],
    profile: ServingProfile,
    config: EngineConfig | None = None,
    *,
    replicas: int = 1,
    seed: int = 0,
) -> VirtualResult:
    """:func:`~perfops.sim.virtual.simulate`, one engine step per event (the reference)."""
    if replicas < 1:
        raise ValueError(f"replicas must be >= 1, got {replicas}")
    engines = [
        Engine(profile, config, rng=np.random.default_rng([seed, r])) for r in range(replicas)
    ]
    fleet = _Stepwise(engines, len(workload))
    fleet.run(workload)
    timings = _timings(workload, fleet.done, fleet.replica)
    gaps = np.array(fleet.gaps, dtype=float)
    summary = summarize(timings, gaps, np.ones(len(gaps)), [e.stats() for e in engines])
    return VirtualResult(timings=timings, summary=summary)
