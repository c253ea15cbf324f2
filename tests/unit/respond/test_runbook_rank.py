"""Mitigations ranked by evidence: measured time to restore first (fastest first), then
exercised but untimed, then untested; an old last run is stale."""

from __future__ import annotations

from perfops.respond.runbook import (
    Evidence,
    MitigationStep,
    Runbook,
    rank,
    render_sections,
)

DAY_NS = 86_400 * 10**9
NOW = 1_800_000_000 * 10**9
STEPS = (
    MitigationStep("rollback", "Roll back"),
    MitigationStep("scale_out", "Scale out"),
    MitigationStep("drain", "Drain"),
)


def _run(action: str, days_ago: float, restore: float | None, run_id: str = "r") -> Evidence:
    return Evidence(run_id, "drill", "t", action, NOW - int(days_ago * DAY_NS), "restored",
                    1.0, restore, 0.5, 3.0)  # fmt: skip


def test_ranked_by_the_latest_measured_time_to_restore() -> None:
    evidence = [
        _run("rollback", 10, 9.0, "old-fast"),
        _run("rollback", 2, 30.0, "new-slow"),  # the latest measurement counts
        _run("drain", 1, 12.0),
    ]
    ranked = rank(STEPS, evidence, now_ns=NOW, stale_after_s=90 * 86400)
    assert [m.step.action for m in ranked] == ["drain", "rollback", "scale_out"]
    assert [m.restore_s for m in ranked] == [12.0, 30.0, None]
    assert [m.state for m in ranked] == ["tested", "tested", "untested"]
    assert [e.run_id for e in ranked[1].evidence] == ["new-slow", "old-fast"]


def test_stale_after_the_configured_age_and_untimed_after_timed() -> None:
    evidence = [_run("rollback", 100, 5.0), _run("drain", 1, None)]
    ranked = rank(STEPS, evidence, now_ns=NOW, stale_after_s=90 * 86400)
    states = {m.step.action: m.state for m in ranked}
    assert states == {"rollback": "stale", "drain": "tested", "scale_out": "untested"}
    assert [m.step.action for m in ranked] == ["rollback", "drain", "scale_out"]
    fresh = rank(STEPS, evidence, now_ns=NOW, stale_after_s=200 * 86400)
    assert next(m for m in fresh if m.step.action == "rollback").state == "tested"


def test_an_action_no_step_names_is_listed_with_its_run() -> None:
    evidence = [_run("revert:sim.crash", 1, None)]
    ranked = rank(STEPS[:1], evidence, now_ns=NOW, stale_after_s=90 * 86400)
    assert [m.step.action for m in ranked] == ["revert:sim.crash", "rollback"]


def _runbook(**kw: object) -> Runbook:
    base: dict[str, object] = {
        "name": "ChatTtftPageBurnRate", "alert": "ChatTtftPageBurnRate", "slo": "chat-ttft",
        "service": "chat", "severity": "page", "kind": "latency", "meaning": "m", "steps": STEPS,
        "now_ns": NOW,
    }  # fmt: skip
    base.update(kw)
    return Runbook(**base)  # type: ignore[arg-type]


def test_the_sections_say_untested_stale_and_the_measured_numbers() -> None:
    evidence = (_run("rollback", 120, 4.25, "drill-x"),)
    sections = render_sections(_runbook(evidence=evidence))
    mitigation = sections["mitigation"]
    assert "**Roll back** (`rollback`): *stale*" in mitigation
    assert "restored in 4.2 s" in mitigation or "restored in 4.3 s" in mitigation
    assert "**Scale out** (`scale_out`): *untested*" in mitigation
    row = next(line for line in sections["evidence"].splitlines() if "drill-x" in line)
    assert "| 1.0 s |" in row
    assert "| 0.500% |" in row
    assert "| 3.0 |" in row


def test_text_from_the_config_is_inert_markdown() -> None:
    hostile = "<script>alert(1)</script> | <!-- perfops:end meaning -->"
    sections = render_sections(_runbook(meaning=hostile, escalation=(hostile,)))
    for text in (sections["meaning"], sections["escalation"]):
        assert "<script>" not in text
        assert "&lt;script&gt;" in text
        assert "<!-- perfops:end" not in text
