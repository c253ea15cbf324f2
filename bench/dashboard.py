"""The dashboard over a week of a 64-GPU fleet: API time and bytes per panel against a naive
query of the raw rows, and the time to the first full render of the GPU tab in Chromium.

    python bench/dashboard.py [--gpus 64] [--days 7] [--interval 15] [--no-browser]

A synthetic lake: DCGM utilisation, power, temperature and framebuffer per GPU every
``--interval`` seconds for ``--days``, plus running requests, KV-cache usage and a token
counter per replica (one replica per 8 GPUs); compacted, so the hourly rollups exist. Each
GPU panel is asked for the whole week at 1000 px, as the page asks; the naive way reads the
raw rows of the same series and ships them as JSON. Targets: first render <= 2 s, <= 1 MB a
panel.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from perfops._internal.clock import ManualClock
from perfops._internal.ids import series_id
from perfops.app import Runtime
from perfops.config import parse_config
from perfops.store import SeriesInfo, Store
from perfops.web import running_dashboard

DAY_MS = 86_400_000
GPU_METRICS = {
    "gpu_util": ("gpu.util", 50.0, 40.0),
    "power": ("gpu.power_watts", 450.0, 200.0),
    "temp": ("gpu.temp_celsius", 60.0, 15.0),
    "fb_used": ("gpu.fb_used_bytes", 60e9, 10e9),
}
ENGINE = {"running": "llm.requests_running", "kv_cache": "llm.kv_cache_usage"}


def _write(store: Store, writer: Any, info: SeriesInfo, ts: np.ndarray, values: np.ndarray) -> None:
    store.timeseries.register_series([info])
    writer.add(
        pa.table(
            {
                "ts": ts,
                "series_id": np.full(len(ts), series_id(info.metric, info.labels)),
                "metric": pa.array([info.metric] * len(ts)),
                "value": values,
            }
        )
    )


def build(work: Path, gpus: int, days: int, interval_s: int) -> tuple[Runtime, int, int]:
    config = parse_config(
        "apiVersion: perfops/v1\nservices:\n  - {name: chat, endpoint: 'http://h:1/v1', "
        f"model: m, gpu: {{type: H100-SXM, count: {gpus}}}}}\n"
    )
    end = 1_764_288_000_000
    clock = ManualClock(end * 1_000_000)
    store = Store(work / "lake", clock=clock)
    n = days * DAY_MS // (interval_s * 1000)
    ts = end - days * DAY_MS + np.arange(n, dtype=np.int64) * interval_s * 1000
    rng = np.random.default_rng(1)
    rows = 0
    with store.timeseries.sample_writer(max_rows=4_000_000) as writer:
        for g in range(gpus):
            labels = {
                "service": "chat",
                "gpu": str(g % 8),
                "hostname": f"node-{g // 8}",
                "modelName": "NVIDIA H100 80GB HBM3",
            }
            for metric, mean, spread in GPU_METRICS.values():
                values = np.clip(mean + spread * rng.standard_normal(n), 0, None)
                _write(store, writer, SeriesInfo(metric, labels), ts, values)
                rows += n
        for r in range(max(1, gpus // 8)):
            labels = {"service": "chat", "job": f"vllm-{r}"}
            for metric in ENGINE.values():
                _write(store, writer, SeriesInfo(metric, labels), ts, rng.uniform(0, 50, n))
                rows += n
            tokens = np.cumsum(rng.poisson(500 * interval_s, n)).astype(np.float64)
            _write(store, writer, SeriesInfo("llm.generation_tokens_total", labels), ts, tokens)
            rows += n
    store.compact(retention_hours=0)
    return Runtime(config=config, store=store, clock=clock), end, rows


def _get(url: str) -> tuple[float, int]:
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as resp:
        size = len(resp.read())
    return time.perf_counter() - t, size


def naive(rt: Runtime, metric: str, start: int, end: int) -> tuple[float, int]:
    """Every raw row of the metric, shipped as JSON points per series."""
    t = time.perf_counter()
    table = rt.store.timeseries.query_samples(metric, start, end)
    series: dict[int, list[list[float]]] = {}
    for sid, ts, v in zip(
        table.column("series_id").to_pylist(),
        table.column("ts").to_pylist(),
        table.column("value").to_pylist(),
        strict=True,
    ):
        series.setdefault(sid, []).append([ts, v])
    size = len(json.dumps([{"id": k, "points": p} for k, p in series.items()]))
    return time.perf_counter() - t, size


def first_render(url: str) -> float | None:
    """Seconds from navigation to the GPU tab's charts all drawn, in headless Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        t = time.perf_counter()
        page.goto(url)
        while not page.evaluate("window.__perfops ? window.__perfops.loads : 0"):
            time.sleep(0.01)
        took = time.perf_counter() - t
        browser.close()
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpus", type=int, default=64)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--interval", type=int, default=15)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="perfops-dash-bench-"))
    try:
        t = time.perf_counter()
        rt, end, rows = build(work, args.gpus, args.days, args.interval)
        setup = time.perf_counter() - t
        start = end - args.days * DAY_MS
        panels = []
        with running_dashboard(rt) as dash:
            window = f"start={start}&end={end + 1}&width=1000"
            for panel, (metric, _, _) in GPU_METRICS.items():
                api_s, api_bytes = _get(f"{dash.url}api/panel/{panel}?{window}")
                raw_s, raw_bytes = naive(rt, metric, start, end + 1)
                panels.append({"panel": panel, "api_s": round(api_s, 3), "api_bytes": api_bytes,
                               "naive_s": round(raw_s, 3), "naive_bytes": raw_bytes})  # fmt: skip
            overview_s, overview_bytes = _get(f"{dash.url}api/overview?{window}")
            render = None
            if not args.no_browser:
                render = first_render(f"{dash.url}#start={start}&end={end + 1}&group=gpu")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "gpus": args.gpus,
        "days": args.days,
        "interval_s": args.interval,
        "samples": rows,
        "setup_s": round(setup, 1),
        "panels": panels,
        "overview_s": round(overview_s, 3),
        "overview_bytes": overview_bytes,
        "gpu_tab_first_render_s": None if render is None else round(render, 3),
        "target_render_under_2s": None if render is None else render <= 2.0,
        "target_panel_under_1mb": all(p["api_bytes"] <= 1_000_000 for p in panels),
    }
    out = Path("bench/results/dashboard.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
