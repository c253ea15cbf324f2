"""The composition root: a Runtime holds config, store and clock; commands are built on it.

Every command the CLI runs is named here; each module is imported on first use, so that
``perfops --help`` does not load the lake, the load generator or the chaos runner.
"""

from typing import TYPE_CHECKING

from perfops._internal.lazy_exports import lazy_exports
from perfops.app.runtime import Runtime, open_runtime

if TYPE_CHECKING:
    from perfops.app.capacity import capacity_summary, run_capacity, virtual_capacity
    from perfops.app.chaos import (
        example_experiment,
        load_experiment,
        recover_faults,
        run_experiment,
    )
    from perfops.app.collect import (
        LakeSink,
        LakeWriter,
        WriterStats,
        run_collect,
        targets_from_config,
    )
    from perfops.app.compare import RunComparison, compare_runs
    from perfops.app.cost import (
        CostReport,
        cost_report,
        export_focus,
        reconcile_bill,
        report_json,
        workspace_prices,
    )
    from perfops.app.cost_plan import RunsRoi, roi_of_periods, roi_of_runs, scenario
    from perfops.app.dashboard import (
        PANELS,
        Scope,
        events_in,
        filter_choices,
        series_panel,
    )
    from perfops.app.dashboard_figures import (
        cost_panel,
        latency_panel,
        overview,
        slo_misses,
        slo_panel,
    )
    from perfops.app.dashboard_histograms import histogram_latency_panel
    from perfops.app.demo import run_demo
    from perfops.app.drill import load_drill, run_drill
    from perfops.app.gameday import load_gameday, run_gameday
    from perfops.app.grafana_twin import TWIN_UID, render_twin_json, twin_dashboard
    from perfops.app.imports import ImportQuery, import_prometheus, plan_queries
    from perfops.app.incident import (
        close_incident,
        incident_state,
        incidents,
        open_incident,
        resolve_incident,
        update_incident,
    )
    from perfops.app.incident_alerts import record_notification
    from perfops.app.incident_comms import post_update, render_update
    from perfops.app.incident_figures import incident_figures, incident_impact
    from perfops.app.load import (
        LoadOptions,
        LoadResult,
        WorkloadSource,
        describe_schedule,
        run_load,
        run_sweep,
    )
    from perfops.app.metrics import MetricSummary, as_json, kpis, list_metrics, show_metric
    from perfops.app.postmortem import draft_postmortem
    from perfops.app.report import build_report, parse_period
    from perfops.app.rule_files import RuleFiles, rule_files
    from perfops.app.runbook import (
        Written,
        check_runbooks,
        generate_runbooks,
        list_runbooks,
        read_runbook,
        runbook_base,
        update_evidence,
    )
    from perfops.app.slo import slo_history, slo_status, slo_statuses

__all__ = [
    "PANELS",
    "CostReport",
    "ImportQuery",
    "LakeSink",
    "LakeWriter",
    "LoadOptions",
    "LoadResult",
    "MetricSummary",
    "RunComparison",
    "Runtime",
    "RunsRoi",
    "Scope",
    "WorkloadSource",
    "Written",
    "WriterStats",
    "as_json",
    "capacity_summary",
    "check_runbooks",
    "close_incident",
    "compare_runs",
    "cost_panel",
    "cost_report",
    "describe_schedule",
    "draft_postmortem",
    "build_report",
    "parse_period",
    "events_in",
    "example_experiment",
    "export_focus",
    "filter_choices",
    "histogram_latency_panel",
    "generate_runbooks",
    "import_prometheus",
    "incident_figures",
    "incident_impact",
    "incident_state",
    "incidents",
    "kpis",
    "latency_panel",
    "list_metrics",
    "list_runbooks",
    "load_drill",
    "load_experiment",
    "load_gameday",
    "open_incident",
    "open_runtime",
    "overview",
    "plan_queries",
    "post_update",
    "read_runbook",
    "reconcile_bill",
    "record_notification",
    "recover_faults",
    "render_update",
    "report_json",
    "resolve_incident",
    "roi_of_periods",
    "roi_of_runs",
    "run_capacity",
    "runbook_base",
    "run_collect",
    "run_demo",
    "run_drill",
    "run_experiment",
    "run_gameday",
    "run_load",
    "run_sweep",
    "scenario",
    "series_panel",
    "show_metric",
    "TWIN_UID",
    "RuleFiles",
    "render_twin_json",
    "rule_files",
    "slo_history",
    "twin_dashboard",
    "slo_misses",
    "slo_panel",
    "slo_status",
    "slo_statuses",
    "targets_from_config",
    "update_evidence",
    "update_incident",
    "virtual_capacity",
    "workspace_prices",
]

__getattr__ = lazy_exports(
    globals(),
    {
        "capacity": ("capacity_summary", "run_capacity", "virtual_capacity"),
        "chaos": ("example_experiment", "load_experiment", "recover_faults", "run_experiment"),
        "collect": ("LakeSink", "LakeWriter", "WriterStats", "run_collect", "targets_from_config"),
        "cost": (
            "CostReport",
            "cost_report",
            "export_focus",
            "read_runbook",
            "reconcile_bill",
            "report_json",
            "workspace_prices",
        ),
        "compare": ("RunComparison", "compare_runs"),
        "cost_plan": ("RunsRoi", "roi_of_periods", "roi_of_runs", "scenario"),
        "dashboard": ("PANELS", "Scope", "events_in", "filter_choices", "series_panel"),
        "dashboard_figures": ("cost_panel", "latency_panel", "overview", "slo_misses", "slo_panel"),
        "dashboard_histograms": ("histogram_latency_panel",),
        "demo": ("run_demo",),
        "drill": ("load_drill", "run_drill"),
        "gameday": ("load_gameday", "run_gameday"),
        "imports": ("ImportQuery", "import_prometheus", "plan_queries"),
        "incident": (
            "close_incident",
            "incident_state",
            "incidents",
            "open_incident",
            "resolve_incident",
            "update_incident",
        ),
        "incident_alerts": ("record_notification",),
        "incident_comms": ("post_update", "render_update"),
        "incident_figures": ("incident_figures", "incident_impact"),
        "load": (
            "LoadOptions",
            "LoadResult",
            "WorkloadSource",
            "describe_schedule",
            "draft_postmortem",
            "build_report",
            "parse_period",
            "run_load",
            "run_sweep",
        ),
        "metrics": ("MetricSummary", "as_json", "kpis", "list_metrics", "show_metric"),
        "postmortem": ("draft_postmortem",),
        "report": ("build_report", "parse_period"),
        "runbook": (
            "Written",
            "check_runbooks",
            "generate_runbooks",
            "list_runbooks",
            "read_runbook",
            "runbook_base",
            "update_evidence",
        ),
        "grafana_twin": ("TWIN_UID", "render_twin_json", "twin_dashboard"),
        "rule_files": ("RuleFiles", "rule_files"),
        "slo": ("slo_history", "slo_status", "slo_statuses"),
    },
)
