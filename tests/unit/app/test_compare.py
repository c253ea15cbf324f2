"""What `perfops load compare` reads from two runs' journals: what differs in their specs, and
the capacities (with whatever interval, bound and validity) that capacity searches wrote."""

from __future__ import annotations

import json
from typing import Any

import pytest

from perfops.app.compare import compare_capacity_runs, spec_differences
from perfops.loadgen.compare import BETTER, INCONCLUSIVE, NO_INTERVAL, SAME
from perfops.store import RunRecord


def load_spec(**changes: Any) -> dict[str, Any]:
    spec = {
        "url": "http://127.0.0.1:8000/v1",
        "model": "llama",
        "arrival": {"kind": "poisson", "rate": 5.0},
        "duration_s": 30.0,
        "slo": ["ttft_p99<=500ms"],
        "seed": 1,
        "parent": None,
        "workload": {"prompt": {"kind": "fixed", "value": 512}, "output": {"value": 64}},
    }
    for key, value in changes.items():
        head, _, tail = key.partition("__")
        if tail:
            spec[head] = {**spec[head], tail: value}
        else:
            spec[key] = value
    return spec


def test_workload_differences_warn_and_target_differences_are_the_change() -> None:
    same, _ = spec_differences(
        {**load_spec(), "search": {"seed": 0}},
        {**load_spec(seed=2, parent="sweep-1"), "search": {"seed": 7}},
    )
    assert same == []  # seeds and bookkeeping are not the workload
    workload, target = spec_differences(
        load_spec(), load_spec(arrival__rate=10.0, url="http://other/v1", slo=[])
    )
    assert workload == ["arrival.rate: 5.0 vs 10.0", "slo: ['ttft_p99<=500ms'] vs []"]
    assert target == ["url: 'http://127.0.0.1:8000/v1' vs 'http://other/v1'"]


def capacity(run_id: str, summary: dict[str, Any], gpus: int | None = 2) -> RunRecord:
    spec = {"slo": ["ttft_p99<=300ms"], "gpus": gpus, "service": "chat"}
    return RunRecord(run_id, "capacity", 1, "passed", 2, spec, summary)


@pytest.mark.parametrize(
    "interval",
    [
        {"interval_rps": [18.5, 21.5], "confidence": 0.95, "method": "interpolated"},
        {"capacity_interval": [18.5, 21.5]},
        {"interval": {"low": 18.5, "high": 21.5, "confidence": 95}},
        {"capacity": {"ci": {"lo": 18.5, "hi": 21.5}}, "confidence": 0.95},
    ],
)
def test_capacity_intervals_are_read_under_any_of_their_names(interval: dict) -> None:
    a = capacity("cap-a", {"capacity_rps": 20.0, **interval})
    b = capacity("cap-b", {"capacity_rps": 30.0, "capacity_interval": [28.0, 32.0]})
    result = compare_capacity_runs(a, b)
    endpoint, per_gpu = result.differences
    assert (endpoint.metric, endpoint.verdict) == ("capacity_rps", BETTER)
    assert (per_gpu.metric, per_gpu.a, per_gpu.b) == ("capacity_rps_per_gpu", 10.0, 15.0)
    assert per_gpu.verdict == BETTER
    assert "interval [18.5, 21.5] (95%)" in result.capacities[0].read
    json.dumps(result.as_dict(), allow_nan=False)


def test_a_search_without_repeats_has_no_verdict_and_says_what_it_read() -> None:
    a = capacity("cap-a", {"capacity_rps": 20.0, "capacity_rps_per_gpu": 10.0})
    b = capacity("cap-b", {"capacity_rps": 30.0, "capacity_rps_per_gpu": 15.0})
    result = compare_capacity_runs(a, b)
    assert {d.verdict for d in result.differences} == {NO_INTERVAL}
    assert not any(d.significant for d in result.differences)
    assert "no interval (none of interval_rps, capacity_interval" in result.capacities[0].read


def test_a_bracket_is_no_confidence_interval_and_repeats_are_counted() -> None:
    repeat = {"rate": 20.0, "phase": "repeat", "passed": True}
    summary = {
        "capacity_rps": 20.0,
        "interval_rps": [16.0, 24.0],
        "confidence": None,
        "method": "bracket",
        "points": [{"rate": 10.0, "phase": "probe"}, repeat, repeat, repeat],
    }
    result = compare_capacity_runs(
        capacity("cap-a", summary), capacity("cap-b", {**summary, "capacity_rps": 30.0})
    )
    assert result.differences[0].verdict == NO_INTERVAL
    assert "'interval_rps' is the search's bracket" in result.capacities[0].read
    assert "3 repeats" in result.capacities[0].read


def test_a_search_that_met_the_slo_at_every_rate_is_a_lower_bound() -> None:
    unbounded = {
        "capacity_rps": 64.0,
        "interval_rps": [64.0, None],
        "confidence": None,
        "method": "lower bound",
        "valid": False,
        "invalid": ["out of runs before the highest rate had its repeats"],
        "reason": "out of runs before a rate missed the SLO (raise --max-runs)",
    }
    result = compare_capacity_runs(
        capacity("cap-a", unbounded),
        capacity("cap-b", {"capacity_rps": 30.0, "interval_rps": [28.0, 32.0]}),
    )
    assert result.capacities[0].endpoint.lower_bound
    assert result.capacities[0].reasons == unbounded["invalid"]
    assert result.differences[0].verdict == NO_INTERVAL  # a lower bound has no interval


def test_a_capped_search_is_a_lower_bound_and_an_invalid_one_is_flagged() -> None:
    capped = capacity(
        "cap-a",
        {
            "capacity_rps": 64.0,
            "capacity_interval": [60.0, 64.0],
            "reason": "still meets the SLO at the maximum rate 64 req/s",
        },
    )
    invalid = capacity(
        "cap-b",
        {
            "capacity_rps": 80.0,
            "capacity_interval": [76.0, 84.0],
            "validity": {"valid": False, "reasons": ["client-limited at 80 req/s"]},
            "repeats": [{}, {}, {}],
        },
    )
    result = compare_capacity_runs(capped, invalid)
    assert result.differences[0].verdict == INCONCLUSIVE
    assert result.capacities[0].endpoint.lower_bound
    assert "a lower bound" in result.capacities[0].read
    assert "3 repeats, marked INVALID" in result.capacities[1].read
    assert result.notes == [
        "run cap-b is marked INVALID by its search: client-limited at 80 req/s, so its "
        "capacity is no basis for a decision"
    ]


def test_capacity_runs_with_other_slos_are_not_like_with_like() -> None:
    a = capacity("cap-a", {"capacity_rps": 20.0, "capacity_interval": [18.0, 22.0]})
    b = RunRecord(
        "cap-b", "capacity", 1, "passed", 2,
        {"slo": ["ttft_p99<=1s"], "gpus": 2, "service": "chat"},
        {"capacity_rps": 20.5, "capacity_interval": [18.5, 22.5]},
    )  # fmt: skip
    result = compare_capacity_runs(a, b)
    assert result.differences[0].verdict == SAME
    assert result.workload_differences == ["slo: ['ttft_p99<=300ms'] vs ['ttft_p99<=1s']"]
    assert result.as_dict()["like_with_like"] is False
