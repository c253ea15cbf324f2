"""Open-loop LLM load generation: arrival schedules, workloads, latency histograms.

The pure parts, free of network and clock: :func:`build_schedule` says when each request is
due, :func:`synthetic` and the file readers say what each one asks, and
:class:`LatencyHistogram` counts what came back.
"""

from perfops.loadgen.arrivals import ArrivalKind, ArrivalSpec, build_schedule, parse_arrival
from perfops.loadgen.histogram import LatencyHistogram
from perfops.loadgen.workload import (
    LengthSpec,
    Prompt,
    SyntheticSpec,
    from_jsonl,
    from_sharegpt,
    from_trace,
    parse_length,
    synthetic,
)

__all__ = [
    "ArrivalKind",
    "ArrivalSpec",
    "LatencyHistogram",
    "LengthSpec",
    "Prompt",
    "SyntheticSpec",
    "build_schedule",
    "from_jsonl",
    "from_sharegpt",
    "from_trace",
    "parse_arrival",
    "parse_length",
    "synthetic",
]
