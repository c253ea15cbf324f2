"""The steady-state hypothesis, stop conditions and per-fault impact, as pure functions over the
experiment's requests.

Each request is an :class:`Outcome`: when it was scheduled, whether it failed, whether it met
every per-request load threshold (goodput) and, per SLO of the hypothesis, whether it was a
good event. Burn rate over a set of requests is (bad / total) / (1 - objective), the SRE
workbook's definition, evaluated on exactly these requests; it and the share of a budget a
fault spends are the SLO engine's own functions (``perfops._internal.error_budget``, which
``perfops.slo`` exports), and "was this request bad for this SLO" is :meth:`Outcome.bad_for`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from perfops._internal.error_budget import budget_spent, burn_rate
from perfops.config.experiment import BurnStop, ErrorStop, Hypothesis

__all__ = [
    "Check",
    "FaultImpact",
    "HypothesisResult",
    "Outcome",
    "bad_events",
    "burn",
    "check_hypothesis",
    "fault_impact",
    "stop_reason",
]


@dataclass(frozen=True, slots=True)
class Outcome:
    scheduled_ns: int
    error: bool
    good: bool  # met every per-request load threshold (and did not fail)
    slo_good: Mapping[str, bool] = field(default_factory=dict)

    def bad_for(self, slo: str) -> bool:
        """Whether this request was a bad event of ``slo``: judged per SLO when it was
        (:func:`perfops.loadgen.judge.request_meets`), else bad when it failed."""
        return not self.slo_good.get(slo, not self.error)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    value: float | None
    limit: float
    met: bool

    def describe(self) -> str:
        shown = "n/a" if self.value is None else f"{self.value:.4g}"
        return f"{self.name} {shown} ({'ok' if self.met else 'broken'}; limit {self.limit:g})"


@dataclass(frozen=True, slots=True)
class HypothesisResult:
    met: bool
    checks: tuple[Check, ...]
    requests: int

    def broken(self) -> list[str]:
        return [c.describe() for c in self.checks if not c.met]


def burn(outcomes: Sequence[Outcome], slo: str, objective_pct: float) -> float | None:
    """Burn rate of ``slo`` over these requests; None without any."""
    if not outcomes:
        return None
    return burn_rate(bad_events(outcomes, slo), len(outcomes), objective_pct)


def bad_events(outcomes: Sequence[Outcome], slo: str) -> int:
    """How many of ``outcomes`` were bad events of ``slo``."""
    return sum(1 for o in outcomes if o.bad_for(slo))


def _ratio(outcomes: Sequence[Outcome], pick: str) -> float | None:
    if not outcomes:
        return None
    if pick == "good":
        return sum(1 for o in outcomes if o.good) / len(outcomes)
    return sum(1 for o in outcomes if o.error) / len(outcomes)


def check_hypothesis(
    outcomes: Sequence[Outcome],
    hypothesis: Hypothesis,
    objectives: Mapping[str, float],
    probes: Sequence[Check] = (),
    *,
    min_requests: int = 5,
) -> HypothesisResult:
    """Does the steady state hold over ``outcomes``? Too few requests to judge is not met."""
    checks: list[Check] = []
    for item in hypothesis.slos:
        value = burn(outcomes, item.slo, objectives[item.slo])
        met = value is not None and value <= item.max_burn_rate
        checks.append(Check(f"{item.slo} burn rate", value, item.max_burn_rate, met))
    if hypothesis.min_goodput is not None:
        value = _ratio(outcomes, "good")
        met = value is not None and value >= hypothesis.min_goodput
        checks.append(Check("goodput", value, hypothesis.min_goodput, met))
    if hypothesis.max_error_ratio is not None:
        value = _ratio(outcomes, "error")
        met = value is not None and value <= hypothesis.max_error_ratio
        checks.append(Check("error ratio", value, hypothesis.max_error_ratio, met))
    checks += probes
    if len(outcomes) < min_requests:
        checks.append(Check("requests", len(outcomes), min_requests, False))
    return HypothesisResult(all(c.met for c in checks), tuple(checks), len(outcomes))


def stop_reason(
    outcomes: Sequence[Outcome],
    stops: Sequence[BurnStop | ErrorStop],
    objectives: Mapping[str, float],
    now_ns: int,
    *,
    min_requests: int = 5,
) -> str | None:
    """The first stop condition the requests of its rolling window break, if any."""
    for stop in stops:
        recent = [o for o in outcomes if o.scheduled_ns >= now_ns - int(stop.window * 1e9)]
        if len(recent) < min_requests:
            continue
        if isinstance(stop, BurnStop):
            value = burn(recent, stop.slo, objectives[stop.slo]) or 0.0
            if value > stop.above:
                return (
                    f"{stop.slo} burned {value:.1f}x over {stop.window:g}s "
                    f"(stop above {stop.above:g}x)"
                )
        else:
            errors = _ratio(recent, "error") or 0.0
            if errors > stop.above:
                return (
                    f"error ratio {errors:.1%} over {stop.window:g}s (stop above {stop.above:.1%})"
                )
    return None


@dataclass(frozen=True, slots=True)
class FaultImpact:
    """What one fault's window cost: against the requests scheduled before any fault."""

    fault: str
    start_ns: int
    end_ns: int
    requests: int
    bad: dict[str, int]  # per SLO
    budget_consumed_pct: dict[str, float]  # share of the SLO period's error budget
    goodput_rps: float
    goodput_lost: float  # good requests fewer than the baseline rate would have given
    wasted_cost: float | None  # GPU cost of the window's requests that missed goodput


def fault_impact(
    outcomes: Sequence[Outcome],
    windows: Sequence[tuple[str, int, int]],
    objectives: Mapping[str, float],
    *,
    baseline_goodput_rps: float,
    period_s: Mapping[str, float],
    traffic_rps: float,
    cost_per_s: float | None,
) -> list[FaultImpact]:
    """Per fault window: bad events per SLO, the share of each SLO's period budget they spent
    (budget = (1 - objective) x traffic x period), goodput lost against the baseline, and the
    GPU cost of the requests that missed goodput."""
    out = []
    for name, start, end in windows:
        inside = [o for o in outcomes if start <= o.scheduled_ns < end]
        seconds = (end - start) / 1e9
        bad = {s: bad_events(inside, s) for s in objectives}
        consumed = {
            slo: 100 * budget_spent(count, traffic_rps * period_s[slo], objectives[slo])
            for slo, count in bad.items()
        }
        good = sum(1 for o in inside if o.good)
        missed = len(inside) - good
        wasted = None
        if cost_per_s is not None and inside:
            wasted = cost_per_s * seconds * missed / len(inside)
        out.append(
            FaultImpact(
                name,
                start,
                end,
                len(inside),
                bad,
                consumed,
                good / seconds if seconds > 0 else 0.0,
                max(0.0, baseline_goodput_rps * seconds - good),
                wasted,
            )
        )
    return out
