"""The pure parts of a postmortem: the first bad minute, the runbook's Mitigation section and
what it names, and the rendering (footnotes, escaping, the standalone page)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from perfops.respond.postmortem import (
    Figure,
    Moment,
    Postmortem,
    RunbookCheck,
    SloImpact,
    Source,
    first_bad_minute,
    mitigation_section,
    named_in,
)
from perfops.respond.postmortem_render import render_html, render_markdown

T0 = 1_796_313_060_000_000_000  # 2026-12-03 15:51:00 UTC


def test_a_minute_is_bad_when_its_error_ratio_is_over_the_budget() -> None:
    minutes = [
        (0, 0.0, 0.0),  # no events: not bad
        (60_000, 95.0, 100.0),  # exactly the budget at 95%: a burn rate of 1, not bad
        (120_000, 94.0, 100.0),  # just over it
        (180_000, 0.0, 10.0),
    ]
    assert first_bad_minute(minutes, 95) == 120_000
    assert first_bad_minute(minutes[:2], 95) is None
    assert first_bad_minute([(0, 999.0, 1000.0)], 99.9) is None
    assert first_bad_minute([(0, 998.0, 1000.0)], 99.9) == 0


def test_the_bad_spell_that_led_to_the_alert_not_an_earlier_one() -> None:
    bad, good, empty = (0.0, 10.0), (10.0, 10.0), (0.0, 0.0)
    minutes = [(m * 60_000, *v) for m, v in enumerate((bad, bad, good, empty, bad, bad, bad))]
    assert first_bad_minute(minutes, 95) == 0  # no alert to anchor on: the first bad minute
    assert first_bad_minute(minutes, 95, anchor_ms=5 * 60_000 + 30_000) == 4 * 60_000
    assert first_bad_minute(minutes, 95, anchor_ms=60_000) == 0  # alerted in the first spell
    # no spell began by the alert (it fired early): the first bad minute after all
    assert first_bad_minute(minutes[4:], 95, anchor_ms=0) == 4 * 60_000


RUNBOOK = """# ChatTtftPage

## Meaning
Slow first tokens.

## Mitigation
<!-- perfops:begin evidence -->
1. Roll back the last deploy.
<!-- perfops:end evidence -->

### If that did not help
2. Scale out.

