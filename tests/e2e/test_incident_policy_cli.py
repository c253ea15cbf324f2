"""`perfops incident policy simulate|show|ical` as a user runs them: a fixed alert history in the
lake replayed through a policy, with the pages counted by hand; the page and the calendar."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import icalendar
import pytest
from tests.conftest import run_cli

from perfops.store import Store
from perfops.store.records import EventRecord

UTC = dt.UTC
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


def _anchor() -> dt.datetime:
    """Monday 00:00 UTC three to four weeks ago: the history lies inside --since 30d."""
    day = dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day -= dt.timedelta(days=21)
    return day - dt.timedelta(days=day.weekday())


def _policy(start: dt.date) -> str:
    return f"""\
apiVersion: perfops/v1
escalation:
  receivers:
    - {{name: pager, kind: pagerduty, target_env: PD_KEY}}
    - {{name: chat, kind: slack, target_env: SLACK_URL}}
  routes:
    - {{severity: page, receivers: [pager]}}
    - {{severity: ticket, receivers: [chat]}}
  schedules:
    - {{name: primary, people: [ana, bo], rotation: 1w, handoff: "09:00", start: {start}}}
    - {{name: secondary, people: [cy], rotation: 1w, handoff: "09:00", start: {start}}}
  steps:
    - {{after: 0m, notify: [primary]}}
    - {{after: 15m, notify: [secondary]}}
  repeat: 1
  repeat_every: 30m
  roles: {{incident_commander: primary}}
