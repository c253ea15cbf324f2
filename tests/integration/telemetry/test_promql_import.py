"""Import ranges from a real Prometheus, backfilled with known series by promtool.

The series carry vLLM's real labels (``model_name``, ``engine``, ``job``, ``instance``; no
``service``), scrape timestamps a few ms off the 15 s grid, a five-minute gap and a series that
ends; what the lake holds after an import is compared with Prometheus' own raw answer."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import aiohttp
import pytest
from tests._servers import get, prometheus, quirky_targets
from tests.integration.telemetry.test_collect import runtime

from perfops.app import Runtime
from perfops.app.imports import ImportQuery, import_prometheus
from perfops.errors import PerfopsError, Unreachable
from perfops.telemetry.promql import chunk_bounds, parse_time, query_raw
from perfops.telemetry.series import is_stale_marker

FB_POINTS = 12_000  # 1 s apart: more than one raw window, and 2 query_range chunks at 1 s
STEPS = 960  # 4 hours at 15 s
GAP = range(400, 420)  # scrapes missing from engine 0's aborts: 5 minutes
ENDS = 600  # engine 1 stops being scraped here
VLLM = 'model_name="llama-3.1-8b",job="vllm"'


def stamp(start: int, i: int) -> str:
    """Scrape i's timestamp: the 15 s grid plus a few ms of scrape jitter."""
    return f"{start + i * 15}.{i % 7:03d}"


def history(start: int) -> str:
    lines = ["# TYPE vllm:request_success counter"]
    for i in range(STEPS + 1):
        t = stamp(start, i)
        e0 = f'{VLLM},engine="0",instance="10.0.0.7:8000"'
        lines.append(
            f'vllm:request_success_total{{{e0},finished_reason="stop"}} {i * 4 + i // 3} {t}'
        )
        if i not in GAP:
            lines.append(f'vllm:request_success_total{{{e0},finished_reason="abort"}} {i // 5} {t}')
        if i < ENDS:
            e1 = f'{VLLM},engine="1",instance="10.0.0.8:8000",finished_reason="stop"'
            lines.append(f"vllm:request_success_total{{{e1}}} {i * 3} {t}")
    lines.append("# TYPE DCGM_FI_DEV_FB_USED gauge")
    lines += [
        f'DCGM_FI_DEV_FB_USED{{gpu="0",Hostname="node-1"}} {1000 + i % 977} {start + i}'
        for i in range(FB_POINTS)
    ]
    return "\n".join(lines) + "\n# EOF\n"


def backfill(tmp: Path, start: int) -> Path:
    source = tmp / "history.om"
    source.write_text(history(start))
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


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("prom")
    start = (int(time.time()) - 5 * 3600) // 60 * 60
    with prometheus(tmp, {}, tsdb=backfill(tmp, start)) as server:
        yield server, start


