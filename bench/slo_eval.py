"""`perfops slo status` for many SLOs over weeks of 1-minute data, against a straightforward
recomputation from the raw rows in the same run.

    python bench/slo_eval.py [--slos 100] [--days 28]

Each SLO is an availability SLO on its own service, whose vLLM counter (two outcomes) was
scraped every minute for ``--days``; the lake is compacted so the 1-minute rollups exist.
Target: the status of all SLOs in under 1 s on this machine.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from perfops._internal.clock import ManualClock
from perfops._internal.ids import series_id
from perfops.app import Runtime
from perfops.app.slo import slo_statuses
from perfops.config import parse_config
from perfops.slo.engine import increase
from perfops.store import SeriesInfo, Store

MINUTE = 60_000


def build(work: Path, slos: int, days: int) -> tuple[Runtime, int]:
    services = "".join(
        f"  - {{name: s{i}, endpoint: 'http://h:1/v1', model: m{i}, gpu: {{type: H100-SXM}}}}\n"
        for i in range(slos)
    )
    objectives = "".join(
        f"  - {{name: a{i}, service: s{i}, objective: 99.5, sli: {{kind: availability}}}}\n"
        for i in range(slos)
    )
    config = parse_config(f"apiVersion: perfops/v1\nservices:\n{services}slos:\n{objectives}")
    end = 1_764_288_000_000
    clock = ManualClock(end * 1_000_000)
    store = Store(work / "lake", clock=clock)
    minutes = days * 1440
    ts = end - days * 86_400_000 + np.arange(minutes, dtype=np.int64) * MINUTE
    rng = np.random.default_rng(1)
    with store.timeseries.sample_writer(max_rows=2_000_000) as writer:
        for i in range(slos):
            for outcome, per_min in (("stop", 240), ("abort", 1)):
                labels = {"service": f"s{i}", "outcome": outcome}
                store.timeseries.register_series([SeriesInfo("llm.requests_total", labels)])
                values = np.cumsum(rng.poisson(per_min, minutes)).astype(np.float64)
                writer.add(
                    pa.table(
                        {
                            "ts": ts,
                            "series_id": np.full(minutes, series_id("llm.requests_total", labels)),
                            "metric": pa.array(["llm.requests_total"] * minutes),
                            "value": values,
                        }
                    )
                )
    store.compact(retention_hours=0)
    return Runtime(config=config, store=store, clock=clock), end


def raw_recompute(rt: Runtime, end: int, days: int) -> list[float]:
    """The straightforward way: every raw row of every series, increase() per window."""
    out = []
    for slo in rt.config.slos:
        table = rt.store.timeseries.query_samples(
            "llm.requests_total",
            end - days * 86_400_000 - MINUTE,
            end + 1,
            {"service": slo.service},
        )
        series: dict[int, tuple[list[int], list[float]]] = {}
        for sid, t, v in zip(
            table.column("series_id").to_pylist(),
            table.column("ts").to_pylist(),
            table.column("value").to_pylist(),
            strict=True,
        ):
            series.setdefault(sid, ([], []))[0].append(t)
            series[sid][1].append(v)
        total = sum(increase(t, v, end - days * 86_400_000, end + 1) for t, v in series.values())
        out.append(total)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--slos", type=int, default=100)
    ap.add_argument("--days", type=int, default=28)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="perfops-slo-bench-"))
    try:
        t = time.perf_counter()
        rt, end = build(work, args.slos, args.days)
        setup = time.perf_counter() - t
        t = time.perf_counter()
        statuses = slo_statuses(rt, rt.config.slos)
        ours = time.perf_counter() - t
        t = time.perf_counter()
        raw = raw_recompute(rt, end, args.days)
        theirs = time.perf_counter() - t
    finally:
        shutil.rmtree(work, ignore_errors=True)
    worst = max(abs(s.total - r) / r for s, r in zip(statuses, raw, strict=True) if r)
    result = {
        "slos": args.slos,
        "days": args.days,
        "samples": args.slos * 2 * args.days * 1440,
        "setup_s": round(setup, 1),
        "status_all_s": round(ours, 3),
        "raw_recompute_s": round(theirs, 3),
        "speedup_x": round(theirs / ours, 2),
        "target_under_1s": ours < 1.0,
        "max_relative_difference_in_events": None if math.isnan(worst) else round(worst, 5),
    }
    out = Path("bench/results/slo_eval.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
