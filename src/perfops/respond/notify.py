"""What ``perfops incident update --post`` sends: the bodies of a Slack-compatible incoming
webhook and of a PagerDuty Events API v2 event, as their documentation specifies them.

Slack (https://api.slack.com/messaging/webhooks): ``{"text": ..., "blocks": [...]}``, the
text the fallback shown in notifications, a ``section`` block carrying the ``mrkdwn`` (at
most 3000 characters a section). PagerDuty (https://developer.pagerduty.com/docs/events-api-v2/
trigger-events): ``routing_key``, ``event_action`` (trigger, acknowledge, resolve),
``dedup_key``, and for a trigger a ``payload`` with ``summary`` (at most 1024 characters),
``source``, ``severity`` (critical, error, warning, info), ``timestamp``, ``component``,
``group``, ``class`` and ``custom_details``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

__all__ = [
    "PAGERDUTY_EVENTS_URL",
    "pagerduty_action",
    "pagerduty_event",
    "pagerduty_severity",
    "slack_message",
]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_SLACK_SECTION = 3000
_SLACK_BLOCKS = 50
_PD_SUMMARY = 1024
_PD_SEVERITY = {"SEV-1": "critical", "SEV-2": "error", "SEV-3": "warning"}


def _sections(text: str) -> list[str]:
    """``text`` cut at line ends into pieces of at most 3000 characters (a longer line is
    cut where it must), at most 50 of them (Slack's limit of blocks in a message)."""
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        while len(line) > _SLACK_SECTION:
            out.append(line[:_SLACK_SECTION])
            line = line[_SLACK_SECTION:]
        if out and len(out[-1]) + len(line) <= _SLACK_SECTION:
            out[-1] += line
        elif line:
            out.append(line)
    return [piece for piece in out if piece.strip()][:_SLACK_BLOCKS]


def slack_message(mrkdwn: str) -> dict[str, Any]:
    """An incoming-webhook body: the text (already escaped for ``mrkdwn``) as the fallback
    and as section blocks."""
    return {
        "text": mrkdwn,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
            for piece in _sections(mrkdwn)
        ],
    }


def pagerduty_severity(severity: str) -> str:
    """SEV-1 critical, SEV-2 error, SEV-3 warning, SEV-4 and SEV-5 info."""
    return _PD_SEVERITY.get(severity, "info")


def pagerduty_action(status: str, first: bool) -> str:
    """trigger when the incident is new (or in triage), resolve once resolved or closed,
    acknowledge while people work on it."""
    if status in ("resolved", "closed"):
        return "resolve"
    return "trigger" if first or status == "triage" else "acknowledge"


def pagerduty_event(
    routing_key: str,
    incident: Mapping[str, Any],
    summary: str,
    *,
    action: str,
    timestamp_ns: int,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    """An Events API v2 event for ``incident`` (its ``as_dict()``), deduplicated by the
    incident id so every update lands on the same PagerDuty alert."""
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": incident["incident_id"],
    }
    if action != "trigger":
        return event
    when = dt.datetime.fromtimestamp(timestamp_ns / 1e9, dt.UTC)
    services = list(incident.get("services") or [])
    event["payload"] = {
        "summary": summary[:_PD_SUMMARY],
        "source": services[0] if services else "perfops",
        "severity": pagerduty_severity(str(incident.get("severity"))),
        "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "component": ",".join(services) or "perfops",
        "group": ",".join(incident.get("slos") or []) or "perfops",
        "class": f"incident {incident.get('status')}",
        "custom_details": dict(details),
    }
    return event
