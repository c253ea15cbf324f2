"""`perfops dashboard --grafana-out DIR`: the Grafana twin of the page, written without a lake
and without serving, for each example workspace as a user copies it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard
from tests.conftest import run_cli

import perfops

NAMES = sorted(
    p.parent.name for p in (Path(perfops.__file__).parent / "examples").glob("*/perfops.yaml")
)


@pytest.mark.parametrize("name", NAMES)
def test_grafana_out_writes_the_composite_and_exits(tmp_path: Path, name: str) -> None:
    assert run_cli("init", "ws", "--example", name, cwd=tmp_path).returncode == 0
    workspace = tmp_path / "ws"
    result = run_cli("dashboard", "--grafana-out", "grafana", "--datasource-uid", "prom",
                     cwd=workspace)  # fmt: skip
    assert result.returncode == 0, result.stderr
    path = workspace / "grafana" / "perfops-twin.json"
    assert f"wrote {Path('grafana') / 'perfops-twin.json'}" in result.stdout
    assert "perfops slo rules" in result.stdout  # the rules it reads
    data = json.loads(path.read_text())
    rows = [p["title"].split(" (")[0] for p in data["panels"] if p["type"] == "row"]
    assert rows == ["Overview", "GPU", "Engine", "SLOs", "Cost"]
    targets = [t for p in data["panels"] for t in p.get("targets", [])]
    assert {p["datasource"]["uid"] for p in data["panels"] if "datasource" in p} == {"prom"}
    assert len(targets) > 40
    again = json.loads(json.dumps(Dashboard.from_json(data), cls=JSONEncoder))
    assert again == data


def test_grafana_out_onto_a_file_is_a_usage_error(tmp_path: Path) -> None:
    assert run_cli("init", "ws", "--example", "sim-chaos", cwd=tmp_path).returncode == 0
    (tmp_path / "ws" / "taken").write_text("a file, not a folder")
    result = run_cli("dashboard", "--grafana-out", "taken", cwd=tmp_path / "ws")
    assert result.returncode == 2
    assert "--grafana-out taken" in result.stderr
    assert "Traceback" not in result.stderr