def raw_from_prometheus(url: str, selector: str, lo: float, hi: float) -> list[list[tuple]]:
    """Prometheus' own answer: every raw sample in ``[lo, hi]`` per series, in one read."""
    query = f"{selector}[{round((hi - lo) * 1000)}ms]"
    body = json.loads(
        get(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": hi}))
    )
    return sorted(
        [(round(float(t) * 1000), float(v)) for t, v in item["values"] if float(t) >= lo]
        for item in body["data"]["result"]
    )


def lake_series(rt: Runtime, metric: str, scale: float = 1.0) -> tuple[list[list[tuple]], dict]:
    """The lake's finite samples per series (unscaled), and its staleness markers per series."""
    table = rt.store.timeseries.query_samples(metric, 0, 2**62).to_pylist()
    points: dict[int, list[tuple]] = {}
    markers: dict[int, list[int]] = {}
    for row in table:
        if is_stale_marker(row["value"]):
            markers.setdefault(row["series_id"], []).append(row["ts"])
        else:
            points.setdefault(row["series_id"], []).append((row["ts"], row["value"] / scale))
    return sorted(points.values()), markers


def run_import(rt: Runtime, url: str, queries: list[ImportQuery], lo: float, hi: float) -> dict:
    return asyncio.run(import_prometheus(rt, url, queries, start=lo, end=hi, step=15))


def test_import_off_the_scrape_grid_stores_exactly_what_prometheus_holds(
    prom, tmp_path: Path
) -> None:
    server, start = prom
    lo, hi = start + 7.3, start + STEPS * 15 + 1  # --start between two scrapes
    rt = runtime(tmp_path)
    queries = [ImportQuery("vllm:request_success_total"), ImportQuery("DCGM_FI_DEV_FB_USED")]
    report = run_import(rt, server.url, queries, lo, hi)
    ours, markers = lake_series(rt, "llm.requests_total")
    theirs = raw_from_prometheus(server.url, "vllm:request_success_total", lo, hi)
    assert ours == theirs  # every scrape timestamp and value, none added, none moved
    assert sorted(len(s) for s in ours) == [ENDS - 1, STEPS - len(GAP), STEPS]
    fb, fb_markers = lake_series(rt, "gpu.fb_used_bytes", scale=1048576.0)
    assert fb == raw_from_prometheus(server.url, "DCGM_FI_DEV_FB_USED", lo, hi)
    assert report["chunks"] > 2  # several raw windows
    assert list(fb_markers.values()) == [[(start + FB_POINTS) * 1000]]  # it ends before hi

    infos = rt.store.timeseries.series("llm.requests_total")
    assert all("service" not in i.labels for i in infos.values())
    assert {i.labels["engine"] for i in infos.values()} == {"0", "1"}
    assert {i.labels["instance"] for i in infos.values()} == {"10.0.0.7:8000", "10.0.0.8:8000"}
    # a marker one scrape after the last sample before the gap, and after engine 1's end
    gap_at = round(float(stamp(start, GAP[0] - 1)) * 1000) + 15_000
    end_at = round(float(stamp(start, ENDS - 1)) * 1000) + 15_000
    assert sorted(markers.values()) == [[gap_at], [end_at]]
    assert report["markers"] == 3


def test_importing_again_adds_nothing_and_keeps_the_rollups_whole(prom, tmp_path: Path) -> None:
    server, start = prom
    rt = runtime(tmp_path)
    queries = [ImportQuery("vllm:request_success_total")]
    first = run_import(rt, server.url, queries, start + 3600.5, start + 3 * 3600)
    rt.store.compact(retention_hours=0)
    again = run_import(rt, server.url, queries, start + 3600.5, start + 3 * 3600)
    assert (again["samples"], again["duplicates"]) == (0, first["samples"])
    assert rt.store.timeseries.stale_rollup_days("samples_1h") == []  # nothing changed

    wider = run_import(rt, server.url, queries, start, start + STEPS * 15)
    assert wider["duplicates"] == first["samples"]
    once = runtime(tmp_path / "once")
    run_import(once, server.url, queries, start, start + STEPS * 15)
    assert lake_series(rt, "llm.requests_total") == lake_series(once, "llm.requests_total")
    rt.store.compact(retention_hours=0)
    hours = rt.store.timeseries.query_hourly("llm.requests_total", 0, 2**62).to_pylist()
    raw = rt.store.timeseries.query_samples("llm.requests_total", 0, 2**62).to_pylist()
    assert sum(h["n"] for h in hours) == sum(math.isfinite(r["value"]) for r in raw)


def test_an_expression_is_stored_under_its_name_without_lookback_padding(
    prom, tmp_path: Path
) -> None:
    server, start = prom
    rt = runtime(tmp_path)
    expr = 'sum by (engine) (vllm:request_success_total{finished_reason="stop"})'
    lo, hi = start + 7.3, start + STEPS * 15
    report = run_import(rt, server.url, [ImportQuery(expr, "chat:stop:sum")], lo, hi)
    infos = rt.store.timeseries.series("chat:stop:sum")
    assert sorted(i.labels["engine"] for i in infos.values()) == ["0", "1"]
    ended = next(sid for sid, i in infos.items() if i.labels["engine"] == "1")
    rows = rt.store.timeseries.query_samples("chat:stop:sum", 0, 2**62).to_pylist()
    mine = [(r["ts"], r["value"]) for r in rows if r["series_id"] == ended]
    last_scrape = float(stamp(start, ENDS - 1))
    finite = [t for t, v in mine if not is_stale_marker(v)]
    # every stored point is a step of the query, up to the step after the last sample
    assert all((t / 1000 - lo) % 15 == pytest.approx(0, abs=1e-6) for t in finite)
    assert max(finite) / 1000 <= last_scrape + 15
    (marker,) = [t for t, v in mine if is_stale_marker(v)]
    assert marker == max(finite) + 15_000
    assert report["lookback_dropped"] == 19  # 5 minutes of 15 s steps, less the one kept


def test_windows_meet_without_a_gap_or_a_repeat(prom) -> None:
    """Prometheus 2.x reads ``x[d]`` closed: a sample on a window's left edge comes back in
    both windows; 3.x reads it left-open. Either way the windows partition the samples."""
    server, start = prom
    edge = start * 1000 + 5_000  # a DCGM sample sits exactly here (1 s apart)

    async def read(lo: int, hi: int) -> list[int]:
        async with aiohttp.ClientSession() as session:
            (found,) = await query_raw(session, server.url, "DCGM_FI_DEV_FB_USED", lo, hi)
            return found.ts_ms

    left = asyncio.run(read(edge - 3_000, edge))
    right = asyncio.run(read(edge, edge + 3_000))
    assert left == [edge - 2_000, edge - 1_000, edge]
    assert right == [edge + 1_000, edge + 2_000, edge + 3_000]


def test_retries_transient_failures_and_sends_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERFOPS_PROMETHEUS_TOKEN", "s3cret")
    with quirky_targets() as quirky:
        quirky.flaky_left = 2
        rt = runtime(tmp_path)
        report = asyncio.run(
            import_prometheus(
                rt, quirky.url(""), [ImportQuery("x * 1", "x")], start=1000, end=1010, step=5
            )
        )
        assert report["samples"] == 2  # the point, and a marker where the series ends
        assert quirky.seen_auth == ["Bearer s3cret"] * 3
        with pytest.raises(PerfopsError, match="bad_data.*parse error at char 5"):
            asyncio.run(
                import_prometheus(
                    rt, quirky.url(""), [ImportQuery("bad(", "b")], start=1000, end=1010, step=5
                )
            )


def test_a_prometheus_that_never_answers_is_unreachable(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    with pytest.raises(Unreachable, match="still failing after"):
        asyncio.run(
            import_prometheus(
                rt, "http://127.0.0.1:9", [ImportQuery("up")], start=0, end=60, step=15
            )
        )
    (run,) = rt.store.journal.runs(kind="import")
    assert run.status == "failed"


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
