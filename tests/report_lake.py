"""A workspace with weeks of known history, for the leadership report's tests and benchmark.

:func:`build_lake` writes a perfops.yaml and a lake through the store's own API, as the
collector, the load generator and the journal write them:

- **Services** (vLLM-like, each its own placeholder endpoint) with a team, a model and a
  count of GPUs of a priced type; a few **spare GPUs** no service holds (idle cost).
- **DCGM series** per GPU every ``interval_s`` (``gpu.util``, ``gpu.sm_active``,
  ``gpu.power_watts``, ``gpu.energy_joules_total``), labelled as dcgm-exporter labels them
  (``hostname``, ``gpu``, ``uuid``, ``modelName``); each service's GPUs on hosts
  ``<service>-node-<n>``, which its ``gpu_selector`` matches. Some GPUs sit at 0% all along,
  one joins late (scale-up), one leaves early (scale-down), one misses samples for hours.
- **Engine counters** per replica (``llm.requests_total`` by ``outcome``,
  ``llm.prompt_tokens_total``, ``llm.generation_tokens_total``), labelled with vLLM's
  ``model_name``, with a daily traffic cycle; aborts during the incidents' bad spells and a
  counter reset (an engine restart) during the main one.
- **Load tests**: a 30-minute open-loop run a day against the first services, request records
  with known latencies, slow and failing during the main incident.
- **Incidents** through :mod:`perfops.app.incident` on the runtime's clock: one in the
  report's period (resolved), one in the period before it, one still open at the end.
- **Runs**: capacity searches (two valid, one invalid), a drill, chaos experiments.
- **Pricing**: explicit GPU prices, an energy price, a shared cost shown apart and one shared
  out by GPU cost.

Everything is seeded and the clock (a :class:`ManualClock`) ends at :attr:`LakeSpec.end_ms`,
so two builds of the same spec hold the same samples, requests and runs (incident ids are
random). The lake is compacted with no retention,
so the hourly rollups exist as `perfops store compact` leaves them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from perfops._internal.clock import ManualClock
from perfops._internal.ids import series_id
from perfops.app import Runtime, open_runtime
from perfops.app.incident import open_incident, resolve_incident, update_incident
from perfops.store import BatchWriter, RunRecord, SeriesInfo

__all__ = ["GPU_PRICES", "LakeSpec", "ReportLake", "ServicePlan", "build_lake", "config_text"]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
END_MS = int(dt.datetime(2026, 11, 30, 12, 34, tzinfo=dt.UTC).timestamp() * 1000)
"""The lake's "now": a minute boundary that is no hour boundary, so the report's periods cut
hours in two at both ends."""

GPU_PRICES = {"H100-SXM": "2.40", "A100-80GB": "1.80", "L40S": "1.20"}
"""USD per GPU-hour (pricing.gpus): multiples of 0.60, so a GPU-minute is whole cents."""
_MODEL_NAMES = {
    "H100-SXM": "NVIDIA H100 80GB HBM3",
    "A100-80GB": "NVIDIA A100-SXM4-80GB",
    "L40S": "NVIDIA L40S",
}
_NAMES = ("chat", "code", "embed", "summarize", "search", "translate", "vision", "agent",
          "rerank", "moderate", "extract", "classify")  # fmt: skip
_MODELS = ("llama-3.1-8b", "qwen2.5-coder-7b", "bge-m3", "mistral-7b", "llama-3.1-70b",
           "nllb-3b", "qwen2-vl-7b", "llama-3.3-70b", "bge-reranker", "llama-guard-3",
           "phi-3.5-mini", "deberta-v3")  # fmt: skip
_TEAMS = ("assistant", "devtools", "assistant", "platform")
_TYPES = ("H100-SXM", "A100-80GB", "L40S")
TTFT_THRESHOLD_S = 0.5
LOAD_RATE_RPS = 0.5
LOAD_MINUTES = 30


@dataclass(frozen=True)
class LakeSpec:
    """What to build: ``days`` of history ending at ``end_ms``, ``gpus`` in all (``spare``
    of them held by no service), ``services`` sharing the rest, a sample every
    ``interval_s``; load tests against the first ``load_services`` services."""

    days: int = 14
    gpus: int = 12
    services: int = 3
    interval_s: int = 60
    spare: int = 2
    load_services: int = 2
    end_ms: int = END_MS
    seed: int = 7
    reconcile: bool = True

    def __post_init__(self) -> None:
        if self.days < 2 or self.services < 1 or self.gpus - self.spare < self.services:
            raise ValueError(f"{self}: need 2+ days and a GPU per service beside the spares")
        if not 1 <= self.services <= len(_NAMES) or DAY_MS % (self.interval_s * 1000):
            raise ValueError(f"{self}: 1-{len(_NAMES)} services, an interval dividing a day")

    @property
    def start_ms(self) -> int:
        return self.end_ms - self.days * DAY_MS

    @property
    def step_ms(self) -> int:
        return self.interval_s * 1000


@dataclass(frozen=True)
class ServicePlan:
    name: str
    model: str
    team: str
    gpu_type: str
    gpus: int
    idle_gpus: int  # of its GPUs, how many sit at 0% all along
    base_rps: float
    load_tested: bool

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:9/{self.name}/v1"

    @property
    def replicas(self) -> int:
        return max(1, self.gpus // 2)

    @property
    def slos(self) -> list[str]:
        return ([f"{self.name}-ttft"] if self.load_tested else []) + [f"{self.name}-availability"]


@dataclass(frozen=True)
class Spell:
    """An incident's window and its bad spell in the data (ms)."""

    service: str
    opened_ms: int
    resolved_ms: int | None
    severity: str
    abort_share: float  # of the engine's requests in the spell
    incident_id: str = ""


