"""Import ranges from a real Prometheus, backfilled with known series by promtool."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from tests._servers import prometheus, quirky_targets
from tests.integration.telemetry.test_collect import runtime

from perfops.errors import PerfopsError
from perfops.telemetry.promql import chunk_bounds, parse_time

POINTS = 12_000  # more than one query_range chunk (10,000 points) at a 1 s step


def backfill(tmp: Path, start: int) -> Path:
    lines = [
        "# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB).",
        "# TYPE DCGM_FI_DEV_FB_USED gauge",
    ]
    lines += [
        f'DCGM_FI_DEV_FB_USED{{gpu="0",Hostname="node-1"}} {1000 + i % 977} {start + i}'
        for i in range(POINTS)
    ]
    lines += ["# TYPE vllm:generation_tokens counter"]
    lines += [
        f'vllm:generation_tokens_total{{model_name="m",engine="0"}} {i * 7} {start + i * 60}'
        for i in range(POINTS // 60)
    ]
    lines.append("# EOF")
    source = tmp / "history.om"
    source.write_text("\n".join(lines) + "\n")
    data = tmp / "data"
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed: run `make test`"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return data


def test_import_matches_the_backfilled_values_exactly(tmp_path: Path) -> None:
    from perfops.app.imports import import_prometheus

    start = int(time.time()) - 5 * 3600
    data = backfill(tmp_path, start)
    with prometheus(tmp_path, {}, tsdb=data) as prom:
        rt = runtime(tmp_path)
        report = asyncio.run(
            import_prometheus(
                rt,
                prom.url,
                ["DCGM_FI_DEV_FB_USED", "vllm:generation_tokens_total"],
                start=start,
                end=start + POINTS - 1,
                step=1,
            )
        )
    assert report["chunks"] == 4  # two queries, two chunks each
    fb = rt.store.timeseries.query_samples("gpu.fb_used_bytes", 0, 2**62)
    assert fb.num_rows == POINTS
    assert fb.column("value").to_pylist() == [(1000 + i % 977) * 1048576.0 for i in range(POINTS)]
    assert fb.column("ts").to_pylist() == [(start + i) * 1000 for i in range(POINTS)]
    (info,) = rt.store.timeseries.series("gpu.fb_used_bytes").values()
    assert info.labels == {"gpu": "0", "hostname": "node-1"}
    assert info.raw_name == "DCGM_FI_DEV_FB_USED"
    tokens = rt.store.timeseries.query_samples("llm.generation_tokens_total", 0, 2**62)
    # every 1 s step sees the last sample at or before it (the 60 s samples, held)
    assert tokens.column("value").to_pylist()[:61] == [0.0] * 60 + [7.0]
    assert rt.store.journal.runs(kind="import")[0].summary["samples"] == report["samples"]


def test_retries_transient_failures_and_sends_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perfops.app.imports import import_prometheus

    monkeypatch.setenv("PERFOPS_PROMETHEUS_TOKEN", "s3cret")
    with quirky_targets() as quirky:
        quirky.flaky_left = 2
        rt = runtime(tmp_path)
        report = asyncio.run(
            import_prometheus(rt, quirky.url(""), ["x"], start=1000, end=1010, step=5)
        )
        assert report["samples"] == 1
        assert quirky.seen_auth == ["Bearer s3cret"] * 3
        with pytest.raises(PerfopsError, match="bad_data.*parse error at char 5"):
            asyncio.run(
                import_prometheus(rt, quirky.url(""), ["bad("], start=1000, end=1010, step=5)
            )


def test_chunks_cover_the_range_once() -> None:
    bounds = chunk_bounds(0, 25_000, 1)
    assert bounds == [(0, 9_999), (10_000, 19_999), (20_000, 25_000)]
    assert chunk_bounds(0, 10, 15) == [(0, 10)]


def test_time_forms() -> None:
    assert parse_time("now", 1000.0) == 1000.0
    assert parse_time("90m", 10_000.0) == 10_000.0 - 5400
    assert parse_time("2026-11-01T00:00:00Z", 0) == 1_793_491_200
    with pytest.raises(PerfopsError, match="RFC 3339"):
        parse_time("yesterday-ish", 0)
