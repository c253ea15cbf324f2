"""`perfops incident` as a user runs it: open, update, resolve, close, list and show with
--json for scripts, and the mistakes a person makes (a wrong transition, a misspelled
service or SLO, a missing id) answered with the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("incident-ws")
    assert run_cli("init", cwd=path).returncode == 0
    return path


def _json(workspace: Path, *args: str) -> Any:
    done = run_cli("incident", *args, cwd=workspace)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_incident_from_open_to_closed(workspace: Path) -> None:
    inc = _json(workspace, "open", "chat answers slowly", "--service", "chat", "--slo",
                "chat-ttft", "--severity", "sev2", "--commander", "alice", "--by", "bob",
                "--json")  # fmt: skip
    iid = inc["incident_id"]
    assert iid.startswith("inc-")
    assert len(iid) == 12
    assert (inc["status"], inc["severity"], inc["services"], inc["slos"]) == (
        "triage", "SEV-2", ["chat"], ["chat-ttft"],
    )  # fmt: skip
    roles = inc["roles"]
    assert (roles["incident_commander"], roles["scribe"], roles["communications_liaison"]) == (
        "alice", None, None,
    )  # fmt: skip
    assert roles["subject_matter_expert"] in ("alice", "bob")  # on call on `secondary`
    _json(workspace, "update", iid, "--status", "investigating", "--scribe", "carol", "-m",
          "KV cache at 100%", "--json")  # fmt: skip
    _json(workspace, "update", iid, "--status", "identified", "--slo", "chat-availability",
          "--severity", "SEV-1", "--json")  # fmt: skip
    _json(workspace, "update", iid, "--status", "monitoring", "-m", "rolled back", "--json")
    _json(workspace, "resolve", iid, "-m", "TTFT back under 500 ms", "--json")
    closed = _json(workspace, "close", iid, "--json")
    assert closed["status"] == "closed"

    shown = _json(workspace, "show", iid, "--json")
    assert [(e["action"], e["status"]) for e in shown["timeline"]] == [
        ("open", "triage"), ("status", "investigating"), ("status", "identified"),
        ("status", "monitoring"), ("resolve", "resolved"), ("close", "closed"),
    ]  # fmt: skip
    times = [e["ts_ns"] for e in shown["timeline"]]
    assert times == sorted(set(times))
    assert (shown["resolved_ns"], shown["closed_ns"]) == (times[4], times[5])
    assert shown["roles"]["incident_commander"] == "alice"
    assert shown["roles"]["scribe"] == "carol"
    assert (shown["severity"], shown["slos"]) == ("SEV-1", ["chat-ttft", "chat-availability"])
    assert shown["timeline"][1]["message"] == "KV cache at 100%"
    assert shown["timeline"][0]["by"] == "bob"

    listed = {i["incident_id"]: i for i in _json(workspace, "list", "--json")}
    assert listed[iid]["status"] == "closed"
    assert "timeline" not in listed[iid]
    assert iid not in {i["incident_id"] for i in _json(workspace, "list", "--open", "--json")}
    text = run_cli("incident", "list", cwd=workspace).stdout
    assert iid in text
    assert "chat answers slowly" in text


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["open", "x", "--service", "chta"], "did you mean 'chat'?"),
        (["open", "x", "--slo", "chat-ttf"], "did you mean 'chat-ttft'?"),
        (["open", "x", "--severity", "SEV-9"], "use one of SEV-1, SEV-2, SEV-3, SEV-4, SEV-5"),
        (["open", " "], "an incident needs a title"),
        (["show", "inc-nothere"], "no incident 'inc-nothere'"),
        (["serve", "--host", "0.0.0.0"], "refusing to serve the Alertmanager receiver on"),
        (["serve", "--token-env", "NO_SUCH_VAR_XYZ"], "NO_SUCH_VAR_XYZ: the variable is not set"),
    ],
)
def test_mistakes_get_the_fix(workspace: Path, args: list[str], says: str) -> None:
    done = run_cli("incident", *args, cwd=workspace)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr


def test_a_wrong_transition_names_the_allowed_ones(workspace: Path) -> None:
    iid = _json(workspace, "open", "GPU XID 79 on node-3", "--json")["incident_id"]
    done = run_cli("incident", "close", iid, cwd=workspace)
    assert done.returncode == 2
    assert f"incident {iid} is triage: it cannot move to closed" in done.stderr
    assert "from triage it can move to investigating, identified, monitoring, resolved" in (
        done.stderr
    )
    shown = _json(workspace, "show", iid, "--json")
    assert [e["action"] for e in shown["timeline"]] == ["open"]  # nothing recorded
