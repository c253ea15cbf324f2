"""The capacity search against the real-time sim finds the knee the virtual-time driver puts
the same model at, or says why it could not (a client or a sim that fell behind), and keeps
every repeat in its journal."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests._servers import sim_fleet

from perfops._internal.clock import SystemClock
from perfops.app import Runtime
from perfops.app.capacity import run_capacity, virtual_capacity
from perfops.app.load import LoadOptions, WorkloadSource
from perfops.config import parse_config
from perfops.loadgen.arrivals import ArrivalSpec
from perfops.loadgen.client import Target
from perfops.loadgen.search import SearchSpec
from perfops.loadgen.slo import parse_slo
from perfops.loadgen.workload import LengthSpec
from perfops.sim import EngineConfig, serving_profile
from perfops.store import Store

SLO = "ttft_p99=400ms"
PROMPT, OUTPUT, SEQS, SECONDS = 256, 32, 4, 3.0


def test_capacity_search_finds_the_sim_knee(tmp_path: Path) -> None:
    expected = virtual_capacity(
        serving_profile("H100-SXM", "llama-3.1-8b"), parse_slo(SLO),
        SearchSpec(1.0, 64.0, 0.05, 24, 3), prompt_tokens=PROMPT, output_tokens=OUTPUT,
        config=EngineConfig(max_num_seqs=SEQS),
    ).capacity_rps  # fmt: skip
    assert expected is not None
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
        spec = SearchSpec(start_rate=2.0, max_rate=64.0, tolerance=0.3, max_runs=8)
        found, run_id = asyncio.run(run_capacity(rt, opts, spec))
    assert found.capacity_rps is not None, found.reason
    limited = [w for w in found.invalid if w.startswith(("client-limited", "target-limited"))]
    if not limited:  # a machine too busy for real time says so instead
        assert 0.6 * expected <= found.capacity_rps <= 1.5 * expected, (found.text(), expected)
    # 3 s at a few req/s is far too short for a p99: the verdict says so, with the numbers
    assert not found.valid
    assert any(w.startswith("too short: ") and "299" in w for w in found.invalid), found.invalid
    journal = rt.store.journal.run(run_id)
    assert journal.kind == "capacity"
    assert journal.summary["capacity_rps_per_gpu"] == found.capacity_rps
    assert journal.summary["valid"] is False
    assert len(rt.store.journal.runs(kind="load")) == len(found.points)
    assert len(journal.summary["points"]) == len(found.points)
    lo, hi = found.bracket or (0.0, 0.0)
    for rate in (lo, hi):  # every repeat is there, each with its own seed
        seeds = [p["seed"] for p in journal.summary["points"] if p["rate"] == rate]
        assert sorted(seeds) == [0, 1, 2]
