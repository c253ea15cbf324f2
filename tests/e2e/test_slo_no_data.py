"""`perfops slo status` never shows a silent green: an SLO whose series are not there is
`no data` (with the reason, and exit 1 under --check), and a broken SLO is reported in its
row, with its place in perfops.yaml, while the others are still shown."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.conftest import run_cli

from perfops.store import SeriesInfo, Store

CONFIG = """apiVersion: perfops/v1
services:
  - name: chat
    endpoint: http://127.0.0.1:9/v1
    model: llama-3.1-8b
    gpu: {type: H100-SXM}
  - name: code
    endpoint: http://127.0.0.1:9/v1
    model: qwen-coder
    gpu: {type: H100-SXM}
    selector: '{model_name="qwen-coder", job=~"vllm-.*"}'
slos:
  - name: chat-availability
    service: chat
    sli: {kind: availability}
    objective: 99.5
  - name: chat-ttft
    service: chat
    sli: {kind: latency, metric: ttft, threshold: 300ms}
    objective: 99
  - name: code-availability
    service: code
    sli: {kind: availability}
    objective: 99
"""

# vLLM's own labels, as Prometheus or a scrape stores them: no `service` label anywhere
VLLM = {"model_name": "llama-3.1-8b", "engine": "0", "job": "vllm", "instance": "10.0.0.7:8000"}
STEP_MS = 15_000


def _lake(path: Path) -> None:
    """An hour of chat's counters and TTFT histogram (buckets 0.25 and 0.5): 0.1% aborts."""
    store = Store(path / ".perfops" / "lake")
    now = time.time_ns() // 1_000_000
    points: list[tuple[SeriesInfo, int, float]] = []
    for i in range(240):
        ts = now - (240 - i) * STEP_MS
        for outcome, per_step in (("stop", 99.9), ("abort", 0.1)):
            info = SeriesInfo("llm.requests_total", {**VLLM, "outcome": outcome}, "vllm")
            points.append((info, ts, per_step * i))
        for le, per_step in (("0.25", 90.0), ("0.5", 99.0), ("+Inf", 100.0)):
            info = SeriesInfo("llm.ttft_seconds_bucket", {**VLLM, "le": le}, "vllm")
            points.append((info, ts, per_step * i))
        points.append((SeriesInfo("llm.ttft_seconds_count", VLLM, "vllm"), ts, 100.0 * i))
    store.timeseries.append_points(points)


def _status(cwd: Path, *args: str) -> tuple[int, dict[str, dict[str, object]], str]:
    result = run_cli("slo", "status", "--json", *args, cwd=cwd)
    return result.returncode, {s["name"]: s for s in json.loads(result.stdout)}, result.stderr


def test_an_slo_without_matching_series_is_no_data_never_a_full_budget(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(CONFIG.replace("300ms", "500ms"))
    _lake(tmp_path)
    code, status, _ = _status(tmp_path)
    assert code == 0  # nothing broken: --check is what makes no data fail
    chat = status["chat-availability"]
    assert chat["state"] == "ok"
    assert chat["selector"] == '{model_name="llama-3.1-8b"}'
    assert chat["sli_pct"] == pytest.approx(99.9)  # 0.1% aborts, found without a service label
    ttft = status["chat-ttft"]
    assert ttft["source"] == "histograms llm.ttft_seconds_bucket, llm.ttft_seconds_count"
    assert ttft["sli_pct"] is not None
    coder = status["code-availability"]
    assert coder["state"] == "no data"
    assert coder["budget"] is None
    assert coder["sli_pct"] is None
    assert coder["no_data"].startswith(
        'no series match {model_name="qwen-coder",job=~"vllm-.*"} (llm.requests_total has 2'
    )
    code, status, stderr = _status(tmp_path, "--check")
    assert code == 1
    assert "code-availability (no data)" in stderr
    table = run_cli("slo", "status", cwd=tmp_path)
    assert "no data: no series match" in table.stdout


def test_no_histograms_stored_is_no_data_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(CONFIG.replace("300ms", "500ms"))
    code, status, _ = _status(tmp_path, "--check")
    assert code == 1
    assert status["chat-ttft"]["no_data"] == ("latency SLI reads histograms: none stored for chat")
    assert status["chat-availability"]["state"] == "no data"


def test_one_broken_slo_does_not_hide_the_others(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(CONFIG)  # 300ms: not a stored bucket boundary
    _lake(tmp_path)
    code, status, stderr = _status(tmp_path)
    assert code == 1
    assert "1 of 3 SLOs could not be evaluated: chat-ttft" in stderr
    broken = status["chat-ttft"]
    line = CONFIG.splitlines().index("  - name: chat-ttft") + 3
    assert broken["state"] == "error"
    assert broken["error"].startswith(f"perfops.yaml:{line}:")
    assert "0.3s is not a bucket boundary" in broken["error"]
    assert "0.25s and 0.5s" in broken["error"]
    assert status["chat-availability"]["state"] == "ok"  # still evaluated
    table = run_cli("slo", "status", cwd=tmp_path)
    assert table.returncode == 1
    assert "chat-availability" in table.stdout
    assert f"error: perfops.yaml:{line}:" in table.stdout
