"""`perfops load compare` as a user runs it: two runs of one workload on the simulator, then a
third with 50 ms added to every first token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests._servers import sim_fleet
from tests.conftest import run_cli


def strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the JSON")

    return json.loads(text, parse_constant=refuse)


def load_run(workspace: Path, url: str, seed: int) -> str:
    out = workspace / f"run-{seed}.json"
    result = run_cli(
        "load", "run", "--url", url, "--rate", "10", "--duration", "3s",
        "--prompt-tokens", "uniform:100,1000", "--max-tokens", "8", "--seed", str(seed),
        "--slo", "ttft_p90=1s", "--json", str(out), cwd=workspace, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return str(out)


def figures(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{d['metric']} {d['stat']}".strip(): d for d in result["differences"]}


def test_one_workload_twice_then_a_slow_first_token(tmp_path: Path) -> None:
    with sim_fleet(replicas=1) as fleet:
        first = load_run(tmp_path, fleet.url(), seed=1)
        second = load_run(tmp_path, fleet.url(), seed=2)
        status, _ = fleet.admin("POST", body={"kind": "ttft_latency", "seconds": 0.05})
        assert status == 201
        slowed = load_run(tmp_path, fleet.url(), seed=3)

    # Two runs of one workload. At 95% one figure in twenty is "different" by chance (that
    # is what 95% means), so this asks at 99.9%: a test must not fail one run in twenty.
    same = run_cli("load", "compare", first, second, "--confidence", "0.999", "--json", "-",
                   cwd=tmp_path)  # fmt: skip
    assert same.returncode == 0, same.stderr
    result = strict(same.stdout)
    assert result["like_with_like"] is True
    assert result["workload_differences"] == []
    ttft = figures(result)["ttft p50"]
    assert ttft["verdict"] == "no significant difference"
    assert ttft["low"] <= 0 <= ttft["high"]
    assert figures(result)["ttft p99"]["note"].startswith("not enough requests for p99: A ")

    slow = run_cli("load", "compare", first, slowed, "--json", "-", cwd=tmp_path)
    assert slow.returncode == 0, slow.stderr
    result = strict(slow.stdout)
    assert result["confidence"] == 0.95
    for name in ("ttft p50", "ttft_from_schedule p50"):
        assert figures(result)[name]["verdict"] == "worse"
        assert figures(result)[name]["significant"] is True

    table = run_cli("load", "compare", first, slowed, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "TTFT p50" in line)
    assert "worse" in row
    assert "not enough requests for p99" in table.stdout


def test_comparing_what_cannot_be_compared_is_a_clear_error(tmp_path: Path) -> None:
    missing = run_cli("load", "compare", "load-nope", "load-nada", cwd=tmp_path)
    assert missing.returncode == 1
    assert "no run 'load-nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
    (tmp_path / "odd.json").write_text("{}")
    odd = run_cli("load", "compare", "odd.json", "load-nada", cwd=tmp_path)
    assert odd.returncode == 2
    assert "odd.json has no run_id" in odd.stderr
