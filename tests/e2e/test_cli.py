"""The CLI as a user meets it: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from tests._servers import sim_ports
from tests.conftest import run_cli
from typer.testing import CliRunner

from perfops import __version__
from perfops.cli import app
from perfops.store import Store

runner = CliRunner()


def test_version_and_help() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"perfops {__version__}"
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "doctor", "store", "demo"):
        assert command in result.output


def test_init_writes_a_config_that_loads_and_refuses_to_overwrite(tmp_path: Path) -> None:
    first = run_cli("init", "ws", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "ws" / "perfops.yaml").read_text().startswith("# perfops.yaml")
    again = run_cli("init", "ws", cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip() == (
        "error: ws/perfops.yaml already exists; pass --force to overwrite it"
    )
    assert run_cli("init", "ws", "--force", cwd=tmp_path).returncode == 0


def test_store_info_json_and_compact(tmp_path: Path) -> None:
    run_cli("init", cwd=tmp_path)
    info = run_cli("store", "info", "--json", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    assert {t["name"] for t in data["tables"]} >= {
        "samples",
        "series",
        "requests",
        "runs",
        "events",
        "costs",
    }
    assert data["lake"] == str((tmp_path / ".perfops" / "lake").resolve())
    compact = run_cli("store", "compact", "--json", cwd=tmp_path)
    assert compact.returncode == 0, compact.stderr
    assert "samples" in json.loads(compact.stdout)


def test_bad_config_exits_2_with_located_errors_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text("apiVersion: perfops/v1\nworkspace:\n  lakee: x\n")
    result = run_cli("store", "info", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert 'perfops.yaml:3:3 workspace.lakee: unknown field; did you mean "lake"?' in result.stderr
    debug = run_cli("--debug", "store", "info", cwd=tmp_path)
    assert debug.returncode == 2
    assert "Traceback" in debug.stderr


def test_unknown_env_override_warns_on_stderr(tmp_path: Path) -> None:
    run_cli("init", cwd=tmp_path)
    result = run_cli("store", "info", "--json", cwd=tmp_path, env={"PERFOPS__WORKSPACE__LAK": "x"})
    assert result.returncode == 0
    assert "warning: ignoring PERFOPS__WORKSPACE__LAK" in result.stderr
    assert "did you mean 'lake'?" in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    result = run_cli("store", "bogus", cwd=tmp_path)
    assert result.returncode == 2
    assert "No such command 'bogus'" in result.stderr
    result = run_cli("store", "compact", "--retention-hours", "-1", cwd=tmp_path)
    assert result.returncode == 2


def test_runtime_error_exits_1(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("x")
    (tmp_path / "perfops.yaml").write_text(
        "apiVersion: perfops/v1\nworkspace:\n  lake: blocker/lake\n"
    )
    result = run_cli("store", "info", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot create the lake")
    assert "Traceback" not in result.stderr


def test_doctor_reports_tools_and_the_lake(tmp_path: Path) -> None:
    run_cli("init", cwd=tmp_path)
    result = run_cli("doctor", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("python", "deltalake", "promtool", "amtool", "lake"):
        assert name in result.stdout
    assert "writable" in result.stdout


def _demo_workspace(directory: Path) -> None:
    """The workspace `perfops demo` writes, on free ports (another demo may hold 8000)."""
    from importlib import resources

    port, dcgm = sim_ports(replicas=2)
    text = resources.files("perfops.config").joinpath("example.yaml").read_text("utf-8")
    for old, new in (("8000", port), ("8001", port + 1), ("8002", port + 2), ("9400", dcgm)):
        assert f"127.0.0.1:{old}/" in text
        text = text.replace(f"127.0.0.1:{old}/", f"127.0.0.1:{new}/")
    directory.mkdir()
    (directory / "perfops.yaml").write_text(text)


@pytest.mark.timeout(660)  # the capacity search repeats its decisive runs: minutes
def test_demo_records_a_run_and_events(tmp_path: Path) -> None:
    """What the demo found, read back from its journal in the lake, not from its wording."""
    _demo_workspace(tmp_path / "ws")
    result = run_cli("demo", "ws", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    lake = Store(tmp_path / "ws" / ".perfops" / "lake")
    (demo,) = lake.journal.runs(kind="demo")
    assert demo.status == "passed"
    titles = [e.title for e in lake.journal.events(kind="annotation") if e.run_id == demo.run_id]
    assert titles == ["demo started", "demo passed"]
    sim = demo.summary["sim"]
    assert len(sim["ttft_ms"]) == 3
    assert all(t > 0 for t in sim["ttft_ms"])
    info = json.loads(
        run_cli("-c", "ws/perfops.yaml", "store", "info", "--json", cwd=tmp_path).stdout
    )
    rows = {t["name"]: t["rows"] for t in info["tables"]}
    assert rows["samples"] >= sim["collected_samples"] > 0
    _check_load(lake, sim["load"])
    _check_chaos(lake, sim["chaos"])
    _check_respond(lake, tmp_path / "ws", sim["respond"])
    _check_cost(sim["cost"], sim["load"])
    _check_report(sim["report"], result.stdout, tmp_path)


def _check_report(report: dict, stdout: str, cwd: Path) -> None:
    """The report, PDF and deck of the demo's period, with the top recommendation said."""
    from pptx import Presentation
    from pypdf import PdfReader

    files = {k: cwd / v for k, v in report["files"].items()}  # as the demo named them
    assert "Executive summary" in files["html"].read_text()
    text = "\n".join(p.extract_text() for p in PdfReader(files["pdf"]).pages)
    assert "SLO scorecard" in text
    assert "Recommendations" in text
    assert 1 <= len(Presentation(str(files["deck"])).slides) <= 8
    assert report["figures"] > 0
    for name in report["files"].values():
        assert name in stdout
    top = report["top_recommendation"]
    if top is not None:
        assert top["title"] in stdout


