"""`perfops review plan` as a user runs it: from the workspace `perfops init` writes, with a
SEV-2 and a SEV-3 incident recorded by `perfops incident`, it writes a calendar that
calendars read (the weekly and monthly reviews recurring, one post-incident review); a bad
date or a bad `reviews:` section is exit 2 with the fix."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import icalendar
import pytest
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("review-ws")
    assert run_cli("init", cwd=path).returncode == 0
    return path


def _incident(workspace: Path, title: str, severity: str) -> str:
    done = run_cli("incident", "open", title, "--service", "chat", "--severity", severity,
                   "--json", cwd=workspace)  # fmt: skip
    assert done.returncode == 0, done.stderr
    iid = str(json.loads(done.stdout)["incident_id"])
    assert run_cli("incident", "resolve", iid, cwd=workspace).returncode == 0
    return iid


def test_review_plan_writes_the_cadence_with_a_review_of_the_sev2_incident(
    workspace: Path,
) -> None:
    sev2 = _incident(workspace, "chat answers slowly", "sev2")
    sev3 = _incident(workspace, "a panel is empty", "sev3")
    done = run_cli("review", "plan", "--out", "cal/reviews.ics", "--weeks", "6", cwd=workspace)
    assert done.returncode == 0, done.stderr
    assert "wrote cal/reviews.ics: 3 review(s)" in done.stdout
    assert "Weekly performance review: demo: every Monday at 10:00 UTC" in done.stdout
    calendar = icalendar.Calendar.from_ical((workspace / "cal/reviews.ics").read_bytes())
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {
        "review-weekly.demo@perfops", "review-monthly.demo@perfops", f"review-{sev2}@perfops",
    }  # fmt: skip
    assert sev3 not in " ".join(events)
    weekly = events["review-weekly.demo@perfops"]
    assert weekly["RRULE"]["FREQ"] == ["WEEKLY"]
    assert weekly["RRULE"]["BYDAY"] == ["MO"]
    assert weekly.decoded("DTSTART").strftime("%A %H:%M") == "Monday 10:00"
    monthly = events["review-monthly.demo@perfops"]
    assert monthly["RRULE"]["BYDAY"] == ["1TU"]
    assert "perfops review pack monthly" in str(monthly["DESCRIPTION"])
    review = events[f"review-{sev2}@perfops"]
    now = dt.datetime.now(dt.UTC)
    assert now < review.decoded("DTSTART") < now + dt.timedelta(days=5)
    assert f"perfops incident postmortem {sev2} --out postmortems/{sev2}.md" in str(
        review["DESCRIPTION"]
    )


def test_review_plan_from_a_day(workspace: Path) -> None:
    done = run_cli("review", "plan", "--from", "2031-01-08", "--weeks", "1", cwd=workspace)
    assert done.returncode == 0, done.stderr
    calendar = icalendar.Calendar.from_ical((workspace / "reviews.ics").read_bytes())
    [weekly] = calendar.walk("VEVENT")  # no monthly review in the week, no incident then
    assert weekly.decoded("DTSTART").date() == dt.date(2031, 1, 13)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--from", "2026-02-30"], "--from '2026-02-30' is not a date"),
        (["--weeks", "0"], "--weeks"),
    ],
)
def test_a_bad_option_is_exit_2(workspace: Path, args: list[str], says: str) -> None:
    done = run_cli("review", "plan", *args, cwd=workspace)
    assert done.returncode == 2
    assert says in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_reviews_section_is_exit_2_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(
        "apiVersion: perfops/v1\nreviews:\n  weekly: {weekday: someday}\n"
    )
    done = run_cli("review", "plan", cwd=tmp_path)
    assert done.returncode == 2
    assert "perfops.yaml:3:21 reviews.weekly.weekday: 'someday' is not a day" in done.stderr
    assert not (tmp_path / "reviews.ics").exists()


def test_review_pack_assembles_the_report_and_the_open_action_items(workspace: Path) -> None:
    folder = workspace / "postmortems"
    folder.mkdir(exist_ok=True)
    (folder / "inc-1.md").write_text(
        "# Postmortem: chat answers slowly\n\n## Action items\n\n"
        "- [ ] Alert on KV-cache usage (alice, 2020-01-31) · prevent\n"
        "- [x] Roll back the tokenizer (bob) · mitigate\n"
    )
    done = run_cli("review", "pack", "monthly", "--out", "packs/m", cwd=workspace, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 open action item(s)" in done.stdout
    out = workspace / "packs/m"
    assert sorted(p.name for p in out.iterdir()) == [
        "pack.html", "pack.md", "report.html", "report.pdf",
    ]  # fmt: skip
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert "<script" not in (out / "report.html").read_text()
    text = (out / "pack.md").read_text()
    first = dt.datetime.now(dt.UTC).date().replace(day=1)
    last = first - dt.timedelta(days=1)
    assert f"{last:%B %Y}, {last:%Y-%m}-01 to {last:%Y-%m-%d} (UTC)" in text  # the month before
    assert "Reconciliation against the imported bill" in text  # the FinOps agenda
    assert "- [ ] **overdue** Alert on KV-cache usage (alice, 2020-01-31) · prevent: " in text
    assert "`postmortems/inc-1.md:5`" in text
    assert "Roll back the tokenizer" not in text
    assert "## SLOs at risk" in text
    assert "## Decisions needed" in text
    assert "<title>Monthly FinOps review pack: demo</title>" in (out / "pack.html").read_text()


def test_review_pack_of_an_unknown_review_is_exit_2(workspace: Path) -> None:
    done = run_cli("review", "pack", "daily", cwd=workspace)
    assert done.returncode == 2
    assert "'daily' is not one of 'weekly', 'monthly'" in done.stderr
