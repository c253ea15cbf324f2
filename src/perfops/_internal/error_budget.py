"""The error-budget arithmetic every SLO figure rests on, in one place: the SLO engine
(``perfops.slo.engine``) exports it; chaos experiments and drills, which may not import
another core, use it from here.

Objectives are read at their decimal face value (99.9 means exactly 999/1000) and ratios are
exact fractions, so 72 bad of 5,000 at 99.9% is a burn rate of exactly 14.4.
"""

from __future__ import annotations

import math
from fractions import Fraction

__all__ = ["budget_fraction", "budget_spent", "burn_rate", "error_ratio"]


def budget_fraction(objective_pct: float) -> Fraction:
    """The error budget as a share of events: 1 - objective (0.001 for 99.9)."""
    if not 0 < objective_pct <= 100:
        raise ValueError(f"an objective is a percentage in (0, 100], got {objective_pct}")
    return (100 - Fraction(repr(float(objective_pct)))) / 100


def error_ratio(bad: float, total: float) -> Fraction:
    return Fraction(bad) / Fraction(total)


def burn_rate(bad: float, total: float, objective_pct: float) -> float:
    """How many times faster than sustainable the budget burns: (bad/total)/(1-objective).

    NaN when ``total`` is 0 (no events, no ratio); inf for bad events against a 100% objective.
    """
    budget = budget_fraction(objective_pct)
    if total <= 0:
        return math.nan
    ratio = error_ratio(bad, total)
    if budget == 0:
        return math.inf if ratio > 0 else 0.0
    return float(ratio / budget)


def budget_spent(bad: float, events: float, objective_pct: float) -> float:
    """The share of an error budget that ``bad`` events spend, the budget being
    (1 - objective) x ``events``: the period's events so far (``perfops slo status``) or
    expected at a traffic rate (a chaos fault's or a drill's cost). 0 without bad events; inf
    for bad events against a 100% objective or no events."""
    if bad <= 0:
        return 0.0
    allowed = budget_fraction(objective_pct) * Fraction(events)
    return math.inf if allowed <= 0 else float(Fraction(bad) / allowed)