## Escalation
Page the team.
"""


def test_the_mitigation_section_runs_to_the_next_heading_at_its_level() -> None:
    section = mitigation_section(RUNBOOK)
    assert section is not None
    assert section.startswith("1. Roll back the last deploy.")
    assert "### If that did not help" in section
    assert "2. Scale out." in section
    assert "Escalation" not in section
    assert "perfops:begin" not in section
    assert mitigation_section("# x\n\n## Meaning\nnothing\n") is None


@pytest.mark.parametrize(
    ("action", "named"),
    [
        ("rollback", True),  # "Roll back"
        ("fault_reverted", True),
        ("scale", True),  # "Scale out"
        ("restart", False),
        ("drain", False),
        ("flush_cache", False),
    ],
)
def test_what_a_mitigation_section_names(action: str, named: bool) -> None:
    assert named_in(mitigation_section(RUNBOOK) or "", action) is named


def test_an_action_of_no_known_kind_is_looked_for_in_its_own_words() -> None:
    assert named_in("Flush the cache on every replica.", "flush_the_cache")
    assert named_in("We rolled back.", "rollback")
    assert named_in("Revert it.", "rollback")


def _postmortem(title: str = "chat is slow", mitigation: str | None = None) -> Postmortem:
    requests = Source("Journal.request_log(...)", "SELECT 1 FROM requests", (("requests", 3),))
    cost = Source("perfops.app.cost.cost_report(...)", None, (("samples", 1),))
    fig = Figure("12", requests, 12)
    fault = Moment(
        T0 + 5 * 10**9, "fault reverted", "sim.ttft_latency on chat", requests, "fault_reverted"
    )
    return Postmortem(
        incident_id="inc-7k2m9q4x",
        title=title,
        severity="SEV-2",
        status="resolved",
        services=("chat",),
        slos=("chat-ttft",),
        roles=(("incident_commander", "ada"), ("scribe", None)),
        opened_ns=T0,
        resolved_ns=T0 + 60 * 10**9,
        closed_ns=None,
        start_ns=T0,
        end_ns=T0 + 60 * 10**9,
        generated_ns=T0 + 120 * 10**9,
        impact={
            "duration": Figure("1m", Source("window")),
            "requests": Figure("40", requests),
            "requests_affected": fig,
            "tokens_affected": Figure("1,460", requests),
            "gpu_hours": Figure("0.02", cost),
            "gpu_hours_wasted": Figure("0.01", cost),
            "cost": Figure("0.08 USD", cost),
            "cost_wasted": Figure("0.04 USD", cost),
            "tenants": Figure("acme", Source("perfops.yaml")),
        },
        slo_impacts=(SloImpact("chat-ttft", 95, fig, Figure("40", requests), None, "no period"),),
        detection=dict.fromkeys(
            (
                "first_bad_minute",
                "first_alert",
                "time_to_detect",
                "time_to_open",
                "time_to_mitigate",
                "time_to_resolve",
            )
        ),
        timeline=(Moment(T0, "incident", title, Source("incident rows")), fault),
        mitigations=(fault,),
        runbooks=(
            RunbookCheck("chat-ttft", "runbooks/chat-ttft.md", mitigation, ((fault, True),)),
        ),
        runbooks_dir="runbooks",
    )


def test_each_source_is_one_footnote_numbered_in_order_of_citation() -> None:
    text = render_markdown(_postmortem())
    defs = re.findall(r"^\[\^(\d+)\]: (.*)$", text, re.M)
    assert [n for n, _ in defs] == [str(i) for i in range(1, len(defs) + 1)]
    calls = [d for _, d in defs]
    assert len(calls) == len(set(calls))  # one definition per distinct source
    request_note = next(n for n, d in defs if "Journal.request_log" in d)
    assert f"| Requests affected | 12[^{request_note}] |" in text
    assert "SQL (DuckDB over the lake): ` SELECT 1 FROM requests `" in text
    assert "lake tables read: requests v3" in text
    assert "| chat-ttft | 95% |" in text
    assert "*n/a* (no period)" in text


def test_what_people_must_write_is_left_blank_and_marked() -> None:
    text = render_markdown(_postmortem())
    for section in ("## Root cause", "## Trigger", "### What went well", "### What went wrong"):
        body = text.split(section)[1].split("#")[0]
        assert "human judgement" in body
    items = text.split("## Action items")[1].split("##")[0]
    blank = re.findall(r"^- \[ \] .*human judgement.* · sev2_20261203$", items, re.M)
    assert len(blank) == 3  # blank task-list action items with PagerDuty's tag


HOSTILE = "<script>x()</script> *a* [l](javascript:x()) | `c` ![i](http://evil.test/i.png)"


def test_user_text_cannot_add_markup_to_the_markdown_or_the_page() -> None:
    runbook = "Roll back. <img src=x onerror=x()> [y](javascript:x())"
    pm = _postmortem(title=HOSTILE, mitigation=runbook)
    text = render_markdown(pm)
    assert HOSTILE not in text  # escaped wherever it is shown
    timeline = [line for line in text.splitlines() if line.startswith("| 2026-12-03 15:51:00")]
    assert timeline
    assert timeline[0].count(" | ") == 2
    page = render_html(text, f"Postmortem: {HOSTILE}")
    for bad in ("<script", "<img", 'href="javascript', "<code>c</code>"):
        assert bad not in page, bad
    assert "&lt;script&gt;x()&lt;/script&gt;" in page


def test_the_page_is_standalone_with_linked_footnotes() -> None:
    page = render_html(render_markdown(_postmortem()), "Postmortem: chat is slow")
    assert page.startswith("<!doctype html>")
    assert "<title>Postmortem: chat is slow</title>" in page
    assert '<sup class="ref"><a href="#fn-1">1</a></sup>' in page
    assert '<p class="footnote" id="fn-1">' in page
    assert "<table>" in page
    assert "<link" not in page
    assert "<script" not in page


def test_no_runbook_says_where_it_was_looked_for() -> None:
    text = render_markdown(replace(_postmortem(), runbooks=()))
    assert "No runbook for the incident's alerts or SLOs under ` runbooks `" in text
