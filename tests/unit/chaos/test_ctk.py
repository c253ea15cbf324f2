"""perfops experiments and runs in Chaos Toolkit's format: the fields chaoslib requires, one
POST action and one DELETE revert and rollback per sim fault (same id), offsets as pauses, the
journal's status mapping, and JSON round trips."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest
import yaml

from perfops.chaos.ctk import (
    CTK_JOURNAL_VERSION,
    RUN_KEY,
    ctk_fault_id,
    ctk_status,
    journal_to_chaostoolkit,
    to_chaostoolkit,
    unsupported_steps,
)
from perfops.chaos.steady import Check, HypothesisResult
from perfops.config.experiment import Experiment
from perfops.config.faults import FAULT_ID
from perfops.errors import UsageError

SPEC = """
title: slow prefill under a hot GPU
tags: [ttft]
hypothesis:
  slos: [{slo: chat-ttft, max_burn_rate: 2}]
  min_goodput: 0.9
  max_error_ratio: 0.01
  probes:
    - {kind: http, name: health, url: "http://127.0.0.1:9/health", expect_status: [200, 204]}
    - {kind: http, url: "http://127.0.0.1:9/ready"}
    - {kind: promql, url: "http://127.0.0.1:9090", query: up, min: 1}
load: {service: chat, rate: 5, duration: 20s}
method:
  - {name: slow prefill, kind: sim.ttft_latency, params: {seconds: 0.6}, start: 2s, duration: 5s}
  - {kind: sim.throttle, target: batch, params: {clock_factor: 0.5, replica: 1}, start: 4s,
     duration: 10s}
  - {kind: proxy.latency, params: {latency: 100}, start: 1s, duration: 2s}
  - {kind: process.stop, start: 1s, duration: 2s}
  - {kind: proxy.http_error, params: {api: "http://127.0.0.1:8474/", proxy: llm, status: 503,
     rate: 0.5}, start: 1s, duration: 2s}
  - {kind: sim.crash, params: {replica: 0}, start: 1s, duration: 3s}
stop:
  - {kind: error_ratio, above: 0.5}
rollbacks:
  - {kind: http, url: "http://127.0.0.1:9/reset", body: {all: true}}
