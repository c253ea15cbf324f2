"""`perfops slo` as a user runs it: status from recorded requests, and the deployable files."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from tests._servers import sim_fleet, sim_service_yaml
from tests.conftest import run_cli


def test_status_counts_the_recorded_requests(tmp_path: Path) -> None:
    with sim_fleet(replicas=1) as fleet:
        (tmp_path / "perfops.yaml").write_text(
            sim_service_yaml(
                fleet,
                metrics=False,
                extra="""slos:
  - name: fast-first-token
    service: chat
    sli: {kind: latency, metric: ttft, threshold: 60ms, source: requests}
    objective: 99
  - name: all-fast
    service: chat
    sli: {kind: goodput, thresholds: {ttft: 10s, e2e: 30s}}
    objective: 99.5
  - name: loose
    service: chat
    sli: {kind: latency, metric: e2e, threshold: 30s, source: requests}
    objective: 92
""",
            )
        )
        run = run_cli(
            "load",
            "run",
            "--service",
            "chat",
            "--rate",
            "8",
            "--duration",
            "2s",
            "--max-tokens",
            "8",
            "--json",
            "run.json",
            cwd=tmp_path,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
    result = run_cli("slo", "status", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    status = {s["name"]: s for s in json.loads(result.stdout)}
    from perfops.store import Store

    rows = (
        Store(tmp_path / ".perfops" / "lake")
        .read_query("SELECT (first_token_ns - sent_ns) / 1e9 AS ttft FROM requests")
        .to_pylist()
    )
    good = sum(1 for r in rows if r["ttft"] is not None and r["ttft"] <= 0.06)
    fast = status["fast-first-token"]
    assert (fast["good"], fast["total"]) == (good, len(rows))
    assert fast["sli_pct"] == pytest.approx(100 * good / len(rows))
    assert fast["period"] == "rolling 28d"
    assert fast["source"] == "load-test request records"  # what it read, stated
    assert fast["state"] in ("ok", "firing")
    assert status["all-fast"]["sli_pct"] == 100.0
    assert status["all-fast"]["budget"]["remaining_pct"] == 100.0
    # the page factor is 13.44 on a 28-day period: 13.44 x 8% budget > 100% errors
    assert "can never fire" in status["loose"]["note"]
    table = run_cli("slo", "status", cwd=tmp_path)
    assert "fast-first-token" in table.stdout
    history = json.loads(run_cli("slo", "history", "all-fast", "--json", cwd=tmp_path).stdout)
    assert sum(d["total"] for d in history) == len(rows)


@pytest.mark.skipif(
    shutil.which("promtool") is None or shutil.which("amtool") is None,
    reason="promtool/amtool come with `make test`",
)
def test_generated_files_pass_promtool_and_amtool(tmp_path: Path) -> None:
    from importlib import resources

    example = resources.files("perfops.config").joinpath("example.yaml").read_text()
    (tmp_path / "perfops.yaml").write_text(example)
    made = run_cli("slo", "rules", "--out", "gen", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    check = subprocess.run(
        ["promtool", "check", "rules", "gen/rules.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run(
        ["promtool", "test", "rules", "gen/rules_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    am = run_cli("slo", "alertmanager", "--out", "gen/am.yml", cwd=tmp_path)
    assert am.returncode == 0, am.stderr
    amcheck = subprocess.run(
        ["amtool", "check-config", "gen/am.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert amcheck.returncode == 0, amcheck.stdout + amcheck.stderr
    routes = subprocess.run(
        [
            "amtool",
            "config",
            "routes",
            "test",
            "--config.file",
            "gen/am.yml",
            "severity=page",
            "slo=chat-ttft",
            "service=chat",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert routes.stdout.strip() == "oncall"


def test_grafana_dashboards_per_service(tmp_path: Path) -> None:
    from importlib import resources

    example = resources.files("perfops.config").joinpath("example.yaml").read_text()
    (tmp_path / "perfops.yaml").write_text(example)
    made = run_cli("slo", "grafana", "--out", "dash", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    board = json.loads((tmp_path / "dash" / "perfops-chat.json").read_text())
    assert board["uid"] == "perfops-chat"
    text = json.dumps(board)
    assert 'slo:sli_error:ratio_rate5m{slo=\\"chat-ttft\\"' in text
    assert "DCGM_FI_DEV_GPU_UTIL" in text


def test_openslo_import_prints_a_slos_block(tmp_path: Path) -> None:
    import yaml
    from tests.conftest import REPO

    from perfops.config import SLO

    fixture = REPO / "tests" / "fixtures" / "openslo" / "inference.yaml"
    result = run_cli("slo", "import", str(fixture), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    entries = yaml.safe_load(result.stdout)["slos"]
    assert entries
    for entry in entries:
        SLO.model_validate(entry)
    assert "warning:" in result.stderr
    bad = run_cli("slo", "import", str(fixture.with_name("bad_version.yaml")), cwd=tmp_path)
    assert bad.returncode == 2
    assert "openslo/v1" in bad.stderr


def test_gpu_health_counts_throttled_gpu_time(tmp_path: Path) -> None:
    """One of two GPUs throttled for the whole collection: about half the GPU-time is bad."""
    with sim_fleet(replicas=2, dcgm_interval=0.1) as fleet:
        (tmp_path / "perfops.yaml").write_text(
            sim_service_yaml(
                fleet,
                metrics=False,
                extra=f"""telemetry:
  interval: 1s
  targets:
    - {{name: dcgm, kind: dcgm, url: "{fleet.url("dcgm-metrics")}", service: chat}}
slos:
  - name: gpus-healthy
    service: chat
    sli: {{kind: gpu_health}}
    objective: 99
""",
            )
        )
        fleet.admin("POST", body={"kind": "throttle", "clock_factor": 0.6, "replica": 0})
        collected = run_cli("collect", "--duration", "4.5s", cwd=tmp_path, timeout=60)
        assert collected.returncode == 0, collected.stderr
    status = json.loads(run_cli("slo", "status", "--json", cwd=tmp_path).stdout)[0]
    assert status["total"] >= 8  # two GPUs, a sample of each per scrape
    assert status["sli_pct"] == pytest.approx(50, abs=10)
    assert status["budget"]["remaining_pct"] < 0  # far past a 1% budget
