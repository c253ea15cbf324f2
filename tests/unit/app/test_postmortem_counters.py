"""A postmortem of an incident with no load-test records: requests and the affected ones come
from the engine's counters (vLLM's ``llm.requests_total`` by outcome), read as ``perfops slo
status`` reads an availability SLO; which tokens were affected, the counters cannot say."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfops._internal.clock import ManualClock
from perfops.app.postmortem import draft_postmortem
from perfops.app.runtime import Runtime
from perfops.config import parse_config
from perfops.store import EventRecord, SeriesInfo, Store

MIN = 60_000
T0 = 1_796_313_000_000  # ms, 2026-12-03 15:50:00 UTC: a whole minute
CONFIG = """apiVersion: perfops/v1
services:
  - {name: chat, endpoint: "http://127.0.0.1:9/v1", model: llama-3.1-8b,
     gpu: {type: H100-SXM, count: 1}}
slos:
  - {name: chat-availability, service: chat, sli: {kind: availability}, objective: 99}
"""


def _lake(tmp_path: Path) -> Runtime:
    """Ten minutes of counters scraped every 15 s: 10 good requests a scrape, and 5 errors a
    scrape from minute 3 to minute 5; an incident from minute 4 to minute 7."""
    clock = ManualClock((T0 + 20 * MIN) * 1_000_000)
    store = Store(tmp_path / "lake", clock=clock)
    stop = SeriesInfo("llm.requests_total", {"model_name": "llama-3.1-8b", "outcome": "stop"})
    error = SeriesInfo("llm.requests_total", {"model_name": "llama-3.1-8b", "outcome": "error"})
    points, errors = [], 0.0
    for i in range(41):
        ts = T0 + i * 15_000
        errors += 5 if 3 * MIN < ts - T0 <= 5 * MIN else 0
        points += [(stop, ts, 10.0 * i), (error, ts, errors)]
    store.timeseries.append_points(points)
    data = {"incident_id": "inc-c0unt3r5", "services": ["chat"], "slos": ["chat-availability"]}
    ns = 1_000_000
    store.journal.append_events([
        EventRecord((T0 + 4 * MIN) * ns, "alert", "ChatAvailabilityPage", "chat", "page",
                    data={"alertname": "ChatAvailabilityPage", "status": "firing"}),
        EventRecord((T0 + 4 * MIN + 30_000) * ns, "incident", "errors", "chat", "SEV-3",
                    "inc-c0unt3r5", {**data, "action": "open", "status": "triage"}),
        EventRecord((T0 + 7 * MIN) * ns, "incident", "errors", "chat", "SEV-3", "inc-c0unt3r5",
                    {**data, "action": "resolve", "status": "resolved"}),
    ])  # fmt: skip
    return Runtime(config=parse_config(CONFIG), store=store, clock=clock)


def test_without_request_records_the_counters_give_the_requests_affected(tmp_path: Path) -> None:
    pm = draft_postmortem(_lake(tmp_path), "inc-c0unt3r5", tmp_path / "runbooks")
    assert pm.start_ns == (T0 + 3 * MIN) * 1_000_000  # the first minute with errors
    assert pm.end_ns == (T0 + 7 * MIN) * 1_000_000
    impact = pm.impact
    # 40 errors in the window, as Prometheus' increase() extrapolates them to its edges
    assert impact["requests_affected"].value == pytest.approx(40, rel=0.1)
    assert impact["requests"].value == pytest.approx(4 * 40 + 40, rel=0.1)
    assert "llm.requests_total" in impact["requests"].source.call
    assert impact["tokens_affected"].value is None
    assert "not measured" in impact["tokens_affected"].text
    detect = pm.detection["time_to_detect"]
    assert detect is not None
    assert detect.value == 60.0  # minute 3 to the alert at minute 4
