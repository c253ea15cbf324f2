"""Alertmanager's webhook payload (v4), as Alertmanager's docs define it, read and checked."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from perfops.respond.webhook import MAX_TEXT, PayloadError, parse_notification

PAYLOAD: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}/{severity="page"}:{alertname="ChatTtftBurnFast", service="chat"}',
    "truncatedAlerts": 0,
    "status": "resolved",
    "receiver": "perfops",
    "groupLabels": {"alertname": "ChatTtftBurnFast", "service": "chat"},
    "commonLabels": {"alertname": "ChatTtftBurnFast", "service": "chat", "severity": "page"},
    "commonAnnotations": {"summary": "chat TTFT burning"},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "ChatTtftBurnFast", "service": "chat", "severity": "page"},
            "annotations": {"summary": "chat TTFT burning"},
            "startsAt": "2026-12-03T15:41:59.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": "c0ffee",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "ChatTtftBurnFast", "service": "chat", "severity": "page"},
            "annotations": {},
            "startsAt": "2026-12-03T16:41:59+01:00",
            "endsAt": "2026-12-03T15:50:00Z",
            "generatorURL": "",
            "fingerprint": "beef",
        },
    ],
}


def test_a_real_payload_reads_with_times_to_the_nanosecond() -> None:
    note = parse_notification(PAYLOAD)
    assert (note.group_key, note.status, note.truncated_alerts) == (PAYLOAD["groupKey"],
                                                                    "resolved", 0)  # fmt: skip
    firing, resolved = note.alerts
    assert firing.starts_ns == 1_796_312_519_123_456_789  # 2026-12-03T15:41:59.123456789Z
    assert firing.ends_ns is None  # Go's zero time: no end yet
    assert resolved.starts_ns == 1_796_312_519_000_000_000  # +01:00 is the same instant
    assert resolved.ends_ns == 1_796_313_000_000_000_000
    assert (firing.name, firing.fingerprint) == ("ChatTtftBurnFast", "c0ffee")


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(PAYLOAD)
    where = body
    for key in path[:-1]:
        where = where[key]
    if value is KeyError:
        del where[path[-1]]
    else:
        where[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["version"], "3", "version"),
        (["groupKey"], KeyError, "groupKey"),
        (["groupKey"], "", "groupKey"),
        (["status"], "pending", "status"),
        (["truncatedAlerts"], -1, "truncatedAlerts"),
        (["alerts"], [], "alerts"),
        (["alerts", 1, "labels"], ["x"], "alerts[1].labels"),
        (["alerts", 1, "labels", "alertname"], 3, "alerts[1].labels.alertname"),
        (["alerts", 0, "labels", "alertname"], KeyError, "alerts[0].labels.alertname"),
        (["alerts", 0, "startsAt"], "2026-12-03 15:41", "alerts[0].startsAt"),
        (["alerts", 0, "startsAt"], "2026-13-03T15:41:00Z", "alerts[0].startsAt"),
        (["alerts", 1, "endsAt"], "0001-01-01T00:00:00Z", "alerts[1].endsAt"),
        (["alerts", 0, "fingerprint"], KeyError, "alerts[0].fingerprint"),
        (["alerts", 0, "annotations", "summary"], "x" * (MAX_TEXT + 1),
         "alerts[0].annotations.summary"),
        (["alerts", 0], "firing", "alerts[0]"),
    ],
)  # fmt: skip
def test_a_broken_field_is_named(path: list[Any], value: Any, field: str) -> None:
    with pytest.raises(PayloadError) as err:
        parse_notification(_broken(path, value))
    assert err.value.field == field


def test_not_an_object_is_refused() -> None:
    with pytest.raises(PayloadError, match="payload: expected a JSON object"):
        parse_notification([PAYLOAD])
