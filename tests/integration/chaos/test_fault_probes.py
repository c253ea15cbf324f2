"""Before a run, each fault kind's probe says whether its target can take the fault, touching
nothing: a target that does not answer is Unreachable (exit 3); one that refuses the token,
or lacks what the fault needs, is a UsageError (exit 2). With the token named by
``token_env``, a fault on a token-protected simulator or proxy lands and is reverted."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._servers import FleetThread, free_port, quirky_targets, sim_fleet

from perfops.chaos import ProxyServer, ProxyThread
from perfops.chaos.faults import FaultContext, UndoEntry, fault_for
from perfops.errors import Unreachable, UsageError

TOKEN = "probe-s3cret"


def plan(kind: str, params: dict[str, object], **ctx: object) -> UndoEntry:
    context = FaultContext("chat", "http://127.0.0.1:9/v1", **ctx)  # type: ignore[arg-type]
    return fault_for(kind).plan(context, params, fault_id="p-1", duration_s=5)


@pytest.fixture(scope="module")
def guarded_sim() -> Iterator[FleetThread]:
    with sim_fleet(replicas=1, token=TOKEN) as fleet:
        yield fleet


@pytest.fixture(scope="module")
def guarded_proxy() -> Iterator[ProxyThread]:
    with ProxyThread(ProxyServer(api="127.0.0.1:0", token=TOKEN)) as running:
        running.client.create_proxy("llm", upstream="127.0.0.1:9", listen="127.0.0.1:0")
        yield running


def test_a_sim_that_does_not_answer_is_unreachable() -> None:
    entry = plan(
        "sim.error", {"status": 503}, admin_url=f"http://127.0.0.1:{free_port()}/admin/faults"
    )
    with pytest.raises(Unreachable, match="admin API of service chat does not answer") as err:
        fault_for("sim.error").probe(entry)
    assert err.value.exit_code == 3


def test_a_sim_takes_only_its_token(
    guarded_sim: FleetThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = guarded_sim.url().removesuffix("/v1") + "/admin/faults"
    fault = fault_for("sim.ttft_latency")
    bare = plan("sim.ttft_latency", {"seconds": 0.1}, admin_url=admin)
    with pytest.raises(UsageError, match="refused a request without a token") as err:
        fault.probe(bare)
    assert "token_env" in str(err.value)  # the fix names the setting
    named = plan("sim.ttft_latency", {"seconds": 0.1}, admin_url=admin, token_env="SIM_T")
    monkeypatch.setenv("SIM_T", "wrong")
    with pytest.raises(UsageError, match="refused the token it was given"):
        fault.probe(named)
    monkeypatch.setenv("SIM_T", TOKEN)
    fault.probe(named)
    fault.inject(named)
    assert [f["id"] for f in guarded_sim.admin("GET", token=TOKEN)[1]["faults"]] == ["p-1"]
    fault.revert(named)
    assert guarded_sim.admin("GET", token=TOKEN)[1]["faults"] == []
    assert "_token" not in named  # only the variable's name travels in the entry
    assert named["token_env"] == "SIM_T"


def test_a_service_without_an_admin_api_is_a_usage_error() -> None:
    with quirky_targets() as server:  # answers, but 404 at /admin/faults
        entry = plan("sim.error", {}, admin_url=server.url("/admin/faults"))
        with pytest.raises(UsageError, match="is the service a `perfops sim`"):
            fault_for("sim.error").probe(entry)


def test_a_proxy_probe_checks_the_api_the_token_and_the_proxy_name(
    guarded_proxy: ProxyThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = guarded_proxy.client.url
    fault = fault_for("proxy.latency")
    down = plan("proxy.latency", {"api": f"http://127.0.0.1:{free_port()}", "latency": 10})
    with pytest.raises(Unreachable, match="fault proxy's API .* does not answer"):
        fault.probe(down)
    bare = plan("proxy.latency", {"api": url, "proxy": "llm", "latency": 10})
    with pytest.raises(UsageError, match="refused a request without a token"):
        fault.probe(bare)
    monkeypatch.setenv("PROXY_T", TOKEN)
    unknown = plan(
        "proxy.latency", {"api": url, "proxy": "nope", "latency": 10}, token_env="PROXY_T"
    )
    with pytest.raises(UsageError, match="runs no proxy named 'nope'"):
        fault.probe(unknown)
    good = plan("proxy.latency", {"api": url, "proxy": "llm", "latency": 10}, token_env="PROXY_T")
    fault.probe(good)
    fault.inject(good)
    assert [t["name"] for t in guarded_proxy.client.toxics("llm")] == ["p-1"]
    fault.revert(good)
    assert guarded_proxy.client.toxics("llm") == []


def _state(pid: int) -> str:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rfind(")") + 2]


def test_a_process_probe_finds_the_process_and_its_restart(tmp_path: Path) -> None:
    state = {"state_dir": str(tmp_path / "state")}
    with subprocess.Popen(["sleep", "30"]) as sleeper:
        try:
            fault_for("process.stop").probe(plan("process.stop", {"pid": sleeper.pid}, **state))
            # probed, not stopped: running or asleep (a just-started process may still run)
            assert _state(sleeper.pid) in {"R", "S"}
            kill = plan("process.kill", {"pid": sleeper.pid, "restart": ["no-such-program-x"]},
                        **state)  # fmt: skip
            with pytest.raises(UsageError, match="is not found, so the process would not come"):
                fault_for("process.kill").probe(kill)
        finally:
            sleeper.kill()
    with pytest.raises(Unreachable, match=f"no process {sleeper.pid} is running"):
        fault_for("process.stop").probe(plan("process.stop", {"pid": sleeper.pid}, **state))
    missing = plan("process.stop", {"pidfile": str(tmp_path / "none.pid")}, **state)
    with pytest.raises(Unreachable, match="cannot read pidfile"):
        fault_for("process.stop").probe(missing)
