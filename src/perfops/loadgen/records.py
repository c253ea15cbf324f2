"""One row per request: when it was due, when it left, when its tokens came back."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DEFINITIONS", "RequestRecord"]

# Printed with every result, so nobody has to guess what a number means (reference/loadtest.md
# lists how vllm bench serve, GuideLLM and AIPerf differ).
DEFINITIONS = {
    "ttft": "first non-empty content chunk - request sent (service time)",
    "ttft_from_schedule": "first non-empty content chunk - scheduled time (response time, free "
    "of coordinated omission)",
    "itl": "gaps between consecutive content chunks; the distribution is token-weighted (one "
    "sample per gap)",
    "tpot": "(e2e - ttft) / (output_tokens - 1), per request",
    "e2e": "last chunk - request sent (service time)",
    "e2e_from_schedule": "last chunk - scheduled time (response time, free of coordinated "
    "omission)",
    "lag": "request sent - scheduled time (client schedule lag)",
    "output_tokens": "server usage.completion_tokens when given, else the number of content "
    "chunks (tokens_source says which)",
    "goodput": "completed requests per second that met every SLO threshold",
}


@dataclass(slots=True)
class RequestRecord:
    """Times are nanoseconds on the wall clock (UTC epoch), measured with a monotonic clock."""

    index: int
    scheduled_ns: int
    sent_ns: int = 0
    first_token_ns: int | None = None
    end_ns: int | None = None
    prompt_tokens: int | None = None
    output_tokens: int = 0
    tokens_source: str = "chunks"
    status: int = 0
    error: str | None = None  # None: success; else a kind (connect, timeout, http_503 ...)
    chunk_gaps_ns: list[int] = field(default_factory=list)
    chunks: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def lag_s(self) -> float:
        return (self.sent_ns - self.scheduled_ns) / 1e9

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_token_ns is None else (self.first_token_ns - self.sent_ns) / 1e9

    @property
    def ttft_sched_s(self) -> float | None:
        if self.first_token_ns is None:
            return None
        return (self.first_token_ns - self.scheduled_ns) / 1e9

    @property
    def e2e_s(self) -> float | None:
        return None if self.end_ns is None else (self.end_ns - self.sent_ns) / 1e9

    @property
    def e2e_sched_s(self) -> float | None:
        return None if self.end_ns is None else (self.end_ns - self.scheduled_ns) / 1e9

    @property
    def tpot_s(self) -> float | None:
        if self.end_ns is None or self.first_token_ns is None or self.output_tokens < 2:
            return None
        return (self.end_ns - self.first_token_ns) / 1e9 / (self.output_tokens - 1)
