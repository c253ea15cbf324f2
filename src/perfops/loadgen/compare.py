"""Two runs compared: run B's latency percentiles, goodput and output tokens/s against run A's,
each as the difference B - A (and B/A - 1) with a bootstrap confidence interval over the runs'
requests, and a verdict: better, worse, or no significant difference (the interval of B - A
contains 0). Lower latency is better; more goodput and tokens/s are better. Capacities found
by two searches compare through the intervals the searches give (:func:`compare_capacity`).

Percentiles are the load summary's (nearest rank, see :mod:`perfops.loadgen.bootstrap`). A
percentile needs enough samples for an interval to mean anything (:func:`min_samples`); below
that the verdict is ``not enough samples`` and the note says how many there were. Rates are
per second of the run's span (first scheduled to last finished), which resampling keeps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from perfops.loadgen.bootstrap import (
    Floats,
    Ints,
    batches,
    block_size,
    interval,
    min_samples,
    resample_counts,
    verdict,
    weighted_percentiles,
)
from perfops.loadgen.records import RequestRecord
from perfops.loadgen.slo import Threshold
from perfops.loadgen.summary import meets, summarize

__all__ = [
    "BETTER",
    "COMPARE_CAPACITY_METHOD",
    "COMPARE_CONFIDENCE",
    "INCONCLUSIVE",
    "COMPARED_LATENCIES",
    "COMPARE_METHOD",
    "NO_INTERVAL",
    "COMPARED_PERCENTILES",
    "COMPARE_RESAMPLES",
    "SAME",
    "SHORT",
    "WORSE",
    "CapacityFigure",
    "Difference",
    "RunSample",
    "compare_capacity",
    "compare_samples",
    "run_sample",
]

COMPARED_LATENCIES = ("ttft", "ttft_from_schedule", "tpot", "itl", "e2e", "e2e_from_schedule")
COMPARED_PERCENTILES = (50.0, 90.0, 99.0)
COMPARE_CONFIDENCE = 0.95
COMPARE_RESAMPLES = 2000
COMPARE_METHOD = (
    "percentile bootstrap over requests: each resample draws every request of a run a "
    "Poisson(1) number of times, each request bringing all its samples (its chunk gaps for "
    "ITL); A and B resampled independently; B - A is significant when its interval excludes 0"
)
COMPARE_CAPACITY_METHOD = (
    "each run's capacity interval read as normal (half-width / z); B - A +- z sqrt(se_A^2 + "
    "se_B^2), B/A - 1 on the log scale"
)
BETTER, WORSE, SAME = "better", "worse", "no significant difference"
SHORT, NO_INTERVAL, INCONCLUSIVE, NONE = "not enough samples", "no interval", "inconclusive", "n/a"


@dataclass(frozen=True)
class RunSample:
    """A run's requests as arrays: the resampling unit is the request (index 0..requests-1)."""

    requests: int
    duration_s: float
    latencies: Mapping[str, tuple[Floats, Ints]]
    """per metric: the samples in seconds, ascending, and the request each came from"""
    good: Floats | None
    """1 for each request that met every SLO threshold, else 0; None without an SLO"""
    tokens: Floats
    """output tokens of each completed request, 0 for a failed one"""


def _samples(rec: RequestRecord, metric: str) -> list[float]:
    if metric == "itl":
        return [g / 1e9 for g in rec.chunk_gaps_ns]
    value = {
        "ttft": rec.ttft_s,
        "ttft_from_schedule": rec.ttft_sched_s,
        "tpot": rec.tpot_s,
        "e2e": rec.e2e_s,
        "e2e_from_schedule": rec.e2e_sched_s,
    }[metric]
    return [] if value is None else [value]


def run_sample(records: Sequence[RequestRecord], slo: Sequence[Threshold] = ()) -> RunSample:
    """The arrays of ``records`` (one run): latencies of the completed requests, clamped at 0
    as the summary does; goodput and tokens/s as the summary computes them."""
    if not records:
        raise ValueError("a run without requests has nothing to compare")
    summary = summarize(records, slo)
    latencies = {}
    for metric in COMPARED_LATENCIES:
        values: list[float] = []
        owners: list[int] = []
        for i, rec in enumerate(records):
            if rec.ok:
                got = _samples(rec, metric)
                values += got
                owners += [i] * len(got)
        order = np.argsort(np.asarray(values, dtype=np.float64), kind="stable")
        data = np.maximum(np.asarray(values, dtype=np.float64), 0.0)[order]
        latencies[metric] = (data, np.asarray(owners, dtype=np.int64)[order])
    good = np.array([meets(r, slo) for r in records], dtype=np.float64) if slo else None
    tokens = np.array([r.output_tokens if r.ok else 0 for r in records], dtype=np.float64)
    return RunSample(len(records), summary.duration_s, latencies, good, tokens)


