"""Plain data the simulated engine takes and returns, all immutable.

Inputs and snapshots are frozen slotted dataclasses. The records the engine emits on its hot
path (one per step, per finished request, per decode run) are NamedTuples instead: equally
immutable and typed, and about three times cheaper to build (1.5 vs 4.8 us for ten fields
on the 2.5 GHz machine the virtual driver was tuned on), which is most of the budget there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal, NamedTuple

from perfops.errors import ConfigError, Problem
from perfops.sim._jitter import JitterWindow

__all__ = [
    "DecodePlan",
    "DecodeRun",
    "EngineConfig",
    "EngineStats",
    "FinishedRequest",
    "Request",
    "StepResult",
]


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """vLLM engine arguments the model honours (same names and defaults where vLLM has them)."""

    max_num_seqs: int = 256
    max_num_batched_tokens: int = 8192
    block_size: int = 16
    gpu_memory_utilization: float = 0.9
    max_model_len: int = 32768
    max_waiting: int = 1000  # beyond this, submit() refuses (the server answers 429)
    enable_prefix_caching: bool = True
    jitter_sigma: float = 0.05  # lognormal sigma of the per-step multiplicative jitter
    watermark: float = 0.01  # share of KV blocks kept free when admitting new requests

    def __post_init__(self) -> None:
        problems = [
            Problem("EngineConfig", f.name, f"must be >= 1, got {getattr(self, f.name)}")
            for f in fields(self)
            if f.type == "int" and getattr(self, f.name) < 1
        ]
        for name, value, upper in (
            ("gpu_memory_utilization", self.gpu_memory_utilization, 1.0),
            ("jitter_sigma", self.jitter_sigma, 1.0),
            ("watermark", self.watermark, 0.5),
        ):
            if not (math.isfinite(value) and 0 <= value <= upper):
                problems.append(
                    Problem("EngineConfig", name, f"must be between 0 and {upper}, got {value}")
                )
        if problems:
            raise ConfigError(problems, source="simulated engine config")


@dataclass(frozen=True, slots=True)
class Request:
    """A generation request as the engine sees it (token counts, no text)."""

    request_id: str
    prompt_tokens: int
    max_tokens: int  # the request finishes after exactly this many output tokens
    arrival: float  # seconds on the caller's clock
    block_hashes: tuple[int, ...] = ()  # chained hashes of full prompt blocks, for prefix caching


class FinishedRequest(NamedTuple):
    """A request that left the engine, with the timestamps vLLM's histograms use."""

    request_id: str
    prompt_tokens: int
    output_tokens: int
    cached_tokens: int  # prompt tokens served from the prefix cache at first scheduling
    arrival: float
    scheduled: float  # first time it entered a batch
    first_token: float
    end: float
    preemptions: int
    reason: Literal["length", "abort"]

    @property
    def queue_time(self) -> float:
        return self.scheduled - self.arrival

    @property
    def prefill_time(self) -> float:
        return self.first_token - self.scheduled

    @property
    def decode_time(self) -> float:
        return self.end - self.first_token

    @property
    def ttft(self) -> float:
        return self.first_token - self.arrival

    @property
    def e2e(self) -> float:
        return self.end - self.arrival

    @property
    def tpot(self) -> float:
        """(E2E - TTFT) / (output_tokens - 1); NaN for a single-token answer."""
        return self.decode_time / (self.output_tokens - 1) if self.output_tokens > 1 else math.nan


class StepResult(NamedTuple):
    """One engine iteration. Its tokens and finished requests belong to :attr:`end`."""

    start: float
    duration: float  # 0 when nothing could run
    num_seqs: int
    prefill_tokens: int
    decode_tokens: int
    kv_tokens: int  # KV-cache tokens attended (context of every scheduled sequence)
    compute_fraction: float  # share of the step in compute-bound prefill GEMMs; rest is memory
    first_tokens: tuple[str, ...]  # request ids whose first token this step produced
    next_tokens: tuple[str, ...]  # request ids that got one more token
    next_token_gaps: tuple[float, ...]  # per ``next_tokens``: seconds since its previous token
    finished: tuple[FinishedRequest, ...]
    preempted: tuple[str, ...]

    @property
    def end(self) -> float:
        return self.start + self.duration


class DecodePlan(NamedTuple):
    """The coming pure-decode steps of an engine; valid until the engine changes.

    Step ``i`` lasts ``(first + inc * i) * slowdown * jitter[i]``: the batch is fixed and every
    step attends ``num_seqs`` more KV tokens than the one before. Sums over the run are
    computed in closed form, so planning costs the same for 2 steps or 2,000.
    """

    start: float
    end: float
    num_seqs: int
    first: float
    inc: float
    slowdown: float
    window: JitterWindow  # one jitter factor per step
    version: int

    @property
    def steps(self) -> int:
        return self.window.length

    def elapsed(self, steps: int) -> float:
        """Seconds taken by the first ``steps`` steps."""
        return self.slowdown * self.window.linear_sum(steps, self.first, self.inc)

    def durations(self, steps: int | None = None) -> list[float]:
        """Each step's length (the first ``steps`` of them); also each request's token gap."""
        first, inc, slow = self.first, self.inc, self.slowdown
        return [(first + inc * i) * slow * x for i, x in enumerate(self.window.values(steps))]

    def steps_started_before(self, t: float) -> int:
        """How many steps start strictly before ``t`` (a request that arrives at ``t``
        cannot join those)."""
        # step j starts at start + elapsed(j), rising with j
        return self.window.first_reaching(
            self.steps, self.start, self.slowdown, self.first, self.inc, t
        )


class DecodeRun(NamedTuple):
    """Committed decode steps: every running request got one token per step."""

    plan: DecodePlan
    steps: int
    end: float
    finished: tuple[FinishedRequest, ...]  # at the end of the last step

    def durations(self) -> list[float]:
        """Each committed step's length, which is also every running request's token gap."""
        return self.plan.durations(self.steps)


@dataclass(frozen=True, slots=True)
class EngineStats:
    """A snapshot for metrics: vLLM gauges and counters, plus busy time for GPU utilisation."""

    num_running: int
    num_waiting: int
    kv_usage: float
    kv_used_bytes: int  # per GPU
    kv_capacity_bytes: int  # per GPU
    prompt_tokens: int
    generation_tokens: int
    preemptions: int
    prefix_cache_queries: int  # tokens looked up
    prefix_cache_hits: int  # tokens found
    requests_finished: int
    steps: int
    busy_seconds: float
