"""vLLM v1's Prometheus metrics for one simulated replica: exact names, types, labels, buckets.

Names and buckets follow vLLM's ``vllm/v1/metrics/loggers.py`` (see
``reference/observability.md``). Gauges and engine counters are read from the engine at scrape
time; per-request histograms are observed as requests finish, like vLLM does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from perfops.sim._records import EngineStats, FinishedRequest

__all__ = ["E2E_BUCKETS", "ITL_BUCKETS", "LOOP_LAG_BUCKETS", "TTFT_BUCKETS", "EngineMetrics"]

# perfops' own: how late each engine iteration of the real-time sim ended against the time
# the model gave it (its loop fell behind wall time). A histogram rather than a summary with
# a max gauge: bucket counts subtract between two scrapes (the share of late steps during one
# load test) and add across replicas, where a summary's quantiles and a max since start can
# do neither. 5 ms is a boundary: it is the load test's lag budget and the loop's catch-up
# limit (perfops.sim.realtime), so "more than 1% of steps over 5 ms" is read exactly.
LOOP_LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)
ITL_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
)
E2E_BUCKETS = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
)


def _token_buckets(max_model_len: int) -> tuple[float, ...]:
    """vLLM's 1-2-5 series up to max_model_len."""
    out: list[int] = []
    mantissa, exponent = (1, 2, 5), 0
    while True:
        for m in mantissa:
            value = m * 10**exponent
            if value > max_model_len:
                return tuple(float(v) for v in out)
            out.append(value)
        exponent += 1


class _EngineCollector(Collector):
    """Gauges and counters read from the engine when Prometheus scrapes."""

    def __init__(self, stats: Callable[[], EngineStats], labels: dict[str, str]) -> None:
        self._stats = stats
        self._names = list(labels)
        self._values = list(labels.values())

    def _gauge(self, name: str, doc: str, value: float) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, doc, labels=self._names)
        family.add_metric(self._values, value)
        return family

    def _counter(self, name: str, doc: str, value: float) -> CounterMetricFamily:
        family = CounterMetricFamily(name, doc, labels=self._names)
        family.add_metric(self._values, value)
        return family

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        s = self._stats()
        yield self._gauge(
            "vllm:num_requests_running",
            "Number of requests in model execution batches.",
            s.num_running,
        )
        yield self._gauge(
            "vllm:num_requests_waiting",
            "Number of requests waiting to be processed.",
            s.num_waiting,
        )
        yield self._gauge(
            "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", s.kv_usage
        )
        yield self._counter(
            "vllm:prefix_cache_queries",
            "Prefix cache queries, in terms of number of queried tokens.",
            s.prefix_cache_queries,
        )
        yield self._counter(
            "vllm:prefix_cache_hits",
            "Prefix cache hits, in terms of number of cached tokens.",
            s.prefix_cache_hits,
        )
        yield self._counter(
            "vllm:num_preemptions",
            "Cumulative number of preemption from the engine.",
            s.preemptions,
        )
        yield self._counter(
            "vllm:prompt_tokens", "Number of prefill tokens processed.", s.prompt_tokens
        )
        yield self._counter(
            "vllm:generation_tokens", "Number of generation tokens processed.", s.generation_tokens
        )


class _BatchHistogram(Collector):
    """A histogram observed a whole step at a time (one vectorised bucket count per step
    instead of one lock-taking observe per token): the ITL family's hot path."""

    def __init__(
        self, name: str, doc: str, buckets: tuple[float, ...], labels: dict[str, str]
    ) -> None:
        self.name, self.doc = name, doc
        self.bounds = np.array(buckets)
        self.counts = np.zeros(len(buckets) + 1, dtype=np.int64)
        self.sum = 0.0
        self._labels = labels

    def observe_many(self, values: Sequence[float]) -> None:
        if not values:
            return
        arr = np.asarray(values, dtype=np.float64)
        idx = np.searchsorted(self.bounds, arr, side="left")  # le semantics: v <= bound
        self.counts += np.bincount(idx, minlength=len(self.counts))
        self.sum += float(arr.sum())

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.doc, labels=list(self._labels))
        cumulative = np.cumsum(self.counts)
        buckets = [(_le(b), float(c)) for b, c in zip(self.bounds, cumulative, strict=False)]
        buckets.append(("+Inf", float(cumulative[-1])))
        family.add_metric(list(self._labels.values()), buckets, self.sum)
        yield family


