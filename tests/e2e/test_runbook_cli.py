"""`perfops runbook` as a user runs it: generate a runbook per alert for an example
workspace, check that every alert's runbook_url resolves (and say which does not), keep hand
edits across regeneration, and carry a drill's measured numbers into the evidence."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from tests._servers import sim_service_yaml
from tests.conftest import run_cli

SLO_ALERTS = {
    "ChatTtftPageBurnRate",
    "ChatTtftTicketBurnRate",
    "ChatTpotPageBurnRate",
    "ChatTpotTicketBurnRate",
    "ChatAvailabilityPageBurnRate",
    "ChatAvailabilityTicketBurnRate",
}
GPU_ALERTS = {"GpuXidErrors", "GpuClocksThrottled", "GpuEccErrors"}


@pytest.fixture
def example(tmp_path: Path) -> Path:
    result = run_cli("init", "--example", "sim-chaos", "ws", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path / "ws"


def _generate(ws: Path, *args: str) -> list[dict[str, object]]:
    result = run_cli("runbook", "generate", "--json", *args, cwd=ws)
    assert result.returncode == 0, result.stdout + result.stderr
    return list(json.loads(result.stdout))


def _rule_urls(ws: Path, *args: str) -> dict[str, str]:
    """Each generated alert's runbook_url, as `perfops slo rules` writes it."""
    result = run_cli("slo", "rules", "--out", "rules", *args, cwd=ws)
    assert result.returncode == 0, result.stderr
    groups = yaml.safe_load((ws / "rules" / "rules.yml").read_text())["groups"]
    return {
        r["alert"]: r["annotations"]["runbook_url"]
        for g in groups
        for r in g["rules"]
        if "alert" in r
    }


def test_a_runbook_per_alert_that_the_alerts_link_to_and_check_resolves(example: Path) -> None:
    written = _generate(example)
    names = {Path(str(w["path"])).stem for w in written}
    assert {w["state"] for w in written} == {"created"}
    assert names == SLO_ALERTS | GPU_ALERTS
    assert all(Path(str(w["path"])).parent == example / "runbooks" for w in written)
    urls = _rule_urls(example)
    assert set(urls) == SLO_ALERTS | GPU_ALERTS  # every alert the rules write has its runbook
    for alert, url in urls.items():  # the dashboard's URL of the file the generator wrote
        assert url == f"http://127.0.0.1:8080/runbooks/{alert}"
    page = (example / "runbooks" / "ChatTtftPageBurnRate.md").read_text()
    for section in ("Meaning", "Impact", "Diagnosis", "Mitigation", "Escalation", "Evidence"):
        assert f"## {section}" in page
    assert "95% of requests see their first token within 500 ms" in page
    assert "*untested*" in page

    check = run_cli("runbook", "check", "--json", cwd=example)
    assert check.returncode == 0, check.stdout + check.stderr
    lines = json.loads(check.stdout)
    assert {ln["alert"] for ln in lines if ln["what"] == "url"} == SLO_ALERTS | GPU_ALERTS
    queries = [ln for ln in lines if ln["what"] == "query"]
    assert any(q["target"] == "perfops slo status chat-ttft" for q in queries)
    assert all(q["ok"] for q in queries)

    (example / "runbooks" / "ChatTpotTicketBurnRate.md").unlink()
    broken = run_cli("runbook", "check", cwd=example)
    assert broken.returncode == 1
    assert "http://127.0.0.1:8080/runbooks/ChatTpotTicketBurnRate" in broken.stderr
    assert "ChatTtftPageBurnRate" not in broken.stderr


