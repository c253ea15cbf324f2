"""The rows of the Grafana twin of `perfops dashboard`: panels and their PromQL.

Queries read what a team's Prometheus holds: dcgm-exporter's and vLLM's own metric names, and
the series ``perfops slo rules`` records (``slo:*`` per SLO, ``perfops:*`` for cost). Engine
panels select the chosen service with ``{${service:raw}}``: the ``service`` variable's value
is the service's series selector (see :mod:`perfops.app.grafana_twin`); GPU panels select
``{Hostname=~"$host",UUID=~"$gpu"}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import heatmap as heatmap_b
from grafana_foundation_sdk.builders import stat as stat_b
from grafana_foundation_sdk.builders import timeseries as ts_b
from grafana_foundation_sdk.models import common as common_m
from grafana_foundation_sdk.models import dashboard as dash_m

from perfops._internal.escape import grafana_promql_label_value
from perfops.config import SLO
from perfops.finops import (
    IDLE,
    RULE_ACTIVITY,
    RULE_BUSY,
    RULE_COST,
    RULE_GPUS,
    RULE_IDLE_COST,
    RULE_PER_1M_TOKENS,
    RULE_TOKENS,
)
from perfops.slo import HISTOGRAMS, budget_expr, burn_windows, panel_query, sli_expr, slo_selector

__all__ = [
    "SERVICE",
    "SERVICE_NAME",
    "cost_panels",
    "engine_panels",
    "gpu_panels",
    "overview_panels",
    "slo_panels",
]

Ds = dash_m.DataSourceRef
SERVICE = "${service:raw}"  # the chosen service's series matchers, as written
SERVICE_NAME = "${service:text}"  # its name, for the series perfops' rules label with it
_GPU = '{Hostname=~"$host",UUID=~"$gpu"}'
_GPU_LEGEND = "{{Hostname}} {{UUID}}"
_RATE = "$__rate_interval"
_SUCCESS = "vllm:request_success_total"
_GOOD = 'finished_reason=~"stop|length"'  # as the availability SLO counts a good request
# DCGM_FI_DEV_CLOCKS_EVENT_REASONS bits (nvml.h nvmlClocksEventReason*), those that slow a GPU
_THROTTLE = ((0x4, "SW power cap"), (0x8, "HW slowdown"), (0x20, "SW thermal"),
             (0x40, "HW thermal"), (0x80, "HW power brake"))  # fmt: skip


def _sel(*matchers: str) -> str:
    return "{" + ",".join(m for m in matchers if m) + "}"


def _engine(metric: str, *extra: str) -> str:
    return f"{metric}{_sel(SERVICE, *extra)}"


def _mine(metric: str) -> str:
    return f'{metric}{{service="{SERVICE_NAME}"}}'


def timeseries(
    title: str,
    queries: Sequence[tuple[str, str]],
    unit: str,
    ds: Ds,
    *,
    span: int = 8,
    thresholds: Sequence[float] = (),
) -> ts_b.Panel:
    """A time-series panel; ``thresholds`` are drawn as dashed lines."""
    panel = ts_b.Panel().title(title).datasource(ds).unit(unit).height(8).span(span)
    for i, (expr, legend) in enumerate(queries):
        panel = panel.with_target(panel_query(expr, legend, chr(ord("A") + i)))
    if thresholds:
        steps = [dash_m.Threshold(None, "green")]
        steps += [dash_m.Threshold(t, "red") for t in sorted(thresholds)]
        panel = panel.thresholds(
            dash_b.ThresholdsConfig().mode(dash_m.ThresholdsMode.ABSOLUTE).steps(steps)
        ).thresholds_style(
            common_b.GraphThresholdsStyleConfig().mode(common_m.GraphTresholdsStyleMode.DASHED)
        )
    return panel


def stat(title: str, expr: str, unit: str, ds: Ds, *, span: int = 3) -> stat_b.Panel:
    """A single number: the last value of ``expr``."""
    return (
        stat_b.Panel()
        .title(title)
        .datasource(ds)
        .unit(unit)
        .decimals(3)
        .height(4)
        .span(span)
        .graph_mode(common_m.BigValueGraphMode.AREA)
        .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]))
        .with_target(panel_query(expr, "", "A"))
    )


def _quantile(q: float, metric: str) -> str:
    name = HISTOGRAMS[metric][1]
    return f"histogram_quantile({q:g}, sum by (le) (rate({_engine(name + '_bucket')}[{_RATE}])))"


def _error_ratio() -> str:
    good = f"sum(rate({_engine(_SUCCESS, _GOOD)}[{_RATE}]))"
    return f"1 - {good} / sum(rate({_engine(_SUCCESS)}[{_RATE}]))"


def overview_panels(slos: Sequence[SLO], currency: str, ds: Ds) -> list[Any]:
    """Headline numbers of the chosen service, then each SLO's SLI and budget left."""
    money = f"currency{currency}"
    panels: list[Any] = [
        stat("Requests/s", f"sum(rate({_engine(_SUCCESS)}[{_RATE}]))", "reqps", ds),
        stat("Output tokens/s",
             f"sum(rate({_engine('vllm:generation_tokens_total')}[{_RATE}]))", "short", ds),
        stat("Error ratio", _error_ratio(), "percentunit", ds),
        stat("GPUs up", f"sum({_mine(RULE_GPUS)})", "short", ds),
        stat("TTFT p95", _quantile(0.95, "ttft"), "s", ds),
        stat("ITL p95", _quantile(0.95, "itl"), "s", ds),
        stat("E2E p95", _quantile(0.95, "e2e"), "s", ds),
        stat("Cost per hour", f"sum({_mine(RULE_COST)})", money, ds),
        stat("Cost per 1M tokens", f"sum({_mine(RULE_PER_1M_TOKENS)})", money, ds),
    ]  # fmt: skip
    for slo in slos:
        panels += [
            stat(f"{slo.name}: SLI (objective {slo.objective:g}%)", sli_expr(slo),
                 "percentunit", ds),
            stat(f"{slo.name}: budget left", budget_expr(slo), "percentunit", ds),
        ]  # fmt: skip
    return panels


