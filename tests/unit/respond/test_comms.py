"""Status-update templates: hostile text stays text in Slack and on the status page, the
workspace overrides a template, the cadence states the next update; the Slack and
PagerDuty bodies match their documented schemas."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from tests._notify_schemas import check_pagerduty, check_slack

from perfops._internal.escape import slack_mrkdwn, terminal_text
from perfops.errors import UsageError
from perfops.respond.comms import CHANNELS, KINDS, render_message
from perfops.respond.notify import (
    pagerduty_action,
    pagerduty_event,
    pagerduty_severity,
    slack_message,
)

HOSTILE = "<!channel> <script>alert(1)</script> & <https://evil.example|click> *bold*"
MINUTE = 60 * 10**9
T0 = 1_796_312_519 * 10**9  # 2026-12-03 15:41:59 UTC


def _context(title: str = HOSTILE, **over: Any) -> dict[str, Any]:
    incident = {
        "incident_id": "inc-abcdefgh", "title": title, "status": "investigating",
        "severity": "SEV-2", "services": ["chat"], "slos": ["chat-ttft"],
        "opened_ns": T0, "resolved_ns": None,
        "roles": {"incident_commander": "<@U123> alice", "scribe": None,
                  "communications_liaison": None, "subject_matter_expert": None},
    }  # fmt: skip
    return {
        "incident": incident,
        "message": "KV cache <full> & evicting",
        "now_ns": T0 + 3 * MINUTE,
        "next_update_ns": T0 + 23 * MINUTE,
        "slos": [{"name": "chat-ttft", "service": "chat", "sli_pct": 97.25,
                  "objective_pct": 99.0, "budget_consumed_pct": 41.5, "bad_events": 120.0,
                  "no_data": None}],
        "impact": {"since_ns": T0, "until_ns": T0 + 3 * MINUTE, "requests": 4321,
                   "tokens": 987654, "tokens_bad": 12345, "requests_bad": 120},
    } | over  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_slack_text_cannot_mention_link_or_format_from_user_text(kind: str) -> None:
    text = render_message(kind, "internal", _context())
    assert "<" not in text.replace("&lt;", "")
    assert ">" not in text.replace("&gt;", "")
    assert "&lt;!channel&gt;" in text
    assert "&lt;@U123&gt; alice" in text or kind in ("scoping", "update", "resolution")


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


@pytest.mark.parametrize("kind", KINDS)
def test_the_status_page_shows_a_hostile_title_as_typed(kind: str) -> None:
    page = render_message(kind, "status", _context())
    html = _Html()
    html.feed(MarkdownIt("commonmark").render(page))
    assert "script" not in html.tags
    assert "a" not in html.tags
    assert "<script>alert(1)</script>" in html.text  # shown, not run


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_live_numbers_are_shown_as_given(channel: str) -> None:
    text = render_message("update", channel, _context(title="chat slow"))
    assert "4,321 requests" in text
    assert "2026-12-03 16:04 UTC" in text  # the next update, 23 minutes after opening
    if channel == "internal":
        assert "SLI 97.250% against 99.000%, 41.5% of the error budget consumed" in text
        assert "987,654 tokens" in text
        assert "120 requests and 12,345 tokens outside the SLOs" in text


def test_a_slo_without_data_says_so_instead_of_a_number() -> None:
    slos = [{"name": "chat-ttft", "service": "chat", "sli_pct": None, "objective_pct": 99.0,
             "budget_consumed_pct": None, "bad_events": None, "no_data": "no series"}]  # fmt: skip
    impact = {"since_ns": T0, "until_ns": T0, "requests": 0, "tokens": 0, "tokens_bad": None,
              "requests_bad": None}  # fmt: skip
    text = render_message("update", "internal", _context(slos=slos, impact=impact))
    assert "chat-ttft (chat): no verdict yet (no series)" in text
    assert "n/a requests and n/a tokens outside the SLOs" in text


def test_a_workspace_template_replaces_the_builtin_one_and_is_escaped_too(tmp_path: Path) -> None:
    folder = tmp_path / "templates" / "comms"
    folder.mkdir(parents=True)
    (folder / "update.md.j2").write_text("ours: {{ incident.title }} next {{ next_update_ns|utc }}")
    assert render_message("update", "internal", _context(), workspace=tmp_path) == (
        f"ours: {slack_mrkdwn(HOSTILE)} next 2026-12-03 16:04 UTC\n"
    )
    assert render_message("initial", "internal", _context(), workspace=tmp_path).startswith("*[")
    (folder / "update.md.j2").write_text("{{ incident.nope }}")
    with pytest.raises(UsageError, match="nope"):
        render_message("update", "internal", _context(), workspace=tmp_path)
    (folder / "update.md.j2").write_text("{% if %}")
    with pytest.raises(UsageError, match="template syntax error"):
        render_message("update", "internal", _context(), workspace=tmp_path)


def test_unknown_kind_or_channel_lists_the_valid_ones() -> None:
    with pytest.raises(UsageError, match="initial, scoping, update, resolution"):
        render_message("postmortem", "internal", _context())
    with pytest.raises(UsageError, match="internal, status"):
        render_message("update", "email", _context())


@given(st.text())
def test_slack_escaping_leaves_no_markup_and_reads_back(value: str) -> None:
    out = slack_mrkdwn(value)
    assert "<" not in out
    assert ">" not in out
    assert re.fullmatch(r"([^&]|&amp;|&lt;|&gt;)*", out, re.S)
    back = out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert back == terminal_text(value)


def test_slack_bodies_fit_the_schema_even_when_long() -> None:
    text = render_message("update", "internal", _context()) * 40
    body = slack_message(text)
    check_slack(body)
    assert "".join(b["text"]["text"] for b in body["blocks"]) == text
    assert all(b["text"]["text"].endswith("\n") for b in body["blocks"])  # cut at line ends
    huge = slack_message(("x" * 2999 + "\n") * 60)
    check_slack(huge)


@pytest.mark.parametrize("status", ["triage", "investigating", "monitoring", "resolved"])
def test_pagerduty_events_fit_the_schema(status: str) -> None:
    incident = _context()["incident"] | {"status": status}
    event = pagerduty_event("R" * 32, incident, "x" * 2000, timestamp_ns=T0,
                            action=pagerduty_action(status, first=False),
                            details={"update": "text"})  # fmt: skip
    check_pagerduty(event)
    assert event["dedup_key"] == "inc-abcdefgh"
    expected = {"triage": "trigger", "investigating": "acknowledge",
                "monitoring": "acknowledge", "resolved": "resolve"}  # fmt: skip
    assert event["event_action"] == expected[status]


def test_a_first_post_triggers_and_severities_map_to_pagerduty_levels() -> None:
    assert pagerduty_action("identified", first=True) == "trigger"
    assert [pagerduty_severity(f"SEV-{n}") for n in range(1, 6)] == [
        "critical", "error", "warning", "info", "info",
    ]  # fmt: skip
