"""The on-call loop end to end, every part real: a sim under a chaos experiment's load and
fault; a real Prometheus scraping it and evaluating the rules `perfops slo rules` wrote; a real
Alertmanager routing the page alert to `perfops incident serve`; the incident it opens; the
alert resolving after the fault is reverted; a status update and the postmortem, whose numbers
equal an independent count over the lake's request records (DuckDB over the Delta table, not
perfops' functions).

The SLO's period is seven days (the shortest perfops accepts) with Pyrra's window set, so its
page alert reads 15m with 1m15s at 14x the budget, or 1h30m with 7m30s at 7x (Pyrra's windows
of 28 days scaled to the period). A 2 s fault among 6 s of good traffic burns both 15m and 1m15s
past 14x at once; the good traffic after it dilutes every window below its threshold (about 20
bad requests need 290 in all to fall under 7%: 30 s at 10 req/s), so the alert resolves while
the load still runs, and the load's 600 requests leave the ratio near half the threshold.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from deltalake import DeltaTable
from tests._servers import (
    alertmanager,
    incident_receiver,
    prometheus,
    sim_fleet,
    sim_service_yaml,
    wait_until,
)
from tests.conftest import run_cli

from perfops.app import open_runtime
from perfops.config import parse_config
from perfops.slo.rules import alert_name
from perfops.store import EventRecord

THRESHOLD_NS = 500_000_000
SLOS = """slos:
  - name: chat-ttft
    service: chat
    description: first tokens within 500 ms for 99% of chat requests
    sli: {kind: latency, metric: ttft, threshold: 500ms, source: requests}
    objective: 99
    window: 7d
    alerting: pyrra
"""
EXPERIMENT = """apiVersion: perfops/v1
kind: Experiment
title: slow first tokens for 2 s
hypothesis:
  slos: [{slo: chat-ttft, max_burn_rate: 2}]
  baseline: 2s
  recovery: 2s
load: {service: chat, rate: 10, duration: 60s, prompt_tokens: 64, max_tokens: 8}
method:
  - {kind: sim.ttft_latency, params: {seconds: 0.6}, start: 6s, duration: 2s}
"""


def _am_config(url: str) -> str:
    return f"""
route:
  receiver: perfops
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: perfops
    webhook_configs:
      - {{url: "{url}", send_resolved: true}}
