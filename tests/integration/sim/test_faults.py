"""Each fault shows in latency and metrics the way a real engine or GPU shows it, and is gone
after revert or expiry.

The fleet runs its faults and GPU sampling on a manual clock: a test ends a fault by moving
the clock past its expiry and takes a DCGM sample when it wants one, instead of sleeping
against the expiry tick or the sampling interval. Latencies are real (the engines run on the
real clock), so each fault is sized to show over what a loaded machine adds.
"""

from __future__ import annotations

import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import openai
import pytest
from tests._servers import FleetThread, get, sim_fleet
from tests.integration.sim.test_metrics import load, sample

from perfops._internal.clock import ManualClock

MODEL = "llama-3.1-8b"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fleet(clock: ManualClock) -> Iterator[FleetThread]:
    with sim_fleet(replicas=2, clock=clock) as running:
        yield running


def elapse(fleet: FleetThread, clock: ManualClock, seconds: float) -> None:
    """Move the fleet's clock on, and end what is due by then."""
    clock.advance(seconds)
    fleet.call(fleet.fleet.expire_faults())


def dcgm(fleet: FleetThread, metric: str) -> dict[str, float]:
    """``metric`` per GPU index from a DCGM sample taken now."""
    fleet.on_loop(fleet.fleet.sample_gpus)
    return {lab["gpu"]: v for lab, v in sample(fleet.url("dcgm-metrics"), metric)}


