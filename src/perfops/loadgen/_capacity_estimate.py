"""From the runs of a capacity search to a capacity with its 95% interval and a validity verdict.

Method (:data:`INTERVAL_METHOD`, printed with every result): each run has a *margin*, its
worst SLO threshold's observed percentile over the limit (1.0: exactly at the limit; above:
the SLO missed). At the two bracketing rates, ``lo`` (the highest rate the search kept as
passing) and ``hi`` (the next rate up, failing), every run is repeated with different seeds.
The capacity is where the straight line through the mean margins at ``lo`` (a) and ``hi`` (b)
crosses 1::

    c = lo + (hi - lo) (1 - a) / (b - a)

Its standard error comes from the repeats by the delta method, with the margins' standard
deviation s pooled over both rates (2n - 2 degrees of freedom for n repeats at each)::

    se(c) = (hi - lo) sqrt((1 - b)^2 s^2/n_lo + (1 - a)^2 s^2/n_hi) / (b - a)^2

and the interval is c +- t(0.975, df) se(c) (Student's t): a 95% confidence interval of the
rate at which the *average* run meets the SLO exactly. Single runs scatter around it by more
(each run is one sample of the traffic's burstiness); a repeated rate whose *majority*
contradicts the interval (most runs below it missed the SLO, or most above it met it) makes
the result INVALID. When a bracketing run has no margin to interpolate (a failed request, or
no sample of a metric), the capacity is ``lo`` and the interval is the bracket [lo, hi].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfops.loadgen.search import Point

__all__ = ["INTERVAL_METHOD", "CapacityResult", "estimate", "no_capacity", "unbounded"]

INTERVAL_METHOD = (
    "capacity = the rate where the line through the mean SLO margins (observed percentile / "
    "limit, worst threshold) of the repeats at the two bracketing rates crosses 1; 95% "
    "interval = capacity +- t(0.975, 2n-2) x its delta-method standard error from the "
    "repeats' pooled standard deviation (a confidence interval for the average run; single "
    "runs scatter more); a bracketing run with a failed request or no sample leaves the "
    "bracket itself as the interval"
)

# Student's t, two-sided 95% (the 0.975 quantile) by degrees of freedom; NIST/SEMATECH
# e-Handbook of Statistical Methods, table 1.3.6.7.2. Beyond 30: the normal 1.96.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


def t975(df: int) -> float:
    return _T975[df - 1] if 1 <= df <= len(_T975) else 1.96


@dataclass
class CapacityResult:
    """The capacity, its interval, and whether the runs behind it can support it."""

    capacity_rps: float | None  # None: even the first rate failed
    low_rps: float | None = None
    high_rps: float | None = None  # None with a capacity: met the SLO at the highest rate
    method: str = "interpolated"  # interpolated (95%) | bracket | lower bound
    bracket: tuple[float, float] | None = None
    points: list[Point] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    reason: str = ""  # plain words: what the number rests on, or why there is none

    @property
    def valid(self) -> bool:
        return self.capacity_rps is not None and not self.invalid

    def per_gpu(self, gpus: int | None) -> float | None:
        """Capacity per GPU, the figure FinOps plans with (None without both numbers)."""
        return self.capacity_rps / gpus if self.capacity_rps and gpus else None

    def text(self, gpus: int | None = None) -> str:
        """``20.0 req/s [18.5, 21.5] per 2 GPUs (95%)``."""
        if self.capacity_rps is None:
            return f"no capacity: {self.reason}"
        per = f" per {gpus} GPU{'s' if gpus != 1 else ''}" if gpus else ""
        if self.high_rps is None:
            return f">= {self.capacity_rps:.1f} req/s{per} (met the SLO at every rate tried)"
        label = "95%" if self.method == "interpolated" else self.method
        return (
            f"{self.capacity_rps:.1f} req/s [{self.low_rps or 0:.1f}, {self.high_rps:.1f}]"
            f"{per} ({label})"
        )

    def verdict_text(self) -> str:
        if self.valid:
            return "VALID"
        return "INVALID: " + "; ".join(self.invalid or [self.reason])

    def as_dict(self, gpus: int | None = None) -> dict[str, Any]:
        return {
            "capacity_rps": self.capacity_rps,
            "interval_rps": [self.low_rps, self.high_rps],
            "confidence": 0.95 if self.method == "interpolated" else None,
            "method": self.method,
            "interval_method": INTERVAL_METHOD,
            "bracket_rps": list(self.bracket) if self.bracket else None,
            "gpus": gpus,
            "capacity_rps_per_gpu": self.per_gpu(gpus),
            "valid": self.valid,
            "invalid": list(self.invalid),
            "reason": self.reason,
            "text": self.text(gpus),
        }


def _margins(points: list[Point], rate: float) -> list[float]:
    return [p.margin for p in points if p.rate == rate]


def _decisive_invalid(points: list[Point], rates: tuple[float, ...]) -> list[str]:
    """The decisive runs' flaws by kind (``kind: detail``, as the judge and the load test
    write them): how many runs each touched, with the first as an example."""
    decisive = [p for p in points if p.rate in rates]
    kinds: dict[str, list[tuple[Point, str]]] = {}
    for p in decisive:
        for why in p.invalid:
            kind, _, detail = why.partition(": ")
            kinds.setdefault(kind, []).append((p, detail))
    out = []
    for kind, items in kinds.items():
        runs = len({(p.rate, p.seed) for p, _ in items})
        p, detail = items[0]
        out.append(
            f"{kind}: {runs} of the {len(decisive)} decisive runs (e.g. {p.rate:.2f} req/s, "
            f"seed {p.seed}: {detail})"
        )
    return out


def _disagreements(points: list[Point], low: float, high: float) -> list[str]:
    """Repeated rates whose majority contradicts the interval: most runs below it missed the
    SLO, or most runs above it met it. (Single runs scatter around the average knee by more
    than its interval; a majority against it means the runs do not agree with each other.)"""
    out = []
    for rate in sorted({p.rate for p in points}):
        runs = [p for p in points if p.rate == rate]
        passed = sum(p.passed for p in runs)
        if len(runs) < 2:
            continue
        if rate < low and 2 * passed < len(runs):
            out.append(
                f"repeats disagree beyond the interval: {len(runs) - passed} of {len(runs)} "
                f"runs at {rate:.2f} req/s missed the SLO, below the interval's {low:.2f}"
            )
        elif rate > high and 2 * passed > len(runs):
            out.append(
                f"repeats disagree beyond the interval: {passed} of {len(runs)} runs at "
                f"{rate:.2f} req/s met the SLO, above the interval's {high:.2f}"
            )
    return out


def estimate(points: list[Point], lo: float, hi: float, *, flaws: list[str]) -> CapacityResult:
    """The capacity between the bracketing rates ``lo`` (passing) and ``hi`` (failing);
    ``flaws``: what the walk itself could not finish (out of runs)."""
    a_runs, b_runs = _margins(points, lo), _margins(points, hi)
    invalid = _decisive_invalid(points, (lo, hi)) + flaws
    result = CapacityResult(lo, lo, hi, "bracket", (lo, hi), points, invalid)
    n_a, n_b = len(a_runs), len(b_runs)
    if not all(math.isfinite(m) for m in a_runs + b_runs):
        result.reason = (
            "a run at the bracketing rates had failed requests or no sample, so there is no "
            f"margin to interpolate: the capacity is the lower rate, {lo:.2f} req/s, and the "
            "interval is the bracket"
        )
        return _checked(result, a_runs)
    a, b = sum(a_runs) / n_a, sum(b_runs) / n_b
    if b <= a:
        invalid.append(
            f"repeats disagree: the runs at {hi:.2f} req/s came out no worse (mean margin "
            f"{b:.3f}) than those at {lo:.2f} req/s ({a:.3f}), so the noise hides the knee"
        )
        result.reason = "the bracketing rates could not be told apart"
        return result
    df = n_a + n_b - 2
    ss = sum((m - a) ** 2 for m in a_runs) + sum((m - b) ** 2 for m in b_runs)
    s2 = ss / df if df > 0 else math.inf
    width = hi - lo
    c = lo + width * (1 - a) / (b - a)
    se = width * math.sqrt((1 - b) ** 2 * s2 / n_a + (1 - a) ** 2 * s2 / n_b) / (b - a) ** 2
    half = t975(df) * se if math.isfinite(se) else math.inf
    result.capacity_rps, result.method = c, "interpolated"
    result.low_rps, result.high_rps = max(0.0, c - half), c + half
    result.reason = (
        f"{n_a} runs at {lo:.2f} req/s (mean margin {a:.3f}) and {n_b} at {hi:.2f} req/s "
        f"({b:.3f}); the SLO margin reaches 1.0 at {c:.2f} req/s"
    )
    if not lo <= c <= hi:
        invalid.append(
            f"out of runs before the bracket held: {c:.2f} req/s is extrapolated beyond the "
            f"rates measured ({lo:.2f}-{hi:.2f})"
        )
    invalid += _disagreements(points, result.low_rps, result.high_rps)
    return _checked(result, a_runs)


def _checked(result: CapacityResult, a_runs: list[float]) -> CapacityResult:
    if any(m > 1 for m in a_runs) and result.method == "bracket":
        result.invalid.append("a run at the lower bracketing rate missed the SLO")
    result.invalid[:] = list(dict.fromkeys(result.invalid))
    return result


def no_capacity(points: list[Point], start: float) -> CapacityResult:
    first = points[0]
    why = "; ".join(first.invalid)
    return CapacityResult(
        None,
        points=points,
        invalid=list(first.invalid),
        reason=f"the SLO fails already at {start:g} req/s" + (f" ({why})" if why else ""),
    )


def unbounded(
    points: list[Point], rate: float, *, out_of_runs: bool, at_max: bool
) -> CapacityResult:
    """Every run met the SLO up to the highest rate tried: a lower bound, not an estimate."""
    result = CapacityResult(rate, rate, None, "lower bound", None, points)
    result.invalid = _decisive_invalid(points, (rate,))
    if any(not p.passed for p in points if p.rate == rate):
        result.invalid.append(f"repeats disagree: a run at {rate:.2f} req/s missed the SLO")
    if out_of_runs:
        result.invalid.append("out of runs before the highest rate had its repeats")
    if at_max:
        result.reason = f"still meets the SLO at the maximum rate {rate:g} req/s (raise --max-rate)"
    else:
        result.invalid.append(f"out of runs while probing: the SLO held up to {rate:g} req/s")
        result.reason = "out of runs before a rate missed the SLO (raise --max-runs)"
    return result
