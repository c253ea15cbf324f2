"""No false pass: a chaos run passes only when every fault it planned went in and came out.

The exit codes a pipeline gates on: 3 when the run could not happen (the service or a fault's
target does not answer: nothing ran); 2 when a token it needs is not configured or refused
(nothing ran); 1 ``failed`` when a fault did not land or could not be reverted mid-run (the
run stops at once); ``perfops chaos recover`` 1 while a fault is left, 0 once it is cleared.
Tokens come from environment variables named in perfops.yaml or the experiment, and never
reach the lake, the undo journal or the output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._servers import FleetThread, free_port, sim_fleet
from tests.conftest import REPO, run_cli

from perfops.sim.background import SimProcess
from perfops.store import Store

TOKEN = "tok-7f3a9c1e5b"  # distinctive, to search for


def _service(name: str, url: str, extra: str = "") -> str:
    return (
        f"  - name: {name}\n    endpoint: {url}\n    model: llama-3.1-8b\n"
        f"    gpu: {{type: H100-SXM, count: 1}}\n{extra}"
    )


def _workspace(path: Path, *services: str) -> Path:
    (path / "perfops.yaml").write_text("apiVersion: perfops/v1\nservices:\n" + "".join(services))
    return path


def _experiment(fault: str, *, title: str = "x") -> str:
    return f"""apiVersion: perfops/v1
kind: Experiment
title: {title}
hypothesis: {{max_error_ratio: 0.05, baseline: 2s, recovery: 2s}}
load: {{service: chat, rate: 6, duration: 3s, prompt_tokens: 32, max_tokens: 4}}
method:
  - {fault}
"""


HARMLESS = "{kind: sim.token_latency, params: {seconds: 0.001}, start: 1s, duration: 1s}"


def _run(ws: Path, text: str, env: dict[str, str] | None = None) -> tuple[int, str, dict]:
    (ws / "exp.yaml").write_text(text)
    out = ws / "out.json"
    out.unlink(missing_ok=True)
    done = run_cli("chaos", "run", "exp.yaml", "--json", str(out), cwd=ws, env=env, timeout=120)
    result = json.loads(out.read_text()) if out.exists() else {}
    return done.returncode, done.stdout + done.stderr, result


def _pending(ws: Path) -> list[dict]:
    from perfops.chaos.undo import UndoJournal

    return UndoJournal(ws / ".perfops" / "chaos" / "undo.jsonl").pending()


def _lake_text(ws: Path) -> str:
    """Every row of every table of the workspace's lake, as text."""
    lake = Store(ws / ".perfops" / "lake")
    rows = [lake.read_query(f"SELECT * FROM {t.name}").to_pylist() for t in lake.info()]
    return json.dumps(rows, default=str)


# -- the run could not happen: exit 3, or 2, nothing injected ---------------------------------