"""


def _events(ws: Path, kind: str) -> list[EventRecord]:
    return open_runtime(ws / "perfops.yaml").store.journal.events(kind=kind)


def _incidents(ws: Path) -> list[dict[str, Any]]:
    out = run_cli("incident", "list", "--json", cwd=ws)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout))


def _requests(ws: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("req", DeltaTable(str(ws / ".perfops" / "lake" / "requests")).to_pyarrow_table())
    con.execute(
        "CREATE VIEW r AS SELECT *, (error IS NOT NULL OR first_token_ns IS NULL OR "
        f"first_token_ns - sent_ns > {THRESHOLD_NS}) AS bad, coalesce(prompt_tokens, 0) + "
        "coalesce(output_tokens, 0) AS tokens FROM req"
    )
    return con


def _bad_between(ws: Path, start_ns: int, end_ns: int) -> int:
    """Requests outside the SLO scheduled in the window (start, end] on the millisecond
    grid, as every perfops window reads: [start + 1 ns, end + 1 ns) of whole milliseconds."""
    lo = start_ns // 1_000_000 * 1_000_000 + 1
    hi = end_ns // 1_000_000 * 1_000_000 + 1
    sql = "SELECT count(*) FILTER (WHERE bad) FROM r WHERE scheduled_ns >= ? AND scheduled_ns < ?"
    (n,) = _requests(ws).execute(sql, [lo, hi]).fetchone()  # type: ignore[misc]
    return int(n)


@pytest.mark.timeout(600)
def test_a_fault_pages_through_alertmanager_opens_an_incident_and_drafts_the_postmortem(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    with sim_fleet(replicas=1) as fleet:
        (ws / "perfops.yaml").write_text(sim_service_yaml(fleet, extra=SLOS))
        (ws / "exp.yaml").write_text(EXPERIMENT)
        rules = run_cli("slo", "rules", "--out", "rules", cwd=ws)
        assert rules.returncode == 0, rules.stderr
        config = parse_config((ws / "perfops.yaml").read_text())
        page = alert_name(config.slos[0], "page")
        (tmp_path / "am").mkdir()
        (tmp_path / "prom").mkdir()
        with (
            incident_receiver(ws) as hook,
            alertmanager(tmp_path / "am", _am_config(hook)) as am,
            prometheus(tmp_path / "prom", {"chat-0": fleet.url("replica-0-metrics")},
                       rule_files=(ws / "rules" / "rules.yml",), alertmanager_url=am.url),
        ):  # fmt: skip
            run = run_cli("chaos", "run", "exp.yaml", "--json", "run.json", cwd=ws, timeout=240)
            assert run.returncode in (0, 1), run.stdout + run.stderr
            (injected,) = [e.ts_ns for e in _events(ws, "fault_injected")]
            (reverted,) = [e.ts_ns for e in _events(ws, "fault_reverted")]
            opened = wait_until("the page alert opened an incident", lambda: _incidents(ws), 120)
            # the fault is reverted and the short window clears: Alertmanager sends the
            # resolution and the incident waits in monitoring for a human to resolve it
            wait_until(
                "the alert resolved",
                lambda: [i for i in _incidents(ws) if i["status"] == "monitoring"],
                150,
            )

    (inc,) = opened
    iid = inc["incident_id"]
    assert inc["services"] == ["chat"]
    assert inc["severity"].startswith("SEV-")
    assert inc["opened_ns"] >= injected
    alerts = [a for a in _events(ws, "alert") if a.title == page]
    firing = [a for a in alerts if a.data["status"] == "firing"]
    resolved = [a for a in alerts if a.data["status"] == "resolved"]
    assert firing, [a.data for a in alerts]
    assert resolved, [a.data for a in alerts]
    # fired after the fault began (its first slow tokens come out up to a scrape and an
    # evaluation later, maybe after the revert), resolved after the revert
    assert injected <= min(a.ts_ns for a in firing) < max(a.ts_ns for a in resolved)
    assert max(a.ts_ns for a in resolved) > reverted
    assert len(_incidents(ws)) == 1  # Alertmanager's repeats joined it, none opened another

    done = run_cli("incident", "resolve", iid, "--message", "fault reverted", "--json", cwd=ws)
    assert done.returncode == 0, done.stderr
    state = json.loads(run_cli("incident", "show", iid, "--json", cwd=ws).stdout)
    assert state["status"] == "resolved"

    # the resolution message's count of requests outside the SLO: the incident's window
    message = run_cli("incident", "message", iid, "--kind", "resolution", cwd=ws)
    assert message.returncode == 0, message.stderr
    found = re.search(r"([\d,]+) requests and (?:[\d,]+|n/a) tokens outside the SLOs",
                      message.stdout)  # fmt: skip
    assert found, message.stdout
    bad = _bad_between(ws, state["opened_ns"], state["resolved_ns"])
    assert int(found[1].replace(",", "")) == bad

    # the postmortem's impact, recounted from the request records over its window
    pm_run = run_cli("incident", "postmortem", iid, "--out", "pm.md", "--json", "pm.json", cwd=ws)
    assert pm_run.returncode == 0, pm_run.stdout + pm_run.stderr
    pm = json.loads((ws / "pm.json").read_text())
    start, end = pm["window"]["start_ns"], pm["window"]["end_ns"]
    assert start <= min(a.ts_ns for a in firing)  # impact starts at the first bad minute
    assert pm["impact"]["requests_affected"]["value"] == _bad_between(ws, start, end) > 0
    text = (ws / "pm.md").read_text()
    assert iid in text
    assert page in text  # the alert is on the timeline