class _Pages(BaseHTTPRequestHandler):
    """A runbook site that has every page but one."""

    missing = "/base/ChatTtftTicketBurnRate"

    def do_HEAD(self) -> None:  # noqa: N802
        self.send_response(404 if self.path == self.missing else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/base"
    finally:
        server.shutdown()
        server.server_close()


def test_a_base_url_in_perfops_yaml_is_what_the_alerts_link_to_and_check_asks(
    example: Path, site: str
) -> None:
    config = example / "perfops.yaml"
    data = yaml.safe_load(config.read_text())
    data.setdefault("workspace", {})["runbook_url"] = site
    config.write_text(yaml.safe_dump(data))
    _generate(example)
    assert _rule_urls(example)["ChatTpotPageBurnRate"] == f"{site}/ChatTpotPageBurnRate"
    assert _rule_urls(example, "--runbook-url", "https://x.example/rb")["ChatTpotPageBurnRate"] == (
        "https://x.example/rb/ChatTpotPageBurnRate"
    )
    check = run_cli("runbook", "check", cwd=example)
    assert check.returncode == 1
    assert f"{site}/ChatTtftTicketBurnRate" in check.stderr
    assert "HTTP 404" in check.stderr
    assert f"{site}/ChatTtftPageBurnRate " not in check.stderr  # the others answer 200


def test_hand_edits_survive_and_an_edited_block_is_never_silently_lost(example: Path) -> None:
    _generate(example)
    path = example / "runbooks" / "ChatTtftPageBurnRate.md"
    mine = "\n## Our notes\n\nCall the model team before rolling back on Fridays.\n"
    path.write_text(path.read_text() + mine)
    assert {w["state"] for w in _generate(example)} == {"unchanged"}
    assert mine in path.read_text()

    edited = path.read_text().replace("## Meaning\n", "## Meaning\n\nPage Ana, not Bob.\n")
    path.write_text(edited)
    refused = run_cli("runbook", "generate", cwd=example)
    assert refused.returncode == 1
    assert "ChatTtftPageBurnRate.md (meaning)" in refused.stderr
    assert path.read_text() == edited

    forced = _generate(example, "--force")
    row = next(w for w in forced if Path(str(w["path"])) == path)
    assert row["state"] == "updated"
    assert row["edited"] == ["meaning"]
    assert "Page Ana, not Bob." not in path.read_text()
    assert mine in path.read_text()
    assert Path(str(row["orig"])).read_text() == edited


SIM_SLOS = """slos:
  - name: chat-ttft
    service: chat
    # healthy under a busy machine's starved sim; a candidate adding 0.6 s always breaks it
    sli: {kind: latency, metric: ttft, threshold: 550ms}
    objective: 95
"""
DRILL = """apiVersion: perfops/v1
kind: Drill
title: a release with a slow first token
slo: chat-ttft
load: {service: chat, rate: 8, duration: 20s, prompt_tokens: 64, max_tokens: 8}
deploy: {kind: sim.ttft_latency, params: {seconds: 0.6}}
deploy_after: 2s
window: 2s
"""


def _evidence_row(page: str, run_id: str) -> list[str]:
    row = next(line for line in page.splitlines() if f"`{run_id}`" in line)
    return [cell.strip() for cell in row.strip("|").split("|")]


def test_a_drill_writes_its_measured_numbers_into_the_runbooks_it_exercised(
    tmp_path: Path,
) -> None:
    from tests._servers import sim_fleet

    from perfops.store import Store

    with sim_fleet(replicas=2) as fleet:
        (tmp_path / "perfops.yaml").write_text(
            sim_service_yaml(fleet, metrics=False, extra=SIM_SLOS)
        )
        _generate(tmp_path)
        page = tmp_path / "runbooks" / "ChatTtftPageBurnRate.md"
        before = page.read_text()
        assert "*untested*" in before
        (tmp_path / "drill.yaml").write_text(DRILL)
        drill = run_cli("chaos", "drill", "drill.yaml", "--json", "d.json", cwd=tmp_path,
                        timeout=90)  # fmt: skip
    assert drill.returncode == 0, drill.stdout + drill.stderr
    run_id = json.loads((tmp_path / "d.json").read_text())["run_id"]
    row = Store(tmp_path / ".perfops" / "lake").journal.run(run_id)  # the runs row
    s = row.summary
    expected = [
        f"{s['time_to_detect_s']:.1f} s",
        f"{s['time_to_restore_s']:.1f} s",
        f"{s['budget_spent_pct']:.3f}%",
        f"{float(s['bad_events']):.1f}",
    ]
    for name in ("ChatTtftPageBurnRate", "ChatTtftTicketBurnRate"):
        text = (tmp_path / "runbooks" / f"{name}.md").read_text()
        cells = _evidence_row(text, run_id)
        assert cells[2:5] == ["drill", "`rollback`", "restored"]
        assert cells[5:] == expected
        assert f"restored in {s['time_to_restore_s']:.1f} s" in text
    assert "GpuXidErrors" not in drill.stdout + drill.stderr  # nothing GPU was exercised

    page.write_text(before)  # as if the drill ran before the runbooks were generated
    update = run_cli("runbook", "update", "--slo", "chat-ttft", cwd=tmp_path)
    assert update.returncode == 0, update.stderr
    assert f"updated   {page}" in update.stdout
    assert _evidence_row(page.read_text(), run_id)[5:] == expected
    again = run_cli("runbook", "update", cwd=tmp_path)
    assert f"unchanged {page}" in again.stdout


XID_EXPERIMENT = """apiVersion: perfops/v1
kind: Experiment
title: XID 79 on replica 1
hypothesis:
  slos: [{slo: chat-ttft, max_burn_rate: 2}]
  baseline: 2s
  recovery: 2s
load: {service: chat, rate: 6, duration: 4s, prompt_tokens: 64, max_tokens: 8}
method:
  - {name: xid, kind: sim.xid, params: {replica: 1, gpu: 0, code: 79}, start: 1s, duration: 2s}
"""


def test_a_chaos_run_adds_its_faults_to_the_slo_and_gpu_runbooks(tmp_path: Path) -> None:
    from tests._servers import sim_fleet

    from perfops.store import Store

    with sim_fleet(replicas=2) as fleet:
        (tmp_path / "perfops.yaml").write_text(
            sim_service_yaml(fleet, metrics=False, extra=SIM_SLOS)
        )
        _generate(tmp_path)
        (tmp_path / "exp.yaml").write_text(XID_EXPERIMENT)
        run = run_cli("chaos", "run", "exp.yaml", "--json", "r.json", cwd=tmp_path, timeout=90)
    assert run.returncode in (0, 1), run.stdout + run.stderr  # the verdict is not the point
    run_id = json.loads((tmp_path / "r.json").read_text())["run_id"]
    summary = Store(tmp_path / ".perfops" / "lake").journal.run(run_id).summary
    (impact,) = summary["impact"]
    for name in ("ChatTtftPageBurnRate", "GpuXidErrors"):
        cells = _evidence_row((tmp_path / "runbooks" / f"{name}.md").read_text(), run_id)
        assert cells[2:4] == ["chaos", "`revert:sim.xid`"]
        assert cells[-1] == f"{impact['goodput_lost']:.1f}"
    ttft = _evidence_row((tmp_path / "runbooks" / "ChatTtftPageBurnRate.md").read_text(), run_id)
    assert ttft[-2] == f"{impact['budget_consumed_pct']['chat-ttft']:.3f}%"
    assert f"`{run_id}`" not in (tmp_path / "runbooks" / "GpuEccErrors.md").read_text()
