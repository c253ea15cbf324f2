"""Alertmanager's webhook payload (version 4) read into plain data, every field checked.

The format, as Alertmanager documents it (``webhook_config``)::

    {"version": "4", "groupKey": str, "truncatedAlerts": int, "status": "firing"|"resolved",
     "receiver": str, "groupLabels": {..}, "commonLabels": {..}, "commonAnnotations": {..},
     "externalURL": str,
     "alerts": [{"status": "firing"|"resolved", "labels": {..}, "annotations": {..},
                 "startsAt": rfc3339, "endsAt": rfc3339, "generatorURL": str,
                 "fingerprint": str}]}

A payload that breaks it raises :class:`PayloadError` naming the field (``alerts[2].labels``),
so the receiver can answer 400 and record nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfops.errors import UsageError

__all__ = ["Alert", "Notification", "PayloadError", "parse_notification"]

_STATUSES = ("firing", "resolved")
_TIME = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)\Z", re.IGNORECASE
)
MAX_ALERTS = 1000
MAX_TEXT = 16_384


class PayloadError(UsageError):
    """The payload is not Alertmanager's webhook format; ``field`` says where."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}", hint="send Alertmanager's webhook payload v4")
        self.field = field


@dataclass(frozen=True)
class Alert:
    """One alert of a notification. Times in ns since the epoch; ``ends_ns`` None while the
    alert fires with no end known (Alertmanager sends the zero time then)."""

    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_ns: int
    ends_ns: int | None
    generator_url: str
    fingerprint: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True)
class Notification:
    version: str
    group_key: str
    status: str
    receiver: str
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    truncated_alerts: int
    alerts: tuple[Alert, ...]


def _text(value: Any, field: str, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise PayloadError(field, f"expected a string, got {type(value).__name__}")
    if len(value) > MAX_TEXT:
        raise PayloadError(field, f"longer than {MAX_TEXT} characters")
    if not empty and not value:
        raise PayloadError(field, "must not be empty")
    return value


def _labels(value: Any, field: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise PayloadError(field, f"expected an object of strings, got {type(value).__name__}")
    return {_text(k, field): _text(v, f"{field}.{k}") for k, v in value.items()}


def _status(value: Any, field: str) -> str:
    if value not in _STATUSES:
        raise PayloadError(field, f"expected 'firing' or 'resolved', got {value!r}")
    return str(value)


def _time(value: Any, field: str) -> int | None:
    """RFC 3339 to ns since the epoch; the Go zero time (year 1) is None."""
    match = _TIME.match(_text(value, field, empty=False))
    if match is None:
        raise PayloadError(field, f"{value!r} is not an RFC 3339 time")
    whole, frac, zone = match.groups()
    if whole.startswith("0001-01-01"):
        return None
    try:
        when = dt.datetime.fromisoformat(whole + ("+00:00" if zone.upper() == "Z" else zone))
    except ValueError:
        raise PayloadError(field, f"{value!r} is not a valid time") from None
    seconds = int(when.timestamp())
    return seconds * 1_000_000_000 + int((frac or "0").ljust(9, "0"))


def _alert(value: Any, field: str) -> Alert:
    if not isinstance(value, Mapping):
        raise PayloadError(field, "expected an object")
    starts = _time(value.get("startsAt"), f"{field}.startsAt")
    if starts is None:
        raise PayloadError(f"{field}.startsAt", "an alert must have started")
    status = _status(value.get("status"), f"{field}.status")
    ends = _time(value.get("endsAt", "0001-01-01T00:00:00Z"), f"{field}.endsAt")
    if status == "resolved" and ends is None:
        raise PayloadError(f"{field}.endsAt", "a resolved alert needs its end time")
    labels = _labels(value.get("labels"), f"{field}.labels")
    if not labels.get("alertname"):
        raise PayloadError(f"{field}.labels.alertname", "missing")
    return Alert(
        status,
        labels,
        _labels(value.get("annotations", {}), f"{field}.annotations"),
        starts,
        ends if status == "resolved" else None,
        _text(value.get("generatorURL", ""), f"{field}.generatorURL"),
        _text(value.get("fingerprint"), f"{field}.fingerprint", empty=False),
    )


def parse_notification(body: Any) -> Notification:
    """The notification of a decoded JSON body, or :class:`PayloadError`."""
    if not isinstance(body, Mapping):
        raise PayloadError("payload", "expected a JSON object")
    if body.get("version") != "4":
        raise PayloadError("version", f"expected '4', got {body.get('version')!r}")
    alerts = body.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError("alerts", "expected a non-empty list")
    if len(alerts) > MAX_ALERTS:
        raise PayloadError("alerts", f"more than {MAX_ALERTS} alerts in one notification")
    truncated = body.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise PayloadError("truncatedAlerts", "expected a non-negative integer")
    return Notification(
        "4",
        _text(body.get("groupKey"), "groupKey", empty=False),
        _status(body.get("status"), "status"),
        _text(body.get("receiver", ""), "receiver"),
        _labels(body.get("groupLabels", {}), "groupLabels"),
        _labels(body.get("commonLabels", {}), "commonLabels"),
        _labels(body.get("commonAnnotations", {}), "commonAnnotations"),
        _text(body.get("externalURL", ""), "externalURL"),
        truncated,
        tuple(_alert(a, f"alerts[{i}]") for i, a in enumerate(alerts)),
    )
