"""`perfops incident postmortem ID` on a real lake: a chaos experiment slows the sim's first
token under load, an alert and an incident are recorded at the fault's times as `perfops
incident serve` records them, and the postmortem's figures are checked against a
recomputation done here, in DuckDB over the Delta tables, not through perfops' own
functions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from deltalake import DeltaTable
from tests._servers import FleetThread, sim_fleet
from tests.conftest import run_cli

from perfops.store import EventRecord, Store

INCIDENT = "inc-7k2m9q4x"
HOSTILE = "<script>alert(1)</script> *boom* [x](javascript:alert(1)) | ![i](http://evil.test/i.png)"
THRESHOLD_NS = 550_000_000  # the SLO's TTFT limit: a starved sim's baseline holds it, and
# the fault adds 600 ms to every first token, so every request under it misses
RUNBOOK = """# chat-ttft: page

## Meaning

Time to first token is over its objective.

## Mitigation

<!-- perfops:begin evidence -->
1. Roll back the last deploy (`perfops chaos drill` measured it).
<!-- perfops:end evidence -->
2. Scale out the replicas.

## Escalation

Page the serving team.
"""


def _config(fleet: FleetThread) -> str:
    return f"""apiVersion: perfops/v1
services:
  - name: chat
    endpoint: {fleet.url()}
    model: llama-3.1-8b
    tenant: acme
    gpu: {{type: H100-SXM, count: 1}}
slos:
  - name: chat-ttft
    service: chat
    sli: {{kind: latency, metric: ttft, threshold: 550ms, source: requests}}
    objective: 95
"""


EXPERIMENT = """apiVersion: perfops/v1
kind: Experiment
title: slow first tokens
hypothesis:
  slos: [{slo: chat-ttft, max_burn_rate: 2}]
  baseline: 2s
  recovery: 2s
load: {service: chat, rate: 6, duration: 7s, prompt_tokens: 64, max_tokens: 8}
method:
  - {kind: sim.ttft_latency, params: {seconds: 0.6}, start: 1s, duration: 3s}
