"""SLIs over imported history agree with Prometheus: the oracle test's series, read from the
Prometheus that holds them by `collect import` (raw, from a --start off the scrape grid, twice
over overlapping ranges) instead of being scraped into the lake.

The series keep the ``service`` label the lake's SLO readers look for today; the mapping from
a service to its series (``selector:``) comes with its own change and tests."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from tests._servers import prometheus
from tests.integration.slo.test_prometheus_oracle import (
    AT_HOURS,
    CONFIG,
    STEP,
    WINDOWS,
    backfill_text,
    prom_value,
    synthetic,
)

from perfops._internal.clock import ManualClock
from perfops.app import Runtime
from perfops.app.imports import ImportQuery, import_prometheus
from perfops.app.slo import counts_for
from perfops.config import parse_config
from perfops.slo.rules import generate_rules, model_selector
from perfops.store import Store

QUERIES = [
    ImportQuery("vllm:request_success_total"),
    ImportQuery('{__name__=~"vllm:time_to_first_token_seconds_(bucket|count)"}'),
]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool comes with `make test`")
def test_imported_history_gives_prometheus_window_ratios(tmp_path: Path) -> None:
    start = (int(time.time()) - 7 * 3600) // 60 * 60
    rows = synthetic(start)
    (tmp_path / "history.om").write_text(backfill_text(rows))
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", "history.om", "data"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    config = parse_config(CONFIG)
    store = Store(tmp_path / "lake", clock=ManualClock())
    rt = Runtime(config=config, store=store, clock=ManualClock())
    end = rows[-1][0] + 60
    # the data miss 45 s after each window's start: the import marks each gap stale
    gaps = sum(b[0] - a[0] > 1.5 * STEP for a, b in zip(rows, rows[1:], strict=False))
    rules = generate_rules(config.slos, selector=model_selector(config.services))
    exprs = {
        (r["labels"]["slo"], r["record"]): r["expr"]
        for g in rules["groups"]
        for r in g["rules"]
        if r.get("record", "").startswith("slo:sli_error:ratio_rate")
    }
    with prometheus(tmp_path, {}, tsdb=tmp_path / "data") as prom:

        def load(lo: float) -> dict:
            return asyncio.run(import_prometheus(rt, prom.url, QUERIES, start=lo, end=end, step=15))

        first = load(start - 7.3)  # off the 15 s grid, before the first scrape
        # 6 series (2 outcomes, 3 buckets, a count), each marked stale at every gap and at
        # its end
        markers = 6 * (gaps + 1)
        assert (first["samples"], first["markers"]) == (len(rows) * 6 + markers, markers)
        totals = {s.name: counts_for(rt, s)((start - 60) * 1000, end * 1000) for s in config.slos}
        store.compact(retention_hours=0)  # windows over an hour read the hourly rollups
        again = load(start + 2700.1)  # overlaps the first import: adds nothing
        overlap = store.read_query(
            "SELECT count(*) AS n FROM samples WHERE ts >= ?", [round((start + 2700.1) * 1000)]
        ).to_pylist()[0]["n"]
        assert (again["samples"], again["duplicates"]) == (0, overlap)
        checked = 0
        for slo in config.slos:
            counts = counts_for(rt, slo)
            assert counts is not None
            assert counts((start - 60) * 1000, end * 1000) == totals[slo.name]
            for hours in AT_HOURS:
                at = start + int(hours * 3600)
                for name, seconds in WINDOWS.items():
                    # the 2.x server's closed range 1 ms shorter holds 3.x's (perfops') samples
                    ratio = exprs[(slo.name, f"slo:sli_error:ratio_rate{name}")]
                    span = f"[{seconds * 1000 - 1}ms]"
                    theirs = prom_value(prom.url, ratio.replace(f"[{name}]", span), at)
                    good, total = counts((at - seconds) * 1000, at * 1000)
                    rel = 1e-12 if at - seconds >= start else 0.01  # as the oracle test says
                    assert 1 - good / total == pytest.approx(theirs, rel=rel, abs=1e-6), (
                        slo.name,
                        hours,
                        name,
                    )
                    checked += 1
    assert checked == 2 * 3 * 5
