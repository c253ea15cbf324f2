"""`perfops collect` against real targets: the simulated fleet, and targets that misbehave."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import openai
import pytest
from tests._servers import FleetThread, hanging_tcp, quirky_targets, sim_fleet

from perfops._internal.clock import SystemClock
from perfops.app import Runtime
from perfops.app.collect import run_collect, targets_from_config
from perfops.config import parse_config
from perfops.store import Store
from perfops.telemetry.runner import TargetSpec
from perfops.telemetry.series import is_stale_marker


def runtime(tmp: Path, yaml: str = "") -> Runtime:
    config = parse_config("apiVersion: perfops/v1\n" + yaml)
    return Runtime(config=config, store=Store(tmp / "lake"), clock=SystemClock())


def drive(fleet: FleetThread, n: int = 6) -> None:
    client = openai.OpenAI(base_url=fleet.url(), api_key="sim", max_retries=0)
    for i in range(n):
        client.completions.create(model="llama-3.1-8b", prompt=f"{i} hello", max_tokens=8)


def test_collects_the_sim_into_canonical_metrics(tmp_path: Path) -> None:
    with sim_fleet(replicas=2, dcgm_interval=0.1) as fleet:
        drive(fleet)
        rt = runtime(
            tmp_path,
            f"""
services:
  - name: chat
    endpoint: {fleet.url()}
    model: llama-3.1-8b
    team: assistant
    gpu: {{type: H100-SXM, count: 2}}
    metrics: [{fleet.url("replica-0-metrics")}, {fleet.url("replica-1-metrics")}]
telemetry:
  interval: 1s
  targets:
    - {{name: dcgm, kind: dcgm, url: "{fleet.url("dcgm-metrics")}", service: chat}}