"""


def _incident_rows(injected: int, reverted: int) -> list[EventRecord]:
    """An alert and an incident's transitions at the fault's times, per the lake contract."""
    s = 1_000_000_000
    labels = {
        "alertname": "ChatTtftPage",
        "service": "chat",
        "severity": "page",
        "slo": "chat-ttft",
    }
    alert: dict[str, Any] = {
        "alertname": "ChatTtftPage",
        "labels": labels,
        "annotations": {},
        "starts_at": "",
        "ends_at": None,
        "group_key": '{}:{alertname="ChatTtftPage"}',
        "fingerprint": "f00d",
        "slo": "chat-ttft",
    }
    roles = {
        "incident_commander": "ada",
        "scribe": None,
        "communications_liaison": None,
        "subject_matter_expert": None,
    }

    def incident(ts: int, action: str, status: str, message: str | None = None) -> EventRecord:
        data = {
            "incident_id": INCIDENT,
            "action": action,
            "status": status,
            "severity": "SEV-2",
            "services": ["chat"],
            "slos": ["chat-ttft"],
            "roles": roles,
            "group_key": alert["group_key"],
            "message": message,
            "alert": alert if action == "open" else None,
            "by": "ada",
        }
        return EventRecord(ts, "incident", HOSTILE, "chat", "SEV-2", INCIDENT, data)

    return [
        EventRecord(
            injected + s,
            "alert",
            "ChatTtftPage",
            "chat",
            "page",
            None,
            {**alert, "status": "firing"},
        ),
        incident(injected + 2 * s, "open", "triage"),
        incident(injected + 3 * s, "status", "identified", "first tokens are slow"),
        incident(reverted, "status", "monitoring", "fault reverted"),
        EventRecord(
            reverted + s,
            "alert",
            "ChatTtftPage",
            "chat",
            "page",
            None,
            {**alert, "status": "resolved"},
        ),
        incident(reverted + 2 * s, "resolve", "resolved"),
    ]


@pytest.fixture(scope="module")
def fleet() -> Iterator[FleetThread]:
    with sim_fleet(replicas=1) as fleet:
        yield fleet


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, fleet: FleetThread) -> dict[str, Any]:
    """A workspace whose lake holds a real chaos run and the incident it caused."""
    ws = tmp_path_factory.mktemp("pm")
    (ws / "perfops.yaml").write_text(_config(fleet))
    (ws / "exp.yaml").write_text(EXPERIMENT)
    (ws / "runbooks").mkdir()
    (ws / "runbooks" / "chat-ttft.md").write_text(RUNBOOK)
    run = run_cli("chaos", "run", "exp.yaml", "--json", "out.json", cwd=ws, timeout=120)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    store = Store(ws / ".perfops" / "lake")
    events = store.journal.events()
    assert any(e.kind == "fault_injected" for e in events), run.stdout  # the baseline held
    (injected,) = [e.ts_ns for e in events if e.kind == "fault_injected"]
    (reverted,) = [e.ts_ns for e in events if e.kind == "fault_reverted"]
    rows = _incident_rows(injected, reverted)
    store.journal.append_events(rows)
    args = ("--out", "pm.md", "--html", "--json", "pm.json")
    made = run_cli("incident", "postmortem", INCIDENT, *args, cwd=ws)
    assert made.returncode == 0, made.stdout + made.stderr
    return {
        "ws": ws,
        "injected": injected,
        "reverted": reverted,
        "rows": rows,
        "pm": json.loads((ws / "pm.json").read_text()),
    }


def _requests(ws: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    table = DeltaTable(str(ws / ".perfops" / "lake" / "requests")).to_pyarrow_table()
    con.register("req", table)
    bad = (
        f"(error IS NOT NULL OR first_token_ns IS NULL OR "
        f"first_token_ns - sent_ns > {THRESHOLD_NS})"
    )
    con.execute(
        f"CREATE VIEW r AS SELECT *, {bad} AS bad, coalesce(prompt_tokens, 0) + "
        "coalesce(output_tokens, 0) AS tokens FROM req"
    )
    return con


def _utc(ns: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def test_the_impact_equals_a_recomputation_from_the_request_records(lake: dict) -> None:
    ws, pm = lake["ws"], lake["pm"]
    con = _requests(ws)
    # the first minute (m, m + 60 s] whose share of slow or failed requests is over 5%
    (first_minute,) = con.execute(
        "SELECT min(m) FROM (SELECT (scheduled_ns - 1) // 60000000000 AS m, "
        "count(*) FILTER (WHERE bad) AS b, count(*) AS n FROM r GROUP BY m) WHERE b * 20 > n"
    ).fetchone()
    start_ms = first_minute * 60_000
    resolved_ms = lake["rows"][-1].ts_ns // 1_000_000
    assert pm["window"]["start_ns"] == start_ms * 1_000_000
    assert pm["window"]["end_ns"] == resolved_ms * 1_000_000
    lo, hi = start_ms * 1_000_000 + 1, resolved_ms * 1_000_000 + 1
    total, affected, tokens = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE bad), coalesce(sum(tokens) FILTER (WHERE bad), 0)"
        " FROM r WHERE scheduled_ns >= ? AND scheduled_ns < ?",
        [lo, hi],
    ).fetchone()
    assert affected >= 10  # ~3 s of 6 req/s, every one slowed past the limit
    impact = pm["impact"]
    assert impact["requests"]["value"] == total
    assert impact["requests_affected"]["value"] == affected
    assert impact["tokens_affected"]["value"] == tokens
    (slo,) = pm["slo_impact"]
    assert slo["bad"]["value"] == affected
    # the period is the SLO's rolling 28 days: every request so far is in it
    (period,) = con.execute("SELECT count(*) FROM r WHERE scheduled_ns < ?", [hi]).fetchone()
    assert slo["budget_pct"]["value"] == pytest.approx(100 * affected / (0.05 * period))
    # GPU time: the service's one declared GPU for the window; wasted, the share of its
    # tokens from requests that missed the SLO
    a, b = start_ms * 1_000_000, resolved_ms * 1_000_000
    all_tokens, bad_tokens = con.execute(
        "SELECT sum(tokens), coalesce(sum(tokens) FILTER (WHERE bad), 0) FROM r "
        "WHERE scheduled_ns >= ? AND scheduled_ns < ?",
        [a, b],
    ).fetchone()
    hours = (resolved_ms - start_ms) / 3_600_000
    assert impact["gpu_hours"]["value"] == pytest.approx(hours)
    assert impact["gpu_hours_wasted"]["value"] == pytest.approx(hours * bad_tokens / all_tokens)
    assert impact["tenants"]["value"] == "acme"


def test_the_markdown_shows_the_figures_with_their_queries(lake: dict) -> None:
    text = (lake["ws"] / "pm.md").read_text()
    impact = lake["pm"]["impact"]
    row = next(line for line in text.splitlines() if line.startswith("| Requests affected |"))
    assert f"{impact['requests_affected']['value']:,}[^" in row
    note = row.split("[^")[1].split("]")[0]
    definition = next(line for line in text.splitlines() if line.startswith(f"[^{note}]: "))
    assert "Journal.request_log" in definition
    assert "FROM requests WHERE target" in definition
    assert "lake tables read: requests v" in definition
    for section in (
        "## Summary",
        "## Impact",
        "## Timeline",
        "## Detection",
        "## Root cause",
        "## Lessons learned",
        "## Action items",
        "## What the runbook said",
    ):
        assert section in text
    assert "human judgement" in text.split("## Root cause")[1].split("##")[0]
    assert "· sev2_" in text.split("## Action items")[1]  # PagerDuty's action item tag


def test_the_timeline_has_the_fault_and_the_alert_at_their_times(lake: dict) -> None:
    text = (lake["ws"] / "pm.md").read_text()
    lines = list(text.split("## Timeline")[1].split("## Detection")[0].splitlines())
    alert = lake["rows"][0].ts_ns

    def at(ns: int, kind: str) -> list[str]:
        return [line for line in lines if line.startswith(f"| {_utc(ns)} | {kind} |")]

    assert at(lake["injected"], "fault injected")
    assert at(lake["reverted"], "fault reverted")
    assert at(alert, "alert")
    assert [m["kind"] for m in lake["pm"]["timeline"]].count("incident") == 4
    detect = lake["pm"]["detection"]
    assert detect["first_alert"]["value"] == alert
    start = lake["pm"]["window"]["start_ns"]
    assert detect["time_to_detect"]["value"] == pytest.approx((alert - start) / 1e9)
    # mitigated when the fault was reverted (and the incident moved to monitoring)
    assert detect["time_to_mitigate"]["value"] == pytest.approx((lake["reverted"] - start) / 1e9)
    resolved = lake["rows"][-1].ts_ns
    assert detect["time_to_resolve"]["value"] == pytest.approx((resolved - start) / 1e9)


def test_the_runbook_mitigation_is_set_against_what_was_done(lake: dict) -> None:
    (runbook,) = lake["pm"]["runbooks"]
    assert runbook["name"] == "chat-ttft"
    assert "Roll back the last deploy" in runbook["mitigation"]
    assert "perfops:begin" not in runbook["mitigation"]
    done = {a["kind"]: a["in_runbook"] for a in runbook["actions"]}
    assert done["fault reverted"] is True  # "roll back" names reverting what went out


def test_the_html_page_escapes_the_incident_title(lake: dict) -> None:
    page = (lake["ws"] / "pm.html").read_text()
    assert page.startswith("<!doctype html>")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert 'href="javascript' not in page
    assert "<img" not in page
    assert "<link" not in page
    assert "src=" not in page
    assert '<sup class="ref"><a href="#fn-1">1</a></sup>' in page


def test_an_unknown_incident_is_a_usage_error_naming_it(lake: dict) -> None:
    result = run_cli("incident", "postmortem", "inc-nope0000", "--out", "x.md", cwd=lake["ws"])
    assert result.returncode == 2
    assert "inc-nope0000" in result.stderr
    assert "perfops incident list" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (lake["ws"] / "x.md").exists()
