"""`perfops incident serve` behind a real Alertmanager: a page alert opens one incident
however often Alertmanager repeats the group, its resolution moves the incident to
monitoring, and a bad payload is refused whole."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tests._servers import alertmanager, incident_receiver, wait_until
from tests.conftest import run_cli

from perfops.app import open_runtime
from perfops.app.incident import incidents
from perfops.store.records import EventRecord

TOKEN = "s3cret-receiver-token"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    assert run_cli("init", cwd=tmp_path).returncode == 0
    return tmp_path


def _events(workspace: Path, kind: str) -> list[EventRecord]:
    rt = open_runtime(workspace / "perfops.yaml")
    if not rt.store.root.exists():
        return []
    return rt.store.journal.events(kind=kind)


def _iso(seconds_from_now: float) -> str:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds_from_now)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _alert(name: str, severity: str, ends_in: float) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "severity": severity, "service": "chat",
                   "slo": "chat-ttft"},
        "annotations": {"summary": f"{name}: chat TTFT budget burning"},
        "startsAt": _iso(-30),
        "endsAt": _iso(ends_in),
        "generatorURL": "http://prometheus.example/graph",
    }  # fmt: skip


def _config(url: str) -> str:
    return f"""
route:
  receiver: perfops
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1s
receivers:
  - name: perfops
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization: {{credentials: {TOKEN}}}
"""


@pytest.mark.timeout(300)
def test_a_page_opens_one_incident_through_repeats_and_its_resolution_moves_it_to_monitoring(
    workspace: Path, tmp_path: Path
) -> None:
    with incident_receiver(workspace, TOKEN) as url, alertmanager(tmp_path, _config(url)) as am:
        am.push([_alert("ChatTtftBurnFast", "page", 600),
                 _alert("ChatTtftBurnSlow", "ticket", 600)])  # fmt: skip
        # the two groups' first notifications, then at least two repeats of each
        wait_until("repeated notifications", lambda: am.notifications() >= 6)
        assert am.failed() == 0, "Alertmanager's webhook posts failed (token, payload)"
        alerts = _events(workspace, "alert")
        assert sorted((a.title, a.severity, a.data["status"]) for a in alerts) == [
            ("ChatTtftBurnFast", "page", "firing"),
            ("ChatTtftBurnSlow", "ticket", "firing"),
        ]
        [inc] = incidents(open_runtime(workspace / "perfops.yaml"))
        assert (inc.status, inc.severity, inc.services, inc.slos) == (
            "triage", "SEV-3", ["chat"], ["chat-ttft"],  # the default matrix: a page is SEV-3
        )  # fmt: skip
        assert inc.title == "ChatTtftBurnFast: chat TTFT budget burning"
        assert [d["action"] for _, d in inc.timeline] == ["open"]
        page = next(a for a in alerts if a.severity == "page")
        assert inc.group_keys == [page.data["group_key"]]
        assert list(inc.alerts) == [page.data["fingerprint"]]

        am.push([_alert("ChatTtftBurnFast", "page", -1)])  # Prometheus' resolution
        after = wait_until(
            "the incident moving to monitoring",
            lambda: next(
                (
                    i
                    for i in incidents(open_runtime(workspace / "perfops.yaml"))
                    if i.status == "monitoring"
                ),
                None,
            ),  # fmt: skip
        )
        seen = am.notifications()
        wait_until("more repeats of the ticket group", lambda: am.notifications() >= seen + 2)
        assert am.failed() == 0
    assert [(d["action"], d["status"]) for _, d in after.timeline] == [
        ("open", "triage"), ("update", "triage"), ("status", "monitoring"),
    ]  # fmt: skip
    assert after.alerts[page.data["fingerprint"]]["status"] == "resolved"
    assert after.firing == []
    rows = sorted((a.title, a.data["status"]) for a in _events(workspace, "alert"))
    assert rows == [
        ("ChatTtftBurnFast", "firing"), ("ChatTtftBurnFast", "resolved"),
        ("ChatTtftBurnSlow", "firing"),
    ]  # fmt: skip
    assert len(incidents(open_runtime(workspace / "perfops.yaml"))) == 1


def _post(url: str, body: bytes, token: str | None = TOKEN) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _payload(**alert: Any) -> dict[str, Any]:
    one = {"status": "firing", "labels": {"alertname": "A", "severity": "page"},
           "annotations": {}, "startsAt": "2026-01-01T00:00:00.123456789Z",
           "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "abc"}  # fmt: skip
    return {
        "version": "4",
        "groupKey": '{}:{alertname="A"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "perfops",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am",
        "alerts": [one | alert],
    }


@pytest.mark.timeout(180)
def test_bad_payloads_and_missing_tokens_are_refused_and_nothing_is_recorded(
    workspace: Path,
) -> None:
    with incident_receiver(workspace, TOKEN) as url:
        second_alert_bad = _payload()
        second_alert_bad["alerts"].append({**second_alert_bad["alerts"][0], "labels": "x"})
        cases = [
            (b"{not json", 400, "payload"),
            (json.dumps(_payload(startsAt="yesterday")).encode(), 400, "alerts[0].startsAt"),
            (json.dumps({**_payload(), "version": "3"}).encode(), 400, "version"),
            (json.dumps(second_alert_bad).encode(), 400, "alerts[1].labels"),
            (json.dumps(_payload(status="pending")).encode(), 400, "alerts[0].status"),
            (b"[" + b" " * (1024 * 1024 + 10) + b"]", 413, "payload"),
        ]
        for body, code, field in cases:
            status, answer = _post(url, body)
            assert (status, answer.get("field")) == (code, field), answer
        assert _post(url, json.dumps(_payload()).encode(), token=None)[0] == 401
        assert _post(url, json.dumps(_payload()).encode(), token="wrong")[0] == 401
        assert _events(workspace, "alert") == []
        status, answer = _post(url, json.dumps(_payload()).encode())
        assert (status, answer["written"], len(answer["opened"])) == (200, 1, 1)
        status, answer = _post(url, json.dumps(_payload()).encode())  # a repeat
        assert (status, answer["written"], answer["repeats"]) == (200, 0, 1)
    [row] = _events(workspace, "alert")
    assert row.data["starts_at"] == "2026-01-01T00:00:00.123456789Z"
    assert row.data["ends_at"] is None
