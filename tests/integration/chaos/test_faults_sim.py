"""sim.* faults against a real simulated fleet: injected under the id journaled before, gone
after revert, reverting twice or after the simulator is gone is fine, the simulator ends an
unreverted fault by itself, and a runner killed mid-fault is recovered from its journal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests._servers import FleetThread, free_port, sim_fleet

from perfops._internal.clock import ManualClock
from perfops.chaos.faults import FaultContext, fault_for, revert_entry
from perfops.chaos.undo import UndoJournal, recover
from perfops.errors import PerfopsError

PARAMS: dict[str, dict[str, Any]] = {
    "sim.ttft_latency": {"seconds": 0.1},
    "sim.token_latency": {"seconds": 0.01},
    "sim.error": {"status": 503, "rate": 0.5},
    "sim.throttle": {"clock_factor": 0.5, "replica": 0},
    "sim.xid": {"replica": 1, "code": 48},
    "sim.crash": {"replica": 0},
    "sim.kv_shrink": {"fraction": 0.5},
}


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()  # the fleet's: its faults end when a test moves it


@pytest.fixture(scope="module")
def fleet(clock: ManualClock) -> Iterator[FleetThread]:
    with sim_fleet(replicas=2, clock=clock) as running:
        yield running


def context(fleet: FleetThread) -> FaultContext:
    return FaultContext(service="chat", endpoint=fleet.url(), admin_url=None)


def active(fleet: FleetThread) -> dict[str, dict[str, Any]]:
    status, body = fleet.admin("GET")
    assert status == 200
    return {f["id"]: f for f in body["faults"]}


@pytest.mark.parametrize("kind", sorted(PARAMS))
def test_each_sim_fault_injects_under_our_id_and_reverts(fleet: FleetThread, kind: str) -> None:
    fault = fault_for(kind)
    fault_id = f"t-{kind.replace('.', '-')}"
    entry = fault.plan(context(fleet), PARAMS[kind], fault_id=fault_id, duration_s=30)
    fault.inject(entry)
    live = active(fleet)
    assert live[fault_id]["kind"] == kind.removeprefix("sim.")
    assert live[fault_id]["expires_at"] - live[fault_id]["injected_at"] == pytest.approx(30)
    fault.inject(entry)  # a retry is harmless: still one fault
    assert list(active(fleet)) == [fault_id]
    fault.revert(entry)
    assert active(fleet) == {}
    fault.revert(entry)  # twice is fine
    revert_entry(json.loads(json.dumps(entry)))  # and from the journaled form


def test_the_simulator_ends_a_fault_nobody_reverts(fleet: FleetThread, clock: ManualClock) -> None:
    fault = fault_for("sim.ttft_latency")
    entry = fault.plan(context(fleet), {"seconds": 0.1}, fault_id="t-expiry", duration_s=30)
    fault.inject(entry)
    clock.advance(29.9)
    fleet.call(fleet.fleet.expire_faults())
    assert "t-expiry" in active(fleet)
    clock.advance(0.1)
    fleet.call(fleet.fleet.expire_faults())
    assert active(fleet) == {}
    fault.revert(entry)


def test_an_ended_id_is_never_injected_again(fleet: FleetThread) -> None:
    fault = fault_for("sim.error")
    entry = fault.plan(context(fleet), {}, fault_id="t-once", duration_s=30)
    fault.inject(entry)
    fault.revert(entry)
    with pytest.raises(PerfopsError, match=r"HTTP 409: fault id t-once was already used"):
        fault.inject(entry)
    early = fault.plan(context(fleet), {}, fault_id="t-early", duration_s=30)
    fault.revert(early)  # reverted before it was injected (a race, or a recovery)
    with pytest.raises(PerfopsError, match="HTTP 409"):
        fault.inject(early)
    assert active(fleet) == {}


def test_admin_api_checks_the_id(fleet: FleetThread) -> None:
    body = {"kind": "xid", "id": "no spaces"}
    status, answer = fleet.admin("POST", body=body)
    assert status == 400
    assert answer["error"]["param"] == "id"
    status, answer = fleet.admin("POST", body={"kind": "xid", "id": 7})
    assert (status, answer["error"]["param"]) == (400, "id")
    status, first = fleet.admin("POST", body={"kind": "xid", "id": "t-same", "duration": 30})
    assert status == 201
    status, again = fleet.admin("POST", body={"kind": "xid", "id": "t-same", "duration": 30})
    assert (status, again["id"], again["injected_at"]) == (200, "t-same", first["injected_at"])
    status, answer = fleet.admin("POST", body={"kind": "xid", "id": "t-same", "code": 13})
    assert status == 409
    assert "already in force with another spec" in answer["error"]["message"]
    assert fleet.admin("DELETE", "/t-same")[0] == 200


def test_refusals_and_a_gone_simulator(fleet: FleetThread) -> None:
    fault = fault_for("sim.crash")
    entry = fault.plan(context(fleet), {"replica": 9}, fault_id="t-bad", duration_s=5)
    with pytest.raises(PerfopsError, match=r"refused to inject it \(HTTP 400: replica 9 does not"):
        fault.inject(entry)
    gone = FaultContext("chat", f"http://127.0.0.1:{free_port()}/v1", None)
    entry = fault.plan(gone, {}, fault_id="t-gone", duration_s=5)
    with pytest.raises(PerfopsError, match="cannot reach the simulator's admin API"):
        fault.inject(entry)
    fault.revert(entry)  # connection refused: its faults went with it
    assert "the service does not answer any more" in entry["_gone"]  # for the runner to see


CRASHING_RUNNER = """
import os, signal, sys
from pathlib import Path
from perfops.chaos.faults import FaultContext, fault_for
from perfops.chaos.undo import UndoJournal

fault = fault_for("sim.throttle")
ctx = FaultContext(service="chat", endpoint=sys.argv[2], admin_url=None)
entry = fault.plan(ctx, {"clock_factor": 0.3}, fault_id="t-crashed", duration_s=60)
UndoJournal(Path(sys.argv[1])).planned(entry, run_id="run-killed")
fault.inject(entry)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_recover_reverts_what_a_killed_runner_left(fleet: FleetThread, tmp_path: Path) -> None:
    path = tmp_path / ".perfops" / "chaos" / "undo.jsonl"
    runner = subprocess.run(
        [sys.executable, "-c", CRASHING_RUNNER, str(path), fleet.url()],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert runner.returncode == -signal.SIGKILL, runner.stderr
    assert list(active(fleet)) == ["t-crashed"]
    results = recover(UndoJournal(path))
    assert [(e["id"], e["_run_id"], err) for e, err in results] == [
        ("t-crashed", "run-killed", None)
    ]
    assert active(fleet) == {}
    assert UndoJournal(path).pending() == []
    assert recover(UndoJournal(path)) == []
    assert os.path.getsize(path) == 0
