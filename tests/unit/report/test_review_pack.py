"""A review pack rendered from a report and the postmortems' action items: the agenda of its
meeting, the SLOs the scorecard shows at risk or breached (worst first), the open action items
with their file and line (overdue ones marked), and the report's recommendations as the
decisions needed; text from the lake or a postmortem cannot add markup."""

from __future__ import annotations

import datetime as dt

from perfops.report.model import Figure, Part, Recommendation, Report, Section, Source, Table
from perfops.report.review_pack import render_pack, slos_at_risk
from perfops.respond.action_items import ActionItem
from perfops.respond.postmortem_render import render_html

SRC = Source("slo_statuses(rt, ...)", None, (("samples", 7),))
COLUMNS = ("Service", "SLO", "Objective", "Attainment", "Trend", "Budget left", "State", "Why",
           "Incidents")  # fmt: skip
TODAY = dt.date(2026, 12, 8)
START_MS = int(dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp()) * 1000
WEEK_MS = 7 * 86_400_000


def _row(slo: str, attainment: str, left: str, state: str, why: str) -> tuple[Part, ...]:
    return ("chat", slo, "99%", Figure(attainment, SRC, 0.0), "= unchanged",
            Figure(left, SRC, 0.0), state, why, "none")  # fmt: skip


def _report(*, scorecard: bool = True, recommendations: bool = True) -> Report:
    rows = (
        _row("chat-latency", "99.500%", "40.0%", "healthy", "40.0% of the budget left"),
        _row("chat-avail", "99.100%", "12.0%", "at risk", "only 12.0% of the budget left"),
        _row("chat-ttft", "97.000%", "-50.0%", "breached", "150.0% of the budget spent"),
        _row("chat-e2e", "99.300%", "60.0%", "recovering", "bad spell in the period"),
    )
    card = Section("scorecard", "SLO scorecard", tables=(
        Table("Attainment over the period, budget at its end", COLUMNS, rows),
    )) if scorecard else Section("scorecard", "SLO scorecard", missing=(
        "No SLOs are defined for the services in scope.",))  # fmt: skip
    summary = Section("summary", "Executive summary", paragraphs=(
        ("Chat served ", Figure("1.2M", SRC, 1.2e6), " requests at ",
         Figure("3.10 USD", SRC, 3.1), " per 1M tokens."),
    ))  # fmt: skip
    cost = Section("cost", "Cost", missing=("No bill imported: run `perfops cost import`.",))
    recs = (
        Recommendation("Consolidate idle GPUs", "Move chat to 1 H100.",
                       Figure("2,190.00 USD/month", SRC, 2190.0), "high",
                       evidence=("idle ", Figure("48%", SRC, 48.0))),
        Recommendation("Add capacity before a breach", "Add 1 GPU to chat.",
                       Figure("-2,190.00 USD/month", SRC, -2190.0), "medium",
                       assumptions=("traffic grows 10% a month",)),
    ) if recommendations else ()  # fmt: skip
    return Report("Performance and cost", "demo", "7d", START_MS, START_MS + WEEK_MS,
                  (START_MS - WEEK_MS, START_MS), ("chat",), "USD",
                  (START_MS + WEEK_MS) * 1_000_000, (summary, card, cost), recs)  # fmt: skip


ITEMS = [
    ActionItem("Alert on KV-cache (alice, 2026-12-01)", False, "postmortems/inc-a.md", 40,
               "Postmortem: a", "alice", dt.date(2026, 12, 1)),
    ActionItem("Roll back faster (bo)", True, "postmortems/inc-a.md", 41, "Postmortem: a", "bo"),
    ActionItem("Drill KV pressure (carol, 2026-12-20)", False, "postmortems/inc-b.md", 52,
               "Postmortem: b", "carol", dt.date(2026, 12, 20)),
    ActionItem("Write the runbook", False, "postmortems/inc-b.md", 53, "Postmortem: b"),
]  # fmt: skip


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}\n")[1].split("\n## ")[0]


