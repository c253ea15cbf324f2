"""The pure SLO engine: error budgets, burn rates, multiwindow alerts, feasibility checks.

Everything here is a plain function over plain data; times and counter samples are passed in.
Burn-rate window sets are data files citing their source (``slo/windows/*.yaml``). The
generators of Prometheus rules, promtool tests, Alertmanager routes, Grafana dashboards and
OpenSLO documents are imported on first use.
"""

from typing import TYPE_CHECKING

from perfops._internal.lazy_exports import lazy_exports
from perfops.slo.engine import (
    AlertState,
    Budget,
    CounterSpan,
    budget_spent,
    burn_rate,
    detection_time_s,
    error_budget,
    evaluate_alerts,
    extrapolated_increase,
    feasibility,
    increase,
    join_spans,
    span_of,
    window_counts,
)
from perfops.slo.health import HealthState, SloHealth, slo_health
from perfops.slo.sources import HISTOGRAMS, SliSource, sli_source
from perfops.slo.windows import WINDOW_SET_NAMES, AlertWindow, WindowSet, load_window_set

if TYPE_CHECKING:
    from perfops.slo.alertmanager import generate_alertmanager, render_alertmanager_yaml
    from perfops.slo.gpu_health_alerts import (
        GPU_HEALTH_GROUP,
        gpu_health_alert_group,
        gpu_health_rule_tests,
    )
    from perfops.slo.grafana import (
        budget_expr,
        dashboard,
        dashboard_uid,
        grafana_selector,
        panel_query,
        render_dashboard_json,
        sli_expr,
        slo_selector,
    )
    from perfops.slo.openslo import import_openslo, render_slos_yaml
    from perfops.slo.rule_tests import generate_rule_tests
    from perfops.slo.rules import (
        DEFAULT_RUNBOOK,
        alert_annotations,
        alert_name,
        alert_prefix,
        burn_windows,
        generate_rules,
        gpu_selectors,
        model_selector,
        period_s,
        render_rules_yaml,
        service_selector,
    )

__all__ = [
    "DEFAULT_RUNBOOK",
    "HealthState",
    "SloHealth",
    "slo_health",
    "GPU_HEALTH_GROUP",
    "HISTOGRAMS",
    "WINDOW_SET_NAMES",
    "AlertState",
    "AlertWindow",
    "Budget",
    "CounterSpan",
    "SliSource",
    "WindowSet",
    "alert_annotations",
    "alert_name",
    "burn_windows",
    "alert_prefix",
    "budget_expr",
    "budget_spent",
    "burn_rate",
    "dashboard",
    "dashboard_uid",
    "detection_time_s",
    "error_budget",
    "evaluate_alerts",
    "extrapolated_increase",
    "feasibility",
    "generate_alertmanager",
    "generate_rule_tests",
    "gpu_health_alert_group",
    "gpu_health_rule_tests",
    "generate_rules",
    "gpu_selectors",
    "grafana_selector",
    "import_openslo",
    "increase",
    "join_spans",
    "load_window_set",
    "model_selector",
    "panel_query",
    "period_s",
    "render_alertmanager_yaml",
    "render_dashboard_json",
    "render_rules_yaml",
    "render_slos_yaml",
    "service_selector",
    "sli_expr",
    "sli_source",
    "slo_selector",
    "span_of",
    "window_counts",
]

__getattr__ = lazy_exports(
    globals(),
    {
        "alertmanager": ("generate_alertmanager", "render_alertmanager_yaml"),
        "grafana": (
            "budget_expr",
            "dashboard",
            "dashboard_uid",
            "grafana_selector",
            "panel_query",
            "render_dashboard_json",
            "sli_expr",
            "slo_selector",
        ),
        "gpu_health_alerts": (
            "GPU_HEALTH_GROUP",
            "gpu_health_alert_group",
            "gpu_health_rule_tests",
        ),
        "openslo": ("import_openslo", "render_slos_yaml"),
        "rule_tests": ("generate_rule_tests",),
        "rules": (
            "DEFAULT_RUNBOOK",
            "alert_annotations",
            "alert_name",
            "alert_prefix",
            "burn_windows",
            "generate_rules",
            "gpu_selectors",
            "model_selector",
            "period_s",
            "render_rules_yaml",
            "service_selector",
        ),
    },
)
