"""`perfops chaos` against `perfops sim` with real load: verdicts, stop conditions, and
rollback that survives SIGINT, SIGTERM and kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._servers import FleetThread, sim_fleet, sim_service_yaml
from tests.conftest import REPO, run_cli

from perfops.chaos import ProxyThread, running_proxy

SLOS = """slos:
  - name: chat-ttft
    service: chat
    # healthy under a busy machine's starved sim; a fault adding 0.6 s always breaks it
    sli: {kind: latency, metric: ttft, threshold: 550ms}
    objective: 95
"""


def _experiment(fault: str, *, duration: str = "4s", stop: str = "", title: str = "x") -> str:
    return f"""apiVersion: perfops/v1
kind: Experiment
title: {title}
hypothesis:
  slos: [{{slo: chat-ttft, max_burn_rate: 2}}]
  max_error_ratio: 0.05
  baseline: 2s
  recovery: 2s
load: {{service: chat, rate: 6, duration: {duration}, prompt_tokens: 64, max_tokens: 8}}
method:
{fault}
{stop}
"""


@pytest.fixture(scope="module")
def fleet() -> Iterator[FleetThread]:
    with sim_fleet(replicas=2) as fleet:
        yield fleet


@pytest.fixture
def workspace(tmp_path: Path, fleet: FleetThread) -> Path:
    (tmp_path / "perfops.yaml").write_text(sim_service_yaml(fleet, metrics=False, extra=SLOS))
    return tmp_path


def _faults(fleet: FleetThread) -> list[dict]:
    status, body = fleet.admin("GET")
    assert status == 200
    return body["faults"]


def _run(workspace: Path, text: str, name: str = "exp.yaml") -> dict:
    (workspace / name).write_text(text)
    out = workspace / "out.json"
    result = run_cli("chaos", "run", name, "--json", str(out), cwd=workspace, timeout=120)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return json.loads(out.read_text())


def test_a_fault_that_breaks_the_slo_deviates_and_is_in_the_lake(
    workspace: Path, fleet: FleetThread
) -> None:
    fault = "  - {kind: sim.ttft_latency, params: {seconds: 0.6}, start: 1s, duration: 2s}"
    result = _run(workspace, _experiment(fault))
    assert result["status"] == "deviated", result["reason"]
    assert result["before"]["met"] is True
    assert result["after"]["met"] is True  # it recovered once the fault was reverted
    impact = result["impact"][0]
    assert impact["bad"]["chat-ttft"] >= 5  # ~2 s x 6 req/s, all slow
    assert impact["budget_consumed_pct"]["chat-ttft"] > 0
    assert _faults(fleet) == []
    from perfops.store import Store

    lake = Store(workspace / ".perfops" / "lake")
    kinds = [e.kind for e in lake.journal.events()]
    assert kinds.count("fault_injected") == 1
    assert kinds.count("fault_reverted") == 1
    assert lake.journal.run(result["run_id"]).status == "deviated"


def test_a_harmless_fault_passes(workspace: Path, fleet: FleetThread) -> None:
    fault = "  - {kind: sim.token_latency, params: {seconds: 0.001}, start: 1s, duration: 2s}"
    admin = fleet.url().removesuffix("/v1") + "/admin/faults"
    rollback = f"rollbacks:\n  - {{kind: http, url: '{admin}', method: GET}}"
    result = _run(workspace, _experiment(fault, stop=rollback))
    assert result["status"] == "passed", result["reason"]
    assert _faults(fleet) == []
    from perfops.store import Store

    ran = [
        e for e in Store(workspace / ".perfops" / "lake").journal.events() if e.kind == "rollback"
    ]
    assert [e.data["status"] for e in ran] == [200]  # the experiment's own rollback ran


def test_a_stop_condition_aborts_early(workspace: Path, fleet: FleetThread) -> None:
    fault = "  - {kind: sim.ttft_latency, params: {seconds: 0.6}, start: 0s, duration: 20s}"
    stop = "stop:\n  - {kind: burn_rate, slo: chat-ttft, above: 5, window: 3s}"
    result = _run(workspace, _experiment(fault, duration="20s", stop=stop))
    assert result["status"] == "aborted"
    assert "chat-ttft burned" in result["reason"]
    (run,) = result["faults"]
    in_force_s = (run["reverted_ns"] - run["injected_ns"]) / 1e9
    assert 0 < in_force_s < 15  # reverted when the run stopped, long before its 20 s
    assert result["after"] is None  # no recovery phase after an abort
    assert _faults(fleet) == []


def test_validate_reports_every_problem_with_its_place(workspace: Path) -> None:
    faults = (
        "  - {kind: sim.throttl, params: {}, start: 1s, duration: 1s}\n"
        "  - {kind: sim.throttle, params: {clock_factor: 2}, start: 3s, duration: 10s}"
    )
    (workspace / "bad.yaml").write_text(
        _experiment(faults).replace("slo: chat-ttft,", "slo: chat-tfft,")
    )
    result = run_cli("chaos", "validate", "bad.yaml", cwd=workspace)
    assert result.returncode == 2
    assert "4 problems" in result.stderr
    assert "bad.yaml:5:16 hypothesis.slos[0].slo: no SLO 'chat-tfft'" in result.stderr
    assert "did you mean sim.throttle?" in result.stderr  # the unknown fault kind
    assert "method[1].params" in result.stderr  # a clock factor above 1
    assert "after the 4s experiment window" in result.stderr
    assert "Traceback" not in result.stderr
    good = run_cli("chaos", "validate", "exp.yaml", cwd=workspace)
    assert good.returncode == 2  # no such file yet: a clear error, not a traceback
    assert "cannot read" in good.stderr


@pytest.fixture
def proxy(fleet: FleetThread) -> Iterator[ProxyThread]:
    """A fault proxy in front of the sim, so that interrupted runs leave toxics to clear."""
    from urllib.parse import urlsplit

    with running_proxy(urlsplit(fleet.url()).netloc, name="front") as running:
        yield running


def _start(workspace: Path, fleet: FleetThread, proxy: ProxyThread) -> subprocess.Popen[str]:
    faults = (
        "  - {kind: sim.ttft_latency, params: {seconds: 0.05}, start: 0s, duration: 25s}\n"
        f"  - {{kind: proxy.latency, params: {{api: '{proxy.server.url}', proxy: front, "
        "latency: 5}, start: 0s, duration: 25s}"
    )
    (workspace / "long.yaml").write_text(_experiment(faults, duration="25s"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFOPS")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfops", "chaos", "run", "long.yaml"],
        cwd=workspace, env={**env, "PYTHONPATH": str(REPO / "src")},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not (_faults(fleet) and proxy.client.toxics("front")):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the faults never landed"
        time.sleep(0.1)
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_experiment_reverts_every_fault(
    workspace: Path, fleet: FleetThread, proxy: ProxyThread, sig: signal.Signals
) -> None:
    proc = _start(workspace, fleet, proxy)
    proc.send_signal(sig)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130
    assert "interrupted" in output
    assert _faults(fleet) == [], output
    assert proxy.client.toxics("front") == []


def test_kill_9_leaves_the_fault_for_recover_to_revert(
    workspace: Path, fleet: FleetThread, proxy: ProxyThread
) -> None:
    proc = _start(workspace, fleet, proxy)
    proc.kill()
    proc.communicate(timeout=10)
    assert _faults(fleet) != []  # nothing ran: both faults are still in
    assert proxy.client.toxics("front") != []
    result = run_cli("chaos", "recover", cwd=workspace)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("recovered: reverted") == 2
    assert _faults(fleet) == []
    assert proxy.client.toxics("front") == []
    again = run_cli("chaos", "recover", cwd=workspace)
    assert "nothing to recover" in again.stdout


def test_rollback_drill_detects_the_regression_and_restores(
    workspace: Path, fleet: FleetThread
) -> None:
    (workspace / "drill.yaml").write_text("""apiVersion: perfops/v1
