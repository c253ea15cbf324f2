"""Mutable per-request and per-step state inside an :class:`~perfops.sim.model.Engine`."""

from __future__ import annotations

from typing import Literal

from perfops.sim._records import FinishedRequest, Request

__all__ = ["SeqState", "StepBatch"]


class SeqState:
    """Mutable state of one request inside the engine."""

    __slots__ = (
        "arrival",
        "cached",
        "computed",
        "first_token",
        "generated",
        "hashes",
        "last_emit",
        "max_tokens",
        "preemptions",
        "private",
        "prompt",
        "published",
        "request_id",
        "scheduled",
        "shared",
        "total",
    )

    def __init__(self, request: Request, hashes: tuple[int, ...]) -> None:
        self.request_id = request.request_id
        self.prompt = self.total = request.prompt_tokens
        self.max_tokens = request.max_tokens
        self.arrival = self.last_emit = request.arrival
        self.hashes = hashes
        self.computed = self.generated = self.private = self.preemptions = self.cached = 0
        self.shared: list[int] = []
        self.published = False
        self.scheduled: float | None = None
        self.first_token: float | None = None

    def finished(self, end: float, reason: Literal["length", "abort"]) -> FinishedRequest:
        return FinishedRequest(
            request_id=self.request_id,
            prompt_tokens=self.prompt,
            output_tokens=self.generated,
            cached_tokens=self.cached,
            arrival=self.arrival,
            scheduled=end if self.scheduled is None else self.scheduled,
            first_token=end if self.first_token is None else self.first_token,
            end=end,
            preemptions=self.preemptions,
            reason=reason,
        )


class StepBatch:
    """What one step schedules, and what it emits at its end."""

    __slots__ = ("done", "first", "gaps", "kv", "next", "preempted", "prefill", "seqs", "tokens")

    def __init__(self) -> None:
        self.seqs: list[tuple[SeqState, int]] = []
        self.prefill = self.kv = self.tokens = 0
        self.preempted: list[str] = []
        self.done: list[FinishedRequest] = []
        self.first: list[str] = []
        self.next: list[str] = []
        self.gaps: list[float] = []

    def add(self, seq: SeqState, n: int) -> None:
        self.seqs.append((seq, n))
        self.tokens += n
        self.kv += seq.computed + n
        if n > 1 or seq.first_token is None or seq.computed + 1 != seq.total:
            self.prefill += n