def _le(bound: float) -> str:
    return repr(float(bound))


class EngineMetrics:
    """The /metrics of one replica, in a registry of its own."""

    def __init__(
        self,
        stats: Callable[[], EngineStats],
        *,
        model_name: str,
        max_model_len: int,
        engine: str = "0",
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        labels = {"model_name": model_name, "engine": engine}
        self._labels = labels
        names = list(labels)
        self.registry.register(_EngineCollector(stats, labels))
        reg = self.registry

        def hist(name: str, doc: str, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(name, doc, names, buckets=buckets, registry=reg)

        self.ttft = hist(
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            TTFT_BUCKETS,
        )
        self.itl = _BatchHistogram(
            "vllm:inter_token_latency_seconds",
            "Histogram of inter-token latency in seconds.",
            ITL_BUCKETS,
            labels,
        )
        reg.register(self.itl)
        self.tpot = hist(
            "vllm:request_time_per_output_token_seconds",
            "Histogram of time_per_output_token_seconds per request.",
            ITL_BUCKETS,
        )
        self.e2e = hist(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            E2E_BUCKETS,
        )
        self.queue = hist(
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            E2E_BUCKETS,
        )
        self.prefill = hist(
            "vllm:request_prefill_time_seconds",
            "Histogram of time spent in PREFILL phase for request.",
            E2E_BUCKETS,
        )
        self.decode = hist(
            "vllm:request_decode_time_seconds",
            "Histogram of time spent in DECODE phase for request.",
            E2E_BUCKETS,
        )
        self.inference = hist(
            "vllm:request_inference_time_seconds",
            "Histogram of time spent in RUNNING phase for request.",
            E2E_BUCKETS,
        )
        tokens = _token_buckets(max_model_len)
        self.prompt_tokens = hist(
            "vllm:request_prompt_tokens", "Number of prefill tokens processed.", tokens
        )
        self.generation_tokens = hist(
            "vllm:request_generation_tokens", "Number of generation tokens processed.", tokens
        )
        self.success = Counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            [*names, "finished_reason"],
            registry=reg,
        )
        self.http = Counter(
            "http_requests",
            "Total number of requests by method, status and handler.",
            ["handler", "method", "status"],
            registry=reg,
        )
        self.loop_lag = hist(
            "perfops_sim_loop_lag_seconds",
            "How late each engine iteration ended against its simulated end (the real-time "
            "loop falling behind wall time: a starved CPU, not the model).",
            LOOP_LAG_BUCKETS,
        )
        self._ttft_child = self.ttft.labels(**labels)
        self._lag_child = self.loop_lag.labels(**labels)

    def first_token(self, seconds: float) -> None:
        self._ttft_child.observe(seconds)

    def step_late(self, seconds: float) -> None:
        """Observe how late one engine iteration ended (0 when on time)."""
        self._lag_child.observe(max(0.0, seconds))

    def token_gaps(self, seconds: Sequence[float]) -> None:
        """Observe one step's inter-token gaps at once."""
        self.itl.observe_many(seconds)

    def finished(self, done: FinishedRequest, reason: str) -> None:
        """Observe a request leaving the engine (``reason``: stop, length, abort, error)."""
        lab = self._labels
        self.success.labels(**lab, finished_reason=reason).inc()
        if reason in ("abort", "error"):
            return
        self.e2e.labels(**lab).observe(done.e2e)
        self.queue.labels(**lab).observe(done.queue_time)
        self.prefill.labels(**lab).observe(done.prefill_time)
        self.decode.labels(**lab).observe(done.decode_time)
        self.inference.labels(**lab).observe(done.end - done.scheduled)
        self.prompt_tokens.labels(**lab).observe(done.prompt_tokens)
        self.generation_tokens.labels(**lab).observe(done.output_tokens)
        if done.output_tokens > 1:
            self.tpot.labels(**lab).observe(done.tpot)

    def http_request(self, handler: str, method: str, status: int) -> None:
        self.http.labels(handler=handler, method=method, status=f"{status // 100}xx").inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