kind: Drill
title: a release with a slow first token
slo: chat-ttft
load: {service: chat, rate: 8, duration: 20s, prompt_tokens: 64, max_tokens: 8}
deploy: {kind: sim.ttft_latency, params: {seconds: 0.6}}
deploy_after: 2s
window: 2s
""")
    out = workspace / "drill.json"
    result = run_cli("chaos", "drill", "drill.yaml", "--json", str(out), cwd=workspace, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    drill = json.loads(out.read_text())
    assert drill["status"] == "restored"
    # In order, on the drill's clock: deployed when due, detected after it, rolled back at
    # once, restored before the 20 s load ended. The bounds hold on a loaded machine (a
    # detection is ~1 s: the 0.5 s first tokens must finish) and still fail a drill that
    # detects before the deploy, or never.
    assert 2 <= drill["deployed_s"] < drill["detected_s"] <= drill["rolled_back_s"]
    assert drill["rolled_back_s"] < drill["restored_s"] < 20
    assert drill["time_to_detect_s"] == pytest.approx(drill["detected_s"] - drill["deployed_s"])
    assert drill["time_to_restore_s"] == pytest.approx(drill["restored_s"] - drill["rolled_back_s"])
    assert drill["time_to_detect_s"] < 10
    assert drill["bad_events"] > 0
    assert drill["budget_spent_pct"] > 0
    assert _faults(fleet) == []
    from perfops.store import Store

    lake = Store(workspace / ".perfops" / "lake")
    events = [e for e in lake.journal.events() if e.run_id == drill["run_id"]]
    assert [e.kind for e in sorted(events, key=lambda e: e.ts_ns)] == [
        "deploy",
        "rollback",
        "mitigation",
    ]
    mitigation = next(e for e in events if e.kind == "mitigation")
    assert mitigation.title == (
        f"rolling back restored chat-ttft in {drill['time_to_restore_s']:.0f} s"
    )
    assert mitigation.data["time_to_detect_s"] == drill["time_to_detect_s"]
    assert lake.journal.run(drill["run_id"]).status == "restored"


def test_gameday_scores_its_experiments(workspace: Path, fleet: FleetThread) -> None:
    bad = "  - {kind: sim.ttft_latency, params: {seconds: 0.6}, start: 1s, duration: 2s}"
    good = "  - {kind: sim.token_latency, params: {seconds: 0.001}, start: 1s, duration: 2s}"

    def indent(text: str) -> str:
        return "\n".join("    " + line if line else line for line in text.splitlines())

    day = "apiVersion: perfops/v1\nkind: GameDay\ntitle: friday\npause: 0s\nexperiments:\n"
    for title, fault, weight in (("slow first token", bad, 3), ("tiny token delay", good, 1)):
        body = _experiment(fault, title=title).replace(
            "apiVersion: perfops/v1\nkind: Experiment\n", ""
        )
        day += "  - " + indent(body + f"weight: {weight}\n").lstrip() + "\n"
    (workspace / "day.yaml").write_text(day)
    out = workspace / "day.json"
    result = run_cli("chaos", "gameday", "day.yaml", "--json", str(out), cwd=workspace, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr  # one deviated
    summary = json.loads(out.read_text())
    scores = {e["title"]: e["score"] for e in summary["experiments"]}
    assert scores["tiny token delay"] == 100
    assert scores["slow first token"] < 100
    expected = (3 * scores["slow first token"] + 100) / 4
    assert summary["score"] == pytest.approx(expected, abs=0.1)
    assert "resilience score" in result.stdout
    assert _faults(fleet) == []


def test_export_to_chaos_toolkit_format(workspace: Path) -> None:
    fault = "  - {kind: sim.ttft_latency, params: {seconds: 0.6}, start: 1s, duration: 2s}"
    (workspace / "exp.yaml").write_text(_experiment(fault, title="slow first token"))
    result = run_cli("chaos", "export", "exp.yaml", "--out", "ctk.json", cwd=workspace)
    assert result.returncode == 0, result.stderr
    doc = json.loads((workspace / "ctk.json").read_text())
    assert doc["title"] == "slow first token"
    assert [a["provider"]["method"] for a in doc["method"]] == ["POST", "DELETE"]
    assert doc["rollbacks"][0]["provider"]["method"] == "DELETE"


def test_probes_are_part_of_the_hypothesis(workspace: Path, fleet: FleetThread) -> None:
    base = fleet.url().removesuffix("/v1")
    fault = "  - {kind: sim.token_latency, params: {seconds: 0.001}, start: 1s, duration: 1s}"
    probes = (
        "  probes:\n"
        f"    - {{kind: http, name: models, url: '{fleet.url()}/models'}}\n"
        f"    - {{kind: http, name: missing page, url: '{base}/nothing-here', "
        "expect_status: [200]}\n"
        "    - {kind: lake, name: runs so far, sql: 'SELECT count(*) FROM runs', min: 1}\n"
    )
    text = _experiment(fault).replace("  baseline: 2s\n", probes + "  baseline: 2s\n")
    result = _run(workspace, text)
    assert result["status"] == "aborted"  # no steady state: a probe fails before any fault
    checks = {c["name"]: c["met"] for c in result["before"]["checks"]}
    assert checks["models"] is True
    assert checks["missing page"] is False
    assert checks["runs so far"] is True
    assert result["faults"] == []  # nothing was injected