"""
ENDPOINTS = {"chat": "http://127.0.0.1:8000/v1", "batch": "http://127.0.0.1:8100/v1/"}


@pytest.fixture
def exp() -> Experiment:
    return Experiment.model_validate(yaml.safe_load(SPEC))


@pytest.fixture
def exported(exp: Experiment) -> dict[str, Any]:
    return to_chaostoolkit(exp, endpoints=ENDPOINTS)


def by_name(activities: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in activities}


def test_has_what_chaoslib_requires(exported: dict[str, Any]) -> None:
    assert exported["title"] == "slow prefill under a hot GPU"
    assert exported["description"]  # required non-empty, even when the spec has none
    assert exported["tags"] == ["perfops", "ttft"]
    assert isinstance(exported["method"], list)
    hypothesis = exported["steady-state-hypothesis"]
    assert hypothesis["title"]
    activities = hypothesis["probes"] + exported["method"] + exported["rollbacks"]
    for activity in activities:
        assert activity["type"] in ("probe", "action")
        assert activity["name"]
        assert activity["provider"]["type"] == "http"
        assert activity["provider"]["url"]
        assert isinstance(activity.get("background", False), bool)
        assert all(isinstance(v, int | float) for v in activity.get("pauses", {}).values())
    assert all("tolerance" in p for p in hypothesis["probes"])
    assert len({a["name"] for a in activities}) == len(activities)  # names are unique
    assert exported["runtime"] == {"rollbacks": {"strategy": "always"}}
    assert [e["name"] for e in exported["extensions"]] == ["perfops"]


def test_each_sim_fault_is_a_post_a_delete_and_a_rollback_with_one_id(
    exported: dict[str, Any],
) -> None:
    method, rollbacks = by_name(exported["method"]), by_name(exported["rollbacks"])
    assert len(method) == 8  # 3 sim faults and a proxy one; no process.*, no proxy.* sans api

    inject = method["inject #0 slow prefill on chat"]
    revert = method["revert #0 slow prefill on chat"]
    rollback = rollbacks["roll back #0 slow prefill on chat"]
    assert inject["provider"]["method"] == "POST"
    assert inject["provider"]["url"] == "${admin_chat}/admin/faults"
    assert inject["provider"]["headers"] == {"Content-Type": "application/json"}
    fault_id = inject["provider"]["arguments"]["id"]
    assert fault_id == "${perfops_run}-0-slow-prefill"
    assert inject["provider"]["arguments"] == {
        "kind": "ttft_latency",
        "seconds": 0.6,
        "duration": 5.0,
        "id": fault_id,
    }
    for delete in (revert, rollback):
        assert delete["provider"]["method"] == "DELETE"
        assert delete["provider"]["url"] == f"${{admin_chat}}/admin/faults/{fault_id}"
        assert delete["tolerance"] == [200, 404]
    # offsets from the start of the method: background activities sleep their own pause
    assert inject["background"] is True
    assert revert["background"] is True
    assert inject["pauses"] == {"before": 2.0}
    assert revert["pauses"] == {"before": 7.0}
    assert "background" not in rollback
    assert "pauses" not in rollback

    throttle = method["inject #1 sim.throttle on batch"]
    assert throttle["provider"]["url"] == "${admin_batch}/admin/faults"
    assert throttle["provider"]["arguments"] == {
        "kind": "throttle",
        "clock_factor": 0.5,
        "replica": 1,
        "duration": 10.0,
        "id": "${perfops_run}-1-throttle",
    }
    # the latest revert holds the method open to the end of the 20 s window
    assert method["revert #1 sim.throttle on batch"]["pauses"] == {"before": 14.0, "after": 6.0}
    assert "after" not in revert["pauses"]
    # the faults' rollbacks come before the experiment's own rollback actions
    assert [a["name"] for a in exported["rollbacks"]] == [
        "roll back #0 slow prefill on chat",
        "roll back #1 sim.throttle on batch",
        "roll back #4 proxy.http_error on chat",
        "roll back #5 sim.crash on chat",
        "rollback #0 POST http://127.0.0.1:9/reset",
    ]
    extra = exported["rollbacks"][-1]["provider"]
    assert extra["arguments"] == {"all": True}
    assert extra["headers"] == {"Content-Type": "application/json"}


def test_a_proxy_fault_is_a_toxic_named_by_its_id(exported: dict[str, Any]) -> None:
    method, rollbacks = by_name(exported["method"]), by_name(exported["rollbacks"])
    inject = method["inject #4 proxy.http_error on chat"]
    fault_id = "${perfops_run}-4-http_error"
    assert inject["provider"]["url"] == "http://127.0.0.1:8474/proxies/llm/toxics"
    assert inject["provider"]["arguments"] == {
        "kind": "http_error",
        "name": fault_id,
        "status": 503,
        "rate": 0.5,
        "expires_in": 2.0,
    }
    assert inject["tolerance"] == [200, 201, 409]
    assert inject["pauses"] == {"before": 1.0}
    for delete in (method["revert #4 proxy.http_error on chat"],
                   rollbacks["roll back #4 proxy.http_error on chat"]):  # fmt: skip
        assert delete["provider"]["method"] == "DELETE"
        assert delete["provider"]["url"] == f"http://127.0.0.1:8474/proxies/llm/toxics/{fault_id}"
        assert delete["tolerance"] == [200, 204, 404]


def test_a_sim_crash_restarts_after_its_duration(exported: dict[str, Any]) -> None:
    body = by_name(exported["method"])["inject #5 sim.crash on chat"]["provider"]["arguments"]
    assert body == {
        "kind": "crash",
        "replica": 0,
        "duration": 3.0,
        "restart_after": 3.0,
        "id": "${perfops_run}-5-crash",
    }


def test_configuration_resolves_the_ids_and_endpoints(exported: dict[str, Any]) -> None:
    config = exported["configuration"]
    assert config["api_chat"] == "http://127.0.0.1:8000/v1"
    assert config["admin_chat"] == "http://127.0.0.1:8000"
    assert config["api_batch"] == "http://127.0.0.1:8100/v1"
    assert config["admin_batch"] == "http://127.0.0.1:8100"
    run = config[RUN_KEY]  # drawn per `chaos run`: the sim never reuses an ended fault's id
    assert run["type"] == "probe"
    assert run["provider"] == {
        "type": "python",
        "module": "secrets",
        "func": "token_hex",
        "arguments": {"nbytes": 4},
    }
    for action in exported["method"]:
        provider = action["provider"]
        if provider["url"].startswith("${admin_") and provider["method"] == "POST":
            fault_id = provider["arguments"]["id"].replace("${perfops_run}", "0a1b2c3d")
            assert FAULT_ID.match(fault_id), fault_id  # an id the sim accepts


def test_fault_ids_are_sim_safe_and_bounded(exp: Experiment) -> None:
    step = exp.method[0].model_copy(update={"name": "a very long name / with spaces " * 4})
    fault_id = ctk_fault_id(step, 12, run="0a1b2c3d")
    assert FAULT_ID.match(fault_id)
    assert fault_id.startswith("0a1b2c3d-12-a-very-long-name-with-spaces")


def test_a_service_missing_from_endpoints_reads_the_environment(exp: Experiment) -> None:
    config = to_chaostoolkit(exp, endpoints={"chat": ENDPOINTS["chat"]})["configuration"]
    assert config["api_batch"] == {"type": "env", "key": "PERFOPS_BATCH_API"}
    assert config["admin_batch"] == {"type": "env", "key": "PERFOPS_BATCH_ADMIN"}
    with pytest.raises(UsageError, match="not an absolute URL"):
        to_chaostoolkit(exp, endpoints={"chat": "127.0.0.1:8000/v1"})


def test_hypothesis_probes(exported: dict[str, Any]) -> None:
    probes = by_name(exported["steady-state-hypothesis"]["probes"])
    assert probes["chat serves the OpenAI API"]["provider"]["url"] == "${api_chat}/models"
    assert probes["chat serves the OpenAI API"]["tolerance"] == 200
    assert probes["health"]["tolerance"] == [200, 204]  # with an HTTP output: one of them
    assert probes["http probe #1"]["tolerance"] == 200
    assert probes["health"]["provider"]["timeout"] == 5.0
    assert len(probes) == 3  # the promql probe is perfops-only


def test_what_is_not_exported_is_said(exp: Experiment, exported: dict[str, Any]) -> None:
    warnings = unsupported_steps(exp)
    assert [w.split(" ", 2)[:2] for w in warnings] == [
        ["method[2]", "proxy.latency"],
        ["method[3]", "process.stop"],
    ]
    ext = exported["extensions"][0]
    assert ext["skipped"] == warnings
    assert "hypothesis.slos: chat-ttft burn rate <= 2" in ext["not_exported"]
    assert "hypothesis.probes[2]: promql probe" in ext["not_exported"]
    assert "stop[0]: error_ratio" in ext["not_exported"]
    assert Experiment.model_validate(ext["experiment"]) == exp  # the perfops spec, verbatim
    judged = to_chaostoolkit(
        exp, endpoints=ENDPOINTS, perfops_bin="/opt/perfops", config_path="p.yaml"
    )["extensions"][0]["judged_by"]
    assert judged == ["/opt/perfops", "-c", "p.yaml", "chaos", "run", "EXPERIMENT.yaml"]


def test_the_export_is_json(exported: dict[str, Any]) -> None:
    assert json.loads(json.dumps(exported)) == exported


# -- the journal ---------------------------------------------------------------------------

T0 = 1_800_000_000.0


def phase(met: bool, *checks: Check) -> dict[str, Any]:
    return asdict(HypothesisResult(met, tuple(checks), 40))


def fault(
    name: str,
    kind: str,
    target: str,
    start: float,
    duration: float,
    t0_ns: int,
    injected: int | None,
    reverted: int | None,
    error: str | None = None,
) -> dict[str, Any]:
    """A FaultRun as ExperimentResult.as_dict() gives it; times in seconds after T0."""
    return {
        "name": name,
        "kind": kind,
        "target": target,
        "fault_id": f"chaos-flt-{name.split('#')[0].replace(' ', '-')}",
        "start_s": start,
        "duration_s": duration,
        "injected_ns": None if injected is None else t0_ns + injected * 1_000_000_000,
        "reverted_ns": None if reverted is None else t0_ns + reverted * 1_000_000_000,
        "error": error,
    }


def result(status: str = "passed", **overrides: Any) -> dict[str, Any]:
    """A perfops run as ExperimentResult.as_dict() gives it."""
    ns = int(T0 * 1e9)
    base: dict[str, Any] = {
        "run_id": "chaos-1",
        "title": "slow prefill under a hot GPU",
        "status": status,
        "reason": "the hypothesis held throughout",
        "before": phase(True, Check("chat-ttft burn rate", 0.0, 2.0, True)),
        "during": phase(
            status != "deviated",
            Check("chat-ttft burn rate", 3.5, 2.0, status != "deviated"),
            Check("goodput", 0.95, 0.9, True),
            Check("health", 200.0, 200.0, True),
        ),
        "after": phase(True, Check("error ratio", 0.0, 0.01, True)),
        "faults": [
            fault("slow prefill", "sim.ttft_latency", "chat", 2.0, 5.0, ns, 12, 17),
            fault(
                "sim.throttle#1",
                "sim.throttle",
                "batch",
                4.0,
                10.0,
                ns,
                None,
                14,
                error="HTTP 400: invalid fault",
            ),
            fault("proxy.latency#2", "proxy.latency", "chat", 1.0, 2.0, ns, 11, 13),
            fault("process.stop#3", "process.stop", "chat", 1.0, 2.0, ns, None, None),
        ],  # fmt: skip
        "impact": [{"fault": "slow prefill", "bad_requests": 3}],
        "requests": 120,
    }
    return {**base, **overrides}


@pytest.mark.parametrize(
    ("status", "ctk", "deviated"),
    [
        ("passed", "completed", False),
        ("deviated", "completed", True),
        ("aborted", "aborted", False),
        ("interrupted", "interrupted", False),
        ("failed", "failed", False),
    ],
)
def test_journal_status(exp: Experiment, status: str, ctk: str, deviated: bool) -> None:
    journal = journal_to_chaostoolkit(exp, result(status), started=T0, ended=T0 + 40)
    assert ctk_status({"status": status}) == ctk
    assert journal["status"] == ctk
    assert journal["deviated"] is deviated
    assert journal["perfops"]["status"] == status


def test_journal_shape(exp: Experiment) -> None:
    journal = journal_to_chaostoolkit(
        exp, result(), started=T0, ended=T0 + 40.5, endpoints=ENDPOINTS
    )
    for key in ("platform", "node", "experiment", "start", "end", "duration", "run"):
        assert key in journal
    assert journal["chaoslib-version"] == CTK_JOURNAL_VERSION
    assert journal["experiment"] == to_chaostoolkit(exp, endpoints=ENDPOINTS)
    assert journal["start"] == "2027-01-15T08:00:00+00:00"
    assert journal["end"] == "2027-01-15T08:00:40.500000+00:00"
    assert journal["duration"] == 40.5
    assert journal["perfops"]["run_id"] == "chaos-1"
    assert journal["perfops"]["impact"] == [{"fault": "slow prefill", "bad_requests": 3}]

    states = journal["steady_states"]
    assert states["before"]["steady_state_met"] is True
    assert len(states["during"]) == 1
    during = by_name([p["activity"] | {"run": p} for p in states["during"][0]["probes"]])
    burn = during["chat-ttft burn rate"]["run"]
    assert burn["output"] == 3.5
    assert burn["tolerance_met"] is True
    assert burn["status"] == "succeeded"
    assert burn["activity"]["tolerance"] == {"type": "range", "range": [0, 2.0]}
    assert during["goodput"]["tolerance"] == {"type": "range", "range": [0.9, 1]}
    assert during["health"]["tolerance"] == [200, 204]
    assert states["before"]["probes"][0]["start"] == "2027-01-15T08:00:05+00:00"  # + baseline
    assert states["after"]["probes"][0]["start"] == journal["end"]


def test_journal_runs_and_rollbacks(exp: Experiment) -> None:
    journal = journal_to_chaostoolkit(exp, result(), started=T0, ended=T0 + 40)
    runs = by_name([r["activity"] | {"run": r} for r in journal["run"]])
    # three attempted (one failed to inject); the process fault never came to its offset
    assert list(runs) == [  # in time order
        "inject #1 sim.throttle on batch",
        "inject #2 proxy.latency on chat",
        "inject #0 slow prefill on chat",
    ]
    ok = runs["inject #0 slow prefill on chat"]
    assert (
        ok["provider"]["arguments"]["id"] == "chaos-flt-slow-prefill"
    )  # the id perfops really used
    assert "background" not in ok
    assert ok["run"]["status"] == "succeeded"
    assert ok["run"]["start"] == "2027-01-15T08:00:12+00:00"
    assert ok["run"]["output"]["injected_at"] == ok["run"]["start"]
    failed = runs["inject #1 sim.throttle on batch"]["run"]
    assert failed["status"] == "failed"
    assert failed["exception"] == ["perfops: HTTP 400: invalid fault\n"]
    assert failed["start"] == "2027-01-15T08:00:09+00:00"  # planned: + baseline + start
    proxy = runs["inject #2 proxy.latency on chat"]
    assert proxy["provider"]["type"] == "python"
    assert proxy["provider"]["arguments"]["kind"] == "proxy.latency"

    reverts = by_name([r["activity"] | {"run": r} for r in journal["rollbacks"]])
    assert len(reverts) == 3
    delete = reverts["roll back #0 slow prefill on chat"]
    assert delete["provider"]["url"] == "${admin_chat}/admin/faults/chaos-flt-slow-prefill"
    assert delete["run"]["status"] == "succeeded"
    assert delete["run"]["start"] == "2027-01-15T08:00:17+00:00"
    # the error of a fault that never got in belongs to its injection, not its revert
    assert reverts["roll back #1 sim.throttle on batch"]["run"]["status"] == "succeeded"


def test_journal_of_an_aborted_run_and_a_failed_revert(exp: Experiment) -> None:
    faults = result()["faults"][:1]
    faults[0] = {**faults[0], "error": "ConnectionRefusedError: revert failed"}
    journal = journal_to_chaostoolkit(
        exp,
        result("aborted", during=None, after=None, faults=faults),
        started=T0,
        ended=T0 + 6,
    )
    assert journal["status"] == "aborted"
    assert journal["steady_states"]["after"] is None
    assert journal["steady_states"]["during"] == []
    assert journal["run"][0]["status"] == "succeeded"
    assert journal["rollbacks"][0]["status"] == "failed"


def test_the_journal_is_json(exp: Experiment) -> None:
    journal = journal_to_chaostoolkit(exp, result("deviated"), started=T0, ended=T0 + 40)
    assert json.loads(json.dumps(journal)) == journal
