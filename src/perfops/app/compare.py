"""`perfops load compare`: two runs of the lake, B against A.

Load runs compare request by request (:func:`perfops.loadgen.compare.compare_samples` over
the rows of ``requests``); capacity runs compare their answers and the intervals their
journals give (:mod:`perfops.app._capacity_journal`). Either way the specs are compared too:
a difference in the workload (arrival, lengths, duration, SLO) makes the comparison one of
unlike things and is said first; a difference in the target (URL, model, service, GPUs) is
the change being measured and is only listed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from perfops.app._capacity_journal import CapacityReading, read_capacity
from perfops.app.runtime import Runtime
from perfops.errors import UsageError
from perfops.loadgen import PERCENTILE_DEFINITION
from perfops.loadgen.compare import (
    COMPARE_CAPACITY_METHOD,
    COMPARE_CONFIDENCE,
    COMPARE_METHOD,
    COMPARE_RESAMPLES,
    COMPARED_LATENCIES,
    Difference,
    compare_capacity,
    compare_samples,
    run_sample,
)
from perfops.loadgen.records import RequestRecord
from perfops.loadgen.slo import Threshold, parse_slo
from perfops.store import RunRecord

__all__ = [
    "RECORD_COLUMNS",
    "RunComparison",
    "compare_capacity_runs",
    "compare_runs",
    "records_between",
    "records_from_table",
    "records_of",
    "spec_differences",
]

_TARGET = ("url", "model", "service", "gpus")
_IGNORED = ("seed", "parent", "scraped")
_NO_REQUESTS = ("capacity", "sweep")


@dataclass(frozen=True)
class RunComparison:
    run_a: str
    run_b: str
    kind: str  # "requests" or "capacity"
    differences: list[Difference]
    workload_differences: list[str] = field(default_factory=list)
    target_differences: list[str] = field(default_factory=list)
    slo: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    capacities: list[CapacityReading] = field(default_factory=list)
    confidence: float = COMPARE_CONFIDENCE
    resamples: int = COMPARE_RESAMPLES
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, strict: no NaN or infinity anywhere."""
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "kind": self.kind,
            "confidence": self.confidence,
            "resamples": self.resamples if self.kind == "requests" else None,
            "seed": self.seed if self.kind == "requests" else None,
            "slo": self.slo,
            "like_with_like": not self.workload_differences,
            "workload_differences": self.workload_differences,
            "target_differences": self.target_differences,
            "differences": [d.as_dict() for d in self.differences],
            "capacities": [_reading(r) for r in self.capacities],
            "notes": self.notes,
            "definitions": {
                "percentile": PERCENTILE_DEFINITION,
                "interval": COMPARE_METHOD if self.kind == "requests" else COMPARE_CAPACITY_METHOD,
                "verdict": "better / worse when the interval of B - A excludes 0 (lower "
                "latency is better, more goodput, tokens/s and capacity are better)",
            },
        }


def _reading(r: CapacityReading) -> dict[str, Any]:
    return {
        "run_id": r.run_id,
        "gpus": r.gpus,
        "valid": r.valid,
        "reasons": r.reasons,
        "repeats": r.repeats,
        "lower_bound": r.endpoint.lower_bound,
        "read": r.read,
    }


def compare_runs(
    rt: Runtime,
    run_a: str,
    run_b: str,
    *,
    slo: Sequence[Threshold] | None = None,
    confidence: float = COMPARE_CONFIDENCE,
    resamples: int = COMPARE_RESAMPLES,
    seed: int = 0,
) -> RunComparison:
    """B against A: two load runs (or any runs with request records), or two capacity runs."""
    a, b = rt.store.journal.run(run_a), rt.store.journal.run(run_b)
    capacity = [r.kind == "capacity" for r in (a, b)]
    if any(capacity):
        if not all(capacity):
            raise UsageError(
                f"run {run_a} is a {a.kind} run and {run_b} a {b.kind} run",
                hint="compare two capacity runs, or two load runs",
            )
        return compare_capacity_runs(a, b, confidence=confidence)
    for run in (a, b):
        if run.kind in _NO_REQUESTS:
            raise UsageError(
                f"run {run.run_id} is a {run.kind}: its steps are runs of their own",
                hint="compare the steps' run ids (`--json` of the sweep lists them)",
            )
    return _compare_requests(rt, a, b, slo, confidence, resamples, seed)


def _compare_requests(
    rt: Runtime,
    a: RunRecord,
    b: RunRecord,
    slo: Sequence[Threshold] | None,
    confidence: float,
    resamples: int,
    seed: int,
) -> RunComparison:
    workload, target = spec_differences(a.spec, b.spec)
    notes: list[str] = []
    thresholds = _slo(a, b, slo, notes)
    samples = [run_sample(records_of(rt, r.run_id), thresholds) for r in (a, b)]
    latencies = list(COMPARED_LATENCIES)
    if not all(_open_loop(r) for r in (a, b)):
        latencies = [m for m in latencies if not m.endswith("_from_schedule")]
        notes.append("closed loop: no schedule, so no latency from the schedule")
    for r in (a, b):
        if r.status != "passed":
            notes.append(f"run {r.run_id} ended {r.status}")
        if r.summary.get("client_limited"):
            notes.append(f"run {r.run_id} was client-limited: its latencies include the client")
    diffs = compare_samples(
        *samples, latencies=latencies, confidence=confidence, resamples=resamples, seed=seed
    )
    return RunComparison(
        a.run_id, b.run_id, "requests", diffs, workload, target,
        [str(t) for t in thresholds], notes, [], confidence, resamples, seed,
    )  # fmt: skip


