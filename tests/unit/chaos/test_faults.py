"""The fault catalogue: every kind registered, params checked with errors that name the field
and the fix, plans that are pure JSON holding all a fresh process needs to undo them."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from perfops._internal.clock import ManualClock
from perfops.chaos.faults import FAULTS, FaultContext, fault_for, revert_entry
from perfops.chaos.toxics import TOXIC_KINDS
from perfops.config.faults import FaultSpec
from perfops.errors import PerfopsError, UsageError

NOW_S = 1_700_000_000  # when the faults are planned, on the context's clock
CTX = FaultContext(
    service="chat",
    endpoint="http://127.0.0.1:9/v1",  # nothing listens: plan() must not touch it
    admin_url=None,
    proxy_api="http://127.0.0.1:9",
    state_dir="/nonexistent/perfops-state",
    clock=ManualClock(NOW_S * 1_000_000_000),
)

VALID: dict[str, dict[str, Any]] = {
    "sim.ttft_latency": {"seconds": 0.2},
    "sim.token_latency": {"seconds": 0.01, "replica": 1},
    "sim.error": {"status": 503, "rate": 0.5, "retry_after": 2},
    "sim.throttle": {"clock_factor": 0.5},
    "sim.xid": {"gpu": 0, "code": 79},
    "sim.crash": {"replica": 0},
    "sim.kv_shrink": {"fraction": 0.1},
    "proxy.latency": {"latency": 100, "jitter": 10},
    "proxy.bandwidth": {"rate": 10},
    "proxy.slow_close": {"delay": 100},
    "proxy.timeout": {"timeout": 100},
    "proxy.reset_peer": {"timeout": 0},
    "proxy.slicer": {"average_size": 8},
    "proxy.limit_data": {"bytes": 100},
    "proxy.http_error": {"status": 429, "proxy": "llm", "api": "http://127.0.0.1:8474"},
    "proxy.ttft": {"delay": 500},
    "proxy.token_delay": {"delay": 20, "rate": 0.5},
    "proxy.truncate": {"after_events": 3},
    "proxy.malformed_chunk": {"event": 1},
    "process.stop": {"pidfile": "/nonexistent/app.pid"},
    "process.kill": {"pid": 4242, "restart": ["python", "-m", "app"], "signal": "KILL"},
}


def test_every_sim_fault_and_toxic_has_a_kind() -> None:
    union = get_args(get_args(FaultSpec)[0])
    sim = {f"sim.{get_args(m.model_fields['kind'].annotation)[0]}" for m in union}
    assert sim == {
        "sim.ttft_latency", "sim.token_latency", "sim.error", "sim.throttle", "sim.xid",
        "sim.crash", "sim.kv_shrink",
    }  # fmt: skip
    proxy = {f"proxy.{k}" for k in TOXIC_KINDS}
    assert set(FAULTS) == sim | proxy | {"process.stop", "process.kill"}
    assert set(VALID) == set(FAULTS)
    for kind, cls in FAULTS.items():
        assert cls.kind == kind
        assert fault_for(kind).kind == kind


def test_unknown_kind_suggests_and_lists() -> None:
    with pytest.raises(UsageError) as err:
        fault_for("sim.ttft_latncy")
    assert "did you mean sim.ttft_latency?" in str(err.value)
    assert "sim.kv_shrink" in str(err.value)
    assert "proxy.latency" not in str(err.value)  # the same family is enough
    with pytest.raises(PerfopsError) as other:
        fault_for("melt")
    assert "process.kill" in str(other.value)
    assert "proxy.truncate" in str(other.value)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_valid_params_pass_and_plan_is_json(kind: str) -> None:
    fault = fault_for(kind)
    assert fault.check(VALID[kind]) == []
    entry = fault.plan(CTX, VALID[kind], fault_id="chaos-flt-1", duration_s=30)
    journaled = {k: v for k, v in entry.items() if not k.startswith("_")}
    assert json.loads(json.dumps(journaled, allow_nan=False)) == journaled
    assert (entry["kind"], entry["id"], entry["service"]) == (kind, "chaos-flt-1", "chat")
    assert entry["expires_at"] == NOW_S + 30  # it ends by itself 30 s after it is planned


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        ("sim.ttft_latency", {}, "params.seconds: required by sim.ttft_latency; add it"),
        ("sim.ttft_latency", {"seconds": -1}, "params.seconds: Input should be greater than 0"),
        ("sim.throttle", {"clock_factor": 3}, "params.clock_factor: Input should be less than 1"),
        ("sim.error", {"statsu": 503}, "params.statsu: sim.error has no such param; valid:"),
        ("sim.error", {"duration": 5}, "params.duration: sim.error sets it from the step's"),
        ("sim.xid", {"id": "x"}, "params.id: sim.xid sets it from the journal"),
        ("proxy.latency", {"latency": -5}, "params.latency: Input should be greater than or"),
        ("proxy.bandwidth", {}, "params.rate: required by proxy.bandwidth"),
        ("proxy.slicer", {"average_size": 3, "size_variation": 5}, "size_variation (5) must be"),
        ("proxy.ttft", {"delay": 5, "expires_in": 3}, "params.expires_in: proxy.ttft sets it"),
        ("proxy.ttft", {"delay": 5, "proxy": "a b"}, "params.proxy: 'a b' is not a proxy name"),
        ("proxy.ttft", {"delay": 5, "api": "localhost"}, "params.api: the proxy's control API"),
        ("process.stop", {}, "params: give exactly one of pid (a process id) or pidfile"),
        ("process.stop", {"pid": 7, "pidfile": "p"}, "exactly one of pid"),
        ("process.stop", {"pid": True}, "params.pid: a process id is an integer of 2 or more"),
        ("process.stop", {"pid": 1}, "params.pid: a process id is an integer of 2 or more"),
        ("process.stop", {"pid": 7, "signal": "KILL"}, "params.signal: process.stop has no such"),
        ("process.kill", {"pid": 7}, "params.restart: required: the argv that starts"),
        ("process.kill", {"pid": 7, "restart": "app"}, "params.restart: required"),
        ("process.kill", {"pid": 7, "restart": ["a"], "signal": "STOP"}, "params.signal: 'STOP'"),
        ("process.kill", {"pid": 7, "restart": ["a"], "wait_s": 0}, "params.wait_s: seconds"),
    ],
)
def test_bad_params_name_the_field_and_the_fix(kind: str, params: Any, expected: str) -> None:
    problems = fault_for(kind).check(params)
    assert any(expected in p for p in problems), problems
    with pytest.raises(PerfopsError, match=kind):
        fault_for(kind).plan(CTX, params, fault_id="f1", duration_s=5)


def test_every_problem_is_listed_at_once() -> None:
    problems = fault_for("sim.error").check({"status": 200, "rate": 2, "colour": "red"})
    assert sorted(p.split(":")[0] for p in problems) == [
        "params.colour",
        "params.rate",
        "params.status",
    ]


def test_params_must_be_a_mapping() -> None:
    assert "takes a mapping" in fault_for("sim.xid").check(["gpu"])[0]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fault_id", "duration", "expected"),
    [
        ("has space", 5, "fault id 'has space' is not 1-64 characters"),
        ("x" * 65, 5, "is not 1-64 characters"),
        ("ok", 0, "the duration must be a positive number"),
        ("ok", float("nan"), "the duration must be a positive number"),
        ("ok", 3601, "3601 s is longer than the 3600 s it allows"),
    ],
)
def test_bad_id_or_duration(fault_id: str, duration: float, expected: str) -> None:
    with pytest.raises(PerfopsError, match=expected):
        fault_for("sim.xid").plan(CTX, {}, fault_id=fault_id, duration_s=duration)


def test_sim_plan_carries_the_id_and_duration_to_the_simulator() -> None:
    entry = fault_for("sim.error").plan(CTX, {"status": 503}, fault_id="f1", duration_s=12)
    assert entry["url"] == "http://127.0.0.1:9/admin/faults"
    assert entry["body"] == {"kind": "error", "id": "f1", "duration": 12.0, "status": 503}


def test_sim_crash_restarts_after_the_duration_unless_told() -> None:
    entry = fault_for("sim.crash").plan(CTX, {}, fault_id="f1", duration_s=8)
    assert entry["body"]["restart_after"] == 8.0
    told = fault_for("sim.crash").plan(CTX, {"restart_after": "2s"}, fault_id="f", duration_s=8)
    assert entry["expires_at"] == NOW_S + 8
    assert told["expires_at"] == NOW_S + 2  # the simulator ends it when the replica is back


def test_proxy_plan_names_the_toxic_after_the_fault() -> None:
    params = {"latency": 100, "proxy": "llm"}
    entry = fault_for("proxy.latency").plan(CTX, params, fault_id="f1", duration_s=30)
    assert (entry["url"], entry["proxy"]) == ("http://127.0.0.1:9", "llm")
    assert entry["toxic"] == {"kind": "latency", "name": "f1", "expires_in": 30.0, "latency": 100}
    no_api = FaultContext("chat", "http://127.0.0.1:9/v1")
    params = {"api": "http://127.0.0.1:8474/"}
    other = fault_for("proxy.latency").plan(no_api, params, fault_id="f2", duration_s=1)
    assert (other["url"], other["proxy"]) == ("http://127.0.0.1:8474", "proxy")


def test_proxy_plan_needs_an_api() -> None:
    with pytest.raises(PerfopsError, match="has no fault proxy"):
        fault_for("proxy.latency").plan(
            FaultContext("chat", "http://127.0.0.1:9/v1"), {}, fault_id="f1", duration_s=1
        )


def test_process_plan_reads_nothing() -> None:
    entry = fault_for("process.kill").plan(CTX, VALID["process.kill"], fault_id="f1", duration_s=5)
    assert entry["state"] == "/nonexistent/perfops-state/f1.json"
    assert entry["log"] == "/nonexistent/perfops-state/f1.log"
    assert (entry["pid"], entry["signal"], entry["wait_s"]) == (4242, "SIGKILL", 10.0)


def test_admin_url_defaults_to_the_endpoint_origin() -> None:
    ctx = FaultContext("chat", "https://sim.example:8443/v1", None)
    assert ctx.admin_url == "https://sim.example:8443/admin/faults"
    given = FaultContext("chat", "http://a:1/v1", "http://b:2/admin/faults")
    assert given.admin_url == "http://b:2/admin/faults"


def test_a_literal_token_stays_out_of_the_entry_json_and_the_repr() -> None:
    ctx = FaultContext("chat", "http://127.0.0.1:9/v1", None, token="s3cret", token_env="SIM_KEY")
    assert "s3cret" not in repr(ctx)
    entry = fault_for("sim.xid").plan(ctx, {}, fault_id="f1", duration_s=5)
    assert entry["_token"] == "s3cret"  # in-process only: the journal drops "_" keys
    assert entry["token_env"] == "SIM_KEY"


def test_revert_entry_needs_kind_and_id() -> None:
    with pytest.raises(PerfopsError, match="needs a kind and an id"):
        revert_entry({"id": "f1"})
    with pytest.raises(UsageError, match="unknown fault kind 'sim.melt'"):
        revert_entry({"kind": "sim.melt", "id": "f1"})