def eventually(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def timing(url: str, tokens: int = 12) -> tuple[float, float]:
    """(TTFT, mean gap between content chunks) of one streamed request, in seconds."""
    client = openai.OpenAI(base_url=url, api_key="sim", max_retries=0)
    start = time.perf_counter()
    chunks = client.completions.create(
        model=MODEL, prompt="hello there", max_tokens=tokens, stream=True
    )
    stamps = [time.perf_counter() for c in chunks if c.choices and c.choices[0].text]
    return stamps[0] - start, statistics.mean(
        b - a for a, b in zip(stamps, stamps[1:], strict=False)
    )


def test_ttft_fault_adds_latency_until_reverted(fleet: FleetThread) -> None:
    """1 s before the first token: a fault in force is >= 1 s; without it a request on a
    loaded machine is still well under that."""
    status, fault = fleet.admin("POST", body={"kind": "ttft_latency", "seconds": 1.0,
                                              "duration": 30})  # fmt: skip
    assert status == 201
    assert (fault["injected_at"], fault["expires_at"]) == (0.0, 30.0)  # on the fleet's clock
    slow, _ = timing(fleet.url())
    assert slow >= 1.0
    assert fleet.admin("DELETE", f"/{fault['id']}")[0] == 200
    assert fleet.admin("DELETE", f"/{fault['id']}")[0] == 200  # reverting twice is harmless
    after, _ = timing(fleet.url())
    assert after < 1.0
    assert fleet.admin("GET")[1]["faults"] == []


def test_token_latency_fault_expires_by_itself(fleet: FleetThread, clock: ManualClock) -> None:
    """0.25 s more per token while in force, until the fleet's clock passes its expiry."""
    _, fault = fleet.admin("POST", body={"kind": "token_latency", "seconds": 0.25,
                                         "duration": 1.0})  # fmt: skip
    _, slow_gap = timing(fleet.url(), tokens=5)
    assert slow_gap >= 0.25
    elapse(fleet, clock, 0.5)
    assert [f["id"] for f in fleet.admin("GET")[1]["faults"]] == [fault["id"]]  # not yet
    clock.advance(0.5)  # the fleet's own expiry loop ends it now
    eventually(lambda: fleet.admin("GET")[1]["faults"] == [])
    history = fleet.admin("GET", "?all=1")[1]["faults"]
    assert history[0]["reverted_at"] == 1.0
    _, gap = timing(fleet.url(), tokens=5)
    assert gap < 0.25


def test_error_fault_answers_status_with_retry_after(fleet: FleetThread) -> None:
    status, fault = fleet.admin(
        "POST", body={"kind": "error", "status": 503, "rate": 1.0, "retry_after": 2, "duration": 20}
    )
    client = openai.OpenAI(base_url=fleet.url(), api_key="sim", max_retries=0)
    with pytest.raises(openai.APIStatusError) as err:
        client.completions.create(model=MODEL, prompt="x", max_tokens=2)
    assert err.value.status_code == 503
    assert err.value.response.headers["Retry-After"] == "2"
    fleet.admin("DELETE", f"/{fault['id']}")
    assert client.completions.create(model=MODEL, prompt="x", max_tokens=2).usage


def test_throttle_lowers_clocks_and_slows_steps(fleet: FleetThread) -> None:
    """A clock at 10 %: DCGM shows it on that replica's GPU only, and each step takes ten
    times as long (an idle 8B step of ~11 ms becomes ~110 ms)."""
    full = dcgm(fleet, "DCGM_FI_DEV_SM_CLOCK")
    gap = min(timing(fleet.url("replica-0"), tokens=12)[1] for _ in range(2))
    _, fault = fleet.admin("POST", body={"kind": "throttle", "clock_factor": 0.1, "replica": 0})
    throttled = dcgm(fleet, "DCGM_FI_DEV_SM_CLOCK")
    assert throttled["0"] == pytest.approx(full["0"] * 0.1, rel=0.01)
    assert throttled["1"] == full["1"]  # the other replica's GPU is untouched
    reasons = {k: int(v) for k, v in dcgm(fleet, "DCGM_FI_DEV_CLOCKS_EVENT_REASONS").items()}
    assert reasons["0"] & 0xEC  # a throttle bit (HW slowdown, thermal) is set
    assert not reasons["1"] & 0xEC
    slow_gap = timing(fleet.url("replica-0"), tokens=12)[1]
    assert slow_gap >= gap + 0.05
    fleet.admin("DELETE", f"/{fault['id']}")
    assert dcgm(fleet, "DCGM_FI_DEV_SM_CLOCK") == full


def test_xid_marks_the_gpu_and_drains_its_replica(fleet: FleetThread) -> None:
    _, fault = fleet.admin("POST", body={"kind": "xid", "replica": 1, "gpu": 0, "code": 79})
    assert dcgm(fleet, "DCGM_FI_DEV_XID_ERRORS") == {"0": 0, "1": 79}
    with pytest.raises(urllib.error.HTTPError) as err:
        get(fleet.fleet.url("replica-1") + "/health")
    assert err.value.code == 503
    load(fleet, 6, tokens=4)  # the front sends everything to the healthy replica
    served = sample(fleet.url("replica-1-metrics"), "vllm:request_success_total")
    assert sum(v for _, v in served) == 0
    fleet.admin("DELETE", f"/{fault['id']}")
    assert get(fleet.fleet.url("replica-1") + "/health") == ""
    assert dcgm(fleet, "DCGM_FI_DEV_XID_ERRORS") == {"0": 0, "1": 0}


def test_crash_closes_the_port_then_restarts(fleet: FleetThread, clock: ManualClock) -> None:
    replica_url = fleet.fleet.url("replica-0")
    fleet.admin("POST", body={"kind": "crash", "replica": 0, "restart_after": 1.0})
    with pytest.raises(urllib.error.URLError):  # closed before the admin API answered
        get(replica_url + "/health", timeout=2)
    client = openai.OpenAI(base_url=fleet.url(), api_key="sim", max_retries=0)
    assert client.completions.create(model=MODEL, prompt="x", max_tokens=2).usage  # replica 1
    elapse(fleet, clock, 0.9)
    with pytest.raises(urllib.error.URLError):
        get(replica_url + "/health", timeout=2)
    elapse(fleet, clock, 0.1)  # restarted, its port open again
    assert get(replica_url + "/health") == ""
    assert fleet.fleet.replicas[0].restarts == 1


def test_kv_shrink_raises_usage_and_causes_preemptions() -> None:
    with sim_fleet(replicas=1, max_num_seqs=64) as fleet:
        _, fault = fleet.admin("POST", body={"kind": "kv_shrink", "fraction": 0.002})
        load(fleet, 8, tokens=64, prompt="a long prompt that fills the cache ")
        preempted = sample(fleet.url("replica-0-metrics"), "vllm:num_preemptions_total")
        assert preempted[0][1] > 0
        fleet.admin("DELETE", f"/{fault['id']}")
        load(fleet, 8, tokens=64, prompt="a long prompt that fills the cache ")
        again = sample(fleet.url("replica-0-metrics"), "vllm:num_preemptions_total")
        assert again[0][1] == preempted[0][1]  # no new preemptions once the cache is whole


def test_bad_fault_is_a_400_naming_the_field(fleet: FleetThread) -> None:
    status, body = fleet.admin("POST", body={"kind": "throttle", "clock_factor": 3})
    assert status == 400
    assert "clock_factor" in body["error"]["message"]
    status, body = fleet.admin("POST", body={"kind": "melt"})
    assert status == 400
    assert "ttft_latency" in body["error"]["message"]
    status, body = fleet.admin("POST", body={"kind": "crash", "replica": 7})
    assert status == 400
    assert "replica 7 does not exist" in body["error"]["message"]
    status, body = fleet.admin("POST", body={"kind": "error", "duration": 99999})
    assert status == 400
    assert fleet.admin("DELETE", "/flt-nope")[0] == 404
