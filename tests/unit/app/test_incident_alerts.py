"""Alertmanager notifications into incidents, over a real lake: which incident an alert
joins, when an incident moves to monitoring and back, and that repeats write nothing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from perfops._internal.clock import ManualClock
from perfops.app import Runtime, open_runtime
from perfops.app.incident import incidents, update_incident
from perfops.app.incident_alerts import record_notification
from perfops.respond.webhook import parse_notification

CONFIG = """apiVersion: perfops/v1
services:
  - {name: chat, model: m, endpoint: "http://127.0.0.1:9/v1", gpu: {type: H200, count: 1}}
  - {name: embed, model: e, endpoint: "http://127.0.0.1:9/v1", gpu: {type: H200, count: 1}}
"""


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    (tmp_path / "perfops.yaml").write_text(CONFIG)
    return open_runtime(tmp_path / "perfops.yaml", environ={}, clock=ManualClock())


def _note(group: str, *alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "groupKey": group, "status": "firing", "receiver": "perfops",
            "alerts": list(alerts)}  # fmt: skip


def _alert(fp: str, name: str, *, service: str = "chat", severity: str = "page",
           status: str = "firing", start: str = "2026-12-03T15:00:00Z",
           end: str = "0001-01-01T00:00:00Z") -> dict[str, Any]:  # fmt: skip
    return {"status": status, "fingerprint": fp, "startsAt": start, "endsAt": end,
            "labels": {"alertname": name, "severity": severity, "service": service}}  # fmt: skip


def _record(rt: Runtime, group: str, *alerts: dict[str, Any]) -> dict[str, Any]:
    rt.clock.advance(1)  # type: ignore[attr-defined]
    return record_notification(rt, parse_notification(_note(group, *alerts))).as_dict()


def test_pages_of_one_service_share_an_incident_and_tickets_open_none(rt: Runtime) -> None:
    first = _record(rt, "g1", _alert("a", "ChatTtftBurnFast"))
    [iid] = first["opened"]
    joined = _record(rt, "g2", _alert("b", "ChatAvailabilityBurnFast"),
                     _alert("c", "ChatTtftBurnSlow", severity="ticket"))  # fmt: skip
    assert (joined["written"], joined["opened"], joined["updated"]) == (2, [], [iid])
    other = _record(rt, "g3", _alert("d", "EmbedDown", service="embed"))
    assert other["opened"] != [iid]
    [chat] = [i for i in incidents(rt) if i.incident_id == iid]
    assert chat.group_keys == ["g1", "g2"]
    assert sorted(chat.alerts) == ["a", "b"]
    assert [d["action"] for _, d in chat.timeline] == ["open", "join"]


def test_monitoring_once_every_alert_resolved_and_back_when_one_fires_again(rt: Runtime) -> None:
    [iid] = _record(rt, "g1", _alert("a", "A"), _alert("b", "B"))["opened"]
    resolved_a = _alert("a", "A", status="resolved", end="2026-12-03T15:10:00Z")
    _record(rt, "g1", resolved_a, _alert("b", "B"))
    assert incidents(rt)[0].status == "triage"  # b still fires
    resolved_b = _alert("b", "B", status="resolved", end="2026-12-03T15:12:00Z")
    _record(rt, "g1", resolved_a, resolved_b)
    inc = incidents(rt)[0]
    assert (inc.status, inc.firing) == ("monitoring", [])
    assert [d["action"] for _, d in inc.timeline] == ["open", "join", "update", "update",
                                                      "status"]  # fmt: skip
    again = _record(rt, "g1", _alert("a", "A", start="2026-12-03T15:30:00Z"))
    assert again["updated"] == [iid]
    inc = incidents(rt)[0]
    assert (inc.status, inc.firing) == ("investigating", ["a"])


def test_repeats_write_nothing_and_a_stranger_resolution_only_its_row(rt: Runtime) -> None:
    page = _alert("a", "A")
    _record(rt, "g1", page)
    assert _record(rt, "g1", page) == {"written": 0, "repeats": 1, "opened": [], "updated": []}
    stray = _alert("z", "Z", status="resolved", end="2026-12-03T15:10:00Z")
    assert _record(rt, "g9", stray)["updated"] == []
    rows = rt.store.journal.events(kind="alert")
    assert [(r.title, r.data["status"]) for r in rows] == [("A", "firing"), ("Z", "resolved")]
    assert rows[1].ts_ns == 1_796_310_600_000_000_000  # a resolution is stamped with its end


def test_a_person_resolving_first_keeps_the_alerts_from_reopening_it(rt: Runtime) -> None:
    [iid] = _record(rt, "g1", _alert("a", "A"))["opened"]
    update_incident(rt, iid, status="resolved")
    _record(rt, "g1", _alert("a", "A", status="resolved", end="2026-12-03T15:10:00Z"))
    assert incidents(rt)[0].status == "resolved"
    fresh = _record(rt, "g1", _alert("a", "A", start="2026-12-03T16:00:00Z"))
    assert fresh["opened"] != []  # a resolved incident takes no alerts: a new one opens


def test_receivers_in_parallel_record_a_notification_once(tmp_path: Path) -> None:
    """Two receivers (each its own Runtime, as two processes would have) get the same
    notification at the same moment: one alert row, one incident."""
    (tmp_path / "perfops.yaml").write_text(CONFIG)
    note = parse_notification(_note("g1", _alert("a", "A")))
    start = threading.Barrier(3)
    results: list[dict[str, Any]] = []

    def receive() -> None:
        rt = open_runtime(tmp_path / "perfops.yaml", environ={})
        start.wait()
        results.append(record_notification(rt, note).as_dict())

    threads = [threading.Thread(target=receive) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    rt = open_runtime(tmp_path / "perfops.yaml", environ={})
    assert len(rt.store.journal.events(kind="alert")) == 1
    assert len(incidents(rt)) == 1
    assert sorted(r["written"] for r in results) == [0, 0, 1]