def _check_load(lake: Store, load: dict) -> None:
    """Each sweep step is a journaled load run with the figures the demo showed."""
    assert [step["rate"] for step in load["sweep"]] == [4.0, 16.0, 48.0]
    for step in load["sweep"]:
        run = lake.journal.run(step["run_id"])
        assert (run.kind, run.status) == ("load", "passed")
        assert run.summary["completed"] == step["completed"] > 0
        assert run.summary["slo_met"] == step["slo_met"]
        assert lake.journal.requests(step["run_id"]).num_rows == run.summary["count"]
        p99 = run.summary["latency_ms"]["ttft"]["p99"]
        assert step["ttft_p99_ms"] == pytest.approx(p99, abs=1e-3)
        assert step["ttft_p50_ms"] <= step["ttft_p99_ms"]
    search = lake.journal.run(load["capacity_run"])
    assert search.kind == "capacity"
    assert search.summary["capacity_rps"] == load["capacity_rps"]
    assert search.summary["valid"] == load["valid"]
    assert search.summary["invalid"] == load["invalid"]
    assert load["valid"] == (load["capacity_rps"] is not None and not load["invalid"])
    # the sim's loop lag was scraped during every run, and the demo says whether it kept up
    assert load["sim_steps"] > 0
    assert load["sim_kept_real_time"] == (load["sim_steps_late"] <= 0.01 * load["sim_steps"])
    for point in search.summary["points"]:
        assert point["summary"]["target_limited"] in (True, False)
        assert point["valid"] == (not point["invalid"])
    assert load["virtual_capacity_rps_per_gpu"] > 0  # the virtual-time driver's figure beside it
    if load["capacity_rps"] is None:  # a machine too busy to keep the schedule says why
        assert load["reason"]
        return
    low, high = load["capacity_interval_rps"]
    assert low <= load["capacity_rps"]
    assert high is None or load["capacity_rps"] <= high
    assert load["capacity_rps_per_gpu"] == pytest.approx(load["capacity_rps"] / load["gpus"])
    if search.summary["bracket_rps"]:  # every repeat is journaled, each with its own seed
        for rate in search.summary["bracket_rps"]:
            seeds = [p["seed"] for p in search.summary["points"] if p["rate"] == rate]
            assert len(set(seeds)) == len(seeds) >= 3 or not load["valid"]
    diff = load["capacity_rps_per_gpu"] / load["virtual_capacity_rps_per_gpu"] - 1
    assert load["virtual_difference"] == pytest.approx(diff)
    assert load["virtual_agrees"] == (abs(diff) <= 0.15)
    if not load["virtual_agrees"]:  # where they differ, the demo says why
        assert "because" in load["virtual_comparison"]


