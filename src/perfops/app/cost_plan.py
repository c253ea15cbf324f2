"""`perfops cost roi` and `perfops cost scenario`: what a change saves, what a fleet costs.

Capacity per GPU at the SLO comes from the lake's capacity runs (`perfops load capacity`) when
every candidate GPU type has one, else from `perfops sim`'s virtual-time driver for all of
them: the one capacity search (`perfops.loadgen.search`, as `perfops load capacity` runs it)
measuring each rate with Poisson load of at least 30 s on one replica of the bundled profile,
judged by the load test's judge; bisected to 5%, repeated with three seeds at the bracketing
rates. Traffic and capacity are in output tokens per second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from perfops.app.capacity import virtual_capacity
from perfops.app.compare import RunComparison, compare_capacity_runs
from perfops.app.cost import workspace_prices
from perfops.app.runtime import Runtime
from perfops.errors import UsageError
from perfops.finops import Candidate, Forecast, Roi, RunEconomics, Scenario, compare, plan
from perfops.finops.catalog import Purchase
from perfops.loadgen.compare import Difference
from perfops.loadgen.search import SearchSpec
from perfops.loadgen.slo import Threshold
from perfops.sim.profiles import serving_profile

__all__ = [
    "MeasuredCapacity",
    "RunsRoi",
    "capacities",
    "capacity_from_run",
    "measured_capacity",
    "roi_of_runs",
    "scenario",
    "simulated_capacity",
]


@dataclass(frozen=True)
class MeasuredCapacity:
    """Capacity per GPU at an SLO, in requests/s and output tokens/s, and where it came from."""

    gpu: str
    rps_per_gpu: float | None
    tokens_per_request: float
    source: str  # "run <id>" or "simulated"
    search: dict[str, Any] | None = None  # the capacity search: interval, validity, why

    @property
    def tokens_per_gpu(self) -> float | None:
        return None if self.rps_per_gpu is None else self.rps_per_gpu * self.tokens_per_request


def capacity_from_run(rt: Runtime, run_id: str) -> MeasuredCapacity:
    """The capacity a `capacity` run found, per GPU of its service."""
    run = rt.store.journal.run(run_id)
    if run.kind != "capacity":
        known = [r.run_id for r in rt.store.journal.runs("capacity", limit=5)]
        raise UsageError(
            f"run {run_id} is a {run.kind} run, not a capacity search",
            hint=f"use a run of `perfops load capacity`: {', '.join(known) or 'none yet'}",
        )
    spec, summary = run.spec, run.summary
    service = rt.config.service(spec["service"])
    passed = [p for p in summary.get("points", []) if p["passed"]]
    best = max(passed, key=lambda p: p["rate"], default=None)
    per_request = 0.0
    if best is not None and best["summary"]["completed"]:
        per_request = best["summary"]["output_tokens"] / best["summary"]["completed"]
    rps = summary.get("capacity_rps_per_gpu")
    if rps is None and summary.get("capacity_rps"):
        rps = summary["capacity_rps"] / max(1, service.gpu.count)
    return MeasuredCapacity(service.gpu.type, rps, per_request, f"run {run_id}")


@dataclass(frozen=True)
class RunsRoi:
    """The ROI of two capacity runs, and how far the difference behind it can be trusted."""

    roi: Roi
    before: MeasuredCapacity
    after: MeasuredCapacity
    capacity: Difference
    """after against before, per GPU when both runs give their GPU count (`load compare`)"""
    bound: str
    """what the savings and the capacity change are: "exact", or only a "lower" or "upper"
    bound when a run's capacity was capped by its maximum rate, "unknown" when both were"""
    warnings: list[str]
    notes: list[str]

    @property
    def significant(self) -> bool:
        return self.capacity.significant


