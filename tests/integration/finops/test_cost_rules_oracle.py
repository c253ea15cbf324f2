"""Oracle: the cost recording rules, evaluated by a real Prometheus scraping a sim fleet, agree
with `perfops cost report` over the lake `perfops collect` filled from the same fleet, for the
same GPUs over the same span.

Tolerance: one cent plus 0.5%. Both sides see the two GPUs throughout a window that lies
inside both the collection and the scraping (the report counts a GPU present from its first
to its last sample, clipped to the window; the rules count it at every evaluation while its
series is fresh), so they agree exactly but for the report's rounding to the cent and a rule
evaluation that Prometheus, on a busy machine, runs a little late or skips (the mean $/h of
the evaluations is what is compared, so a skipped one does not count as a missing GPU).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
from tests._servers import get, prometheus, sim_fleet

from perfops.app import cost_report, open_runtime, rule_files
from perfops.finops import RULE_COST, RULE_GPUS

HOURLY = 3600  # a dollar per GPU-second, so the span's cost is dollars, not fractions of a cent


def _config(fleet: object) -> str:
    url = fleet.url  # type: ignore[attr-defined]
    return f"""apiVersion: perfops/v1
services:
  - name: chat
    endpoint: {url()}
    model: llama-3.1-8b
    team: assistant
    gpu: {{type: H100-SXM, count: 2}}
    metrics: [{url("replica-0-metrics")}, {url("replica-1-metrics")}]
telemetry:
  interval: 1s
  targets:
    - {{name: dcgm, kind: dcgm, url: '{url("dcgm-metrics")}', service: chat}}
pricing:
  gpus: [{{gpu: H100-SXM, hourly: {HOURLY}, purchase: on_demand}}]
"""


def _at(prom_url: str, promql: str, at_s: float) -> float:
    q = urllib.parse.urlencode({"query": promql, "time": f"{at_s:.3f}"})
    data = json.loads(get(f"{prom_url}/api/v1/query?{q}"))
    assert data["status"] == "success", data
    (sample,) = data["data"]["result"]
    return float(sample["value"][1])


def test_the_rules_cost_what_the_cost_report_charges(tmp_path: Path) -> None:
    with sim_fleet(replicas=2) as fleet:
        (tmp_path / "perfops.yaml").write_text(_config(fleet))
        rt = open_runtime(tmp_path / "perfops.yaml")
        rules = tmp_path / "rules.yml"
        rules.write_text(rule_files(rt).rules)
        scrape = {"dcgm": fleet.url("dcgm-metrics"), "vllm": fleet.url("replica-0-metrics")}
        with prometheus(tmp_path, scrape, rule_files=(rules,)) as prom:
            prom.wait_for(f'{RULE_GPUS}{{service="chat"}} == 2', timeout=60)
            collect = subprocess.run(
                [sys.executable, "-m", "perfops", "collect", "--duration", "25s"],
                cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False,
            )  # fmt: skip
            ended = time.time()
            assert collect.returncode == 0, collect.stdout + collect.stderr
            start_s, end_s = ended - 17, ended - 5  # inside the 25 s both saw
            span = f"{round(end_s - start_s)}s"
            selector = f'{{service="chat"}}[{span}]'
            per_hour = _at(prom.url, f"avg_over_time({RULE_COST}{selector})", end_s)
            gpus = _at(prom.url, f"min_over_time({RULE_GPUS}{selector})", end_s)
    end_ms = int(end_s * 1000)
    start_ms = end_ms - int(span[:-1]) * 1000
    report = cost_report(open_runtime(tmp_path / "perfops.yaml"), start_ms, end_ms)
    (chat,) = [r for r in report.rows if r.group == "chat"]
    hours = (end_ms - start_ms) / 3_600_000
    assert gpus == 2
    assert chat.gpu_hours == pytest.approx(2 * hours, rel=1e-9)  # both GPUs, all the window
    rules_cost = per_hour * hours
    assert abs(float(chat.gpu_cost) - rules_cost) <= 0.01 + 0.005 * rules_cost, (
        chat.gpu_cost,
        rules_cost,
    )
