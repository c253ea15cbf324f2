"""The evidence behind runbook mitigations comes from the lake's rows as the drills and
experiments wrote them: numbers unchanged, mapped to the runbooks of their SLO (or, for a GPU
fault, of its GPU health alert), ranked, and marked stale once old."""

from __future__ import annotations

from pathlib import Path

from perfops._internal.clock import ManualClock
from perfops.app import open_runtime
from perfops.app.runbook import evidence_for, generate_runbooks
from perfops.store import EventRecord, RunRecord

T0 = 1_800_000_000 * 10**9
DAY_NS = 86_400 * 10**9
CONFIG = """apiVersion: perfops/v1
services:
  - {name: chat, endpoint: "http://127.0.0.1:9/v1", model: m, gpu: {type: H100-SXM}}
slos:
  - {name: chat-ttft, service: chat, sli: {kind: latency, metric: ttft, threshold: 500ms},
     objective: 99}
  - {name: chat-availability, service: chat, sli: {kind: availability}, objective: 99.9}
runbooks: {stale_after: 30d}
"""
DRILL = {
    "title": "slow release", "status": "restored", "rolled_back_s": 5.0,
    "time_to_detect_s": 1.25, "time_to_restore_s": 3.5, "budget_spent_pct": 0.0123,
    "bad_events": 17,
}  # fmt: skip


def _runs(rt: object) -> None:
    journal = rt.store.journal  # type: ignore[attr-defined]
    journal.write_run(RunRecord("drill-a", "drill", T0, "restored", T0 + 1, {"drill": {"slo": "chat-ttft"}}, DRILL))  # fmt: skip  # noqa: E501
    journal.write_run(RunRecord("drill-b", "drill", T0, "failed", T0 + 1, {"drill": {"slo": "chat-ttft"}}, {"rolled_back_s": None}))  # fmt: skip  # noqa: E501
    journal.write_run(RunRecord("drill-c", "drill", T0, "restored", T0 + 1, {"drill": {"slo": "chat-availability"}}, DRILL))  # fmt: skip  # noqa: E501
    chaos = {
        "title": "bad GPU",
        "faults": [{"name": "xid", "kind": "sim.xid", "injected_ns": T0, "reverted_ns": T0 + 5}],
        "impact": [{"fault": "xid", "budget_consumed_pct": {"chat-ttft": 0.25},
                    "goodput_lost": 42.0}],
    }  # fmt: skip
    spec = {"experiment": {"hypothesis": {"slos": [{"slo": "chat-ttft"}]}}}
    journal.write_run(RunRecord("chaos-x", "chaos", T0 + DAY_NS, "deviated", T0, spec, chaos))
    journal.append_events([EventRecord(T0 + 2 * DAY_NS, "mitigation", "scaled out", "chat",
                                       data={"action": "scale_out", "slo": "chat-ttft",
                                             "time_to_restore_s": 9.0})])  # fmt: skip


def test_the_rows_of_the_lake_become_evidence_unchanged(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(CONFIG)
    rt = open_runtime(tmp_path / "perfops.yaml", clock=ManualClock(T0 + 3 * DAY_NS))
    _runs(rt)
    found = evidence_for(rt, slo="chat-ttft")
    assert [(e.run_id, e.action) for e in found] == [
        ("drill-a", "rollback"),
        ("chaos-x", "revert:sim.xid"),
        ("", "scale_out"),
    ]
    drill = found[0]
    assert (drill.time_to_detect_s, drill.time_to_restore_s) == (1.25, 3.5)
    assert (drill.budget_spent_pct, drill.goodput_lost, drill.status) == (0.0123, 17.0, "restored")
    assert (found[1].budget_spent_pct, found[1].goodput_lost) == (0.25, 42.0)
    assert [e.run_id for e in evidence_for(rt, alert="GpuXidErrors")] == ["chaos-x"]
    assert evidence_for(rt, alert="GpuEccErrors") == []


def test_the_runbooks_rank_them_and_mark_old_ones_stale(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(CONFIG)
    clock = ManualClock(T0 + 3 * DAY_NS)
    rt = open_runtime(tmp_path / "perfops.yaml", clock=clock)
    _runs(rt)
    generate_runbooks(rt)
    page = (tmp_path / "runbooks" / "ChatTtftPageBurnRate.md").read_text()
    mitigation = page.split("## Mitigation", 1)[1].split("<!-- perfops:end", 1)[0]
    ranked = [line for line in mitigation.splitlines() if line[:1].isdigit()]
    assert "`rollback`): tested" in ranked[0]
    assert "restored in 3.5 s" in ranked[0]
    assert "`scale_out`): tested" in ranked[1]
    assert "restored in 9.0 s" in ranked[1]
    assert "`revert:sim.xid`): tested" in ranked[2]  # exercised, not timed: after the timed
    assert "`drain`): *untested*" in mitigation
    gpu = (tmp_path / "runbooks" / "GpuXidErrors.md").read_text()
    assert "`chaos-x`" in gpu
    assert "`drill-a`" not in gpu

    later = open_runtime(tmp_path / "perfops.yaml", clock=ManualClock(T0 + 40 * DAY_NS))
    generate_runbooks(later)
    page = (tmp_path / "runbooks" / "ChatTtftPageBurnRate.md").read_text()
    assert "`rollback`): *stale*, last exercised" in page
