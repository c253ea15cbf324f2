"""The exported experiment against the real Chaos Toolkit (PyPI chaostoolkit 1.21.4 with
chaostoolkit-lib 1.45.1), installed by `scripts/ensure-chaostoolkit` in its own Python 3.12 venv
(`.venv-ctk/`; chaostoolkit-lib needs Python >= 3.12). The tests skip only when the machine has
no Python 3.12.

`chaos validate` accepts the export; `chaos run` against a real `perfops sim` fleet behind a
real fault proxy (`perfops chaos proxy`) injects the sim fault and the proxy's toxic at their
offsets, reverts them at their ends, plays the rollbacks, and leaves nothing in force; a second
run of the same file works too (each run draws its own fault-id prefix).
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests._servers import FleetThread, sim_fleet
from tests.conftest import REPO

from perfops.chaos import ProxyThread, running_proxy
from perfops.chaos.ctk import journal_to_chaostoolkit, to_chaostoolkit
from perfops.config.experiment import Experiment

ENSURE = REPO / "scripts" / "ensure-chaostoolkit"
NO_PYTHON_312 = 3  # the script's exit code when no Python 3.12 interpreter exists

pytestmark = pytest.mark.timeout(900)  # the first install downloads from PyPI

SPEC = """
title: slow prefill on the chat fleet
description: a TTFT fault of 300 ms for 2 s, half a second into a 3 s window
tags: [ttft, sim]
hypothesis:
  slos: [{slo: chat-ttft}]
  min_goodput: 0.9
  probes:
    - {kind: http, name: fleet health, url: "HEALTH", expect_status: [200]}
load: {service: chat, rate: 2, duration: 3s}
method:
  - {name: slow prefill, kind: sim.ttft_latency, params: {seconds: 0.3}, start: 0.5s,
     duration: 2s}
  - {kind: proxy.latency, params: {api: "API", proxy: llm, latency: 50}, start: 0s,
     duration: 1s}
  - {kind: process.stop, start: 0s, duration: 1s}