def _gpu(metric: str) -> str:
    return f"max by (Hostname, UUID) ({metric}{_GPU})"


def _throttle() -> list[tuple[str, str]]:
    reasons = f"DCGM_FI_DEV_CLOCKS_EVENT_REASONS{_GPU}"
    return [(f"sum(floor({reasons} / {bit}) % 2)", name) for bit, name in _THROTTLE]


def gpu_panels(ds: Ds) -> list[Any]:
    """dcgm-exporter's counters per GPU, filtered by host and GPU."""
    sm = " or on (UUID) ".join(
        _gpu(m) for m in ("DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_PROF_SM_OCCUPANCY",
                          "DCGM_FI_PROF_GR_ENGINE_ACTIVE")
    )  # fmt: skip
    heat = (
        heatmap_b.Panel()
        .title("GPU utilisation, every GPU")
        .datasource(ds)
        .height(8)
        .span(16)
        .calculate(False)
        .with_target(panel_query(_gpu("DCGM_FI_DEV_GPU_UTIL"), _GPU_LEGEND, "A"))
    )
    return [
        timeseries("GPU utilisation", [(_gpu("DCGM_FI_DEV_GPU_UTIL"), _GPU_LEGEND)], "percent",
                   ds),
        timeseries("SM active (else SM occupancy, else GR engine active)", [(sm, _GPU_LEGEND)],
                   "percentunit", ds),
        timeseries("Tensor active", [(_gpu("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"), _GPU_LEGEND)],
                   "percentunit", ds),
        timeseries("DRAM active", [(_gpu("DCGM_FI_PROF_DRAM_ACTIVE"), _GPU_LEGEND)],
                   "percentunit", ds),
        timeseries("Power", [(_gpu("DCGM_FI_DEV_POWER_USAGE"), _GPU_LEGEND)], "watt", ds),
        timeseries("Temperature", [(_gpu("DCGM_FI_DEV_GPU_TEMP"), _GPU_LEGEND)], "celsius", ds),
        timeseries("Clocks", [(_gpu("DCGM_FI_DEV_SM_CLOCK"), "SM " + _GPU_LEGEND),
                              (_gpu("DCGM_FI_DEV_MEM_CLOCK"), "memory " + _GPU_LEGEND)],
                   "rotmhz", ds),
        timeseries("GPUs throttled, by reason", _throttle(), "short", ds),
        timeseries("Framebuffer used", [(_gpu("DCGM_FI_DEV_FB_USED"), _GPU_LEGEND)],
                   "decmbytes", ds),
        timeseries("XID errors (last XID, 0: none)",
                   [(f"{_gpu('DCGM_FI_DEV_XID_ERRORS')} != 0", _GPU_LEGEND)], "none", ds),
        heat,
    ]  # fmt: skip


def _latency(metric: str, title: str, ds: Ds) -> ts_b.Panel:
    queries = [(_quantile(q, metric), f"p{round(q * 100)}") for q in (0.5, 0.95, 0.99)]
    return timeseries(title, queries, "s", ds)


