"""`perfops slo status` and the generated rules read the same series, through the service's
one selector, on series labelled as vLLM and Prometheus label them (model_name, engine, job,
instance) and carrying no `service` label: checked against a real Prometheus evaluating the
rules of `perfops slo rules` on the same data.

Besides the service's series, the data holds a decoy that its selector must leave out (the
same model under another job, every request failing); an SLO whose service matches no
series is `no data` in status, and Prometheus has nothing for it either. Scrapes sit 7 s off
the minute, so no sample lies on a window edge and the comparison holds for Prometheus 2.x
and 3.x range conventions alike.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from tests._servers import prometheus
from tests.integration.slo.test_prometheus_oracle import prom_value

from perfops._internal.clock import ManualClock
from perfops.app import Runtime
from perfops.app.collect import LakeSink
from perfops.app.slo import slo_statuses
from perfops.config import parse_config
from perfops.slo.rules import generate_rules, gpu_selectors, service_selector
from perfops.store import Store
from perfops.telemetry.catalog import load_catalog
from perfops.telemetry.exposition import parse
from perfops.telemetry.series import SeriesMapper

STEP = 15
OFFSET = 7
HOURS = 5
REAL = 'model_name="m8b",engine="0",job="vllm-chat",instance="10.0.0.7:8000"'
DECOY = 'model_name="m8b",engine="0",job="batch",instance="10.0.0.9:8000"'
CONFIG = """apiVersion: perfops/v1
services:
  - {name: chat, endpoint: "http://127.0.0.1:1/v1", model: m8b, gpu: {type: H100-SXM},
     selector: '{model_name="m8b", job=~"vllm-.*"}'}
  - {name: ghost, endpoint: "http://127.0.0.1:1/v1", model: ghost, gpu: {type: H100-SXM}}
slos:
  - {name: ttft, service: chat, objective: 99,
     sli: {kind: latency, metric: ttft, threshold: 250ms}}
  - {name: avail, service: chat, objective: 99.5, sli: {kind: availability}}
  - {name: ghost-avail, service: ghost, objective: 99.5, sli: {kind: availability}}
"""
HEADER = [
    "# TYPE vllm:request_success counter",
    "# TYPE vllm:time_to_first_token_seconds histogram",
]


def _lines(labels: str, i: int, stamp: str, *, decoy: bool) -> list[list[str]]:
    """Cumulative counters at step ``i``: ~60 req per step, a burn from hour 3."""
    n = i + 1
    burning = max(0, i - 3 * 3600 // STEP)
    abort = n * 60 if decoy else n // 7 + 5 * burning
    slow = n * 60 if decoy else n // 5 + 8 * burning
    total = 60 * n
    fast = total - slow
    success = [
        f'vllm:request_success_total{{{labels},finished_reason="stop"}} {total - abort}{stamp}',
        f'vllm:request_success_total{{{labels},finished_reason="abort"}} {abort}{stamp}',
    ]
    histogram = [
        f'vllm:time_to_first_token_seconds_bucket{{{labels},le="{le}"}} {v}{stamp}'
        for le, v in (("0.1", fast // 2), ("0.25", fast), ("+Inf", total))
    ]
    histogram.append(f"vllm:time_to_first_token_seconds_count{{{labels}}} {total}{stamp}")
    return [success, histogram]


def _families(i: int, stamp: str) -> list[list[str]]:
    """Both families at step ``i``, the service's series and the decoy's."""
    real, decoy = _lines(REAL, i, stamp, decoy=False), _lines(DECOY, i, stamp, decoy=True)
    return [a + b for a, b in zip(real, decoy, strict=True)]


def _openmetrics(times: list[int]) -> str:
    per_step = [_families(i, f" {t}") for i, t in enumerate(times)]
    lines = list(HEADER)
    for family in range(2):
        for step in per_step:
            lines += step[family]
    return "\n".join(lines) + "\n# EOF\n"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool comes with `make test`")
def test_status_and_rules_read_the_same_series_through_the_service_selector(
    tmp_path: Path,
) -> None:
    start = (int(time.time()) - 7 * 3600) // 60 * 60
    times = [start + OFFSET + i * STEP for i in range(HOURS * 3600 // STEP)]
    (tmp_path / "history.om").write_text(_openmetrics(times))
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics",
         str(tmp_path / "history.om"), str(tmp_path / "data")],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    config = parse_config(CONFIG)
    store = Store(tmp_path / "lake", clock=ManualClock())
    sink = LakeSink(store)
    mapper = SeriesMapper(load_catalog(), source="vllm", target_labels={})
    for i, t in enumerate(times):  # the lake sees what Prometheus scraped: no service label
        families = _families(i, "")
        sink(mapper.rows(parse("\n".join(HEADER + families[0] + families[1]) + "\n"), t * 1000))
    sink.flush()
    store.compact(retention_hours=0)
    assert not any("service" in i.labels for i in store.timeseries.series().values())
    rules = generate_rules(
        config.slos, selector=service_selector(config.services), gpus=gpu_selectors(config)
    )
    exprs = {
        (r["labels"]["slo"], r["record"]): r["expr"]
        for g in rules["groups"]
        for r in g["rules"]
        if r.get("record", "").startswith("slo:sli_error:ratio_rate")
    }
    assert 'job=~"vllm-.*"' in exprs[("avail", "slo:sli_error:ratio_rate5m")]
    checked = 0
    with prometheus(tmp_path, {}, tsdb=tmp_path / "data") as prom:
        for hours in (3.5, 4.75):
            at = start + int(hours * 3600)
            clock = ManualClock(at * 1_000_000_000)
            rt = Runtime(config=config, store=store, clock=clock)
            status = {s.name: s for s in slo_statuses(rt, config.slos)}
            ghost = status["ghost-avail"]
            assert ghost.state == "no data"
            assert ghost.no_data is not None
            assert ghost.no_data.startswith('no series match {model_name="ghost"}')
            assert ghost.budget is None
            assert math.isnan(
                prom_value(prom.url, exprs[("ghost-avail", "slo:sli_error:ratio_rate5m")], at)
            )
            for name in ("ttft", "avail"):
                slo = status[name]
                assert slo.state in ("ok", "firing"), slo
                budget = 1 - slo.objective_pct / 100
                for window in ("5m", "30m", "1h", "2h"):
                    theirs = prom_value(
                        prom.url, exprs[(name, f"slo:sli_error:ratio_rate{window}")], at
                    )
                    ours = slo.burn_rates[window] * budget
                    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12), (
                        name, hours, window, ours, theirs,
                    )  # fmt: skip
                    checked += 1
            assert status["avail"].firing  # the burn from hour 3 pages, in both
    assert checked == 2 * 2 * 4
