"""User mistakes end as usage errors (exit 2, one line naming the place and the fix), never as
"internal error … please report it": an unknown --service, a perfops.yaml without services, and
zero values that used to be read as "not given"."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.conftest import run_cli

# nothing listens on the discard port: a command that reached the network would fail otherwise
CONFIG = """apiVersion: perfops/v1
services:
  - name: chat
    model: llama-3.1-8b
    endpoint: http://127.0.0.1:9/v1
    metrics: [http://127.0.0.1:9/metrics]
    gpu: {type: H100-SXM, count: 2}
  - name: embed
    model: llama-3.1-8b
    endpoint: http://127.0.0.1:9/v1
    gpu: {type: H100-SXM, count: 1}
"""
NO_SERVICES = "apiVersion: perfops/v1\n"


def _usage_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a usage error prints, after checking that it is one."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def _workspace(path: Path, config: str) -> Path:
    (path / "perfops.yaml").write_text(config)
    return path


def _lake_tables(path: Path) -> list[str]:
    lake = path / ".perfops" / "lake"
    return sorted(p.name for p in lake.iterdir()) if lake.is_dir() else []


SERVICE_COMMANDS = [
    pytest.param(["load", "run"], id="load-run"),
    pytest.param(["load", "sweep", "--rates", "1,2"], id="load-sweep"),
    pytest.param(["load", "capacity", "--slo", "ttft_p99=1s"], id="load-capacity"),
    pytest.param(["cost", "scenario", "--traffic", "10rps", "--gpu", "H200"], id="cost-scenario"),
    pytest.param(
        ["cost", "roi", "--before", "2026-01-01/2026-01-02", "--after", "2026-01-02/2026-01-03"],
        id="cost-roi",
    ),
    pytest.param(["slo", "grafana", "--out", "dashboards"], id="slo-grafana"),
]


@pytest.mark.parametrize("command", SERVICE_COMMANDS)
def test_a_misspelt_service_is_a_usage_error_with_a_suggestion(
    tmp_path: Path, command: list[str]
) -> None:
    ws = _workspace(tmp_path, CONFIG)
    line = _usage_error(run_cli(*command, "--service", "chta", cwd=ws))
    assert line == (
        "error: no service 'chta' in perfops.yaml; did you mean 'chat'? (services: chat, embed)"
    )
    assert "runs" not in _lake_tables(ws)  # nothing started


def test_a_service_unlike_any_lists_the_services(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, CONFIG)
    line = _usage_error(run_cli("load", "run", "--service", "zzz", cwd=ws))
    assert line == "error: no service 'zzz' in perfops.yaml; use one of the services: chat, embed"


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["load", "run", "--service", "chat"], id="load-run"),
        pytest.param(["load", "sweep", "--service", "chat", "--rates", "1"], id="load-sweep"),
        pytest.param(
            ["load", "capacity", "--service", "chat", "--slo", "ttft_p99=1s"], id="load-capacity"
        ),
        pytest.param(["cost", "scenario", "--traffic", "1rps", "--gpu", "H200"], id="scenario"),
        pytest.param(["slo", "grafana", "--out", "dashboards"], id="slo-grafana"),
    ],
)
def test_a_config_without_services_is_a_usage_error(tmp_path: Path, command: list[str]) -> None:
    ws = _workspace(tmp_path, NO_SERVICES)
    line = _usage_error(run_cli(*command, cwd=ws))
    assert line.startswith("error: perfops.yaml declares no services")
    assert line.endswith("add one under services: (`perfops init` writes an example)")
    assert not (ws / "dashboards").exists()


def test_the_demo_in_a_workspace_without_services_is_a_usage_error(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, NO_SERVICES)
    line = _usage_error(run_cli("demo", str(ws), cwd=tmp_path))
    assert line.startswith("error: perfops.yaml declares no services")


@pytest.mark.parametrize(
    ("command", "option"),
    [
        pytest.param(["load", "run", "--service", "chat"], "--duration", id="load-run"),
        pytest.param(["load", "run", "--url", "http://127.0.0.1:9/v1"], "--duration", id="url"),
        pytest.param(["load", "sweep", "--service", "chat", "--rates", "1"], "--duration", id="sw"),
        pytest.param(
            ["load", "capacity", "--service", "chat", "--slo", "ttft_p99=1s"], "--duration", id="cp"
        ),
        pytest.param(["collect"], "--duration", id="collect"),
        pytest.param(
            ["collect", "import", "--prometheus", "http://127.0.0.1:9", "-q", "up", "--start=1h"],
            "--step",
            id="collect-import",
        ),
        pytest.param(["metrics", "kpis"], "--since", id="metrics-kpis"),
        pytest.param(["metrics", "show", "gpu.util"], "--since", id="metrics-show"),
        pytest.param(["cost", "report"], "--since", id="cost-report"),
    ],
)
def test_a_zero_duration_is_refused_not_taken_for_the_default(
    tmp_path: Path, command: list[str], option: str
) -> None:
    ws = _workspace(tmp_path, CONFIG)
    line = _usage_error(run_cli(*command, option, "0s", cwd=ws))
    assert line == f"error: {option} '0s': durations must be above 0; e.g. 500ms, 30s, 5m, 1h"
    assert "runs" not in _lake_tables(ws)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["load", "run", "--concurrency", "0"], id="concurrency"),
        pytest.param(["load", "sweep", "--rates", "1", "--max-requests", "0"], id="max-requests"),
        pytest.param(["load", "capacity", "--slo", "ttft_p99=1s", "--gpus", "0"], id="gpus"),
    ],
)
def test_a_zero_count_is_refused_not_taken_for_the_default(
    tmp_path: Path, command: list[str]
) -> None:
    ws = _workspace(tmp_path, CONFIG)
    result = run_cli(*command, "--service", "chat", cwd=ws)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "internal error" not in result.stderr
    assert f"Invalid value for '{command[-2]}'" in result.stderr
    assert "runs" not in _lake_tables(ws)
