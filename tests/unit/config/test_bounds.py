"""perfops.yaml is bounded: each number out of its range is a located problem that names the
range and why, all of them at once; the edges of each range are accepted."""

from __future__ import annotations

import pytest

from perfops._internal.durations import parse_duration
from perfops.config import parse_config
from perfops.errors import ConfigError

SPEC = """\
apiVersion: perfops/v1
services:
  - name: chat
    endpoint: {endpoint}
    model: m
    gpu: {{type: H100, count: {count}}}
    api_key_env: {key_env}
telemetry:
  interval: {interval}
  {timeout}
  max_body_bytes: {body}
  targets:
    - {{name: dcgm, kind: dcgm, url: "http://127.0.0.1:9400/metrics", {target}}}
slos:
  - name: fast
    service: chat
    sli: {{kind: latency, metric: ttft, threshold: {threshold}}}
    objective: 99
    window: {window}
pricing:
  gpus: [{{gpu: H100, hourly: {price}}}]
"""
GOOD = {
    "endpoint": "http://127.0.0.1:8000/v1",
    "count": 2,
    "key_env": "VLLM_API_KEY",
    "interval": "15s",
    "timeout": "timeout: 5s",
    "body": "10MiB",
    "target": "interval: 5s",
    "threshold": "500ms",
    "window": "28d",
    "price": 2.5,
}


def problems(**bad: object) -> list[str]:
    try:
        parse_config(SPEC.format(**{**GOOD, **bad}))
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return []


def test_the_good_spec_is_good() -> None:
    assert problems() == []


@pytest.mark.parametrize(
    "edge",
    [
        {"count": 100_000},
        {"count": 1},
        {"interval": "1s", "timeout": "timeout: 999ms", "target": "timeout: 900ms"},
        {"interval": "1h", "timeout": "timeout: 59m"},
        {"body": "1KiB"},
        {"body": "256MiB"},
        {"target": "max_samples: 2000000"},
        {"endpoint": "http://127.0.0.1:65535/v1"},
        {"window": "366d", "threshold": "1h"},
        # a timeout not written (5 s by default) is capped at the interval, as Prometheus does
        {"interval": "2s", "timeout": "jitter: 0.1"},
    ],
)
def test_the_edges_of_each_range_are_accepted(edge: dict[str, object]) -> None:
    assert problems(**edge) == []


@pytest.mark.parametrize(
    ("field", "value", "where", "says"),
    [
        ("count", 100_001, "perfops.yaml:6:", "GPU count must be at least 1 and at most 100,000"),
        ("count", "1.0e+10", "perfops.yaml:6:", "at most 100,000 (per service"),
        ("count", 0, "perfops.yaml:6:", "GPU count must be at least 1"),
        ("interval", "1ms", "perfops.yaml:9:", "a scrape interval must be at least 1 s"),
        ("interval", "2h", "perfops.yaml:9:", "and at most 3,600 s"),
        ("interval", ".inf", "perfops.yaml:9:", "a duration must be a finite number"),
        ("interval", "9" * 400 + "s", "perfops.yaml:9:", "is too long to be a duration"),
        ("timeout", "timeout: 0s", "perfops.yaml:10:", "above 0 s and at most 3,600 s (0 fails"),
        ("timeout", "timeout: 15s", "perfops.yaml:10:", "the timeout (15 s) is not below the"),
        ("target", "timeout: 20s", "perfops.yaml:13:", "the timeout (20 s) is not below"),
        ("target", "interval: 2s, timeout: 3s", "perfops.yaml:13:", "(3 s) is not below"),
        ("target", "max_body_bytes: 1GiB", "perfops.yaml:13:", "at most 268,435,456 bytes"),
        ("target", "max_samples: 0", "perfops.yaml:13:", "max_samples must be at least 1"),
        ("body", "100", "perfops.yaml:11:", "max_body_bytes must be at least 1,024 bytes"),
        ("endpoint", "http://127.0.0.1:65536/v1", "perfops.yaml:4:", "has no valid port"),
        ("endpoint", "http://127.0.0.1:0/v1", "perfops.yaml:4:", "a port is a number from 1"),
        ("endpoint", "http://:80/v1", "perfops.yaml:4:", "names no host"),
        ("key_env", "'A B'", "perfops.yaml:7:", "is not the name of an environment variable"),
        ("threshold", "0s", "perfops.yaml:17:", "a latency threshold must be above 0 s"),
        ("window", "2y", "perfops.yaml:19:", "longer than a year"),
        ("price", ".nan", "perfops.yaml:21:", "finite number"),
        ("price", "1e7", "perfops.yaml:21:", "a price must be at least 0 and at most 1,000,000"),
    ],
)
def test_out_of_range_is_a_located_problem_with_the_reason(
    field: str, value: object, where: str, says: str
) -> None:
    found = problems(**{field: value})
    assert any(p.startswith(where) and says in p for p in found), found


def test_every_problem_at_once() -> None:
    found = problems(count=0, interval="1ms", timeout="timeout: 0s", body="1GiB", threshold="0s")
    assert len(found) == 5, found


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 10**400, "1" + "0" * 400 + "s"])
def test_a_duration_is_finite(value: object) -> None:
    with pytest.raises(ValueError, match="finite|too long"):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [[1], {"s": 1}, None, True])
def test_a_duration_of_another_type_is_a_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)  # type: ignore[arg-type]