"""


@pytest.fixture(scope="module")
def chaos() -> Path:
    """The `chaos` executable (installed on first use: seconds from PyPI, then instant)."""
    run = subprocess.run([ENSURE], capture_output=True, text=True, timeout=900, check=False)
    if run.returncode == NO_PYTHON_312:
        pytest.skip(run.stderr.strip())
    assert run.returncode == 0, f"scripts/ensure-chaostoolkit failed:\n{run.stderr}"
    return Path(run.stdout.strip())


@pytest.fixture
def fleet() -> Iterator[FleetThread]:
    with sim_fleet(replicas=1) as running:
        yield running


@pytest.fixture
def proxy(fleet: FleetThread) -> Iterator[ProxyThread]:
    front = fleet.fleet.url("front").removeprefix("http://")
    with running_proxy(front, name="llm") as running:
        yield running


def experiment(
    health: str = "http://127.0.0.1:1/health", api: str = "http://127.0.0.1:8474"
) -> Experiment:
    spec = SPEC.replace("HEALTH", health).replace("API", api)
    return Experiment.model_validate(yaml.safe_load(spec))


def ctk(
    chaos: Path, cwd: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    cmd = [str(chaos), "--no-version-check", "--settings", str(cwd / "settings.yaml"), *args]
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_chaos_validate_accepts_the_export(chaos: Path, tmp_path: Path) -> None:
    exported = to_chaostoolkit(experiment(), endpoints={"chat": "http://127.0.0.1:8000/v1"})
    assert len(exported["method"]) == 4  # the sim and proxy faults; not the process one
    (tmp_path / "exported.json").write_text(json.dumps(exported))
    run = ctk(chaos, tmp_path, "validate", "exported.json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Experiment looks valid" in run.stderr + run.stdout

    (tmp_path / "broken.json").write_text(json.dumps({**exported, "description": ""}))
    broken = ctk(chaos, tmp_path, "validate", "broken.json")  # the validation is real
    assert broken.returncode != 0
    assert "experiment requires a description" in broken.stderr + broken.stdout


def watch(
    fleet: FleetThread, proxy: ProxyThread, stop: threading.Event, seen: dict[str, Any]
) -> None:
    """Every 50 ms, record each active sim fault and each toxic of proxy llm (by id)."""
    while not stop.is_set():
        status, body = fleet.admin("GET")
        if status == 200:
            for fault in body["faults"]:
                seen.setdefault(fault["id"], fault)
        for toxic in proxy.client.toxics("llm"):
            seen.setdefault(toxic["name"], toxic)
        stop.wait(0.05)


def run_once(
    chaos: Path, fleet: FleetThread, proxy: ProxyThread, cwd: Path, name: str
) -> tuple[dict[str, Any], str]:
    """`chaos run` the export; the journal and the prefix of the fault ids seen in force."""
    seen: dict[str, Any] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(fleet, proxy, stop, seen), daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        run = ctk(chaos, cwd, "run", "exported.json", "--journal-path", name)
    finally:
        stop.set()
        watcher.join(5)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stdout + run.stderr
    assert elapsed >= 3.0  # the method spans the whole 3 s window
    assert len(seen) == 2, seen  # the sim fault and the toxic were in force (no process fault)
    fault_id, toxic_id = sorted(seen)
    prefix = fault_id.split("-")[0]
    assert re.fullmatch(r"[0-9a-f]{8}-0-slow-prefill", fault_id)
    assert toxic_id == f"{prefix}-1-latency"
    fault, toxic = seen[fault_id], seen[toxic_id]
    assert fault["kind"] == "ttft_latency"
    assert fault["seconds"] == pytest.approx(0.3)
    assert fault["expires_at"] - fault["injected_at"] == pytest.approx(2.0)
    assert toxic["type"] == "latency"
    assert toxic["latency"] == pytest.approx(50)
    assert 0 < toxic["expires_in"] <= 1.0
    return json.loads((cwd / name).read_text()), prefix


def test_chaos_run_injects_the_faults_and_rolls_them_back(
    chaos: Path, fleet: FleetThread, proxy: ProxyThread, tmp_path: Path
) -> None:
    exp = experiment(health=fleet.fleet.url("front") + "/health", api=proxy.server.url)
    exported = to_chaostoolkit(exp, endpoints={"chat": fleet.url()})
    (tmp_path / "exported.json").write_text(json.dumps(exported))

    prefixes = []
    for name in ("j1.json", "j2.json"):  # the same file twice: each run its own fault ids
        journal, prefix = run_once(chaos, fleet, proxy, tmp_path, name)
        prefixes.append(prefix)
        assert journal["status"] == "completed"
        assert journal["deviated"] is False
        assert journal["steady_states"]["before"]["steady_state_met"] is True
        assert journal["steady_states"]["after"]["steady_state_met"] is True
        statuses = {r["activity"]["name"]: r["output"]["status"] for r in journal["run"]}
        # the proxy expires its toxic at the very time of the revert: 204 or 404, both fine
        assert statuses.pop("revert #1 proxy.latency on chat") in (204, 404)
        assert statuses == {
            "inject #0 slow prefill on chat": 201,
            "revert #0 slow prefill on chat": 200,
            "inject #1 proxy.latency on chat": 201,
        }
        rollbacks = {r["activity"]["name"]: r["output"]["status"] for r in journal["rollbacks"]}
        assert rollbacks == {
            "roll back #0 slow prefill on chat": 200,
            "roll back #1 proxy.latency on chat": 404,
        }
        assert all(r["status"] == "succeeded" for r in journal["run"] + journal["rollbacks"])

        status, active = fleet.admin("GET")
        assert (status, active["faults"]) == (200, [])  # nothing left in force
        assert proxy.client.toxics("llm") == []
        history = {f["id"]: f for f in fleet.admin("GET", "?all=1")[1]["faults"]}
        fault = history[f"{prefix}-0-slow-prefill"]
        assert fault["active"] is False
        # reverted by the method's DELETE at its end (the sim's own expiry is the backstop)
        assert fault["reverted_at"] - fault["injected_at"] == pytest.approx(2.0, abs=0.5)
    assert prefixes[0] != prefixes[1]
    same_shape(journal, journal_to_chaostoolkit(exp, perfops_result(), started=0.0, ended=9.0))


def perfops_result() -> dict[str, Any]:
    """A perfops run of the experiment, as ExperimentResult.as_dict() gives it."""
    checks = [{"name": "chat-ttft burn rate", "value": 0.5, "limit": 1.0, "met": True}]
    phase = {"met": True, "checks": checks, "requests": 10}
    fault = {"name": "slow prefill", "kind": "sim.ttft_latency", "target": "chat",
             "fault_id": "chaos-flt-1", "start_s": 0.5, "duration_s": 2.0,
             "injected_ns": 5_500_000_000, "reverted_ns": 7_500_000_000, "error": None}  # fmt: skip
    result = {"run_id": "chaos-1", "title": "t", "status": "passed", "reason": ""}
    return {**result, "before": phase, "during": phase, "after": phase, "faults": [fault],
            "impact": [], "requests": 30}  # fmt: skip


def same_shape(real: dict[str, Any], ours: dict[str, Any]) -> None:
    """Every key of Chaos Toolkit's own journal is in ours, at each level a reader walks."""
    assert set(real) <= set(ours)
    assert set(real["steady_states"]) == set(ours["steady_states"])
    for phase in ("before", "after"):
        real_state, our_state = real["steady_states"][phase], ours["steady_states"][phase]
        assert set(real_state) == set(our_state)
        assert set(real_state["probes"][0]) == set(our_state["probes"][0])
    for part in ("run", "rollbacks"):
        assert set(real[part][0]) == set(ours[part][0])
        # (in perfops' journal, the offsets are when things happened, not pauses)
        timing = {"background", "pauses"}
        assert set(real[part][0]["activity"]) <= set(ours[part][0]["activity"]) | timing
    assert isinstance(ours["start"], str)
    assert isinstance(ours["duration"], float)
