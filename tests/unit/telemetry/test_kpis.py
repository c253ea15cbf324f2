from __future__ import annotations

import math
from pathlib import Path

import pytest
from tests.integration.telemetry.test_collect import runtime

from perfops.app.metrics import kpis
from perfops.store import SeriesInfo
from perfops.telemetry.kpis import covered_seconds, increase
from perfops.telemetry.series import STALE_NAN


def test_increase_handles_resets_and_gaps() -> None:
    assert increase([10, 15, 30]) == 20
    assert increase([10, 15, 3, 8]) == 5 + 3 + 5  # a restart from zero counts what it reached
    assert increase([5, math.nan, 9, STALE_NAN, 12]) == 7
    assert increase([]) == 0


def test_covered_seconds_stops_at_gaps_and_staleness() -> None:
    ts = [0, 15_000, 30_000, 400_000, 415_000, 430_000]
    assert covered_seconds(ts, [1, 1, 1, 1, 1, 1], max_gap_s=300) == 60
    assert covered_seconds(ts, [1, 1, STALE_NAN, 1, 1, 1], max_gap_s=300) == 45


T0 = 1_764_288_000_000


def test_kpis_attribute_series_to_services_and_teams(tmp_path: Path) -> None:
    """Series belong to a service by its selectors (no `service` label): vLLM's model_name,
    and the GPUs its gpu_selector (in Prometheus' label names) or its labels name."""
    rt = runtime(
        tmp_path,
        """
services:
  - {name: chat, endpoint: "http://h:1/v1", model: m8b, team: web, gpu: {type: H100-SXM},
     gpu_selector: '{Hostname="node-1"}'}
  - name: batch
    endpoint: "http://h:2/v1"
    model: m70b
    team: data
    gpu: {type: H100-SXM, count: 2}
    labels: {hostname: node-2}
""",
    )
    points = []
    for i in range(61):  # ten minutes at 10 s
        ts = T0 + i * 10_000
        points += [
            (
                SeriesInfo("llm.requests_total", {"model_name": "m8b", "outcome": "stop"}),
                ts,
                2.0 * i,
            ),
            (SeriesInfo("llm.generation_tokens_total", {"model_name": "m8b"}), ts, 100.0 * i),
            (
                SeriesInfo(
                    "llm.generation_tokens_total", {"model_name": "m70b", "hostname": "node-2"}
                ),
                ts,
                50.0 * i,
            ),
            (
                SeriesInfo("gpu.energy_joules_total", {"hostname": "node-1", "gpu": "0"}),
                ts,
                300.0 * i,
            ),
            (SeriesInfo("gpu.util", {"hostname": "node-1", "gpu": "0"}), ts, 50.0),
            (SeriesInfo("gpu.util", {"hostname": "node-2", "gpu": "0"}), ts, 80.0),
            (SeriesInfo("gpu.util", {"hostname": "node-2", "gpu": "1"}), ts, 80.0),
            (SeriesInfo("gpu.util", {"hostname": "elsewhere", "gpu": "0"}), ts, 1.0),
        ]
    rt.store.timeseries.append_points(points)
    rows = {r.group: r for r in kpis(rt, T0, T0 + 600_001)}
    chat, batch = rows["chat"], rows["batch"]
    assert chat.requests == 120
    assert chat.requests_per_s == pytest.approx(120 / 600.001)
    assert chat.output_tokens == 6000
    assert chat.energy_joules == 18_000
    assert chat.output_tokens_per_joule == pytest.approx(6000 / 18_000)
    assert chat.gpu_hours == pytest.approx(600 / 3600)
    assert batch.output_tokens == 3000
    assert batch.gpu_hours == pytest.approx(2 * 600 / 3600)
    assert batch.output_tokens_per_joule is None  # no energy series for it
    assert rows["unattributed"].gpu_hours == pytest.approx(600 / 3600)
    teams = {r.group for r in kpis(rt, T0, T0 + 600_001, by="team")}
    assert teams == {"web", "data", "unattributed"}
