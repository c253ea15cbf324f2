"""The pure SLO engine: error budgets, burn rates, multiwindow alerts, feasibility checks.

Everything here is a plain function over plain data; times and counter samples are passed in.
Burn-rate window sets are data files citing their source (``slo/windows/*.yaml``).
"""

from perfops.slo.engine import (
    AlertState,
    Budget,
    burn_rate,
    detection_time_s,
    error_budget,
    evaluate_alerts,
    feasibility,
    increase,
    window_counts,
)
from perfops.slo.windows import WINDOW_SET_NAMES, AlertWindow, WindowSet, load_window_set

__all__ = [
    "WINDOW_SET_NAMES",
    "AlertState",
    "AlertWindow",
    "Budget",
    "WindowSet",
    "burn_rate",
    "detection_time_s",
    "error_budget",
    "evaluate_alerts",
    "feasibility",
    "increase",
    "load_window_set",
    "window_counts",
]
