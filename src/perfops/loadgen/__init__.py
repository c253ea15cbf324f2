"""Open-loop LLM load generation: arrival schedules, workloads, latency histograms.

The pure parts, free of network and clock: :func:`build_schedule` says when each request is
due, :func:`synthetic` and the file readers say what each one asks, and
:class:`LatencyHistogram` counts what came back. The runners that send the requests
(:func:`run_open_loop`, :func:`run_closed_loop`, :func:`find_capacity`), what they record
(:class:`RequestRecord`) and how it is judged (:func:`summarize`, :func:`meets`) are imported
on first use: they bring the HTTP client in.
"""

from typing import TYPE_CHECKING

from perfops._internal.lazy_exports import lazy_exports
from perfops.loadgen.arrivals import (
    MAX_SCHEDULE,
    ArrivalKind,
    ArrivalSpec,
    build_schedule,
    parse_arrival,
)
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

if TYPE_CHECKING:
    from perfops.loadgen.client import Endpoint, Target
    from perfops.loadgen.records import DEFINITIONS, RequestRecord
    from perfops.loadgen.runner import Plan, payloads_for, run_closed_loop, run_open_loop
    from perfops.loadgen.search import CapacityResult, Point, find_capacity
    from perfops.loadgen.slo import Threshold, parse_slo
    from perfops.loadgen.summary import LAG_BUDGET_S, Summary, meets, summarize
    from perfops.loadgen.workers import PER_WORKER_RPS, auto_workers, run_workers

__all__ = [
    "DEFINITIONS",
    "LAG_BUDGET_S",
    "MAX_SCHEDULE",
    "PER_WORKER_RPS",
    "ArrivalKind",
    "ArrivalSpec",
    "CapacityResult",
    "Endpoint",
    "LatencyHistogram",
    "LengthSpec",
    "Plan",
    "Point",
    "Prompt",
    "RequestRecord",
    "Summary",
    "SyntheticSpec",
    "Target",
    "Threshold",
    "auto_workers",
    "build_schedule",
    "find_capacity",
    "from_jsonl",
    "from_sharegpt",
    "from_trace",
    "meets",
    "parse_arrival",
    "parse_length",
    "parse_slo",
    "payloads_for",
    "run_closed_loop",
    "run_open_loop",
    "run_workers",
    "summarize",
    "synthetic",
]

__getattr__ = lazy_exports(
    globals(),
    {
        "client": ("Endpoint", "Target"),
        "records": ("DEFINITIONS", "RequestRecord"),
        "runner": ("Plan", "payloads_for", "run_closed_loop", "run_open_loop"),
        "search": ("CapacityResult", "Point", "find_capacity"),
        "slo": ("Threshold", "parse_slo"),
        "summary": ("LAG_BUDGET_S", "Summary", "meets", "summarize"),
        "workers": ("PER_WORKER_RPS", "auto_workers", "run_workers"),
    },
)
