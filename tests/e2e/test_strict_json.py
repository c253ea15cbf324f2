"""Every `--json` output, every JSON file and every JSON column perfops writes parses with a
strict parser: an undefined ratio is `null`, never a bare NaN or Infinity (which `jq`,
JavaScript and Go reject). The workspace holds a service with traffic and one with none, so
that burn rates, budgets and percentiles over no events are among the values written."""

from __future__ import annotations

import json
from pathlib import Path

from tests._servers import sim_fleet, sim_service_yaml
from tests.conftest import run_cli

SLOS = """  - name: idle
    endpoint: http://127.0.0.1:9/v1
    model: idle-model
    gpu: {type: H100-SXM, count: 1}
slos:
  - {name: chat-ttft, service: chat, objective: 99,
     sli: {kind: latency, metric: ttft, threshold: 60ms}}
  - {name: chat-avail, service: chat, objective: 99.5, sli: {kind: availability}}
  - {name: idle-ttft, service: idle, objective: 99,
     sli: {kind: latency, metric: ttft, threshold: 250ms}}
"""

COMMANDS = [
    ("slo", "status", "--json"),
    ("slo", "history", "chat-ttft", "--json"),
    ("slo", "history", "chat-avail", "--json"),
    ("slo", "history", "idle-ttft", "--json"),
    ("metrics", "ls", "--json"),
    ("metrics", "show", "llm.requests_total", "--json"),
    ("metrics", "kpis", "--json"),
    ("cost", "report", "--json"),
    ("cost", "report", "--by", "team", "--daily", "--json"),
    ("store", "info", "--json"),
    ("store", "compact", "--json"),
    ("slo", "status", "--json"),  # compacted: read from the rollups now
]


def strict_loads(text: str) -> object:
    def refuse(name: str) -> object:
        raise ValueError(f"bare {name} in JSON")

    return json.loads(text, parse_constant=refuse)


def test_every_json_output_is_strict_json(tmp_path: Path) -> None:
    with sim_fleet(replicas=1) as fleet:
        (tmp_path / "perfops.yaml").write_text(sim_service_yaml(fleet, extra=SLOS))
        run = run_cli(
            "load", "run", "--service", "chat", "--rate", "5", "--duration", "2s",
            "--max-tokens", "8", "--json", "-",
            cwd=tmp_path, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        strict_loads(run.stdout)
    nulls = 0
    for args in COMMANDS:
        result = run_cli(*args, cwd=tmp_path, timeout=120)
        assert result.returncode == 0, (args, result.stderr)
        strict_loads(result.stdout)
        nulls += result.stdout.count("null")
    assert nulls > 0  # undefined values were written, and written as null
    idle = next(s for s in strict_loads(run_cli("slo", "status", "--json", cwd=tmp_path).stdout)
                if s["name"] == "idle-ttft")  # type: ignore[union-attr,index]  # fmt: skip
    assert set(idle["burn_rates"].values()) == {None}  # no events: no burn rate, not NaN
    from perfops.store import Store

    store = Store(tmp_path / ".perfops" / "lake")
    columns = store.read_query(
        "SELECT spec AS doc FROM runs UNION ALL SELECT summary FROM runs "
        "UNION ALL SELECT data FROM events"
    ).column("doc")
    assert len(columns) > 0
    for doc in columns.to_pylist():
        strict_loads(doc or "{}")
