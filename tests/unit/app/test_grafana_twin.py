"""The Grafana twin of the dashboard: its rows, panels, variables and annotations, what the
SDK reads back, and a hostile selector that stays a label value."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from perfops.app.grafana_twin import TWIN_UID, service_options, twin_dashboard
from perfops.config import Config, parse_config
from perfops.finops import RULE_COST, RULE_IDLE_COST, RULE_PER_1M_TOKENS

HOSTILE = 'a,b : $__user [[x]] "q" \\ ${service:raw}'
PERFOPS_YAML = """
apiVersion: perfops/v1
services:
  - name: chat
    endpoint: http://127.0.0.1:8000/v1
    model: llama-3.1-8b
    gpu: {type: H100-SXM}
  - name: code
    endpoint: http://127.0.0.1:8001/v1
    model: qwen
    gpu: {type: H200}
    selector: '{job=~"vllm-.*", model_name=HOSTILE}'
slos:
  - name: chat-ttft
    service: chat
    sli: {kind: latency, metric: ttft, threshold: 500ms}
    objective: 99
  - name: code-availability
    service: code
    sli: {kind: availability}
    objective: 99.9
pricing:
  currency: USD
""".replace("HOSTILE", json.dumps(HOSTILE))


@pytest.fixture
def config() -> Config:
    return parse_config(PERFOPS_YAML)


def _json(config: Config, currency: str = "USD") -> dict[str, Any]:
    built = twin_dashboard(config, currency, datasource_uid="${datasource}")
    data: dict[str, Any] = json.loads(json.dumps(built, cls=JSONEncoder))
    return data


def _rows(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    current: list[dict[str, Any]] = []
    for panel in data["panels"]:
        if panel["type"] == "row":
            current = rows.setdefault(panel["title"].split(" (")[0], [])
        else:
            current.append(panel)
    return rows


def _exprs(panels: list[dict[str, Any]]) -> list[str]:
    return [t["expr"] for p in panels for t in p.get("targets", [])]


def test_rows_are_the_web_pages_groups_in_its_order(config: Config) -> None:
    data = _json(config)
    assert data["uid"] == TWIN_UID
    assert list(_rows(data)) == ["Overview", "GPU", "Engine", "SLOs", "Cost"]


def test_overview_has_the_headline_numbers_and_each_slos_state(config: Config) -> None:
    overview = _rows(_json(config))["Overview"]
    titles = [p["title"] for p in overview]
    for wanted in ("Requests/s", "Output tokens/s", "Error ratio", "GPUs up", "TTFT p95",
                   "ITL p95", "E2E p95", "Cost per hour", "Cost per 1M tokens"):  # fmt: skip
        assert wanted in titles
    for slo in config.slos:
        assert f"{slo.name}: budget left" in titles
    exprs = _exprs(overview)
    assert any(RULE_COST in e and 'service="${service:text}"' in e for e in exprs)


def test_gpu_row_has_every_dcgm_panel_and_a_heatmap(config: Config) -> None:
    gpu = _rows(_json(config))["GPU"]
    exprs = " ".join(_exprs(gpu))
    metrics = (
        "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_DRAM_ACTIVE", "DCGM_FI_DEV_POWER_USAGE",
        "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_CLOCKS_EVENT_REASONS",
        "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_XID_ERRORS",
    )  # fmt: skip
    for metric in metrics:
        assert metric in exprs
    assert [p["type"] for p in gpu].count("heatmap") == 1
    assert all('{Hostname=~"$host",UUID=~"$gpu"}' in e for e in _exprs(gpu))
    assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in gpu)


def test_engine_latency_panels_show_three_quantiles_from_vllm_histograms(config: Config) -> None:
    engine = _rows(_json(config))["Engine"]
    ttft = next(p for p in engine if p["title"].startswith("TTFT"))
    quantiles = [re.match(r"histogram_quantile\(([\d.]+),", t["expr"]) for t in ttft["targets"]]
    assert [m.group(1) for m in quantiles if m] == ["0.5", "0.95", "0.99"]
    assert "vllm:time_to_first_token_seconds_bucket{${service:raw}}" in ttft["targets"][0]["expr"]


def test_each_burn_rate_panel_draws_its_alert_threshold(config: Config) -> None:
    from perfops.slo import burn_windows

    slos = _rows(_json(config))["SLOs"]
    for slo in config.slos:
        burns = [p for p in slos if p["title"].startswith(f"{slo.name}: burn rate")]
        windows = burn_windows(slo)
        assert len(burns) == len(windows)
        for panel, window in zip(burns, windows, strict=True):
            steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
            assert [s["value"] for s in steps] == [None, window.factor]
            assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
        assert any(p["title"] == f"{slo.name}: alerts" for p in slos)


def test_cost_row_reads_the_cost_rules_in_the_workspace_currency(config: Config) -> None:
    cost = _rows(_json(config, "EUR"))["Cost"]
    exprs = " ".join(_exprs(cost))
    for rule in (RULE_COST, RULE_IDLE_COST, RULE_PER_1M_TOKENS):
        assert rule in exprs
    assert "DCGM_FI_DEV_POWER_USAGE" in exprs  # tokens per joule
    assert {p["fieldConfig"]["defaults"]["unit"] for p in cost[:4]} == {"currencyEUR"}


def test_variables_and_the_alert_annotation(config: Config) -> None:
    data = _json(config)
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert list(variables) == ["datasource", "service", "host", "gpu"]
    assert variables["service"]["type"] == "custom"
    assert variables["service"]["current"]["text"] == "chat"
    assert variables["host"]["query"] == "label_values(DCGM_FI_DEV_GPU_UTIL, Hostname)"
    assert "UUID" in variables["gpu"]["query"]
    (annotation,) = data["annotations"]["list"]
    assert annotation["expr"].startswith('ALERTS{alertstate="firing",alertname=~"')
    assert "ChatTtftPageBurnRate" in annotation["expr"]
    assert "CodeAvailabilityTicketBurnRate" in annotation["expr"]


def test_a_hostile_selector_value_cannot_split_options_or_name_a_variable(config: Config) -> None:
    """Grafana splits custom options on unescaped commas and ` : `, and expands `$name` and
    `[[name]]` anywhere: the option value holds none of them raw."""
    options = service_options(config)
    parts = re.findall(r"(?:\\,|[^,])+", options)  # Grafana's own split
    assert len(parts) == 2
    name, value = re.fullmatch(r"\s*(.+)\s:\s(.+)", parts[1].replace("\\,", ",")).groups()  # type: ignore[union-attr]
    assert name == "code"
    assert "$" not in value
    assert "[" not in value
    assert "\\x24__user" in value
    assert value.startswith('job=~"vllm-.*",model_name="')


def test_round_trips_through_the_sdk_model(config: Config) -> None:
    """The JSON is what the SDK's Dashboard model reads and writes back, key for key."""
    data = _json(config)
    again = json.loads(json.dumps(Dashboard.from_json(data), cls=JSONEncoder))
    assert again == data