@dataclass
class ReportLake:
    """The built workspace: its runtime (clock at ``end_ms``), paths and what was planted."""

    rt: Runtime
    root: Path
    spec: LakeSpec
    services: list[ServicePlan]
    spells: list[Spell]
    samples: int = 0
    requests: int = 0
    runs: list[str] = field(default_factory=list)

    @property
    def lake(self) -> Path:
        return self.rt.store.root

    @property
    def end_ms(self) -> int:
        return self.spec.end_ms


def plan_services(spec: LakeSpec) -> list[ServicePlan]:
    owned = spec.gpus - spec.spare
    counts = [owned // spec.services + (i < owned % spec.services) for i in range(spec.services)]
    return [
        ServicePlan(
            name=_NAMES[i],
            model=_MODELS[i],
            team=_TEAMS[i % len(_TEAMS)],
            gpu_type=_TYPES[i % len(_TYPES)],
            gpus=n,
            idle_gpus=1 if n >= 3 else 0,
            base_rps=6.0 / (1 + i),
            load_tested=i < spec.load_services,
        )
        for i, n in enumerate(counts)
    ]


def config_text(spec: LakeSpec, services: list[ServicePlan]) -> str:
    """perfops.yaml of the workspace."""
    lines = [
        "apiVersion: perfops/v1",
        "workspace: {name: report-lake, lake: .perfops/lake}",
        f"telemetry: {{interval: {spec.interval_s}s}}",
        "services:",
    ]
    for s in services:
        lines += [
            f"  - name: {s.name}",
            f"    endpoint: {s.endpoint}",
            f"    model: {s.model}",
            f"    team: {s.team}",
            f"    gpu: {{type: {s.gpu_type}, count: {s.gpus}}}",
            f"    gpu_selector: '{{hostname=~\"{s.name}-node-.*\"}}'",
        ]
    lines.append("slos:")
    for i, s in enumerate(services):
        if s.load_tested:
            window = "week" if i == 1 else "28d"
            lines.append(
                f"  - {{name: {s.name}-ttft, service: {s.name}, objective: 99, window: {window},"
                f" sli: {{kind: latency, metric: ttft, threshold: {int(TTFT_THRESHOLD_S * 1000)}ms,"
                " source: requests}}"
            )
        lines.append(
            f"  - {{name: {s.name}-availability, service: {s.name}, objective: 99.5,"
            " window: 28d, sli: {kind: availability}}"
        )
    lines += ["pricing:", "  currency: USD", "  energy_per_kwh: 0.15", "  gpus:"]
    lines += [f"    - {{gpu: {gpu}, hourly: {price}}}" for gpu, price in GPU_PRICES.items()]
    lines += [
        "  shared:",
        "    - {name: control-plane, monthly: 730, split: none}",
        "    - {name: observability, hourly: 0.5, split: weighted}",
    ]
    return "\n".join(lines) + "\n"


def _spells(spec: LakeSpec, services: list[ServicePlan]) -> list[Spell]:
    """The main incident (3 days before the end, in the last week), one in the week before,
    and one opened 20 hours before the end and still open."""
    day = (spec.end_ms // DAY_MS) * DAY_MS
    name = [s.name for s in services]
    return [
        Spell(name[1 % len(name)], day - 10 * DAY_MS + 14 * HOUR_MS,
              day - 10 * DAY_MS + 14 * HOUR_MS + 45 * MINUTE_MS, "SEV-3", 0.10),
        Spell(name[0], day - 3 * DAY_MS + 10 * HOUR_MS + 5 * MINUTE_MS,
              day - 3 * DAY_MS + 11 * HOUR_MS + 35 * MINUTE_MS, "SEV-2", 0.25),
        Spell(name[-1], spec.end_ms - 20 * HOUR_MS, None, "SEV-4", 0.0),
    ]  # fmt: skip


# -- samples ----------------------------------------------------------------------------------


class _Samples:
    """Series and their samples, streamed into the lake in big commits; the series are
    registered in one commit at the end (nothing reads the lake while it is built)."""

    def __init__(self, spec: LakeSpec, writer: BatchWriter) -> None:
        self.ts = spec.start_ms + np.arange(spec.days * DAY_MS // spec.step_ms) * spec.step_ms
        self.writer = writer
        self.infos: list[SeriesInfo] = []
        self.rows = 0

    def add(self, metric: str, labels: dict[str, str], values: np.ndarray,
            keep: np.ndarray | None = None) -> None:  # fmt: skip
        ts = self.ts if keep is None else self.ts[keep]
        values = values if keep is None else values[keep]
        self.infos.append(SeriesInfo(metric, labels, source="report-lake"))
        self.writer.add(pa.table({
            "ts": pa.array(ts, pa.int64()),
            "series_id": pa.array(np.full(len(ts), series_id(metric, labels)), pa.int64()),
            "metric": pa.array([metric], pa.string()).take(np.zeros(len(ts), np.int64)),
            "value": pa.array(values.astype(np.float64), pa.float64()),
        }))  # fmt: skip
        self.rows += len(ts)


def _diurnal(ts: np.ndarray) -> np.ndarray:
    hours = (ts % DAY_MS) / HOUR_MS
    return 0.65 + 0.35 * np.sin(2 * np.pi * (hours - 8) / 24)


def _in(ts: np.ndarray, lo: int, hi: int | None) -> np.ndarray:
    return (ts >= lo) & (ts < (hi if hi is not None else ts[-1] + 1))


def _gpus(out: _Samples, spec: LakeSpec, services: list[ServicePlan], main: Spell,
          rng: np.random.Generator) -> None:  # fmt: skip
    """DCGM series of every GPU: the services' on their hosts, then the spares."""
    ts, step_s = out.ts, spec.interval_s
    held = [(s, g) for s in services for g in range(s.gpus)]
    held += [(None, g) for g in range(spec.spare)]
    for k, (svc, g) in enumerate(held):
        host = f"{svc.name if svc else 'spare'}-node-{g // 8}"
        gpu_type = svc.gpu_type if svc else _TYPES[0]
        labels = {"hostname": host, "gpu": str(g % 8), "uuid": f"GPU-{spec.seed:04d}-{k:06d}",
                  "modelName": _MODEL_NAMES[gpu_type], "device": f"nvidia{g % 8}"}  # fmt: skip
        idle = svc is None or g >= svc.gpus - svc.idle_gpus
        sm = np.clip(0.55 * _diurnal(ts) + 0.05 * rng.standard_normal(len(ts)), 0.02, 1.0)
        if idle:
            sm = np.zeros(len(ts))
        keep = _presence(ts, spec, services, svc, g, main)
        power = 70.0 + 530.0 * sm
        energy = 5e9 * rng.random() + np.cumsum(power * step_s)
        out.add("gpu.sm_active", labels, sm, keep)
        out.add("gpu.util", labels, np.clip(100 * sm * 1.3, 0, 100).round(), keep)
        out.add("gpu.power_watts", labels, power, keep)
        out.add("gpu.energy_joules_total", labels, energy, keep)


def _presence(ts: np.ndarray, spec: LakeSpec, services: list[ServicePlan],
              svc: ServicePlan | None, g: int, main: Spell) -> np.ndarray | None:  # fmt: skip
    """Which samples a GPU has: the second service's last GPU joins 9 days before the end
    (37 minutes into an hour), the third's first leaves 2 days before (13 minutes into an
    hour), and the main incident's service's second GPU misses 2h20m during it."""
    hour = spec.end_ms // HOUR_MS * HOUR_MS
    if svc is None:
        return None
    i = services.index(svc)
    if i == 1 and g == svc.gpus - 1 and svc.gpus > 1:
        return ts >= hour - 9 * DAY_MS + 37 * MINUTE_MS
    if i == 2 and g == 0 and svc.gpus > 1:
        return ts < hour - 2 * DAY_MS + 13 * MINUTE_MS
    if svc.name == main.service and g == 1:
        gap = main.opened_ms + 15 * MINUTE_MS
        return ~_in(ts, gap, gap + 140 * MINUTE_MS)
    return None


def _engines(out: _Samples, spec: LakeSpec, services: list[ServicePlan], spells: list[Spell],
             rng: np.random.Generator) -> None:  # fmt: skip
    """Counters of every replica: requests by outcome and tokens, the traffic's daily cycle,
    aborts in the incidents' spells, and the main incident's engine restart on replica 0."""
    ts = out.ts
    main = spells[1]
    for svc in services:
        for r in range(svc.replicas):
            labels = {"model_name": svc.model, "engine": "0", "job": "vllm",
                      "instance": f"{svc.name}-node-{r // 4}:{8000 + r % 4}"}  # fmt: skip
            n = rng.poisson(svc.base_rps / svc.replicas * _diurnal(ts) * spec.interval_s)
            share = np.full(len(ts), 0.001)
            for spell in spells:
                if spell.service == svc.name and spell.abort_share:
                    share[_in(ts, spell.opened_ms, spell.resolved_ms)] = spell.abort_share
            aborted = rng.binomial(n, share)
            length = rng.binomial(n - aborted, 0.08)
            counts = {
                ("llm.requests_total", "stop"): n - aborted - length,
                ("llm.requests_total", "length"): length,
                ("llm.requests_total", "abort"): aborted,
                ("llm.prompt_tokens_total", ""): rng.poisson(380.0 * n),
                ("llm.generation_tokens_total", ""): rng.poisson(150.0 * (n - aborted)),
            }
            restart = None
            if svc.name == main.service and r == 0:
                restart = int(np.searchsorted(ts, main.opened_ms + 45 * MINUTE_MS))
            for (metric, outcome), inc in counts.items():
                total = np.cumsum(inc).astype(np.float64) + float(rng.integers(10**4, 10**6))
                if restart is not None:
                    total[restart:] = np.cumsum(inc[restart:])
                out.add(metric, {**labels, "outcome": outcome} if outcome else labels, total)


def _samples(rt: Runtime, spec: LakeSpec, services: list[ServicePlan], spells: list[Spell],
             rng: np.random.Generator) -> int:  # fmt: skip
    with rt.store.timeseries.sample_writer(max_rows=2_000_000) as writer:
        out = _Samples(spec, writer)
        _gpus(out, spec, services, spells[1], rng)
        _engines(out, spec, services, spells, rng)
    rt.store.timeseries.register_series(out.infos)
    return out.rows


# -- load tests -------------------------------------------------------------------------------


def _load_days(spec: LakeSpec) -> Iterator[int]:
    """The start (ms) of each day's load test: 10:00 UTC, when it lies in the history."""
    first = spec.start_ms // DAY_MS * DAY_MS
    for day in range(first, spec.end_ms, DAY_MS):
        start = day + 10 * HOUR_MS
        if spec.start_ms <= start and start + LOAD_MINUTES * MINUTE_MS <= spec.end_ms:
            yield start


def _requests(svc: ServicePlan, run_id: str, start_ms: int, main: Spell,
              rng: np.random.Generator) -> pa.Table:  # fmt: skip
    """One open-loop run's request records: TTFT log-normal around 180 ms with a 1% slow
    tail, and during the main incident half of them slow and 8% failed (HTTP 503)."""
    count = int(LOAD_MINUTES * 60 * LOAD_RATE_RPS)
    sched = start_ms * 1_000_000 + np.arange(count, dtype=np.int64) * int(1e9 / LOAD_RATE_RPS)
    sched += rng.integers(0, 1_000_000, count)  # sub-ms jitter: none on a ms boundary
    sent = sched + rng.integers(100_000, 3_000_000, count)
    ttft = rng.lognormal(np.log(0.18), 0.3, count)
    tail = rng.random(count) < 0.005
    ttft[tail] = rng.uniform(0.35, 0.9, tail.sum())
    failed = np.zeros(count, dtype=bool)
    if svc.name == main.service:
        bad = (sched >= main.opened_ms * 1_000_000) & (sched < (main.resolved_ms or 0) * 1_000_000)
        slow = bad & (rng.random(count) < 0.5)
        ttft[slow] = rng.uniform(0.6, 1.5, slow.sum())
        failed = bad & (rng.random(count) < 0.08)
    prompt = rng.integers(200, 600, count)
    output = np.where(failed, 0, rng.integers(32, 256, count))
    first = sent + (ttft * 1e9).astype(np.int64)
    end = first + output * rng.integers(15_000_000, 30_000_000, count)
    end = np.where(failed, sent + 50_000_000, end)
    gaps = [[] if f else [int(g) for g in rng.integers(10_000, 40_000, 3)] for f in failed]
    return pa.table({
        "run_id": [run_id] * count,
        "request_id": [f"{run_id}/{i}" for i in range(count)],
        "target": [svc.endpoint] * count,
        "scheduled_ns": pa.array(sched, pa.int64()),
        "sent_ns": pa.array(sent, pa.int64()),
        "first_token_ns": pa.array(np.where(failed, 0, first), pa.int64(), mask=failed),
        "end_ns": pa.array(end, pa.int64()),
        "prompt_tokens": pa.array(prompt, pa.int32()),
        "output_tokens": pa.array(output, pa.int32()),
        "tokens_source": pa.array(["usage"] * count, pa.string()),
        "status": pa.array(np.where(failed, 503, 200), pa.int32()),
        "error": pa.array(
            [("HTTP 503: upstream overloaded" if f else None) for f in failed], pa.string()
        ),
        "chunk_gaps_us": pa.array(gaps, pa.list_(pa.int32())),
    })  # fmt: skip


def _load_tests(lake: ReportLake, main: Spell, rng: np.random.Generator) -> None:
    tables = []
    for svc in lake.services:
        if not svc.load_tested:
            continue
        for start in _load_days(lake.spec):
            run_id = f"load-{svc.name}-{start // DAY_MS}"
            table = _requests(svc, run_id, start, main, rng)
            tables.append(table)
            failed = int(table.column("error").null_count != table.num_rows)
            spec = {"service": svc.name, "url": svc.endpoint, "rate": LOAD_RATE_RPS,
                    "duration_s": LOAD_MINUTES * 60}  # fmt: skip
            lake.rt.store.journal.write_run(RunRecord(
                run_id, "load", start * 1_000_000, "failed" if failed else "passed",
                (start + LOAD_MINUTES * MINUTE_MS) * 1_000_000, spec,
                {"requests": table.num_rows},
            ))  # fmt: skip
            lake.runs.append(run_id)
    if tables:
        table = pa.concat_tables(tables)
        lake.rt.store.journal.append_requests(table)
        lake.requests = table.num_rows


# -- runs ---------------------------------------------------------------------------------------


def _capacity_summary(rps: float, gpus: int, valid: bool) -> dict[str, Any]:
    """What `perfops load capacity` journals (app/capacity.py ``capacity_summary``)."""

    def point(rate: float, passed: bool) -> dict[str, Any]:
        completed = int(rate * 120)
        return {"rate": rate, "seed": 1, "phase": "bisect", "passed": passed,
                "margin": 0.1 if passed else -0.2, "invalid": [],
                "summary": {"completed": completed, "output_tokens": completed * 150,
                            "count": completed}}  # fmt: skip

    return {
        "capacity_rps": rps, "interval_rps": [round(rps * 0.95, 3), round(rps * 1.05, 3)],
        "confidence": 0.95, "method": "interpolated", "gpus": gpus,
        "capacity_rps_per_gpu": rps / gpus, "valid": valid,
        "invalid": [] if valid else ["lag: client schedule lag over budget"],
        "reason": "highest rate meeting the SLO", "text": f"{rps:g} req/s",
        "points": [point(rps / 2, True), point(rps, True), point(rps * 1.2, False)],
    }  # fmt: skip


def _runs(lake: ReportLake) -> None:
    """Capacity searches of the first service (valid 6 and 2 days before the end, an invalid
    one a day before), a drill and chaos experiments in the last week, one chaos run before."""
    svc = lake.services[0]
    end = lake.end_ms
    slo = f"{svc.name}-ttft" if svc.load_tested else f"{svc.name}-availability"
    records = [
        RunRecord("cap-before", "capacity", (end - 6 * DAY_MS) * 10**6, "passed",
                  (end - 6 * DAY_MS + HOUR_MS) * 10**6,
                  {"service": svc.name, "gpus": svc.gpus, "slo": ["ttft_p95<=500ms"]},
                  _capacity_summary(2.0 * svc.gpus, svc.gpus, True)),
        RunRecord("cap-after", "capacity", (end - 2 * DAY_MS) * 10**6, "passed",
                  (end - 2 * DAY_MS + HOUR_MS) * 10**6,
                  {"service": svc.name, "gpus": svc.gpus, "slo": ["ttft_p95<=500ms"]},
                  _capacity_summary(2.6 * svc.gpus, svc.gpus, True)),
        RunRecord("cap-invalid", "capacity", (end - DAY_MS) * 10**6, "passed",
                  (end - DAY_MS + HOUR_MS) * 10**6,
                  {"service": svc.name, "gpus": svc.gpus, "slo": ["ttft_p95<=500ms"]},
                  _capacity_summary(9.0 * svc.gpus, svc.gpus, False)),
        RunRecord("drill-rollback", "drill", (end - 4 * DAY_MS) * 10**6, "restored",
                  (end - 4 * DAY_MS + 600_000) * 10**6, {"drill": {"slo": slo}},
                  {"title": "roll back a slow release", "status": "restored",
                   "rolled_back_s": 5.0, "time_to_detect_s": 42.0, "time_to_restore_s": 180.0}),
        RunRecord("chaos-replica", "chaos", (end - 5 * DAY_MS) * 10**6, "passed",
                  (end - 5 * DAY_MS + 900_000) * 10**6, {"title": "kill one replica"},
                  {"title": "kill one replica", "time_to_detect_s": 30.0,
                   "time_to_restore_s": 95.0}),
        RunRecord("chaos-xid", "chaos", (end - 5 * DAY_MS + 2 * HOUR_MS) * 10**6, "failed",
                  (end - 5 * DAY_MS + 3 * HOUR_MS) * 10**6, {"title": "XID on one GPU"},
                  {"title": "XID on one GPU", "time_to_detect_s": 300.0}),
        RunRecord("chaos-old", "chaos", (end - 9 * DAY_MS) * 10**6, "passed",
                  (end - 9 * DAY_MS + 900_000) * 10**6, {"title": "network delay"},
                  {"title": "network delay", "time_to_detect_s": 20.0,
                   "time_to_restore_s": 60.0}),
    ]  # fmt: skip
    for record in records:
        lake.rt.store.journal.write_run(record)
        lake.runs.append(record.run_id)


def _incidents(rt: Runtime, clock: ManualClock, spells: list[Spell], end_ms: int) -> list[Spell]:
    """Open (and resolve) the incidents on the clock, in time order; the clock ends at
    ``end_ms``."""
    done = []
    for spell in spells:
        clock.advance((spell.opened_ms * 10**6 - clock.now_ns()) / 1e9)
        inc = open_incident(rt, f"{spell.service}: errors and slow first tokens",
                            severity=spell.severity, services=[spell.service])  # fmt: skip
        if spell.resolved_ms is None:
            clock.advance(600)
            update_incident(rt, inc.incident_id, status="investigating")
        else:
            clock.advance((spell.resolved_ms - spell.opened_ms) / 1000)
            resolve_incident(rt, inc.incident_id, message="mitigated")
        done.append(replace(spell, incident_id=inc.incident_id))
    clock.advance((end_ms * 10**6 - clock.now_ns()) / 1e9)
    return done


def _reconcile(rt: Runtime, root: Path, spec: LakeSpec) -> None:
    """A FOCUS export of the last week, and that bill reconciled (a ``reconciliation``
    event the report reads)."""
    from perfops.app.cost import export_focus, reconcile_bill

    bill = root / "bill.parquet"
    export_focus(rt, spec.end_ms - 7 * DAY_MS, spec.end_ms, bill)
    reconcile_bill(rt, bill)


def build_lake(root: Path, spec: LakeSpec | None = None) -> ReportLake:
    """Write the workspace under ``root`` (perfops.yaml and its lake) and return it open."""
    spec = spec or LakeSpec()
    rng = np.random.default_rng(spec.seed)
    services = plan_services(spec)
    root.mkdir(parents=True, exist_ok=True)
    (root / "perfops.yaml").write_text(config_text(spec, services))
    spells = _spells(spec, services)
    clock = ManualClock(spells[0].opened_ms * 10**6 - 10**9)
    rt = open_runtime(root / "perfops.yaml", clock=clock, environ={})
    spells = _incidents(rt, clock, spells, spec.end_ms)
    lake = ReportLake(rt, root, spec, services, spells)
    lake.samples = _samples(rt, spec, services, spells, rng)
    _load_tests(lake, spells[1], rng)
    _runs(lake)
    rt.store.compact(retention_hours=0)
    if spec.reconcile:
        _reconcile(rt, root, spec)
    return lake