def test_a_run_against_a_stopped_sim_could_not_happen(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    ws = _workspace(tmp_path, _service("chat", f"http://127.0.0.1:{port}/v1"))
    code, output, result = _run(ws, _experiment(HARMLESS))
    assert code == 3, output
    assert f"service chat does not answer at http://127.0.0.1:{port}/v1" in output
    assert "nothing was injected" in output
    assert "verdict" not in output
    assert "Traceback" not in output
    assert result == {}  # no verdict: the run did not happen
    assert _pending(ws) == []


@pytest.fixture(scope="module")
def guarded() -> Iterator[FleetThread]:
    """A simulator started with a token, as `perfops sim --token` does."""
    with sim_fleet(replicas=1, token=TOKEN) as fleet:
        yield fleet


def test_a_token_protected_sim_without_its_token_is_refused_before_the_run(
    tmp_path: Path, guarded: FleetThread
) -> None:
    ws = _workspace(tmp_path, _service("chat", guarded.url()))
    code, output, _ = _run(ws, _experiment(HARMLESS))
    assert code == 2, output  # no token configured: the service refuses, nothing runs
    assert "refused a request without an API key (HTTP 401)" in output
    assert "api_key_env" in output  # the fix
    ws = _workspace(tmp_path, _service("chat", guarded.url(), "    api_key_env: CHAT_KEY\n"))
    fault = HARMLESS.replace("}, start", "}, token_env: SIM_ADMIN, start")
    code, output, _ = _run(ws, _experiment(fault), env={"CHAT_KEY": TOKEN})
    assert code == 2, output  # a variable named but not set: a usage error before the run
    assert "environment variable not set: SIM_ADMIN" in output
    assert "CHAT_KEY" not in output.split("not set:")[1]  # the one that is set is not listed
    assert _pending(ws) == []
    assert guarded.admin("GET", "?all=1", token=TOKEN)[1]["faults"] == []


def test_with_its_token_the_fault_lands_and_the_token_is_stored_nowhere(
    tmp_path: Path, guarded: FleetThread
) -> None:
    ws = _workspace(tmp_path, _service("chat", guarded.url(), "    api_key_env: CHAT_KEY\n"))
    fault = HARMLESS.replace("}, start", "}, token_env: SIM_ADMIN, start")
    code, output, result = _run(ws, _experiment(fault), env={"CHAT_KEY": TOKEN, "SIM_ADMIN": TOKEN})
    assert code == 0, output
    assert result["status"] == "passed", result["reason"]
    (run,) = result["faults"]
    assert run["injected_ns"] < run["reverted_ns"]
    assert run["inject_error"] is None
    assert run["revert_error"] is None
    history = guarded.admin("GET", "?all=1", token=TOKEN)[1]["faults"]
    landed = [f for f in history if f["id"] == run["fault_id"]]
    assert [f["active"] for f in landed] == [False]  # it went in, and was reverted
    assert landed[0]["reverted_at"] is not None
    lake = _lake_text(ws)
    assert "SIM_ADMIN" in lake  # the variable's name is journaled, so recover can use it
    undo = (ws / ".perfops" / "chaos" / "undo.jsonl").read_text()
    for where, text in (("lake", lake), ("undo journal", undo), ("output", output),
                        ("--json", json.dumps(result))):  # fmt: skip
        assert TOKEN not in text, f"the token leaked into the {where}"


# -- a fault that fails mid-run: verdict failed, exit 1 ----------------------------------------


@pytest.fixture(scope="module")
def chat() -> Iterator[FleetThread]:
    with sim_fleet(replicas=1) as fleet:
        yield fleet


def _victim() -> SimProcess:
    return SimProcess(gpu="H100-SXM", model="llama-3.1-8b", replicas=1, seed=0)


def _start(ws: Path, text: str) -> subprocess.Popen[str]:
    (ws / "exp.yaml").write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFOPS")}
    return subprocess.Popen(
        [sys.executable, "-m", "perfops", "chaos", "run", "exp.yaml", "--json", "out.json"],
        cwd=ws, env={**env, "PYTHONPATH": str(REPO / "src")},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _wait_for_line(proc: subprocess.Popen[str], text: str) -> list[str]:
    """Lines of the run's output up to the first holding ``text``."""
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"the run ended without {text!r}:\n{''.join(lines)}")


def test_a_target_that_goes_down_before_its_fault_fails_the_run(
    tmp_path: Path, chat: FleetThread
) -> None:
    with _victim() as victim:
        ws = _workspace(tmp_path, _service("chat", chat.url()), _service("victim", victim.url()))
        fault = HARMLESS.replace("{kind", "{target: victim, kind")
        proc = _start(ws, _experiment(fault))
        _wait_for_line(proc, "steady state before")  # the checks before the run passed
        assert victim._proc is not None
        victim._proc.kill()  # the victim goes down, 3 s before the fault's offset
        victim._proc.wait()
        output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 1, output
    result = json.loads((ws / "out.json").read_text())
    assert result["status"] == "failed"
    assert "failed to inject" in result["reason"]
    assert "cannot reach the simulator's admin API" in result["reason"]
    assert "verdict: failed" in output
    assert result["after"] is None  # the run stopped at once: no recovery phase
    assert _pending(ws) == []  # a simulator that is gone holds no fault


def test_a_sim_killed_mid_fault_fails_the_run_and_leaves_nothing(
    tmp_path: Path, chat: FleetThread
) -> None:
    with _victim() as victim:
        ws = _workspace(tmp_path, _service("chat", chat.url()), _service("victim", victim.url()))
        fault = "{target: victim, kind: sim.ttft_latency, params: {seconds: 0.1}, start: 0s, " \
            "duration: 6s}"  # fmt: skip
        proc = _start(ws, _experiment(fault).replace("duration: 3s", "duration: 6s"))
        _wait_for_line(proc, "injected sim.ttft_latency on victim")
        assert victim._proc is not None
        victim._proc.kill()  # mid-fault: the fault ends with it, long before it was due to
        victim._proc.wait()
        output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 1, output
    result = json.loads((ws / "out.json").read_text())
    assert result["status"] == "failed"
    assert "ended with its target before it was reverted" in result["reason"]
    assert "does not answer any more" in result["reason"]
    assert _pending(ws) == []  # nothing is left: the fault lived in the simulator's memory
    recover = run_cli("chaos", "recover", cwd=ws)
    assert recover.returncode == 0, recover.stdout + recover.stderr
    assert "nothing to recover" in recover.stdout


def test_a_fault_the_sim_refuses_fails_the_run_at_once(tmp_path: Path, chat: FleetThread) -> None:
    ws = _workspace(tmp_path, _service("chat", chat.url()))
    refused = HARMLESS.replace("seconds: 0.001", "seconds: 0.001, replica: 9")  # 1 replica
    code, output, result = _run(ws, _experiment(refused))
    assert code == 1, output
    assert result["status"] == "failed"
    assert "replica 9 does not exist" in result["reason"]
    assert result["faults"][0]["injected_ns"] is None


def test_a_revert_that_fails_fails_the_run_and_recover_exits_1_until_it_is_cleared(
    tmp_path: Path, chat: FleetThread
) -> None:
    with _victim() as victim:
        ws = _workspace(tmp_path, _service("chat", chat.url()), _service("victim", victim.url()))
        fault = HARMLESS.replace("{kind", "{target: victim, kind")
        proc = _start(ws, _experiment(fault))
        _wait_for_line(proc, "injected sim.token_latency on victim")
        assert victim._proc is not None
        victim._proc.send_signal(signal.SIGSTOP)  # hung: the revert gets no answer
        try:
            output = proc.communicate(timeout=120)[0]
            assert proc.returncode == 1, output
            result = json.loads((ws / "out.json").read_text())
            assert result["status"] == "failed"
            assert "could not be reverted and may still be in" in result["reason"]
            assert "no answer" in result["reason"]
            (left,) = _pending(ws)
            assert left["service"] == "victim"
            stuck = run_cli("chaos", "recover", cwd=ws, timeout=60)
            assert stuck.returncode == 1, stuck.stdout + stuck.stderr
            assert f"{left['kind']} {left['id']} on victim may still be in" in stuck.stdout
            assert "could not be reverted" in stuck.stderr
            assert len(_pending(ws)) == 1  # still there for the next try
        finally:
            victim._proc.send_signal(signal.SIGCONT)
        cleared = run_cli("chaos", "recover", cwd=ws, timeout=60)
        assert cleared.returncode == 0, cleared.stdout + cleared.stderr
        assert "recovered: reverted" in cleared.stdout
        assert _pending(ws) == []
        again = run_cli("chaos", "recover", cwd=ws)
        assert (again.returncode, again.stdout.strip()) == (
            0,
            "nothing to recover: no fault is left injected",
        )


def test_a_gameday_with_a_failed_experiment_fails(tmp_path: Path, chat: FleetThread) -> None:
    ws = _workspace(tmp_path, _service("chat", chat.url()))
    refused = HARMLESS.replace("seconds: 0.001", "seconds: 0.001, replica: 9")
    day = "apiVersion: perfops/v1\nkind: GameDay\ntitle: t\npause: 0s\nexperiments:\n"
    for title, fault in (("refused", refused), ("fine", HARMLESS)):
        body = _experiment(fault, title=title).split("\n", 2)[2]  # without apiVersion, kind
        day += "  - " + body.replace("\n", "\n    ").rstrip() + "\n"
    (ws / "day.yaml").write_text(day)
    done = run_cli("chaos", "gameday", "day.yaml", "--json", "day.json", cwd=ws, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    summary = json.loads((ws / "day.json").read_text())
    verdicts = {e["title"]: (e["status"], e["score"]) for e in summary["experiments"]}
    assert verdicts == {"refused": ("failed", 0), "fine": ("passed", 100)}
    assert summary["score"] == 50


def test_a_drill_whose_deploy_does_not_land_fails(tmp_path: Path, chat: FleetThread) -> None:
    ws = _workspace(
        tmp_path,
        _service("chat", chat.url()),
        _service("gone", f"http://127.0.0.1:{free_port()}/v1"),
    )
    drill = """apiVersion: perfops/v1
kind: Drill
title: t
slo: chat-ttft
load: {service: chat, rate: 6, duration: 6s, prompt_tokens: 32, max_tokens: 4}
deploy: {kind: sim.ttft_latency, params: {seconds: 0.5, replica: 9}}
deploy_after: 1s
"""
    slos = "slos:\n  - {name: chat-ttft, service: chat, sli: {kind: latency, metric: ttft, " \
        "threshold: 250ms}, objective: 95}\n"  # fmt: skip
    (ws / "perfops.yaml").write_text((ws / "perfops.yaml").read_text() + slos)
    (ws / "drill.yaml").write_text(drill)
    done = run_cli("chaos", "drill", "drill.yaml", "--json", "d.json", cwd=ws, timeout=90)
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads((ws / "d.json").read_text())
    assert result["status"] == "failed"
    assert "the candidate did not go out" in result["reason"]
    assert "replica 9 does not exist" in result["reason"]
    assert _pending(ws) == []
    (ws / "drill.yaml").write_text(drill.replace("replica: 9}}", "replica: 0}, target: gone}"))
    down = run_cli("chaos", "drill", "drill.yaml", cwd=ws, timeout=60)
    assert down.returncode == 3, down.stdout + down.stderr
    assert "does not answer" in down.stderr


def test_chaos_init_writes_an_experiment_that_validates(tmp_path: Path) -> None:
    assert run_cli("init", str(tmp_path), cwd=tmp_path).returncode == 0
    done = run_cli("chaos", "init", "experiments/first.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "experiments" / "first.yaml").read_text()
    assert "service: chat" in text
    assert "slo: chat-ttft" in text
    valid = run_cli("chaos", "validate", "experiments/first.yaml", cwd=tmp_path)
    assert valid.returncode == 0, valid.stderr
    assert "valid (1 fault(s)" in valid.stdout
    again = run_cli("chaos", "init", "experiments/first.yaml", cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists; pass --force" in again.stderr
    forced = run_cli("chaos", "init", "experiments/first.yaml", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    folder = run_cli("chaos", "init", "experiments", "--force", cwd=tmp_path)
    assert folder.returncode == 2  # a folder is not overwritten: a clear error, no traceback
    assert "cannot write experiments" in folder.stderr


def test_chaos_init_for_a_service_without_slos_validates(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, _service("solo", "http://127.0.0.1:9/v1"))
    assert run_cli("chaos", "init", cwd=ws).returncode == 0
    valid = run_cli("chaos", "validate", "experiment.yaml", cwd=ws)
    assert valid.returncode == 0, valid.stderr
    down = run_cli("chaos", "run", "experiment.yaml", cwd=ws)  # nothing listens on port 9
    assert down.returncode == 3, down.stdout + down.stderr
    assert "steady state" not in down.stdout  # refused before any load
