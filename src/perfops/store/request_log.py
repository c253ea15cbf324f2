"""The load-test request log of one endpoint, as the SLIs, chaos and cost read it: one query
for a span, then any window of it by bisection."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

__all__ = ["LOG_COLUMNS", "LoggedRequest", "RequestLog"]

LOG_COLUMNS = (
    "scheduled_ns",
    "error",
    "sent_ns",
    "first_token_ns",
    "end_ns",
    "prompt_tokens",
    "output_tokens",
    "chunk_gaps_us",
)


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One recorded request: when it was scheduled and sent, first token and end (ns), its
    tokens, whether it failed, and its largest gap between content chunks (seconds)."""

    scheduled_ns: int
    failed: bool
    sent_ns: int
    first_token_ns: int | None
    end_ns: int | None
    prompt_tokens: int
    output_tokens: int
    max_gap_s: float


class RequestLog:
    """Requests in scheduled order; :meth:`between` cuts out a window."""

    def __init__(self, requests: Sequence[LoggedRequest]) -> None:
        self.requests = list(requests)
        self._times = [r.scheduled_ns for r in self.requests]

    @classmethod
    def of(cls, table: pa.Table) -> RequestLog:
        """From rows of the ``requests`` table with :data:`LOG_COLUMNS`."""
        return cls(
            [
                LoggedRequest(
                    int(row["scheduled_ns"]),
                    row["error"] is not None,
                    int(row["sent_ns"]),
                    row["first_token_ns"],
                    row["end_ns"],
                    int(row["prompt_tokens"] or 0),
                    int(row["output_tokens"] or 0),
                    max(row["chunk_gaps_us"] or [0]) / 1e6,
                )
                for row in table.to_pylist()
            ]
        )

    def between(self, start_ns: int, end_ns: int) -> list[LoggedRequest]:
        """The requests scheduled in ``[start_ns, end_ns)``."""
        a = bisect_left(self._times, start_ns)
        b = bisect_left(self._times, end_ns)
        return self.requests[a:b]

    def __len__(self) -> int:
        return len(self.requests)
