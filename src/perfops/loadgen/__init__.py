"""Open-loop LLM load generation: arrival schedules, workloads, latency histograms.

The pure parts, free of network and clock: :func:`build_schedule` says when each request is
due, :func:`synthetic` and the file readers say what each one asks, and
:class:`LatencyHistogram` counts what came back. The runners that send the requests
(:func:`run_open_loop`, :func:`run_closed_loop`, :func:`find_capacity`), what they record
(:class:`RequestRecord`), how it is judged (:func:`summarize`, :func:`meets`, :func:`judge`)
and how two runs compare (:func:`compare_samples`, :func:`compare_capacity`) are imported on
first use: they bring the HTTP client in.
"""

from typing import TYPE_CHECKING

from perfops._internal.lazy_exports import lazy_exports
from perfops.loadgen.arrivals import (
    MAX_RATE,
    MAX_SCHEDULE,
    ArrivalKind,
    ArrivalSpec,
    build_schedule,
    parse_arrival,
)
from perfops.loadgen.histogram import LatencyHistogram
from perfops.loadgen.workload import (
    MAX_TOKENS,
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
    from perfops.loadgen.compare import (
        COMPARE_CAPACITY_METHOD,
        COMPARE_CONFIDENCE,
        COMPARE_METHOD,
        COMPARE_RESAMPLES,
        COMPARED_LATENCIES,
        COMPARED_PERCENTILES,
        CapacityFigure,
        Difference,
        RunSample,
        compare_capacity,
        compare_samples,
        run_sample,
    )
    from perfops.loadgen.judge import (
        MIN_SAMPLES_RULE,
        PERCENTILE_DEFINITION,
        LatencySamples,
        Verdict,
        judge,
        min_samples,
        request_meets,
    )
    from perfops.loadgen.records import DEFINITIONS, RequestRecord
    from perfops.loadgen.runner import Plan, payloads_for, run_closed_loop, run_open_loop
    from perfops.loadgen.search import (
        INTERVAL_METHOD,
        CapacityResult,
        Point,
        SearchSpec,
        Step,
        budget_text,
        find_capacity,
        find_capacity_sync,
    )
    from perfops.loadgen.slo import Threshold, parse_slo
    from perfops.loadgen.summary import LAG_BUDGET_S, Summary, meets, meets_limits, summarize
    from perfops.loadgen.workers import PER_WORKER_RPS, auto_workers, run_workers

__all__ = [
    "COMPARED_LATENCIES",
    "COMPARED_PERCENTILES",
    "COMPARE_CAPACITY_METHOD",
    "COMPARE_CONFIDENCE",
    "COMPARE_METHOD",
    "COMPARE_RESAMPLES",
    "DEFINITIONS",
    "INTERVAL_METHOD",
    "LAG_BUDGET_S",
    "MAX_RATE",
    "MAX_SCHEDULE",
    "MAX_TOKENS",
    "MIN_SAMPLES_RULE",
    "PERCENTILE_DEFINITION",
    "PER_WORKER_RPS",
    "ArrivalKind",
    "ArrivalSpec",
    "CapacityFigure",
    "CapacityResult",
    "Difference",
    "Endpoint",
    "LatencyHistogram",
    "LatencySamples",
    "LengthSpec",
    "Plan",
    "Point",
    "Prompt",
    "SearchSpec",
    "Step",
    "RequestRecord",
    "RunSample",
    "Summary",
    "SyntheticSpec",
    "Target",
    "Threshold",
    "Verdict",
    "auto_workers",
    "budget_text",
    "build_schedule",
    "compare_capacity",
    "compare_samples",
    "find_capacity",
    "find_capacity_sync",
    "from_jsonl",
    "from_sharegpt",
    "from_trace",
    "judge",
    "meets",
    "meets_limits",
    "min_samples",
    "parse_arrival",
    "parse_length",
    "parse_slo",
    "payloads_for",
    "run_closed_loop",
    "run_open_loop",
    "run_sample",
    "run_workers",
    "summarize",
    "synthetic",
    "request_meets",
]

__getattr__ = lazy_exports(
    globals(),
    {
        "client": ("Endpoint", "Target"),
        "compare": (
            "COMPARED_LATENCIES",
            "COMPARED_PERCENTILES",
            "COMPARE_CAPACITY_METHOD",
            "COMPARE_CONFIDENCE",
            "COMPARE_METHOD",
            "COMPARE_RESAMPLES",
            "CapacityFigure",
            "Difference",
            "RunSample",
            "compare_capacity",
            "compare_samples",
            "run_sample",
        ),
        "records": ("DEFINITIONS", "RequestRecord"),
        "runner": ("Plan", "payloads_for", "run_closed_loop", "run_open_loop"),
        "judge": (
            "MIN_SAMPLES_RULE",
            "PERCENTILE_DEFINITION",
            "LatencySamples",
            "Verdict",
            "judge",
            "min_samples",
            "request_meets",
        ),
        "search": (
            "INTERVAL_METHOD",
            "CapacityResult",
            "Point",
            "SearchSpec",
            "Step",
            "budget_text",
            "find_capacity",
            "find_capacity_sync",
        ),
        "slo": ("Threshold", "parse_slo"),
        "summary": ("LAG_BUDGET_S", "Summary", "meets", "meets_limits", "summarize"),
        "workers": ("PER_WORKER_RPS", "auto_workers", "run_workers"),
    },
)