def roi_of_runs(
    rt: Runtime,
    before_id: str,
    after_id: str,
    *,
    traffic_rps: float,
    one_off: Decimal,
    utilisation: float,
) -> RunsRoi:
    """Compare two capacity runs (before and after a change) at ``traffic_rps``; the capacity
    difference is judged as `perfops load compare` judges it."""
    book = workspace_prices(rt)
    sides = []
    for run_id in (before_id, after_id):
        cap = capacity_from_run(rt, run_id)
        if not cap.tokens_per_gpu:
            raise UsageError(
                f"run {run_id} found no rate that met its SLO", hint="compare passing runs"
            )
        sides.append(cap)
    before, after = sides
    tokens_per_request = before.tokens_per_request
    economics = [
        RunEconomics(c.tokens_per_gpu or 0.0, book.hourly(c.gpu), 1) for c in (before, after)
    ]
    roi = compare(
        economics[0],
        economics[1],
        traffic=traffic_rps * tokens_per_request,
        one_off_cost=one_off,
        utilisation_target=utilisation,
    )
    judged = compare_capacity_runs(*(rt.store.journal.run(i) for i in (before_id, after_id)))
    capped = [r.endpoint.lower_bound for r in judged.capacities]
    bound = {(False, False): "exact", (True, False): "upper", (False, True): "lower"}.get(
        (capped[0], capped[1]), "unknown"
    )
    difference = judged.differences[-1]
    return RunsRoi(
        roi, before, after, difference, bound, _roi_warnings(judged, bound),
        _roi_notes(judged, difference),
    )  # fmt: skip


def _roi_warnings(judged: RunComparison, bound: str) -> list[str]:
    """A capacity capped by the search's maximum rate is a lower bound, not a capacity."""
    out = [
        f"run {r.run_id}'s capacity is a lower bound, not a capacity: the SLO still held at "
        "the highest rate tried (search again with a higher --max-rate)"
        for r in judged.capacities
        if r.endpoint.lower_bound
    ]
    if bound != "exact":
        out.append(
            {
                "upper": "the capacity change and the savings are at most what is shown",
                "lower": "the capacity change and the savings are at least what is shown",
            }.get(bound, "neither the capacity change nor the savings are known")
        )
    return out


def _roi_notes(judged: RunComparison, difference: Difference) -> list[str]:
    notes = list(judged.notes)
    if not difference.significant:
        why = difference.note or difference.verdict
        notes.insert(
            0,
            f"the capacity difference is not significant at {judged.confidence:.0%} ({why}): "
            "this ROI may rest on noise",
        )
    return notes


def simulated_capacity(
    gpu: str,
    model: str,
    slo: Sequence[Threshold],
    *,
    prompt_tokens: int = 512,
    output_tokens: int = 128,
    duration_s: float = 30.0,
    seed: int = 0,
    replicas: int = 1,
) -> MeasuredCapacity:
    """Requests/s per GPU within ``slo`` in the simulator's virtual time: the capacity search
    of `perfops load capacity` (same walk, same judge, same interval and validity), each rate
    measured on ``replicas`` replicas of the bundled profile (None if even the first fails)."""
    profile = serving_profile(gpu, model)
    spec = SearchSpec(
        start_rate=0.25 * replicas, max_rate=4096.0 * replicas, tolerance=0.05, max_runs=24,
        seed=seed,
    )  # fmt: skip
    found = virtual_capacity(
        profile, slo, spec, prompt_tokens=prompt_tokens, output_tokens=output_tokens,
        duration_s=duration_s, replicas=replicas,
    )  # fmt: skip
    return MeasuredCapacity(
        gpu, found.per_gpu(replicas), float(output_tokens), "simulated", found.as_dict(replicas)
    )


def measured_capacity(rt: Runtime, gpu: str, model: str) -> MeasuredCapacity | None:
    """The newest passing capacity run on a service with this GPU type and model (a run its
    own verdict calls INVALID is skipped: the simulator's figure is better than that)."""
    for run in rt.store.journal.runs("capacity", limit=50):
        if run.summary.get("valid") is False:
            continue
        name = run.spec.get("service")
        svc = next((s for s in rt.config.services if s.name == name), None)
        if svc is not None and svc.gpu.type == gpu and svc.model == model:
            cap = capacity_from_run(rt, run.run_id)
            if cap.rps_per_gpu:
                return cap
    return None


def capacities(
    rt: Runtime,
    gpus: Sequence[str],
    model: str,
    slo: Sequence[Threshold],
    *,
    output_tokens: int,
    prompt_tokens: int,
) -> list[MeasuredCapacity]:
    """Capacity per GPU for each type: measured when every type has a capacity run, else
    simulated for all of them, so that the candidates compare like with like (a short
    real-time search and a long virtual-time one do not measure the same thing)."""
    measured = [measured_capacity(rt, gpu, model) for gpu in gpus]
    if all(m is not None for m in measured):
        return [m for m in measured if m is not None]
    return [
        simulated_capacity(
            gpu, model, slo, output_tokens=output_tokens, prompt_tokens=prompt_tokens
        )
        for gpu in gpus
    ]


