"""The incident state machine and the fold of an incident's rows."""

from __future__ import annotations

from typing import Any

import pytest

from perfops.errors import UsageError
from perfops.respond.incident import (
    STATUSES,
    check_severity,
    check_transition,
    fold,
    next_statuses,
)


def _row(ts: int, action: str, status: str, **extra: Any) -> tuple[int, str, dict[str, Any]]:
    roles = dict.fromkeys(("incident_commander", "scribe", "communications_liaison",
                           "subject_matter_expert"))  # fmt: skip
    data = {"incident_id": "inc-1", "action": action, "status": status, "severity": "SEV-3",
            "services": ["chat"], "slos": [], "roles": roles, "group_key": None,
            "message": None, "alert": None, "by": None} | extra  # fmt: skip
    return ts, "chat is slow", data


def test_the_lifecycle_runs_forward_and_closes_only_once_resolved() -> None:
    path = ["triage", "investigating", "identified", "monitoring", "resolved", "closed"]
    for current, wanted in zip(path, path[1:], strict=False):
        check_transition("inc-1", current, wanted)
    with pytest.raises(UsageError) as err:
        check_transition("inc-1", "investigating", "closed")
    assert "from investigating it can move to identified, monitoring, resolved" in str(err.value)
    with pytest.raises(UsageError, match="closed incident is final"):
        check_transition("inc-1", "closed", "investigating")
    with pytest.raises(UsageError, match="statuses are triage"):
        check_transition("inc-1", "triage", "fixed")
    assert next_statuses("resolved") == ("investigating", "closed")  # reopened if it recurs
    assert all(s not in next_statuses(s) for s in STATUSES)


@pytest.mark.parametrize(("given", "canonical"), [("SEV-1", "SEV-1"), ("sev2", "SEV-2"),
                                                   ("3", "SEV-3"), ("sev_5", "SEV-5")])  # fmt: skip
def test_severities_are_spelled_one_way(given: str, canonical: str) -> None:
    assert check_severity(given) == canonical


@pytest.mark.parametrize("bad", ["SEV-0", "SEV-6", "critical", ""])
def test_an_unknown_severity_lists_the_valid_ones(bad: str) -> None:
    with pytest.raises(UsageError, match="SEV-1, SEV-2, SEV-3, SEV-4, SEV-5"):
        check_severity(bad)


def test_the_fold_takes_rows_in_time_order_and_the_last_value_wins() -> None:
    alert = {"fingerprint": "f1", "status": "firing", "alertname": "A"}
    rows = [
        _row(30, "status", "monitoring", severity="SEV-1", message="fix deployed"),
        _row(10, "open", "triage", group_key="g1", alert=alert,
             roles={"incident_commander": "alice"}),
        _row(20, "status", "investigating", severity="SEV-1",
             roles={"scribe": "bob", "incident_commander": None}),
        _row(40, "update", "monitoring", severity="SEV-1", alert=alert | {"status": "resolved"}),
        _row(50, "resolve", "resolved", severity="SEV-1"),
    ]  # fmt: skip
    inc = fold("inc-1", rows)
    assert (inc.status, inc.severity, inc.opened_ns, inc.updated_ns) == (
        "resolved",
        "SEV-1",
        10,
        50,
    )
    assert inc.roles["incident_commander"] == "alice"  # a null does not erase a name
    assert inc.roles["scribe"] == "bob"
    assert inc.group_keys == ["g1"]
    assert inc.alerts["f1"]["status"] == "resolved"
    assert inc.firing == []
    assert inc.resolved_ns == 50
    assert not inc.is_open
    assert [d["action"] for _, d in inc.timeline] == ["open", "status", "status", "update",
                                                      "resolve"]  # fmt: skip


def test_reopening_clears_the_resolution_time_and_closing_sets_its_own() -> None:
    rows = [_row(1, "open", "triage"), _row(2, "resolve", "resolved"),
            _row(3, "status", "investigating"), _row(4, "resolve", "resolved"),
            _row(5, "close", "closed")]  # fmt: skip
    assert fold("inc-1", rows[:3]).resolved_ns is None
    inc = fold("inc-1", rows)
    assert (inc.resolved_ns, inc.closed_ns) == (4, 5)


def test_the_json_form_has_the_documented_fields() -> None:
    inc = fold("inc-1", [_row(1, "open", "triage", message="paged")])
    assert set(inc.as_dict()) == {
        "incident_id", "title", "status", "severity", "opened_ns", "updated_ns",
        "resolved_ns", "closed_ns", "services", "slos", "roles", "group_keys", "alerts",
        "timeline",
    }  # fmt: skip
    [entry] = inc.as_dict()["timeline"]
    assert (entry["ts_ns"], entry["action"], entry["message"]) == (1, "open", "paged")


def test_no_rows_is_no_incident() -> None:
    with pytest.raises(UsageError, match="no incident 'inc-x'"):
        fold("inc-x", [])
