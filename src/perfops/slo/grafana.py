"""A Grafana dashboard per service, built with grafana-foundation-sdk.

Three rows: the service's SLOs (read from the recording rules of :mod:`perfops.slo.rules`,
``slo:sli_error:ratio_rate<w>`` and ``slo:error_budget:ratio`` with labels ``slo`` and
``service``), the engine (vLLM's own metric names, selected by the service's series selector,
as the rules and ``perfops slo status`` select them) and the GPUs
(DCGM exporter names, filtered by a ``$hostname`` template variable).

Error budget remaining averages ``slo:sli_error:ratio_rate5m`` over the SLO window and divides
by the budget; the rules record no window-long series, so this is a per-interval (not
per-request) average, close enough for a dashboard and exact when traffic is steady.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import prometheus as prom_b
from grafana_foundation_sdk.builders import stat as stat_b
from grafana_foundation_sdk.builders import timeseries as ts_b
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_m
from grafana_foundation_sdk.models import dashboard as dash_m

from perfops._internal.durations import format_duration, parse_duration
from perfops._internal.escape import (
    grafana_promql_label_value,
    grafana_promql_selector,
    promql_label_name,
)
from perfops.config.models import SLO, Service
from perfops.config.selector import Selector
from perfops.slo.rules import burn_windows, period_s

__all__ = [
    "budget_expr",
    "dashboard",
    "dashboard_uid",
    "grafana_selector",
    "panel_query",
    "render_dashboard_json",
    "sli_expr",
    "slo_selector",
]


def dashboard_uid(service: Service) -> str:
    """The stable dashboard uid, ``perfops-<service>`` (Grafana allows at most 40 chars)."""
    return f"perfops-{service.name}"[:40]


def panel_query(expr: str, legend: str, ref: str, instant: bool = False) -> prom_b.Dataquery:
    """One Prometheus query of a panel."""
    query = prom_b.Dataquery().expr(expr).legend_format(legend).ref_id(ref)
    return query.instant() if instant else query.range()


def _stat(title: str, expr: str, unit: str, ds: dash_m.DataSourceRef) -> stat_b.Panel:
    return (
        stat_b.Panel()
        .title(title)
        .datasource(ds)
        .unit(unit)
        .decimals(3)
        .height(6)
        .span(6)
        .graph_mode(common_m.BigValueGraphMode.NONE)
        .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]))
        .with_target(panel_query(expr, "{{slo}}", "A", instant=True))
    )


def _timeseries(
    title: str,
    queries: Sequence[tuple[str, str]],
    unit: str,
    ds: dash_m.DataSourceRef,
    span: int = 12,
) -> ts_b.Panel:
    panel = ts_b.Panel().title(title).datasource(ds).unit(unit).height(8).span(span)
    for i, (expr, legend) in enumerate(queries):
        panel = panel.with_target(panel_query(expr, legend, chr(ord("A") + i)))
    return panel


def _period(slo: SLO) -> str:
    return format_duration(period_s(slo))


def slo_selector(slo: SLO) -> str:
    """``{slo="...",service="..."}``: the labels every recorded series of ``slo`` carries."""
    return grafana_promql_selector({"slo": slo.name, "service": slo.service})


def _shortest(slo: SLO) -> str:
    return min((w.short for w in burn_windows(slo)), key=parse_duration)


def sli_expr(slo: SLO) -> str:
    """The SLO's SLI now, from its shortest recorded error ratio."""
    return f"1 - slo:sli_error:ratio_rate{_shortest(slo)}{slo_selector(slo)}"


def budget_expr(slo: SLO) -> str:
    """The error budget left over the SLO period (see the module docstring)."""
    sel = slo_selector(slo)
    return (
        f"1 - (avg_over_time(slo:sli_error:ratio_rate{_shortest(slo)}{sel}[{_period(slo)}])"
        f" / on(slo, service) slo:error_budget:ratio{sel})"
    )


def _slo_panels(slo: SLO, ds: dash_m.DataSourceRef) -> list[Any]:
    sel = slo_selector(slo)
    windows = burn_windows(slo)
    sli, budget = sli_expr(slo), budget_expr(slo)
    longs = [w.long for w in windows]
    burns = [
        (f"slo:sli_error:ratio_rate{w}{sel} / on(slo, service) slo:error_budget:ratio{sel}", w)
        for w in dict.fromkeys(longs)
    ]
    name = slo.name
    return [
        _stat(f"{name}: SLI (objective {slo.objective:g}%)", sli, "percentunit", ds),
        _stat(f"{name}: error budget remaining ({_period(slo)})", budget, "percentunit", ds),
        _timeseries(f"{name}: SLI", [(sli, "{{slo}}")], "percentunit", ds, span=12),
        _timeseries(f"{name}: burn rate", burns, "none", ds, span=24),
    ]


