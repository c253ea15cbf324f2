"""One lake for every dashboard test, filled by a short real run: `perfops sim` (in a thread),
`perfops collect` and `perfops chaos run` (a fault under load) as the user runs them, at once;
plus a series and an event whose text is hostile HTML."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests._servers import sim_fleet

from perfops.app import Runtime, open_runtime
from perfops.store import EventRecord, SeriesInfo

HOSTILE = "<img src=x onerror=alert(1)>"

EXPERIMENT = """apiVersion: perfops/v1
kind: Experiment
title: slow first tokens on the chat service
hypothesis:
  slos: [{slo: chat-ttft, max_burn_rate: 2}]
  max_error_ratio: 0.05
  baseline: 2s
  recovery: 2s
load: {service: chat, rate: 6, duration: 6s, prompt_tokens: 64, max_tokens: 8}
method:
  - {kind: sim.ttft_latency, params: {seconds: 0.6}, start: 1s, duration: 2s}
"""


def _config(fleet: object) -> str:
    url = fleet.url  # type: ignore[attr-defined]
    return f"""apiVersion: perfops/v1
workspace: {{name: dash-test}}
services:
  - name: chat
    endpoint: {url()}
    model: llama-3.1-8b
    team: assistant
    gpu: {{type: H100-SXM, count: 2}}
    metrics: [{url("replica-0-metrics")}, {url("replica-1-metrics")}]
  - name: batch
    endpoint: http://127.0.0.1:9/v1
    model: mistral-7b
    team: offline
    gpu: {{type: H100-SXM, count: 1}}
telemetry:
  interval: 1s
  targets:
    - {{name: dcgm, kind: dcgm, url: '{url("dcgm-metrics")}', service: chat}}
slos:
  - name: chat-ttft
    service: chat
    sli: {{kind: latency, metric: ttft, threshold: 250ms, source: requests}}
    objective: 95
  - name: chat-availability
    service: chat
    sli: {{kind: availability}}
    objective: 99
pricing:
  gpus: [{{gpu: H100-SXM, hourly: 3.00, purchase: on_demand}}]
"""


@dataclass
class Lake:
    workspace: Path
    rt: Runtime
    fault_ms: tuple[int, int]
    hostile: str = HOSTILE


def _perfops(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "perfops", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _fill(workspace: Path) -> None:
    """Run the sim, `perfops collect` and `perfops chaos run` at once into ``workspace``, then
    add a series and an event whose text is hostile HTML."""
    workspace.mkdir(parents=True, exist_ok=True)
    with sim_fleet(replicas=2) as fleet:
        (workspace / "perfops.yaml").write_text(_config(fleet))
        (workspace / "exp.yaml").write_text(EXPERIMENT)
        collect = _perfops("collect", "--duration", "16s", "--json", cwd=workspace)
        chaos = _perfops("chaos", "run", "exp.yaml", cwd=workspace)
        out = chaos.communicate(timeout=120)[0]
        assert chaos.returncode in (0, 1), out
        out = collect.communicate(timeout=120)[0]
        assert collect.returncode == 0, out
    rt = open_runtime(workspace / "perfops.yaml")
    now_ms = rt.clock.now_ns() // 1_000_000
    labels = {"gpu": "9", "hostname": HOSTILE, "service": HOSTILE}
    hostile = SeriesInfo("gpu.util", labels, "test", "DCGM_FI_DEV_GPU_UTIL")
    rt.store.timeseries.append_points([(hostile, now_ms - 5_000, 42.0)])
    rt.store.journal.append_events([EventRecord(rt.clock.now_ns(), "annotation", HOSTILE)])


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The lake, filled once per run: by the first pytest-xdist worker that asks, the others
    waiting on a lock file and then reading the same lake."""
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent
    workspace = root / "dashboard-lake"
    with (root / "dashboard-lake.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (workspace / "filled").exists():
            _fill(workspace)
            (workspace / "filled").write_text("")
    rt = open_runtime(workspace / "perfops.yaml")
    events = rt.store.journal.events()
    injected = next(e.ts_ns for e in events if e.kind == "fault_injected")
    reverted = next(e.ts_ns for e in events if e.kind == "fault_reverted")
    return Lake(workspace, rt, (injected // 1_000_000, reverted // 1_000_000))
