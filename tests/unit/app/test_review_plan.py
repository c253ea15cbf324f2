"""`perfops review` over a real lake: incidents recorded as `perfops incident` records them
get their post-incident review in the plan (SEV-1/2, not SEV-3), stamped with the runtime's
clock; and the action items are read from the postmortems folder next to perfops.yaml."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import icalendar
import pytest

from perfops._internal.clock import ManualClock
from perfops.app import Runtime, open_runtime
from perfops.app.incident import open_incident, resolve_incident
from perfops.app.review import action_items, pack_period, plan, plan_ical

NOW = dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC)  # a Thursday
CONFIG = """apiVersion: perfops/v1
workspace: {name: shop}
services:
  - {name: chat, model: m, endpoint: "http://127.0.0.1:9/v1", gpu: {type: H200, count: 1}}
reviews:
  weekly: {weekday: monday, time: "09:00", timezone: Europe/Berlin}
  post_incident: {within: 3d, time: "11:00", timezone: Europe/Berlin}
"""


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    (tmp_path / "perfops.yaml").write_text(CONFIG)
    clock = ManualClock(int(NOW.timestamp()) * 1_000_000_000)
    return open_runtime(tmp_path / "perfops.yaml", environ={}, clock=clock)


def _incident(rt: Runtime, title: str, severity: str) -> str:
    inc = open_incident(rt, title, severity=severity, services=["chat"])
    rt.clock.advance(1800)  # type: ignore[attr-defined]
    resolve_incident(rt, inc.incident_id)
    return inc.incident_id


def test_a_sev2_incident_in_the_lake_gets_its_review_and_a_sev3_none(rt: Runtime) -> None:
    sev2 = _incident(rt, "chat answers slowly", "sev2")
    sev3 = _incident(rt, "a dashboard panel is empty", "SEV-3")
    calendar = icalendar.Calendar.from_ical(plan_ical(rt, plan(rt)))
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert f"review-{sev3}@perfops" not in events
    event = events[f"review-{sev2}@perfops"]
    resolved = NOW + dt.timedelta(seconds=1800)
    start = event.decoded("DTSTART")
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    # resolved Thursday 15:30 UTC, 3 days: Friday 11:00 Berlin (Saturday and Sunday are not
    # working days)
    assert start == dt.datetime(2026, 12, 4, 11, 0, tzinfo=start.tzinfo)
    assert resolved < start < resolved + dt.timedelta(days=3)
    assert "chat answers slowly" in str(event["DESCRIPTION"])
    assert f"perfops incident postmortem {sev2} --out " in str(event["DESCRIPTION"])
    assert event.decoded("DTSTAMP") == NOW + dt.timedelta(seconds=3600)  # the clock's now
    weekly = events["review-weekly.shop@perfops"]
    assert weekly.decoded("DTSTART").date() == dt.date(2026, 12, 7)  # the Monday after today


def test_the_plan_starts_on_the_day_given(rt: Runtime) -> None:
    meetings = {m.uid: m for m in plan(rt, dt.date(2027, 2, 1), 4)}
    assert meetings["review-monthly.shop@perfops"].start.date() == dt.date(2027, 2, 2)
    assert meetings["review-weekly.shop@perfops"].start.date() == dt.date(2027, 2, 1)


def test_the_pack_reads_the_period_before_the_review() -> None:
    assert pack_period("weekly", dt.date(2026, 12, 7)) == "7d"
    assert pack_period("monthly", dt.date(2026, 12, 1)) == "month:2026-11"
    assert pack_period("monthly", dt.date(2027, 1, 5)) == "month:2026-12"


def test_action_items_come_from_the_postmortems_folder(rt: Runtime, tmp_path: Path) -> None:
    missing = action_items(rt)
    assert missing.items == []
    assert "no postmortems folder at" in missing.notes[0]
    folder = tmp_path / "postmortems"
    folder.mkdir()
    (folder / "inc-b.md").write_text("# B\n## Action items\n- [ ] second (bo)\n- [x] done\n")
    (folder / "inc-a.md").write_text("# A\n\n## Action items\n\n- [ ] first (ana, 2026-12-01)\n")
    (folder / "broken.md").write_bytes(b"# C\n\xff\xfe not UTF-8\n")
    (folder / "notes.txt").write_text("## Action items\n- [ ] not Markdown\n")
    found = action_items(rt)
    assert [(i.text, i.done, Path(i.path).name, i.line) for i in found.items] == [
        ("first (ana, 2026-12-01)", False, "inc-a.md", 5),
        ("second (bo)", False, "inc-b.md", 3),
        ("done", True, "inc-b.md", 4),
    ]
    assert len(found.notes) == 1
    assert "broken.md could not be read" in found.notes[0]