def engine_panels(ds: Ds) -> list[Any]:
    """vLLM's metrics of the chosen service."""
    hits = f"sum(rate({_engine('vllm:prefix_cache_hits_total')}[{_RATE}]))"
    queries = f"sum(rate({_engine('vllm:prefix_cache_queries_total')}[{_RATE}]))"
    return [
        timeseries("Requests running / waiting",
                   [(f"sum({_engine('vllm:num_requests_running')})", "running"),
                    (f"sum({_engine('vllm:num_requests_waiting')})", "waiting")], "short", ds),
        timeseries("KV cache usage", [(_engine("vllm:kv_cache_usage_perc"), "{{instance}}")],
                   "percentunit", ds),
        timeseries("Preemptions/s",
                   [(f"sum(rate({_engine('vllm:num_preemptions_total')}[{_RATE}]))", "")],
                   "short", ds),
        timeseries("Prefix-cache hit rate", [(f"{hits} / {queries}", "")], "percentunit", ds),
        timeseries("Tokens/s",
                   [(f"sum(rate({_engine('vllm:prompt_tokens_total')}[{_RATE}]))", "input"),
                    (f"sum(rate({_engine('vllm:generation_tokens_total')}[{_RATE}]))",
                     "output")], "short", ds),
        _latency("ttft", "TTFT p50 / p95 / p99", ds),
        _latency("itl", "ITL p50 / p95 / p99", ds),
        _latency("e2e", "E2E p50 / p95 / p99", ds),
    ]  # fmt: skip


def slo_panels(slo: SLO, alertnames: str, ds: Ds) -> list[Any]:
    """One SLO: SLI and budget left over time, burn rate per alert condition with its
    threshold drawn, and the state of its alerts (``alertnames``: a quoted, escaped regex of
    their names)."""
    sel = slo_selector(slo)
    budget = f"slo:error_budget:ratio{sel}"
    panels: list[Any] = [
        timeseries(f"{slo.name}: SLI", [(sli_expr(slo), "SLI")], "percentunit", ds),
        timeseries(f"{slo.name}: budget left", [(budget_expr(slo), "budget")], "percentunit", ds),
    ]
    for w in burn_windows(slo):
        burns = [(f"slo:sli_error:ratio_rate{win}{sel} / on(slo, service) {budget}", win)
                 for win in (w.long, w.short)]  # fmt: skip
        title = f"{slo.name}: burn rate, {w.severity} at {w.factor:g}x ({w.long} and {w.short})"
        panels.append(timeseries(title, burns, "none", ds, thresholds=[w.factor]))
    alerts = f"ALERTS{{alertname=~{alertnames},slo={grafana_promql_label_value(slo.name)}}}"
    states = [(f"max by (alertname, alertstate) ({alerts})", "{{alertname}} {{alertstate}}")]
    panels.append(timeseries(f"{slo.name}: alerts", states, "none", ds))
    return panels


def cost_panels(currency: str, ds: Ds) -> list[Any]:
    """The cost recording rules, by service and team, for the whole fleet."""
    money = f"currency{currency}"
    joules = f"sum(max by (UUID) (DCGM_FI_DEV_POWER_USAGE) and on (UUID) {_mine(RULE_ACTIVITY)})"
    return [
        timeseries("Cost per hour, by service",
                   [(f"sum by (service, currency) ({RULE_COST})", "{{service}} {{currency}}")],
                   money, ds, span=12),
        timeseries("Cost per hour, by team",
                   [(f'sum by (team, currency) ({RULE_COST}{{service!="{IDLE}"}})',
                     "{{team}} {{currency}}")], money, ds, span=12),
        timeseries("Idle cost per hour (unbusy GPU time; __idle__: GPUs no service holds)",
                   [(f"sum by (service) ({RULE_IDLE_COST})", "{{service}}")], money,
                   ds, span=12),
        timeseries("Cost per 1M tokens (input + output)",
                   [(f"sum by (service) ({RULE_PER_1M_TOKENS})", "{{service}}")],
                   money, ds, span=12),
        timeseries("GPUs and their activity",
                   [(f"sum by (service) ({RULE_GPUS})", "{{service}} GPUs"),
                    (f"sum by (service) ({RULE_BUSY})", "{{service}} busy")], "short", ds),
        timeseries("Tokens/s (input + output)",
                   [(f"sum by (service) ({RULE_TOKENS})", "{{service}}")], "short", ds),
        timeseries("Tokens per joule (chosen service)",
                   [(f"sum({_mine(RULE_TOKENS)}) / {joules}", "tokens/J")], "short", ds),
    ]  # fmt: skip