def _check_chaos(lake: Store, chaos: dict) -> None:
    run = lake.journal.run(chaos["run_id"])
    assert (run.kind, run.status) == ("chaos", chaos["status"])
    assert chaos["status"] in ("passed", "deviated", "aborted")
    (window,) = chaos["faults"]  # the one throttle of the experiment
    assert window["fault"] == "throttle-replica-0"
    assert 0 <= window["bad"] <= window["requests"]
    assert window["requests"] > 0


def _check_respond(lake: Store, ws: Path, respond: dict) -> None:
    """The drill's page opened an incident that was resolved; its postmortem is written and
    the page runbook's evidence holds the drill with the time to restore it recorded."""
    drill = lake.journal.run(respond["drill_run"])
    assert (drill.kind, drill.status) == ("drill", "restored")
    rows = [e for e in lake.journal.events(kind="incident") if e.run_id == respond["incident"]]
    assert rows, "no incident rows"
    last = max(rows, key=lambda e: e.ts_ns)
    assert last.data["status"] == "resolved"
    assert last.data["slos"] == ["chat-ttft"]
    alerts = [e for e in lake.journal.events(kind="alert")
              if e.data["alertname"] == "ChatTtftPageBurnRate"]  # fmt: skip
    assert sorted(a.data["status"] for a in alerts) == ["firing", "resolved"]
    postmortem = ws / f"postmortem-{respond['incident']}.md"
    assert Path(respond["postmortem"]).name == postmortem.name
    assert respond["incident"] in postmortem.read_text()
    runbook = (ws / "runbooks" / "ChatTtftPageBurnRate.md").read_text()
    evidence = runbook.partition("<!-- perfops:begin evidence")[2].partition(
        "<!-- perfops:end evidence -->"
    )[0]
    (row,) = [line for line in evidence.splitlines() if f"`{drill.run_id}`" in line]
    cells = [c.strip() for c in row.strip("|").split("|")]
    # Date | Run | Kind | Mitigation | Status | Time to detect | Time to restore | ...
    assert cells[2:5] == ["drill", "`rollback`", "restored"]
    assert cells[6] == f"{drill.summary['time_to_restore_s']:.1f} s"
    assert respond["top_mitigation"]["action"] == "rollback"
    assert respond["top_mitigation"]["run_id"] == drill.run_id


def _check_cost(cost: dict, load: dict) -> None:
    """The sweep priced per token, and H100 vs H200 at the capacity the demo measured."""
    assert Decimal(cost["paid"]) == sum(Decimal(r["total"]) for r in cost["rows"].values())
    chat = cost["rows"]["chat"]
    assert Decimal(chat["total"]) > 0
    assert chat["tokens"] > 0
    per_1m = Decimal(chat["total"]) / chat["tokens"] * 1_000_000
    assert Decimal(chat["per_1m_tokens"]) == pytest.approx(per_1m, rel=Decimal("1e-4"))
    assert 0 <= chat["slo_tokens"] <= chat["tokens"]
    if chat["slo_tokens"]:
        assert Decimal(chat["per_1m_slo_tokens"]) >= Decimal(chat["per_1m_tokens"])
    scenario = cost["scenario"]
    if load["capacity_rps"] is None:
        assert scenario is None  # nothing to plan for
        return
    assert scenario["traffic_rps"] == load["capacity_rps"]
    plans = {p["gpu"]: p for p in scenario["plans"]}
    assert set(plans) == {"H100-SXM", "H200"}
    for plan in plans.values():
        assert plan["meets_slo"]
        assert Decimal(plan["monthly_cost"]) > 0
        assert Decimal(plan["per_1m_output_tokens"]) > 0
        # enough GPUs for the traffic at 70% utilisation, and not one more
        per_gpu = plan["rps_per_gpu"] * scenario["utilisation"]
        assert (plan["peak_gpus"] - 1) * per_gpu < scenario["traffic_rps"]
        assert scenario["traffic_rps"] <= plan["peak_gpus"] * per_gpu * (1 + 1e-9)
    # the H100's price is the workspace's $3.00 an hour, 730 hours a month
    h100 = plans["H100-SXM"]
    assert Decimal(h100["monthly_cost"]) == h100["peak_gpus"] * Decimal("3.00") * 730
    cheapest = min(plans.values(), key=lambda p: Decimal(p["monthly_cost"]))
    assert scenario["cheapest"] == cheapest["candidate"]