@dataclass(frozen=True, slots=True)
class Difference:
    """One figure of B against A: the values, the interval of B - A and of B/A - 1 (%)."""

    metric: str
    stat: str  # p50, p90, p99; "" for a rate or a capacity
    unit: str
    higher_is_better: bool
    a: float | None
    b: float | None
    low: float | None = None
    high: float | None = None
    relative_low: float | None = None
    relative_high: float | None = None
    verdict: str = NONE
    note: str = ""
    samples_a: int = 0
    samples_b: int = 0

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def relative(self) -> float | None:
        """B/A - 1 in percent (None when A is 0 or missing)."""
        if self.a is None or self.b is None or self.a <= 0:
            return None
        return (self.b / self.a - 1) * 100

    @property
    def significant(self) -> bool:
        return self.verdict in (BETTER, WORSE)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: no NaN or infinity (None instead)."""
        out = asdict(self)
        out.update(delta=self.delta, relative=self.relative, significant=self.significant)
        return {k: _finite(v) for k, v in out.items()}


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fold(
    s: RunSample,
    names: Sequence[str],
    qs: Sequence[float],
    counts: Ints,
    parts: dict[str, list[Floats]],
) -> None:
    """The statistics of each row of ``counts`` (how many times each request was drawn)."""
    for m in names:
        values, owners = s.latencies[m]
        parts[m].append(weighted_percentiles(values, owners, counts, qs))
    per_s = 1 / s.duration_s if s.duration_s > 0 else 0.0
    parts["output_tokens_per_s"].append(counts @ s.tokens * per_s)
    if s.good is not None:
        parts["goodput_rps"].append(counts @ s.good * per_s)


def _stats(
    s: RunSample,
    names: Sequence[str],
    qs: Sequence[float],
    rng: np.random.Generator | None,
    resamples: int,
) -> dict[str, Floats]:
    """Each statistic over ``resamples`` bootstrap resamples (rows), or over the run itself
    (one row) when ``rng`` is None."""
    parts: dict[str, list[Floats]] = {k: [] for k in (*names, "output_tokens_per_s", "goodput_rps")}
    if rng is None:
        _fold(s, names, qs, np.ones((1, s.requests), dtype=np.int64), parts)
    else:
        width = max([s.requests, *(block_size(len(s.latencies[m][0]), s.requests) for m in names)])
        for k in batches(resamples, width):
            _fold(s, names, qs, resample_counts(rng, s.requests, k), parts)
    return {k: np.concatenate(v) for k, v in parts.items() if v}


def compare_samples(
    a: RunSample,
    b: RunSample,
    *,
    latencies: Sequence[str] = COMPARED_LATENCIES,
    percentiles: Sequence[float] = COMPARED_PERCENTILES,
    confidence: float = COMPARE_CONFIDENCE,
    resamples: int = COMPARE_RESAMPLES,
    seed: int = 0,
) -> list[Difference]:
    """B against A: each of ``latencies`` at each of ``percentiles`` (ms), then goodput (when
    both runs were judged on an SLO) and output tokens/s. Deterministic for a ``seed``."""
    if not 0 < confidence < 1 or resamples < 1:
        raise ValueError("confidence must be in (0, 1) and resamples at least 1")
    names = list(latencies)
    point = [_stats(s, names, percentiles, None, 0) for s in (a, b)]
    reps = [
        _stats(s, names, percentiles, np.random.default_rng([seed, i]), resamples)
        for i, s in enumerate((a, b))
    ]
    out = []
    for m in names:
        counts = len(a.latencies[m][0]), len(b.latencies[m][0])
        for j, q in enumerate(percentiles):
            pair = [(p[m][:, j] * 1000) for p in point]
            rep = [(r[m][:, j] * 1000) for r in reps]
            head = Difference(
                m, f"p{q:g}", "ms", False, *_values(pair), samples_a=counts[0], samples_b=counts[1]
            )
            need = min_samples(q, confidence)
            if min(counts) < need:
                out.append(_short(head, m, q, counts, need))
            else:
                out.append(_judged(head, rep[0], rep[1], confidence))
    for key, unit in (("goodput_rps", "req/s"), ("output_tokens_per_s", "tok/s")):
        values = _values([p.get(key) for p in point])
        head = Difference(key, "", unit, True, *values, samples_a=a.requests, samples_b=b.requests)
        if key not in reps[0] or key not in reps[1]:
            out.append(_replace(head, note="no SLO to judge goodput by"))
        else:
            out.append(_judged(head, reps[0][key], reps[1][key], confidence))
    return out


def _values(pair: Sequence[Floats | None]) -> tuple[float | None, float | None]:
    got = [None if p is None or not np.isfinite(p[0]) else float(p[0]) for p in pair]
    return got[0], got[1]


def _replace(d: Difference, **changes: Any) -> Difference:
    return Difference(**{**asdict(d), **changes})


def _short(d: Difference, metric: str, q: float, counts: Sequence[int], need: int) -> Difference:
    what = "chunk gaps" if metric == "itl" else "requests"
    have = ", ".join(f"{run} {n}" for run, n in zip("AB", counts, strict=True) if n < need)
    return _replace(d, verdict=SHORT, note=f"not enough {what} for p{q:g}: {have} < {need}")


def _judged(d: Difference, ra: Floats, rb: Floats, confidence: float) -> Difference:
    """``d`` with the interval of B - A from the replicates, and its verdict."""
    span = interval(rb - ra, confidence)
    if span is None or d.a is None or d.b is None:
        return _replace(d, note="too few resamples hold a value on both sides")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ra > 0, (rb / ra - 1) * 100, np.nan)
    rel = interval(ratio, confidence) if d.a > 0 else None
    return _replace(
        d,
        low=span[0],
        high=span[1],
        relative_low=rel[0] if rel else None,
        relative_high=rel[1] if rel else None,
        verdict=verdict(*span, higher_is_better=d.higher_is_better),
    )


@dataclass(frozen=True, slots=True)
class CapacityFigure:
    """A capacity search's answer: the rate, its interval (when the search repeated its
    decisive runs) and whether it is only a lower bound (the SLO still held at the highest
    rate tried)."""

    rps: float | None
    low: float | None = None
    high: float | None = None
    confidence: float = COMPARE_CONFIDENCE
    lower_bound: bool = False


def compare_capacity(
    a: CapacityFigure,
    b: CapacityFigure,
    *,
    metric: str = "capacity_rps",
    unit: str = "req/s",
    confidence: float = COMPARE_CONFIDENCE,
) -> Difference:
    """B's capacity against A's. Each interval is read as normal (half-width / z of its own
    confidence) and the interval of B - A is the difference +- z sqrt(se_A^2 + se_B^2); of
    B/A - 1, the same on the log scale. Without both intervals there is no verdict. A lower
    bound keeps only the verdict it cannot overturn (B worse than a capped A stays worse)."""
    head = Difference(metric, "", unit, True, a.rps, b.rps)
    if a.rps is None or b.rps is None:
        none = " and ".join(r for r, f in zip("AB", (a, b), strict=True) if f.rps is None)
        return _replace(head, note=f"run {none} found no capacity at its SLO")
    missing = [r for r, f in zip("AB", (a, b), strict=True) if f.low is None or f.high is None]
    if missing:
        return _replace(
            head,
            verdict=NO_INTERVAL,
            note=f"no confidence interval for run {' and '.join(missing)} (a search without "
            "repeats, or only its bracket): whether the difference is significant cannot be "
            "judged",
        )
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    se_a, se_b = _se(a), _se(b)
    spread = z * math.hypot(se_a, se_b)
    diff = b.rps - a.rps
    rel: tuple[float | None, float | None] = (None, None)
    if a.rps > 0 and b.rps > 0:
        centre, half = math.log(b.rps / a.rps), z * math.hypot(se_a / a.rps, se_b / b.rps)
        rel = ((math.exp(centre - half) - 1) * 100, (math.exp(centre + half) - 1) * 100)
    judged = _replace(
        head,
        low=diff - spread,
        high=diff + spread,
        relative_low=rel[0],
        relative_high=rel[1],
        verdict=verdict(diff - spread, diff + spread, higher_is_better=True),
    )
    return _bounded(judged, a.lower_bound, b.lower_bound)


def _se(f: CapacityFigure) -> float:
    """The standard error an interval implies, read as normal."""
    width = (f.high or 0.0) - (f.low or 0.0)
    return width / 2 / NormalDist().inv_cdf((1 + f.confidence) / 2)


def _bounded(d: Difference, a_capped: bool, b_capped: bool) -> Difference:
    if a_capped and b_capped:
        return _replace(d, verdict=INCONCLUSIVE, note="both capacities are lower bounds")
    if a_capped and d.verdict != WORSE:
        return _replace(d, verdict=INCONCLUSIVE, note="A's capacity is a lower bound")
    if b_capped and d.verdict != BETTER:
        return _replace(d, verdict=INCONCLUSIVE, note="B's capacity is a lower bound")
    return d
