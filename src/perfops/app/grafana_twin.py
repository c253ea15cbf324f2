"""The Grafana twin of `perfops dashboard`: the same composite page as one Grafana dashboard
over a team's Prometheus (`perfops dashboard --grafana-out DIR`).

Rows as the web page: Overview, GPU, Engine, SLOs, Cost. It reads dcgm-exporter's and vLLM's
metric names and what `perfops slo rules` records: ``slo:*`` per SLO and ``perfops:*`` for
cost (:mod:`perfops.finops.cost_rules`), so those rules must be loaded too.

Template variables: ``datasource``; ``service``, a custom variable whose options are the
services of perfops.yaml, each ``name : matchers`` (the service's series selector without its
braces), which engine panels splice in with ``${service:raw}`` (no escaping by Grafana, so the
selector reaches Prometheus as written) and cost panels read by name with ``${service:text}``;
``host`` (``label_values(DCGM_FI_DEV_GPU_UTIL, Hostname)``) and ``gpu`` (its ``UUID``s).
Inside the selector every label value is a PromQL string escaped for Grafana
(:func:`~perfops._internal.escape.grafana_promql_label_value`), and commas and colons in it are
written ``\\x2c`` and ``\\x3a``, so a value can neither name a variable nor split Grafana's
``a : b, c : d`` option list. Annotations: the perfops SLO alerts while they fire.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dash_m

from perfops._internal.escape import grafana_promql_label_value, promql_label_name
from perfops.app._grafana_panels import (
    cost_panels,
    engine_panels,
    gpu_panels,
    overview_panels,
    slo_panels,
)
from perfops.app.runtime import Runtime
from perfops.config import SLO, Config, Selector
from perfops.slo import alert_prefix, burn_windows

__all__ = ["TWIN_UID", "render_twin_json", "service_options", "twin_dashboard"]

TWIN_UID = "perfops-twin"


def _option_value(selector: Selector) -> str:
    """The matchers of ``selector`` as a custom-variable value: Grafana-escaped PromQL
    strings, commas and colons in them hex-escaped, matchers joined by an escaped comma."""
    parts = []
    for m in selector.matchers:
        value = grafana_promql_label_value(m.value).replace(",", "\\x2c").replace(":", "\\x3a")
        parts.append(f"{promql_label_name(m.name)}{m.op}{value}")
    return "\\,".join(parts)


def service_options(config: Config) -> str:
    """The ``service`` variable's options, ``name : matchers`` each, comma-separated."""
    return ",".join(f"{s.name} : {_option_value(s.series_selector)}" for s in config.services)


def _alertnames(slos: Sequence[SLO]) -> str:
    """A quoted regex matching exactly the perfops SLO alert names
    (``<Prefix><Severity>BurnRate``, as :func:`perfops.slo.generate_rules` names them)."""
    names = sorted(
        {
            f"{alert_prefix(s.name)}{w.severity.capitalize()}BurnRate"
            for s in slos
            for w in burn_windows(s)
        }
    )
    return grafana_promql_label_value("|".join(re.escape(n) for n in names) or "NoSloAlert")


def _variables(builder: dash_b.Dashboard, config: Config, ds: dash_m.DataSourceRef) -> Any:
    first = config.services[0].name if config.services else ""
    builder = builder.with_variable(
        dash_b.DatasourceVariable("datasource").label("Data source").type("prometheus")
    ).with_variable(
        dash_b.CustomVariable("service")
        .label("Service")
        .values(service_options(config))
        .current(dash_m.VariableOption(text=first, value=_first_value(config)))
    )
    for name, query in (
        ("host", "label_values(DCGM_FI_DEV_GPU_UTIL, Hostname)"),
        ("gpu", 'label_values(DCGM_FI_DEV_GPU_UTIL{Hostname=~"$host"}, UUID)'),
    ):
        builder = builder.with_variable(
            dash_b.QueryVariable(name)
            .label(name.upper() if name == "gpu" else "Host")
            .datasource(ds)
            .query(query)
            .refresh(dash_m.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .multi(True)
            .include_all(True)
            .all_value(".*")
        )
    return builder


def _first_value(config: Config) -> str:
    return _option_value(config.services[0].series_selector) if config.services else ""


def _with_rows(builder: Any, rows: Sequence[tuple[str, Sequence[Any]]]) -> Any:
    for title, panels in rows:
        builder = builder.with_row(dash_b.Row(title))
        for panel in panels:
            builder = builder.with_panel(panel)
    return builder


def twin_dashboard(config: Config, currency: str, *, datasource_uid: str) -> dash_m.Dashboard:
    """The composite dashboard of ``config``'s services and SLOs (money in ``currency``)."""
    ds = dash_m.DataSourceRef(type_val="prometheus", uid=datasource_uid)
    slos = list(config.slos)
    alerts = _alertnames(slos)
    builder = (
        dash_b.Dashboard("perfops: GPU, engine, SLOs and cost")
        .uid(TWIN_UID)
        .tags(["perfops"])
        .refresh("30s")
        .time("now-6h", "now")
        .tooltip(dash_m.DashboardCursorSync.CROSSHAIR)
        .annotation(
            dash_b.AnnotationQuery()
            .name("perfops SLO alerts firing")
            .datasource(ds)
            .enable(True)
            .icon_color("red")
            .expr(f'ALERTS{{alertstate="firing",alertname=~{alerts}}}')
        )
    )
    builder = _variables(builder, config, ds)
    slo_rows = [p for slo in slos for p in slo_panels(slo, alerts, ds)]
    builder = _with_rows(
        builder,
        [
            ("Overview (service: ${service:text})", overview_panels(slos, currency, ds)),
            ("GPU", gpu_panels(ds)),
            ("Engine (service: ${service:text})", engine_panels(ds)),
            ("SLOs", slo_rows),
            ("Cost", cost_panels(currency, ds)),
        ],
    )
    built: dash_m.Dashboard = builder.build()
    return built


def render_twin_json(rt: Runtime, *, datasource_uid: str = "${datasource}") -> str:
    """:func:`twin_dashboard` of the workspace as indented JSON, for Grafana's import or
    provisioning; money in the workspace currency (``pricing.currency``)."""
    built = twin_dashboard(rt.config, rt.config.pricing.currency, datasource_uid=datasource_uid)
    return json.dumps(built, cls=JSONEncoder, indent=2, sort_keys=True, allow_nan=False) + "\n"