def test_the_slos_at_risk_are_the_scorecards_breached_and_at_risk_rows_worst_first() -> None:
    risks = slos_at_risk(_report())
    assert [(r.slo, r.state) for r in risks] == [("chat-ttft", "breached"),
                                                 ("chat-avail", "at risk")]  # fmt: skip
    text = _section(render_pack("weekly", _report(), ITEMS, today=TODAY, folder="postmortems"),
                    "SLOs at risk")  # fmt: skip
    lines = [line for line in text.splitlines() if line.startswith("| chat |")]
    assert lines == [
        "| chat | chat-ttft | **breached** | -50.0% | 97.000% | 150.0% of the budget spent |",
        "| chat | chat-avail | **at risk** | 12.0% | 99.100% | only 12.0% of the budget left |",
    ]


def test_the_open_action_items_with_their_file_and_line_and_the_overdue_first() -> None:
    text = _section(render_pack("weekly", _report(), ITEMS, today=TODAY, folder="postmortems"),
                    "Open action items")  # fmt: skip
    assert "3 open of 4 action item(s) in 2 postmortem(s) under postmortems." in text
    items = [line for line in text.splitlines() if line.startswith("- [ ]")]
    assert items == [
        "- [ ] **overdue** Alert on KV-cache (alice, 2026-12-01): `postmortems/inc-a.md:40`",
        "- [ ] Drill KV pressure (carol, 2026-12-20): `postmortems/inc-b.md:52`",
        "- [ ] Write the runbook: `postmortems/inc-b.md:53`",
    ]
    assert "Roll back faster" not in text  # done


def test_the_decisions_needed_are_the_recommendations_in_rank_order() -> None:
    text = _section(render_pack("monthly", _report(), [], today=TODAY, folder="pm"),
                    "Decisions needed")  # fmt: skip
    assert text.index("1. **Consolidate idle GPUs**: Move chat to 1 H100.") < text.index(
        "2. **Add capacity before a breach**: Add 1 GPU to chat."
    )
    assert "Impact 2,190.00 USD/month (high confidence)." in text
    assert "Evidence: idle 48%" in text
    assert "Assumptions: traffic grows 10% a month" in text


def test_each_meeting_has_its_agenda_and_the_report_beside_it() -> None:
    weekly = render_pack("weekly", _report(), ITEMS, today=TODAY, folder="postmortems")
    monthly = render_pack("monthly", _report(), ITEMS, today=TODAY, folder="postmortems")
    assert weekly.startswith("# Weekly performance review pack: demo\n")
    assert monthly.startswith("# Monthly FinOps review pack: demo\n")
    assert "SLO scorecard and error budgets" in _section(weekly, "Agenda")
    assert "Reconciliation against the imported bill" in _section(monthly, "Agenda")
    assert "[report.html](report.html) and [report.pdf](report.pdf)" in weekly
    assert "Period: 7d, 2026-12-01 to 2026-12-07 (UTC)" in weekly
    assert "Chat served 1.2M requests at 3.10 USD per 1M tokens." in _section(weekly, "Summary")
    assert "- Cost: No bill imported" in _section(weekly, "What the report could not show")


def test_nothing_to_list_says_so() -> None:
    report = _report(scorecard=False, recommendations=False)
    text = render_pack("weekly", report, [], today=TODAY, folder="postmortems",
                       notes=["no postmortems folder at postmortems"])  # fmt: skip
    assert "no SLO scorecard for the period: No SLOs are defined" in _section(text, "SLOs at risk")
    items = _section(text, "Open action items")
    assert "No action items in the postmortems under postmortems" in items
    assert "- no postmortems folder at postmortems" in items
    assert "no recommendation" in _section(text, "Decisions needed")
    done = [i for i in ITEMS if i.done]
    assert "Nothing open." in render_pack("weekly", report, done, today=TODAY, folder="p")


def test_text_from_a_postmortem_cannot_add_markup() -> None:
    evil = ActionItem("<script>x()</script> | [l](javascript:x()) `c`", False,
                      "postmortems/e`vil.md", 3)  # fmt: skip
    text = render_pack("weekly", _report(), [evil], today=TODAY, folder="postmortems")
    [line] = [x for x in text.splitlines() if x.startswith("- [ ] ")]
    assert "<script>" not in line
    page = render_html(text, "pack")
    for bad in ("<script", 'href="javascript', "<code>c</code>"):
        assert bad not in page, bad
    assert "&lt;script&gt;" in page
