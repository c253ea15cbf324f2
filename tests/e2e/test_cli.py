"""The CLI as a user meets it: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from typer.testing import CliRunner

from perfops import __version__
from perfops.cli import app

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


def test_demo_records_a_run_and_events(tmp_path: Path) -> None:
    result = run_cli("demo", "ws", cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "recorded run demo-" in result.stdout
    # the cost step: $/1M tokens of the sweep, and H100 vs H200 at the measured capacity
    assert "$/1M SLO tok" in result.stdout
    assert "H100-SXM" in result.stdout
    assert "H200" in result.stdout
    assert "<- cheapest" in result.stdout
    info = json.loads(
        run_cli("-c", "ws/perfops.yaml", "store", "info", "--json", cwd=tmp_path).stdout
    )
    rows = {t["name"]: t["rows"] for t in info["tables"]}
    assert rows["runs"] >= 2
    assert rows["events"] >= 2