"""


def _alert(name: str, tier: str, start: dt.datetime, end: dt.datetime | None) -> list[EventRecord]:
    """The rows `perfops incident serve` writes for one alert (contract of issue 17)."""
    fingerprint = f"fp-{name}"
    labels = {"alertname": name, "severity": tier, "service": "chat", "slo": "chat-ttft"}

    def row(status: str, at: dt.datetime) -> EventRecord:
        data = {
            "status": status, "alertname": name, "labels": labels, "annotations": {},
            "starts_at": start.isoformat().replace("+00:00", "Z"),
            "ends_at": end.isoformat().replace("+00:00", "Z") if end and status == "resolved"
            else None,
            "group_key": f"{{}}:{{alertname={name!r}}}", "fingerprint": fingerprint,
            "slo": "chat-ttft",
        }  # fmt: skip
        return EventRecord(int(at.timestamp() * 1e9), "alert", name, "chat", tier, None, data)

    rows = [row("firing", start)]
    return rows + ([row("resolved", end)] if end is not None else [])


def _history(a: dt.datetime) -> list[EventRecord]:
    """Eight alerts; ``a`` is a Monday 00:00 UTC and both schedules start that day at 09:00."""
    return [
        *_alert("a1", "page", a + 3 * HOUR, a + 3 * HOUR + 10 * MINUTE),
        *_alert("a2", "page", a + 34 * HOUR, a + 34 * HOUR + 20 * MINUTE),  # Tue 10:00
        *_alert("a3", "page", a + 71 * HOUR, a + 72 * HOUR + 40 * MINUTE),  # Wed 23:00
        *_alert("a4", "page", a + 177 * HOUR + 30 * MINUTE, a + 177 * HOUR + 40 * MINUTE),
        *_alert("a5", "page", a + 176 * HOUR + 50 * MINUTE, a + 177 * HOUR + 20 * MINUTE),
        *_alert("a6", "ticket", a + 204 * HOUR, a + 205 * HOUR),
        *_alert("a7", "info", a + 206 * HOUR, a + 207 * HOUR),
        *_alert("a8", "page", a + 223 * HOUR, None),  # Tue week 2, 07:00: fires ...
        *_alert("a8", "page", a + 223 * HOUR, a + 223 * HOUR + 5 * MINUTE),  # ... again, resolves
    ]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dt.datetime]:
    root = tmp_path_factory.mktemp("policy")
    anchor = _anchor()
    (root / "perfops.yaml").write_text(_policy(anchor.date()))
    Store(root / ".perfops" / "lake").journal.append_events(_history(anchor))
    return root, anchor


def test_the_replay_pages_whom_a_hand_count_says(workspace: tuple[Path, dt.datetime]) -> None:
    root, anchor = workspace
    result = run_cli("incident", "policy", "simulate", "--since", "30d", "--json", cwd=root)
    assert result.returncode == 0, result.stderr
    sim = json.loads(result.stdout)
    # Counted by hand (primary: ana week 1, bo week 2; secondary: cy; hand-offs Monday 09:00
    # UTC; steps at +0 primary, +15m secondary; one repeat 30m after; night 22:00-08:00):
    #   a1 Mon 03:00-03:10  before the first hand-off: nobody on call; +15m is after it resolved
    #   a2 Tue 10:00-10:20  ana 10:00, cy 10:15; the repeat at 10:30 comes after it resolved
    #   a3 Wed 23:00-00:40  ana 23:00, cy 23:15, ana 23:30, cy 23:45: four night pages
    #   a4 Mon 09:30-09:40  bo 09:30 (week 2 began at 09:00); +15m after it resolved
    #   a5 Mon 08:50-09:20  ana 08:50 (still week 1), cy 09:05
    #   a6 ticket           routed to chat, no page
    #   a7 info             no route: reached nobody
    #   a8 Tue 07:00-07:05  bo 07:00 (night); its repeated firing row is the same alert
    assert sim["alerts"] == 8
    assert sim["pages"] == 2 + 4 + 1 + 2 + 1
    assert sim["per_person"] == {
        "ana": {"pages": 1 + 2 + 1, "night": 2},  # a2, a3 x2, a5
        "bo": {"pages": 1 + 1, "night": 1},  # a4, a8
        "cy": {"pages": 1 + 2 + 1, "night": 2},  # a2, a3 x2, a5
    }
    assert sim["night_pages"] == 5
    week1, week2 = (f"{y}-W{w:02d}" for y, w, _ in (
        anchor.isocalendar(), (anchor + dt.timedelta(days=7)).isocalendar()))  # fmt: skip
    assert sim["per_week"] == {week1: 2 + 4, week2: 1 + 2 + 1}
    assert sim["routed_without_page"] == 1
    assert sim["resolved_before_first_step"] == 0
    reasons = {u["alert"]: u["reason"] for u in sim["unreached"]}
    assert reasons == {
        "a1": "step 1: nobody on call on 'primary'",
        "a7": "no route for severity 'info'",
    }
    a3 = [(p["person"], p["step"], p["round"]) for p in sim["page_log"] if p["alert"] == "a3"]
    assert a3 == [("ana", 1, 0), ("cy", 2, 0), ("ana", 1, 1), ("cy", 2, 1)]


def test_a_shorter_replay_sees_fewer_alerts(workspace: tuple[Path, dt.datetime]) -> None:
    root, _ = workspace
    result = run_cli("incident", "policy", "simulate", "--since", "1d", "--json", cwd=root)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["alerts"] == 0
    table = run_cli("incident", "policy", "simulate", cwd=root)
    assert table.returncode == 0, table.stderr
    assert "8 alert(s)" in table.stdout
    assert "reached nobody" in table.stdout


def test_the_page_and_the_calendar(workspace: tuple[Path, dt.datetime]) -> None:
    root, _ = workspace
    page = run_cli("incident", "policy", "show", cwd=root)
    assert page.returncode == 0, page.stderr
    assert "## Escalation steps" in page.stdout
    assert "| SEV\\-5 |" in page.stdout
    html = run_cli("incident", "policy", "show", "--format", "html", "--out", "p.html", cwd=root)
    assert html.returncode == 0, html.stderr
    assert "<h2>On call</h2>" in (root / "p.html").read_text()
    made = run_cli("incident", "policy", "ical", "--schedule", "primary", "--out", "p.ics",
                   "--days", "4w", cwd=root)  # fmt: skip
    assert made.returncode == 0, made.stderr
    events = list(icalendar.Calendar.from_ical((root / "p.ics").read_bytes()).walk("VEVENT"))
    assert len(events) in (4, 5)  # the current shift and those starting in the next 4 weeks
    people = [str(e["summary"]) for e in events]
    assert people[:2] in (
        ["On call: ana (primary)", "On call: bo (primary)"],
        ["On call: bo (primary)", "On call: ana (primary)"],
    )
    unknown = run_cli("incident", "policy", "ical", "--schedule", "primry", "--out", "x.ics",
                      cwd=root)  # fmt: skip
    assert unknown.returncode == 2
    assert "did you mean 'primary'?" in unknown.stderr


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool comes with `make test`")
def test_the_k8s_example_pages_primary_then_secondary(tmp_path: Path) -> None:
    assert run_cli("init", "--example", "fleet-k8s", cwd=tmp_path).returncode == 0
    made = run_cli("slo", "alertmanager", "--out", "am.yml", cwd=tmp_path)
    assert made.returncode == 0, made.stderr

    def amtool(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["amtool", *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip

    check = amtool("check-config", "am.yml")
    assert check.returncode == 0, check.stdout + check.stderr
    page = amtool("config", "routes", "test", "--config.file", "am.yml", "severity=page")
    assert page.stdout.strip() == "inference-oncall,inference-secondary"
    ticket = amtool("config", "routes", "test", "--config.file", "am.yml", "severity=ticket")
    assert ticket.stdout.strip() == "inference-alerts"


def test_the_policy_shown_in_the_docs_loads() -> None:
    from tests.conftest import REPO

    from perfops.config import parse_config

    text = (REPO / "docs" / "respond.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]
    block = next(b for b in blocks if b.startswith("escalation:"))
    escalation = parse_config("apiVersion: perfops/v1\n" + block).escalation
    assert [s.name for s in escalation.schedules] == ["primary", "secondary"]
    assert (escalation.updates.first, escalation.updates.every) == (300.0, 1200.0)
