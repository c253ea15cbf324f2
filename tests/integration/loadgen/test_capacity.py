"""The capacity search finds the simulator's knee, where the virtual-time model says it is."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from tests._servers import sim_fleet

from perfops._internal.clock import SystemClock
from perfops.app import Runtime
from perfops.app.load import LoadOptions, WorkloadSource, run_capacity
from perfops.config import parse_config
from perfops.loadgen.arrivals import ArrivalSpec
from perfops.loadgen.client import Target
from perfops.loadgen.slo import parse_slo
from perfops.loadgen.workload import LengthSpec
from perfops.sim import EngineConfig, WorkloadRequest, serving_profile, simulate
from perfops.store import Store

SLO = "ttft_p99=400ms"
PROMPT, OUTPUT, SEQS, SECONDS = 256, 32, 4, 4.0


def virtual_meets(rate: float) -> bool:
    rng = np.random.default_rng(0)
    arrivals = np.cumsum(rng.exponential(1 / rate, int(rate * SECONDS * 3)))
    workload = [WorkloadRequest(float(t), PROMPT + 8, OUTPUT) for t in arrivals if t < SECONDS]
    result = simulate(
        workload,
        serving_profile("H100-SXM", "llama-3.1-8b"),
        EngineConfig(max_num_seqs=SEQS),
        seed=0,
    )
    ttft = sorted(t.ttft for t in result.timings)
    return ttft[int(0.99 * (len(ttft) - 1))] <= 0.4


def virtual_knee() -> float:
    lo, hi = 1.0, 64.0
    while hi - lo > 0.25:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if virtual_meets(mid) else (lo, mid)
    return lo


def test_capacity_search_finds_the_sim_knee(tmp_path: Path) -> None:
    expected = virtual_knee()
    with sim_fleet(replicas=1, max_num_seqs=SEQS) as fleet:
        rt = Runtime(
            config=parse_config("apiVersion: perfops/v1\n"),
            store=Store(tmp_path / "lake"),
            clock=SystemClock(),
        )
        opts = LoadOptions(
            target=Target(fleet.url(), "llama-3.1-8b"),
            workload=WorkloadSource(
                LengthSpec(kind="fixed", value=PROMPT), LengthSpec(kind="fixed", value=OUTPUT)
            ),
            arrival=ArrivalSpec(kind="poisson", rate=1.0),
            duration_s=SECONDS,
            max_requests=100_000,
            slo=tuple(parse_slo(SLO)),
            gpus=1,
        )
        found, run_id = asyncio.run(
            run_capacity(rt, opts, start_rate=2.0, max_rate=64.0, tolerance=0.15, max_runs=8)
        )
    assert found.capacity_rps is not None, found.reason
    assert 0.6 * expected <= found.capacity_rps <= 1.5 * expected, (found.capacity_rps, expected)
    journal = rt.store.journal.run(run_id)
    assert journal.kind == "capacity"
    assert journal.summary["capacity_rps_per_gpu"] == found.capacity_rps
    assert len(rt.store.journal.runs(kind="load")) == len(found.points)
