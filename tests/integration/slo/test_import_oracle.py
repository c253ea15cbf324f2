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
    CONFIG,
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
    windows = {"5m": 300, "30m": 1800, "1h": 3600, "2h": 7200, "1d": 86400}
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
        # 6 series (2 outcomes, 3 buckets, a count), each with a marker after its end
        assert (first["samples"], first["markers"]) == (len(rows) * 6 + 6, 6)
        totals = {s.name: counts_for(rt, s)((start - 60) * 1000, end * 1000) for s in config.slos}
        store.compact(retention_hours=0)  # windows over an hour read the hourly rollups
        again = load(start + 1800.1)  # overlaps the first import: adds nothing
        assert (again["samples"], again["duplicates"]) == (0, first["samples"] - 6 * 121)
        checked = 0
        for slo in config.slos:
            counts = counts_for(rt, slo)
            assert counts is not None
            assert counts((start - 60) * 1000, end * 1000) == totals[slo.name]
            for hours in (2.5, 3.5, 4.75):
                at = start + int(hours * 3600)
                for name, seconds in windows.items():
                    theirs = prom_value(
                        prom.url, exprs[(slo.name, f"slo:sli_error:ratio_rate{name}")], at
                    )
                    good, total = counts((at - seconds) * 1000, at * 1000 + 1)
                    rel = 1e-3 if at - seconds >= start else 0.01  # as the oracle test says
                    assert 1 - good / total == pytest.approx(theirs, rel=rel, abs=1e-6), (
                        slo.name,
                        hours,
                        name,
                    )
                    checked += 1
    assert checked == 2 * 3 * 5