def scenario(
    rt: Runtime,
    gpus: Sequence[tuple[str, Mapping[Purchase, float]]],
    *,
    model: str,
    slo: Sequence[Threshold],
    traffic_rps: float,
    growth: float,
    months: int,
    utilisation: float,
    prompt_tokens: int = 512,
    output_tokens: int = 128,
) -> tuple[Scenario, list[MeasuredCapacity]]:
    """Each GPU type (with its purchase mix) priced at the forecast traffic."""
    book = workspace_prices(rt)
    types = list(dict.fromkeys(gpu for gpu, _ in gpus))
    found = capacities(
        rt, types, model, slo, output_tokens=output_tokens, prompt_tokens=prompt_tokens
    )
    by_type = dict(zip(types, found, strict=True))
    candidates, caps = [], []
    for gpu, mix in gpus:
        cap = by_type[gpu]
        caps.append(cap)
        prices = {p: book.rate(gpu, purchase=p).hourly for p in mix}
        name = gpu + "".join(f" {p}={share:g}" for p, share in mix.items() if len(mix) > 1)
        candidates.append(
            Candidate(
                name,
                gpu,
                cap.tokens_per_gpu or 1e-9,
                prices,
                dict(mix),
                meets_slo=cap.tokens_per_gpu is not None,
            )
        )
    per_request = caps[0].tokens_per_request if caps else float(output_tokens)
    forecast = Forecast(traffic_rps * per_request, growth, months)
    return plan(candidates, forecast, utilisation_target=utilisation), caps


@dataclass(frozen=True)
class PeriodEconomics:
    """What a period of production cost and served: the observed side of a before/after."""

    start_ms: int
    end_ms: int
    cost: Decimal
    gpu_hours: float
    output_tokens: int

    @property
    def tokens_per_gpu_s(self) -> float:
        return self.output_tokens / (self.gpu_hours * 3600) if self.gpu_hours else 0.0

    @property
    def price_per_gpu_hour(self) -> Decimal:
        hours = Decimal(repr(self.gpu_hours))
        return (self.cost / hours).quantize(Decimal("0.000001")) if hours else Decimal(0)


def period_economics(
    rt: Runtime, start_ms: int, end_ms: int, service: str | None
) -> PeriodEconomics:
    """Cost (allocation basis, idle and shared included), GPU-hours and output tokens of one
    service (or all) over a period."""
    from perfops.app.cost import cost_report

    report = cost_report(rt, start_ms, end_ms, idle="weighted")
    rows = [r for r in report.rows if service is None or r.group == service]
    if service is not None and not rows:
        raise UsageError(f"no cost for service {service!r} in the period", hint="check --service")
    return PeriodEconomics(
        start_ms,
        end_ms,
        sum((r.total for r in rows), Decimal(0)),
        sum(r.gpu_hours for r in rows if r.group not in ("__idle__", "__shared__")),
        sum(r.work.output_tokens for r in rows),
    )


def roi_of_periods(
    rt: Runtime,
    before: tuple[int, int],
    after: tuple[int, int],
    *,
    service: str | None,
    traffic_tokens_s: float | None,
    one_off: Decimal,
) -> tuple[Roi, PeriodEconomics, PeriodEconomics]:
    """Compare two periods of production: the GPUs each would need for the same traffic at
    the throughput per GPU it achieved (utilisation as it was, so no target on top), and the
    $/1M output tokens each actually paid. Traffic defaults to the after period's rate."""
    sides = [period_economics(rt, *window, service) for window in (before, after)]
    for side in sides:
        if not side.output_tokens or not side.gpu_hours:
            raise UsageError(
                f"no tokens or GPU time between {side.start_ms} and {side.end_ms} ms",
                hint="pick periods in which the service served traffic and was scraped",
            )
    b, a = sides
    traffic = traffic_tokens_s or a.output_tokens / ((a.end_ms - a.start_ms) / 1000)
    economics = [
        RunEconomics(
            s.tokens_per_gpu_s,
            s.price_per_gpu_hour,
            max(1, round(s.gpu_hours * 3600 / ((s.end_ms - s.start_ms) / 1000))),
            (s.cost / s.output_tokens * 1_000_000).quantize(Decimal("0.000001")),
        )
        for s in sides
    ]
    roi = compare(economics[0], economics[1], traffic=traffic, one_off_cost=one_off)
    return roi, b, a
