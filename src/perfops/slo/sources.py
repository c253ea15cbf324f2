"""What each SLI reads: one choice, made here, for ``perfops slo status`` (the lake) and for
``perfops slo rules`` and the Grafana panels (Prometheus).

A latency SLI reads the engine's histogram unless it says ``source: requests``: the histogram
is what Prometheus has, so status and rules count the same events, on live scrapes and on
imported history alike. ``source: requests`` reads perfops' own load-test request records
instead (exact, but only while a load test runs); Prometheus has no such records, so its
rules still read the histogram, and both outputs say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from perfops.config.models import (
    SLO,
    AvailabilitySLI,
    GoodputSLI,
    GpuHealthSLI,
    LatencySLI,
)

__all__ = ["HISTOGRAMS", "SliSource", "sli_source"]

Kind = Literal["histogram", "requests", "counter", "gpu", "promql"]

# latency metric -> (the lake's canonical histogram, vLLM's name for it in Prometheus)
HISTOGRAMS: dict[str, tuple[str, str]] = {
    "ttft": ("llm.ttft_seconds", "vllm:time_to_first_token_seconds"),
    "itl": ("llm.itl_seconds", "vllm:inter_token_latency_seconds"),
    "tpot": ("llm.tpot_seconds", "vllm:request_time_per_output_token_seconds"),
    "e2e": ("llm.e2e_seconds", "vllm:e2e_request_latency_seconds"),
}


@dataclass(frozen=True, slots=True)
class SliSource:
    """Where an SLO's good and total events come from."""

    kind: Kind
    metrics: tuple[str, ...] = ()  # the lake's (canonical) names read; none for requests

    def describe(self) -> str:
        names = ", ".join(self.metrics)
        return {
            "histogram": f"histograms {names}",
            "requests": "load-test request records",
            "counter": f"counter {names}",
            "gpu": f"GPU series {names}",
            "promql": "PromQL, in Prometheus only",
        }[self.kind]

    @property
    def in_rules(self) -> str:
        """What the generated rules read for this SLO (requests become histograms)."""
        return "histograms" if self.kind in ("histogram", "requests") else self.kind


def sli_source(slo: SLO) -> SliSource:
    """The one choice of what ``slo``'s SLI reads."""
    sli = slo.sli
    if isinstance(sli, LatencySLI):
        if sli.source == "requests":
            return SliSource("requests")
        family = HISTOGRAMS[sli.metric][0]
        return SliSource("histogram", (f"{family}_bucket", f"{family}_count"))
    if isinstance(sli, GoodputSLI):
        return SliSource("requests")
    if isinstance(sli, AvailabilitySLI):
        return SliSource("counter", ("llm.requests_total",))
    if isinstance(sli, GpuHealthSLI):
        return SliSource("gpu", ("gpu.xid", "gpu.clocks_event_reasons"))
    return SliSource("promql")
