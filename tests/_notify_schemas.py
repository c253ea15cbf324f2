"""The documented schemas of the bodies `perfops incident update --post` sends, as checks
the tests share."""

from __future__ import annotations

import re
from typing import Any

# Slack incoming webhooks (api.slack.com/messaging/webhooks, /reference/block-kit/blocks):
# "text" is a string; "blocks" a list of at most 50 blocks; a section's text object has
# type "mrkdwn" or "plain_text" and at most 3000 characters.


def check_slack(body: dict[str, Any]) -> None:
    assert set(body) <= {"text", "blocks"}
    assert isinstance(body["text"], str)
    assert body["text"]
    assert len(body["blocks"]) <= 50
    for block in body["blocks"]:
        assert block["type"] == "section"
        assert block["text"]["type"] in ("mrkdwn", "plain_text")
        assert 0 < len(block["text"]["text"]) <= 3000


# PagerDuty Events API v2 (developer.pagerduty.com/docs/events-api-v2/trigger-events):
# routing_key, event_action (trigger|acknowledge|resolve), dedup_key (at most 255
# characters; required to acknowledge or resolve); for a trigger, payload with summary (at
# most 1024), source and severity (critical|error|warning|info) required, timestamp ISO 8601,
# component, group, class strings, custom_details an object.


def check_pagerduty(body: dict[str, Any]) -> None:
    assert set(body) <= {"routing_key", "event_action", "dedup_key", "payload", "client",
                         "client_url", "links", "images"}  # fmt: skip
    assert isinstance(body["routing_key"], str)
    assert body["routing_key"]
    assert body["event_action"] in ("trigger", "acknowledge", "resolve")
    assert 0 < len(body["dedup_key"]) <= 255
    if body["event_action"] != "trigger":
        return
    payload = body["payload"]
    assert set(payload) <= {"summary", "source", "severity", "timestamp", "component", "group",
                            "class", "custom_details"}  # fmt: skip
    assert 0 < len(payload["summary"]) <= 1024
    assert payload["source"]
    assert payload["severity"] in ("critical", "error", "warning", "info")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                        payload["timestamp"])  # fmt: skip
    assert all(isinstance(payload[k], str) for k in ("component", "group", "class"))
    assert isinstance(payload["custom_details"], dict)
