"""An experiment's fault schedule on a manual clock, against a real simulated fleet: each
fault goes in at its offset and comes out at its end, journaled before it lands, and its
events are stamped at those moments. Moving the clock 90 s takes no 90 s.

The fleet keeps the real clock, and each fault lasts minutes of it, so only the schedule's
revert (not the simulator's own expiry) can take a fault out while the test runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from tests._servers import FleetThread, sim_fleet, sim_service_yaml

from perfops._internal.clock import ManualClock
from perfops.app.chaos import FaultSchedule, journal_for
from perfops.app.runtime import open_runtime
from perfops.config.experiment import Experiment, FaultStep, Hypothesis, LoadPlan

T0_S = 1_700_000_000
S = 1_000_000_000  # ns per second

EXPERIMENT = Experiment(
    title="two faults",
    hypothesis=Hypothesis(),
    load=LoadPlan(service="chat", rate=1, duration=120),
    method=(
        FaultStep(name="slow", kind="sim.ttft_latency", params={"seconds": 0.1},
                  start=10, duration=60),
        FaultStep(name="errors", kind="sim.error", params={"status": 503}, start=30, duration=60),
    ),
)  # fmt: skip


def in_force(fleet: FleetThread) -> set[str]:
    status, body = fleet.admin("GET")
    assert status == 200
    return {f["id"] for f in body["faults"]}


async def until(check: Callable[[], bool]) -> None:
    """Wait (in real time, for the injecting thread) until ``check()`` holds."""
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_faults_go_in_at_their_offsets_and_out_at_their_ends(tmp_path: Path) -> None:
    clock = ManualClock(T0_S * S)
    with sim_fleet(replicas=1) as fleet:
        (tmp_path / "perfops.yaml").write_text(sim_service_yaml(fleet, metrics=False))
        rt = open_runtime(tmp_path / "perfops.yaml", clock=clock)
        said: list[str] = []
        schedule = FaultSchedule(rt, EXPERIMENT, "chaos-test", said.append)

        async def drive() -> None:
            task = asyncio.create_task(schedule.schedule(clock.monotonic()))
            await asyncio.sleep(0.05)
            slow, errors = schedule.runs
            assert (slow.injected_ns, errors.injected_ns) == (None, None)
            assert in_force(fleet) == set()  # nothing before its offset
            clock.advance(10)
            await until(lambda: slow.injected_ns is not None)
            assert slow.injected_ns == (T0_S + 10) * S
            assert in_force(fleet) == {slow.fault_id}
            clock.advance(20)
            await until(lambda: errors.injected_ns is not None)
            assert errors.injected_ns == (T0_S + 30) * S
            assert in_force(fleet) == {slow.fault_id, errors.fault_id}
            clock.advance(40)
            await until(lambda: slow.reverted_ns is not None)
            assert slow.reverted_ns == (T0_S + 70) * S
            assert in_force(fleet) == {errors.fault_id}
            clock.advance(20)
            await asyncio.wait_for(task, 20)
            assert errors.reverted_ns == (T0_S + 90) * S
            assert in_force(fleet) == set()

        asyncio.run(drive())
        assert journal_for(rt).pending() == []
        events = [(e.ts_ns, e.kind, e.data["fault_id"]) for e in rt.store.journal.events()]
        slow, errors = schedule.runs
        assert events == [
            ((T0_S + 10) * S, "fault_injected", slow.fault_id),
            ((T0_S + 30) * S, "fault_injected", errors.fault_id),
            ((T0_S + 70) * S, "fault_reverted", slow.fault_id),
            ((T0_S + 90) * S, "fault_reverted", errors.fault_id),
        ]
        planned = next(e for e in rt.store.journal.events() if e.kind == "fault_injected")
        assert planned.data["entry"]["expires_at"] == T0_S + 70  # planned at +10 s, for 60 s
        assert said == [
            "  +10s injected sim.ttft_latency on chat for 60s",
            "  +30s injected sim.error on chat for 60s",
            "  reverted sim.ttft_latency on chat",
            "  reverted sim.error on chat",
        ]


def test_a_fault_that_does_not_land_is_a_failure_at_once(tmp_path: Path) -> None:
    """The simulator refuses the first fault (it has no replica 9): the schedule reports it
    at once, so that the run stops; the second, due later, is never attempted, and a run
    that went to the end of its window would list it as never injected."""
    exp = EXPERIMENT.model_copy(
        update={
            "method": (
                FaultStep(name="refused", kind="sim.ttft_latency",
                          params={"seconds": 0.1, "replica": 9}, start=10, duration=60),
                FaultStep(name="later", kind="sim.error", params={}, start=30, duration=60),
            )
        }
    )  # fmt: skip
    clock = ManualClock(T0_S * S)
    with sim_fleet(replicas=1) as fleet:
        (tmp_path / "perfops.yaml").write_text(sim_service_yaml(fleet, metrics=False))
        rt = open_runtime(tmp_path / "perfops.yaml", clock=clock)
        halted: list[bool] = []
        schedule = FaultSchedule(rt, exp, "chaos-test", lambda _: None,
                                 on_failure=lambda: halted.append(True))  # fmt: skip

        async def drive() -> None:
            task = asyncio.create_task(schedule.schedule(clock.monotonic()))
            await asyncio.sleep(0.05)
            clock.advance(10)
            await until(lambda: bool(halted))  # the runner stops the run here
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        asyncio.run(drive())
        refused, later = schedule.runs
        assert refused.injected_ns is None
        assert "replica 9 does not exist" in (refused.inject_error or "")
        assert later.injected_ns is None
        assert later.inject_error is None  # never attempted
        assert schedule.failures(window_done=False) == [
            f"fault {refused.label} failed to inject: {refused.inject_error}"
        ]
        assert schedule.failures(window_done=True)[1] == (
            f"fault {later.label} was never injected: the load ended before its start at +30s"
        )
        assert journal_for(rt).pending() == []  # the refused one is closed in the journal
        assert in_force(fleet) == set()