def compare_capacity_runs(
    a: RunRecord, b: RunRecord, *, confidence: float = COMPARE_CONFIDENCE
) -> RunComparison:
    """Two capacity searches: at the endpoint, and per GPU when both say their GPU count."""
    workload, target = spec_differences(a.spec, b.spec)
    ra, rb = read_capacity(a), read_capacity(b)
    diffs = [compare_capacity(ra.endpoint, rb.endpoint, confidence=confidence)]
    if ra.per_gpu is not None and rb.per_gpu is not None:
        diffs.append(
            compare_capacity(
                ra.per_gpu, rb.per_gpu, metric="capacity_rps_per_gpu", unit="req/s/GPU",
                confidence=confidence,
            )
        )  # fmt: skip
    notes = [
        f"run {r.run_id} is marked INVALID by its search"
        + (f": {'; '.join(r.reasons)}" if r.reasons else "")
        + ", so its capacity is no basis for a decision"
        for r in (ra, rb)
        if r.valid is False
    ]
    return RunComparison(
        a.run_id, b.run_id, "capacity", diffs, workload, target,
        list(a.spec.get("slo") or []), notes, [ra, rb], confidence,
    )  # fmt: skip


def _open_loop(run: RunRecord) -> bool:
    return run.spec.get("arrival") is not None or bool(
        (run.spec.get("workload") or {}).get("trace")
    )


def _slo(
    a: RunRecord, b: RunRecord, given: Sequence[Threshold] | None, notes: list[str]
) -> tuple[Threshold, ...]:
    """Goodput is judged for both runs on one SLO: the one given, else the runs' own."""
    if given:
        return tuple(given)
    own = [list(r.spec.get("slo") or []) for r in (a, b)]
    if not own[0] and not own[1]:
        notes.append("no SLO in either run: pass --slo to compare goodput")
        return ()
    if own[0] != own[1]:
        notes.append(f"goodput of both runs judged on run {a.run_id}'s SLO")
    text = ",".join(s.replace("<=", "=") for s in (own[0] or own[1]))
    return tuple(parse_slo(text))


def _flat(spec: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def spec_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """What differs between two runs' specs: (in the workload, in the target), as
    ``key: A vs B``; seeds and bookkeeping are left out."""
    fa, fb = _flat(a), _flat(b)
    workload: list[str] = []
    target: list[str] = []
    for key in sorted(set(fa) | set(fb)):
        if key.rsplit(".", 1)[-1] in _IGNORED or fa.get(key) == fb.get(key):
            continue
        line = f"{key}: {fa.get(key)!r} vs {fb.get(key)!r}"
        (target if key in _TARGET else workload).append(line)
    return workload, target


def records_of(rt: Runtime, run_id: str) -> list[RequestRecord]:
    """The request records of run ``run_id`` as the load generator measured them (chunk gaps
    at the lake's microsecond resolution)."""
    table = rt.store.journal.requests(run_id)
    if table.num_rows == 0:
        raise UsageError(
            f"run {run_id} has no request records",
            hint="compare load runs (`perfops load run`), or two capacity runs",
        )
    return records_from_table(table)


RECORD_COLUMNS = ("scheduled_ns", "sent_ns", "first_token_ns", "end_ns", "prompt_tokens",
                  "output_tokens", "tokens_source", "status", "error", "chunk_gaps_us")  # fmt: skip
"""The ``requests`` columns a :class:`RequestRecord` is read back from."""


def records_between(rt: Runtime, endpoint: str, start_ns: int, end_ns: int) -> list[RequestRecord]:
    """The load-test request records sent to ``endpoint`` scheduled in ``[start_ns, end_ns)``
    (every run's), as the dashboard and the report read them."""
    return records_from_table(
        rt.store.journal.target_requests(endpoint, start_ns, end_ns, RECORD_COLUMNS)
    )


def records_from_table(table: pa.Table) -> list[RequestRecord]:
    """Rows of the lake's ``requests`` table as the load generator's records."""
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    return [
        RequestRecord(
            index=i,
            scheduled_ns=cols["scheduled_ns"][i],
            sent_ns=cols["sent_ns"][i] or 0,
            first_token_ns=cols["first_token_ns"][i],
            end_ns=cols["end_ns"][i],
            prompt_tokens=cols["prompt_tokens"][i],
            output_tokens=cols["output_tokens"][i] or 0,
            tokens_source=cols["tokens_source"][i] or "chunks",
            status=cols["status"][i] or 0,
            error=cols["error"][i],
            chunk_gaps_ns=[g * 1000 for g in cols["chunk_gaps_us"][i] or []],
        )
        for i in range(table.num_rows)
    ]