""",
        )
        targets = targets_from_config(rt.config)
        assert [t.name for t in targets] == ["dcgm", "chat-vllm-0", "chat-vllm-1"]
        runner = asyncio.run(run_collect(rt, targets, duration=2.6))
    assert all(h.up for h in runner.health.values())
    store = rt.store
    util = store.timeseries.series("gpu.util")
    assert len(util) == 2
    labels = next(iter(util.values())).labels
    assert labels["service"] == "chat"
    assert labels["job"] == "dcgm"
    fb = store.timeseries.series("gpu.fb_used_bytes")
    sid = next(iter(fb))
    values = (
        store.timeseries.query_samples("gpu.fb_used_bytes", 0, 2**62).column("value").to_pylist()
    )
    assert min(values) > 16 * 1024**3  # 8B weights in bytes, converted from MiB
    assert fb[sid].raw_name == "DCGM_FI_DEV_FB_USED"
    gen = store.timeseries.query_samples("llm.generation_tokens_total", 0, 2**62)
    assert gen.num_rows >= 4
    ups = store.timeseries.query_samples("up", 0, 2**62).column("value").to_pylist()
    assert set(ups) == {1.0}
    run = store.journal.runs(kind="collect")[0]
    assert run.status == "passed"
    assert run.summary["targets"]["dcgm"]["failures"] == 0


def test_bad_targets_are_down_with_a_reason_and_never_stall_the_others(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    with quirky_targets() as quirky, hanging_tcp() as hang:
        targets = [
            TargetSpec("good", quirky.url("/good"), interval=0.5, timeout=1),
            TargetSpec("html", quirky.url("/html"), interval=0.5, timeout=1),
            TargetSpec("garbage", quirky.url("/garbage"), interval=0.5, timeout=1),
            TargetSpec("slow", quirky.url("/slow"), interval=0.5, timeout=0.4),
            TargetSpec("hang", hang, interval=0.5, timeout=0.4),
            TargetSpec("refused", "http://127.0.0.1:9/metrics", interval=0.5, timeout=1),
            TargetSpec("error", quirky.url("/error"), interval=0.5, timeout=1),
        ]
        runner = asyncio.run(run_collect(rt, targets, duration=2.0))
    health = runner.health
    assert health["good"].up
    assert health["good"].scrapes >= 3  # the hanging targets did not hold it back
    assert "HTML" in (health["html"].last_error or "")
    assert "line 2" in (health["garbage"].last_error or "")
    assert "timeout" in (health["slow"].last_error or "")
    assert "timeout" in (health["hang"].last_error or "")
    assert "connection failed" in (health["refused"].last_error or "")
    assert "HTTP 500" in (health["error"].last_error or "")
    temps = (
        rt.store.timeseries.query_samples("temp", 0, 2**62, {"room": "a"})
        .column("value")
        .to_pylist()
    )
    assert set(temps) == {21.5}
    special = rt.store.timeseries.query_samples("temp", 0, 2**62, 'room=~"b|c"')
    vals = special.column("value").to_pylist()
    assert any(math.isinf(v) for v in vals)
    assert any(math.isnan(v) for v in vals)
    downs = (
        rt.store.timeseries.query_samples("up", 0, 2**62, {"job": "html"})
        .column("value")
        .to_pylist()
    )
    assert set(downs) == {0.0}


def test_a_target_that_disappears_gets_staleness_markers(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    with quirky_targets() as quirky:
        spec = TargetSpec("t", quirky.url("/good"), interval=0.3, timeout=1)

        async def scenario() -> None:
            import aiohttp

            from perfops.app.collect import LakeSink
            from perfops.telemetry.catalog import load_catalog
            from perfops.telemetry.runner import CollectRunner

            sink = LakeSink(rt.store)
            runner = CollectRunner([spec], load_catalog(), sink)
            async with aiohttp.ClientSession() as session:
                await runner.scrape_once(session, spec)
                broken = TargetSpec("t", quirky.url("/html"), interval=0.3, timeout=1)
                await runner.scrape_once(session, broken)
            sink.flush()

        asyncio.run(scenario())
    values = (
        rt.store.timeseries.query_samples("temp", 0, 2**62, {"room": "a"})
        .column("value")
        .to_pylist()
    )
    assert values[0] == 21.5
    assert is_stale_marker(values[-1])


def test_a_100k_series_flood_is_stored_whole(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    with quirky_targets() as quirky:
        runner = asyncio.run(
            run_collect(
                rt, [TargetSpec("flood", quirky.url("/flood"), interval=30, timeout=20)], duration=3
            )
        )
    assert runner.health["flood"].up, runner.health["flood"].last_error
    assert len(rt.store.timeseries.series("flood")) == 100_000
    count = rt.store.read_query("SELECT count(*) AS n FROM samples WHERE metric = 'flood'")
    assert count.column("n")[0].as_py() == 100_000


def test_unknown_target_name_lists_the_known_ones(tmp_path: Path) -> None:
    from perfops.errors import UsageError

    rt = runtime(
        tmp_path,
        "telemetry:\n  targets:\n    - {name: dcgm, kind: dcgm, url: "
        "'http://127.0.0.1:9400/metrics'}\n",
    )
    with pytest.raises(UsageError, match="targets in perfops.yaml: dcgm"):
        targets_from_config(rt.config, ["dcmg"])


def _keys(rt: Runtime) -> tuple[int, int]:
    """Samples in the lake, and distinct (series, timestamp) keys among them."""
    row = rt.store.read_query(
        "SELECT count(*) AS n, count(DISTINCT (series_id, ts)) AS keys FROM samples"
    ).to_pylist()[0]
    return row["n"], row["keys"]


def test_a_restarted_collector_stores_no_sample_twice(tmp_path: Path) -> None:
    """Samples that carry their own timestamps (as /federate gives them) are read again by
    every scrape and by a restarted collector: the lake keeps each once. Scrape-stamped
    samples are keyed by each scrape's own time, so a restart adds new ones only."""
    from perfops.app.collect import LakeWriter

    rt = runtime(tmp_path)
    with quirky_targets() as quirky:
        targets = [
            TargetSpec("fed", quirky.url("/stamped"), interval=0.2, timeout=1),
            TargetSpec("good", quirky.url("/good"), interval=0.2, timeout=1),
        ]
        writers, runners = [], []
        for _ in range(2):  # the collector, then the same collector restarted
            writers.append(LakeWriter(rt.store))
            runners.append(asyncio.run(run_collect(rt, targets, duration=1.2, writer=writers[-1])))
            assert runners[-1].health["fed"].scrapes >= 3
    pushed = rt.store.timeseries.query_samples("pushed_total", 0, 2**62).to_pylist()
    assert sorted((r["ts"], r["value"]) for r in pushed) == [
        (1_700_000_000_000, 1.0),
        (1_700_000_015_000, 9.0),
    ]
    assert writers[1].stats().duplicates >= 2 * runners[1].health["fed"].scrapes
    temps = rt.store.timeseries.query_samples("temp", 0, 2**62)  # 3 series a scrape, each kept
    assert temps.num_rows == 3 * sum(r.health["good"].scrapes for r in runners)
    count, keys = _keys(rt)
    assert count == keys
