"""Every query of the Grafana twin is PromQL that the real promtool parses once Grafana has
put its variables in, and the service variable selects the series a hostile selector names."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from perfops._internal.escape import promql_selector, yaml_dump
from perfops.app.grafana_twin import service_options, twin_dashboard
from perfops.config import Config, parse_config

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")

HOSTILE = 'a,b : $__user [[x]] "q" \\ }'
PERFOPS_YAML = """
apiVersion: perfops/v1
services:
  - name: chat
    endpoint: http://127.0.0.1:8000/v1
    model: llama-3.1-8b
    gpu: {type: H100-SXM}
    gpu_selector: '{Hostname=~"gpu-.*"}'
  - name: code
    endpoint: http://127.0.0.1:8001/v1
    model: qwen
    gpu: {type: H200}
    selector: '{job=~"vllm-.*", model_name=HOSTILE}'
slos:
  - {name: chat-ttft, service: chat, objective: 99,
     sli: {kind: latency, metric: ttft, threshold: 500ms}}
  - {name: chat-gpus, service: chat, objective: 99.5, sli: {kind: gpu_health}}
  - {name: code-goodput, service: code, objective: 99,
     sli: {kind: goodput, thresholds: {ttft: 1s, e2e: 10s}}}
""".replace("HOSTILE", json.dumps(HOSTILE))


@pytest.fixture
def config() -> Config:
    return parse_config(PERFOPS_YAML)


def _options(config: Config) -> dict[str, str]:
    """The service variable's options as Grafana reads them: split on unescaped commas,
    ``\\,`` back to a comma, then ``text : value``."""
    out = {}
    for part in re.findall(r"(?:\\,|[^,])+", service_options(config)):
        match = re.fullmatch(r"\s*(.+)\s:\s(.+)", part.replace("\\,", ","))
        assert match is not None, part
        out[match.group(1).strip()] = match.group(2).strip()
    return out


def _interpolate(expr: str, service: str, value: str) -> str:
    """What Grafana sends Prometheus with ``service`` chosen and every host and GPU."""
    for var, text in (("${service:raw}", value), ("${service:text}", service),
                      ("$__rate_interval", "1m"), ("$host", ".*"), ("$gpu", ".*")):  # fmt: skip
        expr = expr.replace(var, text)
    assert not re.search(r"\$\{?\w|\[\[", expr), expr  # no variable left for Grafana
    return expr


def _exprs(config: Config) -> list[str]:
    built = twin_dashboard(config, "USD", datasource_uid="${datasource}")
    data: dict[str, Any] = json.loads(json.dumps(built, cls=JSONEncoder))
    exprs = [t["expr"] for p in data["panels"] for t in p.get("targets", [])]
    return exprs + [a["expr"] for a in data["annotations"]["list"]]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROMTOOL), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_every_panel_query_parses_for_every_service(tmp_path: Path, config: Config) -> None:
    exprs = _exprs(config)
    assert len(exprs) > 60
    rules = [
        {"record": f"twin:query_{i}:{service}", "expr": _interpolate(e, service, value)}
        for service, value in _options(config).items()
        for i, e in enumerate(exprs)
    ]
    path = tmp_path / "twin.yml"
    path.write_text(yaml_dump({"groups": [{"name": "twin", "rules": rules}]}))
    result = _run("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_a_typo_in_a_query_is_caught(tmp_path: Path, config: Config) -> None:
    broken = _exprs(config)[0].replace("sum(rate(", "sum(rate((", 1)
    path = tmp_path / "twin.yml"
    rule = {"record": "twin:broken", "expr": _interpolate(broken, "chat", 'x="y"')}
    path.write_text(yaml_dump({"groups": [{"name": "twin", "rules": [rule]}]}))
    assert _run("check", "rules", str(path)).returncode != 0


def test_the_service_variable_selects_the_hostile_services_series(
    tmp_path: Path, config: Config
) -> None:
    """The engine panels' selector for `code`, after Grafana, matches the series whose
    model_name is the hostile text, and not a look-alike."""
    running = next(e for e in _exprs(config) if e.startswith("sum(vllm:num_requests_running"))
    expr = _interpolate(running, "code", _options(config)["code"])
    series = [
        {"series": "vllm:num_requests_running" + promql_selector({"job": "vllm-1",
         "model_name": HOSTILE}), "values": "3x10"},
        {"series": "vllm:num_requests_running" + promql_selector({"job": "vllm-2",
         "model_name": HOSTILE.replace("\\", "")}), "values": "5x10"},
    ]  # fmt: skip
    test = {"interval": "1m", "input_series": series,
            "promql_expr_test": [{"expr": expr, "eval_time": "5m",
                                  "exp_samples": [{"labels": "{}", "value": 3}]}]}  # fmt: skip
    (tmp_path / "empty.yml").write_text("groups: []\n")
    path = tmp_path / "test.yml"
    path.write_text(yaml_dump({"rule_files": ["empty.yml"], "tests": [test]}))
    result = _run("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
