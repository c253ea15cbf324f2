"""Virtual-time driver: the engine model of :mod:`perfops.sim.model`, run as a discrete-event
simulation across replicas, as fast as the CPU allows.

Requests arrive at their scheduled times and go to the replica with the fewest outstanding
requests (least-outstanding-requests routing, ties taken in turn). Each replica only does work
when it has some: a single step is one event, and a stretch of pure decode steps is one event
too (planned with :meth:`Engine.plan_decode`, cut short when a request is routed to the
replica mid-stretch). Per-request timings and a summary come back; nothing touches a clock.
"""

from __future__ import annotations

import gc
import heapq
import math
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from perfops.sim._kvcache import prefix_block_hashes
from perfops.sim._records import DecodePlan, EngineConfig, FinishedRequest, Request, StepResult
from perfops.sim._summary import VirtualSummary, summarize
from perfops.sim.model import Engine, RequestRejected
from perfops.sim.profiles import ServingProfile

__all__ = [
    "RequestTiming",
    "RequestTimings",
    "VirtualResult",
    "WorkloadRequest",
    "poisson_workload",
    "simulate",
]


@dataclass(frozen=True, slots=True)
class WorkloadRequest:
    """One request of a workload: when it arrives and how big it is."""

    arrival: float  # seconds from the start of the run
    prompt_tokens: int
    output_tokens: int
    block_hashes: tuple[int, ...] = ()  # chained prompt-block hashes (shared prefixes hit)


class RequestTiming(NamedTuple):
    """What happened to one request (times in seconds; NaN when it was rejected)."""

    request_index: int  # position in the workload
    replica: int  # -1 when rejected
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


@dataclass(frozen=True, slots=True, eq=False)
class RequestTimings:
    """Per-request results as columns, row ``i`` for ``workload[i]`` (NaN where rejected).

    Columns rather than one object per request: they cost nothing to build, and load straight
    into NumPy, Arrow or a DataFrame. Iterate (or :meth:`row`) for :class:`RequestTiming` rows.
    """

    replica: NDArray[np.int64]
    arrival: NDArray[np.float64]
    first_token: NDArray[np.float64]
    end: NDArray[np.float64]
    queue_time: NDArray[np.float64]
    output_tokens: NDArray[np.int64]
    cached_tokens: NDArray[np.int64]
    preemptions: NDArray[np.int64]
    rejected: NDArray[np.bool_]

    @property
    def ttft(self) -> NDArray[np.float64]:
        return self.first_token - self.arrival

    @property
    def e2e(self) -> NDArray[np.float64]:
        return self.end - self.arrival

    def __len__(self) -> int:
        return len(self.arrival)

    def row(self, i: int) -> RequestTiming:
        return RequestTiming(
            i,
            int(self.replica[i]),
            float(self.arrival[i]),
            float(self.first_token[i]),
            float(self.end[i]),
            float(self.queue_time[i]),
            int(self.output_tokens[i]),
            int(self.cached_tokens[i]),
            int(self.preemptions[i]),
            bool(self.rejected[i]),
        )

    def __iter__(self) -> Iterator[RequestTiming]:
        return (self.row(i) for i in range(len(self)))


