"""What cost attribution reads from the lake: GPU time and activity per service, and the work
served (tokens, requests, SLO-compliant tokens, prefill/decode time, energy).

GPU time comes from the DCGM activity series (``gpu.sm_active``, else
``gpu.gr_engine_active``, else ``gpu.util``) through the hourly rollups: a GPU is present
from its first to its last sample of each hour, plus one scrape interval, and its activity is
the hour's mean. A service with no GPU series in the window is charged the GPUs it declares in
perfops.yaml for the whole window (the allocation view of reserved GPUs), and the report
says so.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from perfops.app._sli import Reader
from perfops.app.metrics import owners
from perfops.app.runtime import Runtime
from perfops.app.slo import request_good
from perfops.config import Service
from perfops.finops import (
    ServedWork,
    UsageRow,
    declared_from_services,
    declared_usage,
    gpu_type_of_model_name,
)
from perfops.slo.sources import sli_source

__all__ = ["GpuUsage", "gpu_usage", "served_work"]

_HOUR = 3_600_000
_ACTIVITY = ("gpu.sm_active", "gpu.gr_engine_active", "gpu.util")


@dataclass
class GpuUsage:
    rows: list[UsageRow]
    metric: str | None
    declared: list[str] = field(default_factory=list)  # services charged their declared GPUs
    start_ms: int = 0  # the window read
    end_ms: int = 0


def _gpu_type(labels: Mapping[str, str], svc: Service | None) -> str:
    if svc is not None:
        return svc.gpu.type
    model = labels.get("modelName", "")
    return gpu_type_of_model_name(model) or model or "unknown"


def _gpu_id(labels: Mapping[str, str], sid: int) -> str:
    """The GPU's UUID (the lake stores dcgm-exporter's ``UUID`` as ``uuid``), else
    hostname/index, else the series."""
    for key in ("uuid", "UUID"):
        if key in labels:
            return labels[key]
    if "gpu" in labels:
        return f"{labels.get('hostname', '')}/{labels['gpu']}"
    return f"series-{sid}"


def gpu_usage(rt: Runtime, start_ms: int, end_ms: int) -> GpuUsage:
    """GPU usage rows over ``[start_ms, end_ms)``, hour by hour."""
    services = rt.config.services
    owner = owners(rt.config)
    interval_ms = int(rt.config.telemetry.interval * 1000)
    metric, table = None, None
    for name in _ACTIVITY:
        table = rt.store.timeseries.query_hourly(name, start_ms - start_ms % _HOUR, end_ms)
        if table.num_rows:
            metric = name
            break
    rows: list[UsageRow] = []
    seen: set[str] = set()
    if metric is not None and table is not None:
        infos = rt.store.timeseries.series(metric)
        cols = {c: table.column(c).to_pylist() for c in ("ts", "series_id", "n", "sum")}
        cols |= {c: table.column(c).to_pylist() for c in ("first_ts", "last_ts")}
        per_series_step: dict[int, int] = {}
        for i, sid in enumerate(cols["series_id"]):
            labels = infos[sid].labels if sid in infos else {}
            svc = owner(labels)
            n = cols["n"][i]
            first, last = cols["first_ts"][i], cols["last_ts"][i]
            if n > 1:
                per_series_step[sid] = (last - first) // (n - 1)
            step = per_series_step.get(sid, interval_ms)
            lo = max(cols["ts"][i], first, start_ms)
            hi = min(cols["ts"][i] + _HOUR, last + step, end_ms)
            if hi <= lo:
                continue
            mean = cols["sum"][i] / n if n else math.nan
            if metric == "gpu.util":
                mean /= 100  # percent
            activity = None if math.isnan(mean) else min(1.0, max(0.0, mean))
            gpu = _gpu_id(labels, sid)
            rows.append(
                UsageRow(
                    lo,
                    hi,
                    gpu,
                    _gpu_type(labels, svc),
                    None if svc is None else svc.name,
                    None if svc is None else svc.model,
                    None if svc is None else svc.team,
                    None if svc is None else svc.tenant,
                    activity,
                )
            )
            if svc is not None:
                seen.add(svc.name)
    silent = [s for s in services if s.name not in seen]
    rows += declared_usage(declared_from_services(silent), start_ms, end_ms)
    return GpuUsage(rows, metric, [s.name for s in silent], start_ms, end_ms)


def _counter_by_service(
    rt: Runtime, reader: Reader, metric: str, window: tuple[int, int]
) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    owner = owners(rt.config)
    for sid, info in rt.store.timeseries.series(metric).items():
        svc = owner(info.labels)
        if svc is not None:
            out[svc.name] += reader.increase(metric, [sid], window)
    return out


@dataclass(frozen=True)
class _Requests:
    requests: int
    input_tokens: int
    output_tokens: int
    slo_tokens: int | None


class _RequestLog:
    """One service's load-test requests over all the windows asked of it (the store's one
    request log, read once): tokens, and whether each met every request-based SLO."""

    def __init__(self, rt: Runtime, svc: Service, windows: list[tuple[int, int]]) -> None:
        lo, hi = min(w[0] for w in windows), max(w[1] for w in windows)
        self.log = rt.store.journal.request_log(svc.endpoint, lo * 1_000_000, hi * 1_000_000)
        judges = [
            request_good(slo)
            for slo in rt.config.slos
            if slo.service == svc.name and sli_source(slo).kind == "requests"
        ]
        self.good = {id(r): not r.failed and all(g(r) for g in judges) for r in self.log.requests}

    def work(self, window: tuple[int, int]) -> _Requests:
        part = self.log.between(window[0] * 1_000_000, window[1] * 1_000_000)
        good = sum(r.prompt_tokens + r.output_tokens for r in part if self.good[id(r)])
        return _Requests(
            len(part),
            sum(r.prompt_tokens for r in part),
            sum(r.output_tokens for r in part),
            good if part else None,
        )


def served_work(
    rt: Runtime, buckets: Iterable[tuple[int, int]]
) -> dict[tuple[int, str], ServedWork]:
    """Work per (bucket start, service). Tokens and requests come from the engine's counters
    when they account for at least the load tests' tokens (they see all traffic, but only
    when every replica was scraped throughout), else from the load-test records; the
    SLO-compliant share comes from the load-test records when there are any."""
    windows = sorted(set(buckets))
    if not windows:
        return {}
    reader = Reader(rt.store, windows)
    logs = {svc.name: _RequestLog(rt, svc, windows) for svc in rt.config.services}
    out: dict[tuple[int, str], ServedWork] = {}
    for window in windows:
        counters = {
            key: _counter_by_service(rt, reader, metric, window)
            for key, metric in (
                ("input", "llm.prompt_tokens_total"),
                ("output", "llm.generation_tokens_total"),
                ("requests", "llm.requests_total"),
                ("prefill", "llm.prefill_seconds_sum"),
                ("decode", "llm.decode_seconds_sum"),
                ("energy", "gpu.energy_joules_total"),
            )
        }
        for svc in rt.config.services:
            records = logs[svc.name].work(window)
            tokens_in = counters["input"].get(svc.name, 0.0)
            tokens_out = counters["output"].get(svc.name, 0.0)
            # the engine's counters see all traffic, load tests included, when every replica
            # was scraped throughout; fewer tokens than the load test sent means they were not
            if tokens_in + tokens_out >= records.input_tokens + records.output_tokens > 0 or (
                tokens_in + tokens_out > 0 and not records.requests
            ):
                inp, outp = round(tokens_in), round(tokens_out)
                requests = max(round(counters["requests"].get(svc.name, 0.0)), records.requests)
            else:
                inp, outp, requests = records.input_tokens, records.output_tokens, records.requests
            slo_tokens = None
            if records.slo_tokens is not None and records.input_tokens + records.output_tokens:
                share = records.slo_tokens / (records.input_tokens + records.output_tokens)
                slo_tokens = min(inp + outp, round((inp + outp) * share))
            prefill = counters["prefill"].get(svc.name)
            decode = counters["decode"].get(svc.name)
            energy = counters["energy"].get(svc.name)
            out[(window[0], svc.name)] = ServedWork(
                input_tokens=inp,
                output_tokens=outp,
                requests=requests,
                slo_tokens=slo_tokens,
                prefill_seconds=prefill if prefill else None,
                decode_seconds=decode if decode else None,
                energy_joules=energy if energy else None,
            )
    return out
