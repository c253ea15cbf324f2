"""Latency SLOs for load tests: ``ttft_p99=500ms,tpot_p99=50ms``, and goodput."""

from __future__ import annotations

import re
from dataclasses import dataclass

from perfops._internal.durations import format_duration, parse_duration
from perfops.errors import UsageError

__all__ = ["Threshold", "parse_slo"]

_METRICS = ("ttft", "tpot", "itl", "e2e")
MAX_THRESHOLD_S = 3600.0  # no request is judged over more than an hour
_ITEM = re.compile(r"^(ttft|tpot|itl|e2e)(?:_p(\d+(?:\.\d+)?))?=(.+)$")


@dataclass(frozen=True, slots=True)
class Threshold:
    """``metric`` at ``quantile`` must be at most ``seconds``; each request is judged on the
    metric itself for goodput (a request is good when it meets every threshold)."""

    metric: str
    quantile: float  # percent, e.g. 99
    seconds: float

    @property
    def key(self) -> str:
        q = (
            f"{self.quantile:g}".replace(".", "_")
            if self.quantile != int(self.quantile)
            else f"{int(self.quantile)}"
        )
        return f"{self.metric}_p{q}"

    def __str__(self) -> str:
        return f"{self.metric}_p{self.quantile:g}<={format_duration(self.seconds)}"


def parse_slo(text: str | None) -> list[Threshold]:
    """``ttft_p99=500ms,tpot_p99=50ms`` (a bare ``ttft=500ms`` means p99)."""
    if not text:
        return []
    out = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        m = _ITEM.match(item)
        if m is None:
            raise UsageError(
                f"cannot read the SLO item {item!r}",
                hint="write METRIC_pQ=DURATION with METRIC one of "
                f"{', '.join(_METRICS)}, e.g. ttft_p99=500ms,tpot_p99=50ms",
            )
        try:
            seconds = parse_duration(m.group(3))
        except ValueError as exc:
            raise UsageError(f"SLO item {item!r}: {exc}") from None
        if not 0 < seconds <= MAX_THRESHOLD_S:
            raise UsageError(
                f"SLO item {item!r}: a threshold must be above 0 and at most 1h",
                hint="0 is met by no request; e.g. ttft_p99=500ms",
            )
        quantile = float(m.group(2) or 99)
        if not 0 < quantile <= 100:
            raise UsageError(f"SLO item {item!r}: the quantile must be in (0, 100]")
        out.append(Threshold(m.group(1), quantile, seconds))
    return out