@dataclass(frozen=True, slots=True, eq=False)
class VirtualResult:
    """What :func:`simulate` returns: every request's timings, every inter-token gap with
    the number of tokens it stands for (a decode step of n sequences is n gaps), and the
    summary of the run."""

    timings: RequestTimings
    summary: VirtualSummary
    itl: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    itl_weights: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


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
        self.gaps = array("d")  # inter-token gaps from single steps
        self.runs = array("d")  # decode runs, compactly: first, inc, slowdown, steps, seqs
        self.run_jitter = array("d")  # the runs' jitter factors, one per step

    def arrive(self, index: int, item: WorkloadRequest, next_arrival: float) -> None:
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
            self._cut(r, work, item.arrival, next_arrival)

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
            self.gaps.extend(work.next_token_gaps)
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

    def _cut(self, r: int, plan: DecodePlan, t: float, next_arrival: float) -> None:
        """A request joined replica ``r`` at ``t``: end its decode run at the next boundary."""
        steps = plan.steps_started_before(t)
        if steps == plan.steps:
            return  # the request waits for the step after the planned run
        if steps == 0:
            return self._start(r, plan.start)
        boundary = self._record_run(r, plan, steps)
        if boundary <= next_arrival:
            return self._start(r, boundary)  # nothing else can join before it: go on now
        self._push(r, _RESUME, boundary)
        return None

    def _record_run(self, r: int, plan: DecodePlan, steps: int) -> float:
        """Commit ``steps`` steps of ``plan``; keep their timing compactly for the ITL figures."""
        run = self.engines[r].commit_decode(plan, steps)
        self.run_jitter.extend(plan.window.values(steps))
        self.runs.extend((plan.first, plan.inc, plan.slowdown, steps, plan.num_seqs))
        self._finish(r, run.finished)
        return run.end

    def itl(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Every inter-token gap and how many tokens it stands for (decode runs rebuilt)."""
        runs = np.frombuffer(self.runs, dtype=float).reshape(-1, 5)
        first, inc, slow, steps, seqs = runs.T
        lengths = steps.astype(np.int64)
        offset = np.repeat(np.cumsum(lengths) - lengths, lengths)
        index = np.arange(int(lengths.sum())) - offset
        durations = (np.repeat(first, lengths) + np.repeat(inc, lengths) * index) * (
            np.repeat(slow, lengths) * np.frombuffer(self.run_jitter, dtype=float)
        )
        values = np.concatenate([durations, np.frombuffer(self.gaps, dtype=float)])
        return values, np.concatenate([np.repeat(seqs, lengths), np.ones(len(self.gaps))])

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
    """Serve ``workload`` with ``replicas`` engines in virtual time; deterministic per seed.

    Replica ``r`` draws its step jitter from ``numpy.random.default_rng([seed, r])``. A
    request refused by a full waiting queue (or one that can never fit) comes back rejected,
    as an HTTP 429 or 400 would. Latencies run from each request's arrival.
    """
    if replicas < 1:
        raise ValueError(f"replicas must be >= 1, got {replicas}")
    engines = [
        Engine(profile, config, rng=np.random.default_rng([seed, r])) for r in range(replicas)
    ]
    fleet = _Fleet(len(workload), engines)
    order = sorted(range(len(workload)), key=lambda i: workload[i].arrival)
    with _gc_paused():
        _drive(fleet, workload, order)
    timings = _timings(workload, fleet.done, fleet.replica)
    itl, weights = fleet.itl()
    summary = summarize(timings, itl, weights, [e.stats() for e in engines])
    return VirtualResult(timings=timings, summary=summary, itl=itl, itl_weights=weights)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector, as :mod:`timeit` does while it times.

    The event loop allocates many short-lived, acyclic objects (freed by reference counting);
    collector passes over them cost ~10% of a run. The previous setting is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _drive(fleet: _Fleet, workload: Sequence[WorkloadRequest], order: Sequence[int]) -> None:
    heap, epoch, pop = fleet.heap, fleet.epoch, heapq.heappop
    arrivals = [workload[i].arrival for i in order] + [math.inf]
    for k, i in enumerate(order):
        t = arrivals[k]
        while heap and heap[0][0] <= t:
            at, _, r, ep = pop(heap)
            if ep == epoch[r]:
                fleet.on_event(r, at)
        fleet.arrive(i, workload[i], arrivals[k + 1])
    while heap:
        at, _, r, ep = pop(heap)
        if ep == epoch[r]:
            fleet.on_event(r, at)


def _timings(
    workload: Sequence[WorkloadRequest],
    done: Sequence[FinishedRequest],
    replica: NDArray[np.int64],
) -> RequestTimings:
    """Columns of what happened to each request, from the requests that left the engines and
    the replica each was routed to (-1: refused)."""
    n = len(workload)
    arrival = np.array([w.arrival for w in workload], dtype=float)
    served = [f for f in done if f.reason == "length"]
    index = np.array([int(f.request_id) for f in served], dtype=np.int64)
    fields = FinishedRequest._fields
    cols = dict(zip(fields, zip(*served, strict=True), strict=True)) if served else {}

    def column(name: str, fill: float, dtype: type) -> NDArray[Any]:
        out: NDArray[Any] = np.full(n, fill, dtype=dtype)
        if served:
            out[index] = cols[name]
        return out

    first = column("first_token", math.nan, float)
    scheduled = column("scheduled", math.nan, float)
    rejected = np.ones(n, dtype=bool)
    rejected[index] = False
    return RequestTimings(
        replica=np.where(rejected, -1, replica),
        arrival=arrival,
        first_token=first,
        end=column("end", math.nan, float),
        queue_time=scheduled - arrival,
        output_tokens=column("output_tokens", 0, np.int64),
        cached_tokens=column("cached_tokens", 0, np.int64),
        preemptions=column("preemptions", 0, np.int64),
        rejected=rejected,
    )


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
    if rate < 0 or duration < 0 or prefix_groups < 1:
        raise ValueError("rate and duration must be >= 0 and prefix_groups >= 1")
    rng = np.random.default_rng(seed)
    n = int(rng.poisson(rate * duration))
    arrivals = np.sort(rng.uniform(0.0, duration, n)).tolist()
    groups = rng.integers(0, prefix_groups, n).tolist()
    shared = min(shared_prefix_tokens, prompt_tokens)
    prefixes = [
        prefix_block_hashes(range(g << 32, (g << 32) + shared), block_size)
        for g in range(prefix_groups)
    ]
    return [
        WorkloadRequest(t, prompt_tokens, output_tokens, prefixes[g])
        for t, g in zip(arrivals, groups, strict=True)
    ]
