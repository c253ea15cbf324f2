"""A starved sim says it is late, and the load test believes it: a busy sibling on the sim's
event loop (a task that holds the loop's thread 20 ms at a time) makes the engine steps end
late; the sim exports that as perfops_sim_loop_lag_seconds, and `load run` and `load capacity`
flag their results target-limited instead of reporting what the CPU decided."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from tests._servers import FleetThread, get, sim_fleet

from perfops._internal.clock import SystemClock
from perfops.app import Runtime
from perfops.app.capacity import run_capacity
from perfops.app.load import LoadOptions, WorkloadSource, run_load
from perfops.config import parse_config
from perfops.loadgen.arrivals import ArrivalSpec
from perfops.loadgen.client import Target
from perfops.loadgen.search import SearchSpec
from perfops.loadgen.slo import parse_slo
from perfops.loadgen.workload import LengthSpec
from perfops.store import Store
from perfops.telemetry.runner import TargetSpec


@contextmanager
def busy_sibling(fleet: FleetThread) -> Iterator[None]:
    """A task on the sim's own loop that blocks it 20 ms of every 25 ms."""

    async def hog() -> None:
        while True:
            time.sleep(0.020)  # noqa: ASYNC251 - blocking on purpose: CPU the sim does not get
            await asyncio.sleep(0.005)

    task = fleet.on_loop(lambda: asyncio.get_running_loop().create_task(hog()))
    try:
        yield
    finally:
        fleet.on_loop(task.cancel)


def late_steps(fleet: FleetThread) -> tuple[float, float]:
    """(steps, steps over 5 ms late) from replica 0's /metrics."""
    text = get(fleet.url("replica-0-metrics"))
    (family,) = (
        f for f in text_string_to_metric_families(text) if f.name == "perfops_sim_loop_lag_seconds"
    )
    assert family.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}
    return buckets["+Inf"], buckets["+Inf"] - buckets["0.005"]


def options(fleet: FleetThread, rate: float, seconds: float) -> LoadOptions:
    return LoadOptions(
        target=Target(fleet.url(), "llama-3.1-8b"),
        workload=WorkloadSource(
            LengthSpec(kind="fixed", value=256), LengthSpec(kind="fixed", value=32)
        ),
        arrival=ArrivalSpec(kind="poisson", rate=rate),
        duration_s=seconds,
        max_requests=10_000,
        slo=tuple(parse_slo("ttft_p99=2s")),
        gpus=1,
        scrape=(TargetSpec("server-0", fleet.url("replica-0-metrics"), "vllm", 0.5, 2.0, {}),),
    )


def runtime(tmp_path: Path) -> Runtime:
    return Runtime(
        config=parse_config("apiVersion: perfops/v1\n"),
        store=Store(tmp_path / "lake"),
        clock=SystemClock(),
    )


def test_starved_sim_reports_lag_and_the_run_is_target_limited(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    with sim_fleet(replicas=1) as fleet, busy_sibling(fleet):
        result = asyncio.run(run_load(rt, options(fleet, 8.0, 3.0)))
        steps, late = late_steps(fleet)
    assert late > 0.01 * steps > 0  # the sim says it fell behind
    assert result.server["loop_steps"] > 0  # read from the scrapes during the run
    assert result.server["loop_steps_late"] > 0.01 * result.server["loop_steps"]
    summary = result.summary
    assert summary.target_limited is True
    assert not summary.valid
    assert any(why.startswith("target-limited: ") for why in summary.invalid)
    journal = rt.store.journal.run(result.run_id).summary
    assert journal["target_limited"] is True
    assert journal["valid"] is False


def test_capacity_against_a_starved_sim_is_invalid(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    spec = SearchSpec(start_rate=4.0, max_rate=8.0, tolerance=0.5, max_runs=6, repeats=3)
    with sim_fleet(replicas=1) as fleet, busy_sibling(fleet):
        found, run_id = asyncio.run(run_capacity(rt, options(fleet, 4.0, 1.5), spec))
    assert not found.valid
    assert any(why.startswith("target-limited") for why in found.invalid), found.invalid
    journal = rt.store.journal.run(run_id).summary
    assert journal["valid"] is False
    assert len(journal["points"]) == len(found.points)
    assert all(p["summary"]["target_limited"] for p in journal["points"])
