from __future__ import annotations

import json
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from perfops.config.models import SLO, Service
from perfops.slo.grafana import dashboard, dashboard_uid, render_dashboard_json


def _service(name: str = "chat", **extra: Any) -> Service:
    return Service.model_validate(
        {
            "name": name,
            "endpoint": "http://host:8000/v1",
            "model": "meta-llama/Llama-3.1-8B-Instruct",
            "gpu": {"type": "H100-SXM"},
            **extra,
        }
    )


def _slos() -> list[SLO]:
    return [
        SLO.model_validate(
            {
                "name": "chat-ttft",
                "service": "chat",
                "sli": {"kind": "latency", "metric": "ttft", "threshold": "500ms"},
                "objective": 99.5,
            }
        ),
        SLO.model_validate(
            {
                "name": "chat-avail",
                "service": "chat",
                "sli": {"kind": "availability"},
                "objective": 99.9,
                "window": "month",
            }
        ),
        SLO.model_validate(
            {
                "name": "other-avail",
                "service": "other",
                "sli": {"kind": "availability"},
                "objective": 99.0,
            }
        ),
    ]


def _exprs(data: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in data["panels"] for t in p.get("targets", [])]


def _titles(data: dict[str, Any]) -> list[str]:
    return [p["title"] for p in data["panels"]]


def test_dashboard_metadata() -> None:
    data = dashboard(_service(), _slos())
    assert data["uid"] == "perfops-chat" == dashboard_uid(_service())
    assert data["title"] == "perfops: chat"
    assert data["refresh"] == "30s"
    assert data["time"] == {"from": "now-6h", "to": "now"}
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["hostname"]["type"] == "query"
    assert "DCGM_FI_DEV_GPU_UTIL" in variables["hostname"]["query"]


def test_uid_is_stable_and_rendering_deterministic() -> None:
    first = render_dashboard_json(_service(), _slos())
    assert first == render_dashboard_json(_service(), _slos())
    assert json.loads(first) == dashboard(_service(), _slos())
    assert dashboard(_service("batch"), [])["uid"] == "perfops-batch"
    assert len(dashboard_uid(_service("x" * 64))) <= 40


def test_rows_group_slo_engine_and_gpu_panels() -> None:
    data = dashboard(_service(), _slos())
    rows = [p["title"] for p in data["panels"] if p["type"] == "row"]
    assert rows == ["SLOs", "Engine (vllm)", "GPU"]
    titles = _titles(data)
    for slo in ("chat-ttft", "chat-avail"):
        assert f"{slo}: SLI" in titles
        assert f"{slo}: burn rate" in titles
        assert any(t.startswith(f"{slo}: error budget remaining") for t in titles)
    assert "chat-avail: error budget remaining (30d)" in titles
    assert "chat-ttft: error budget remaining (28d)" in titles
    assert not any(t.startswith("other-avail") for t in titles)
    for title in ("Requests running / waiting", "KV cache usage", "TTFT p99", "GPU utilization",
                  "SM active", "Power", "Framebuffer used"):  # fmt: skip
        assert title in titles
    # 3 rows + 4 panels per SLO + 3 engine + 4 GPU
    assert len(data["panels"]) == 3 + 4 * 2 + 3 + 4
    kinds = {p["title"]: p["type"] for p in data["panels"]}
    assert kinds["chat-ttft: SLI (objective 99.5%)"] == "stat"
    assert kinds["chat-ttft: SLI"] == "timeseries"


def test_slo_queries_use_the_recording_rules() -> None:
    exprs = _exprs(dashboard(_service(), _slos()))
    sel = '{slo="chat-ttft",service="chat"}'
    assert f"1 - slo:sli_error:ratio_rate5m{sel}" in exprs
    assert (
        f"1 - (avg_over_time(slo:sli_error:ratio_rate5m{sel}[28d])"
        f" / on(slo, service) slo:error_budget:ratio{sel})"
    ) in exprs
    for window in ("1h", "6h", "1d", "3d"):
        assert (
            f"slo:sli_error:ratio_rate{window}{sel} / on(slo, service) slo:error_budget:ratio{sel}"
        ) in exprs


def test_engine_and_gpu_queries() -> None:
    exprs = _exprs(dashboard(_service(), _slos()))
    model = 'model_name="meta-llama/Llama-3.1-8B-Instruct"'
    assert f"sum(vllm:num_requests_running{{{model}}})" in exprs
    assert f"sum(vllm:num_requests_waiting{{{model}}})" in exprs
    assert f"vllm:kv_cache_usage_perc{{{model}}}" in exprs
    assert (
        "histogram_quantile(0.99, sum by (le) "
        f"(rate(vllm:time_to_first_token_seconds_bucket{{{model}}}[5m])))"
    ) in exprs
    for metric in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_DEV_POWER_USAGE",
                   "DCGM_FI_DEV_FB_USED"):  # fmt: skip
        assert f'{metric}{{Hostname=~"$hostname"}}' in exprs


def test_model_name_label_override() -> None:
    svc = _service(labels={"model_name": "llama-8b"})
    assert 'vllm:kv_cache_usage_perc{model_name="llama-8b"}' in _exprs(dashboard(svc, []))


@pytest.mark.parametrize("uid", ["${datasource}", "prom-main"])
def test_datasource_uid_on_every_panel(uid: str) -> None:
    data = dashboard(_service(), _slos(), datasource_uid=uid)
    for panel in data["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": uid}


def test_round_trips_through_the_sdk_models() -> None:
    text = render_dashboard_json(_service(), _slos())
    original = json.loads(text)
    model = Dashboard.from_json(original)
    again = json.loads(json.dumps(model, cls=JSONEncoder))
    for key in ("uid", "title", "refresh", "time", "tags"):
        assert again[key] == original[key]
    assert len(again["panels"]) == len(original["panels"])
    assert _titles(again) == _titles(original)
    assert _exprs(again) == _exprs(original)
    assert again["templating"] == original["templating"]
