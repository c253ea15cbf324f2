"""`perfops collect`, `perfops collect import` and `perfops metrics` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import openai
from tests._servers import sim_fleet, sim_service_yaml
from tests.conftest import run_cli


def test_collect_then_browse(tmp_path: Path) -> None:
    with sim_fleet(replicas=1, dcgm_interval=0.1) as fleet:
        (tmp_path / "perfops.yaml").write_text(
            sim_service_yaml(
                fleet,
                extra=f"""telemetry:
  interval: 0.5s
  targets:
    - {{name: dcgm, kind: dcgm, url: "{fleet.url("dcgm-metrics")}", service: chat}}
    - {{name: ghost, kind: prometheus, url: "http://127.0.0.1:9/metrics"}}
""",
            )
        )
        client = openai.OpenAI(base_url=fleet.url(), api_key="sim")
        for i in range(4):
            client.completions.create(model="llama-3.1-8b", prompt=f"q{i}", max_tokens=16)
        result = run_cli("collect", "--duration", "2s", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    health = json.loads(result.stdout)["targets"]
    writer = json.loads(result.stdout)["writer"]  # what reached the lake, what was dropped
    assert writer["samples"] > 0
    assert (writer["dropped_batches"], writer["queued_samples"], writer["error"]) == (0, 0, None)
    assert health["dcgm"]["up"] is True
    assert health["chat-vllm"]["samples"] > 0
    assert health["ghost"]["up"] is False
    assert "connection failed" in health["ghost"]["last_error"]

    listed = json.loads(run_cli("metrics", "ls", "--json", cwd=tmp_path).stdout)
    names = {m["metric"] for m in listed}
    assert {"gpu.util", "gpu.power_watts", "llm.ttft_seconds_bucket", "up"} <= names
    util = next(m for m in listed if m["metric"] == "gpu.util")
    assert util["raw_names"] == ["DCGM_FI_DEV_GPU_UTIL"]

    shown = run_cli(
        "metrics", "show", "gpu.power_watts", "--labels", 'gpu="0"', "--json", cwd=tmp_path
    )
    assert shown.returncode == 0, shown.stderr
    series = json.loads(shown.stdout)["series"]
    assert len(series) == 1
    assert series[0]["labels"]["service"] == "chat"
    assert series[0]["last"] > 50  # watts: at least the idle power of an H100

    table = run_cli("metrics", "show", "gpu.power_watts", cwd=tmp_path)
    assert "gpu.power_watts since 1h" in table.stdout

    kpis = json.loads(run_cli("metrics", "kpis", "--since", "10m", "--json", cwd=tmp_path).stdout)
    chat = next(r for r in kpis if r["group"] == "chat")
    assert chat["gpu_hours"] > 0

    missing = run_cli("metrics", "show", "gpu.nothing", cwd=tmp_path)
    assert missing.returncode == 2
    assert "metrics ls" in missing.stderr
    bad = run_cli("metrics", "show", "gpu.util", "--labels", "gpu=0", cwd=tmp_path)
    assert bad.returncode == 2
    assert "bad label matcher" in bad.stderr


def test_collect_without_targets_says_what_to_add(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text("apiVersion: perfops/v1\n")
    result = run_cli("collect", "--duration", "1s", cwd=tmp_path)
    assert result.returncode == 2
    assert "add telemetry.targets" in result.stderr


def test_import_with_a_bad_time_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text("apiVersion: perfops/v1\n")
    result = run_cli(
        "collect",
        "import",
        "--prometheus",
        "http://127.0.0.1:9",
        "--query",
        "up",
        "--start",
        "last tuesday",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "cannot read the time 'last tuesday'" in result.stderr