def grafana_selector(selector: Selector) -> str:
    """The service's series selector for a panel query: values escaped so Grafana reads no
    ``$variable`` in them (:func:`grafana_promql_label_value`)."""
    parts = (
        f"{promql_label_name(m.name)}{m.op}{grafana_promql_label_value(m.value)}"
        for m in selector.matchers
    )
    return "{" + ",".join(parts) + "}"


def _engine_panels(service: Service, ds: dash_m.DataSourceRef) -> list[Any]:
    sel = grafana_selector(service.series_selector)
    bucket_sel = f"{sel}[5m]"
    ttft = (
        "histogram_quantile(0.99, sum by (le) "
        f"(rate(vllm:time_to_first_token_seconds_bucket{bucket_sel})))"
    )
    return [
        _timeseries(
            "Requests running / waiting",
            [
                (f"sum(vllm:num_requests_running{sel})", "running"),
                (f"sum(vllm:num_requests_waiting{sel})", "waiting"),
            ],
            "short",
            ds,
        ),
        _timeseries(
            "KV cache usage",
            [(f"vllm:kv_cache_usage_perc{sel}", "{{instance}}")],
            "percentunit",
            ds,
        ),
        _timeseries("TTFT p99", [(ttft, "p99")], "s", ds),
    ]


def _gpu_panels(ds: dash_m.DataSourceRef) -> list[Any]:
    sel = '{Hostname=~"$hostname"}'
    legend = "{{Hostname}} gpu {{gpu}}"
    return [
        _timeseries("GPU utilization", [(f"DCGM_FI_DEV_GPU_UTIL{sel}", legend)], "percent", ds),
        _timeseries("SM active", [(f"DCGM_FI_PROF_SM_ACTIVE{sel}", legend)], "percentunit", ds),
        _timeseries("Power", [(f"DCGM_FI_DEV_POWER_USAGE{sel}", legend)], "watt", ds),
        _timeseries("Framebuffer used", [(f"DCGM_FI_DEV_FB_USED{sel}", legend)], "decmbytes", ds),
    ]


def _build(service: Service, slos: Sequence[SLO], datasource_uid: str) -> dash_m.Dashboard:
    ds = dash_m.DataSourceRef(type_val="prometheus", uid=datasource_uid)
    builder = (
        dash_b.Dashboard(f"perfops: {service.name}")
        .uid(dashboard_uid(service))
        .tags(["perfops", "slo", service.engine])
        .refresh("30s")
        .time("now-6h", "now")
        .tooltip(dash_m.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            dash_b.DatasourceVariable("datasource").label("Data source").type("prometheus")
        )
        .with_variable(
            dash_b.QueryVariable("hostname")
            .label("Host")
            .datasource(ds)
            .query("label_values(DCGM_FI_DEV_GPU_UTIL, Hostname)")
            .refresh(dash_m.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )
    )
    builder = builder.with_row(dash_b.Row("SLOs"))
    for slo in slos:
        if slo.service != service.name:
            continue
        for panel in _slo_panels(slo, ds):
            builder = builder.with_panel(panel)
    builder = builder.with_row(dash_b.Row(f"Engine ({service.engine})"))
    for panel in _engine_panels(service, ds):
        builder = builder.with_panel(panel)
    builder = builder.with_row(dash_b.Row("GPU"))
    for panel in _gpu_panels(ds):
        builder = builder.with_panel(panel)
    return builder.build()


def dashboard(
    service: Service, slos: Sequence[SLO], *, datasource_uid: str = "${datasource}"
) -> dict[str, Any]:
    """The Grafana dashboard JSON (as a dict) for ``service`` and those ``slos`` it owns."""
    data: dict[str, Any] = json.loads(
        render_dashboard_json(service, slos, datasource_uid=datasource_uid)
    )
    return data


def render_dashboard_json(
    service: Service, slos: Sequence[SLO], *, datasource_uid: str = "${datasource}"
) -> str:
    """:func:`dashboard` as indented JSON text, ready for Grafana's import or provisioning."""
    built = _build(service, slos, datasource_uid)
    return json.dumps(built, cls=JSONEncoder, indent=2, sort_keys=True, allow_nan=False) + "\n"
