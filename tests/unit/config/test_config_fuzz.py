"""No traceback from a spec file: perfops.yaml (and experiment files) fed arbitrary text, arbitrary
YAML documents, and a valid perfops.yaml with any value in any field (hypothesis), is either a
valid config or a ConfigError whose every problem is located; through the CLI, exit 2."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfops.app.collect import targets_from_config
from perfops.cli._main import main
from perfops.config import Config, Drill, Experiment, GameDay, parse_config, parse_spec
from perfops.errors import ConfigError, UsageError
from perfops.finops import declared_from_services
from perfops.respond.policy import render_policy
from perfops.respond.review_calendar import plan_meetings, to_ical

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID: dict[str, Any] = {
    "apiVersion": "perfops/v1",
    "workspace": {"name": "w", "lake": "lake"},
    "services": [
        {
            "name": "chat",
            "endpoint": "http://127.0.0.1:8000/v1",
            "model": "llama-3.1-8b",
            "team": "assistant",
            "engine": "vllm",
            "gpu": {"type": "H100-SXM", "count": 2},
            "metrics": ["http://127.0.0.1:8001/metrics"],
            "api_key_env": "VLLM_KEY",
            "labels": {"model_name": "llama"},
        }
    ],
    "telemetry": {
        "interval": "15s",
        "timeout": "5s",
        "jitter": 0.1,
        "concurrency": 16,
        "max_body_bytes": "10MiB",
        "max_samples": 500000,
        "targets": [
            {
                "name": "dcgm",
                "kind": "dcgm",
                "url": "http://127.0.0.1:9400/metrics",
                "service": "chat",
                "interval": "5s",
                "timeout": "2s",
            },
        ],
    },  # fmt: skip
    "slos": [
        {
            "name": "fast",
            "service": "chat",
            "objective": 99,
            "window": "28d",
            "sli": {"kind": "latency", "metric": "ttft", "threshold": "500ms"},
        },
        {
            "name": "up",
            "service": "chat",
            "objective": 99.9,
            "sli": {"kind": "goodput", "thresholds": {"ttft": "1s", "tpot": "50ms"}},
        },
    ],  # fmt: skip
    "pricing": {
        "currency": "USD",
        "gpus": [{"gpu": "H100-SXM", "hourly": 4.0}],
        "shared": [{"name": "cp", "monthly": 100.0}],
        "energy_per_kwh": 0.1,
    },
    "escalation": {
        "receivers": [{"name": "oncall", "kind": "pagerduty", "target_env": "PD_KEY"}],
        "routes": [{"severity": "page", "receivers": ["oncall"], "group_wait": "30s"}],
        "schedules": [
            {
                "name": "primary",
                "people": ["ana", "bo"],
                "rotation": "1w",
                "handoff": "09:00",
                "timezone": "Europe/Berlin",
                "start": "2025-01-06",
            },
        ],
        "steps": [{"after": "0s", "notify": ["primary"]}, {"after": "15m", "notify": ["bo"]}],
        "roles": {"incident_commander": "primary"},
        "repeat": 1,
    },
    "reviews": {
        "weekly": {
            "weekday": "wed",
            "time": "09:30",
            "timezone": "Europe/Berlin",
            "duration": "45m",
            "attendees": ["Ana <ana@example.com>", "sre-lead"],
        },
        "monthly": {"weekday": "tuesday", "week": "last", "timezone": "America/New_York"},
        "post_incident": {"severities": ["SEV-1", "SEV-2"], "within": "3d"},
        "postmortems": "pm",
    },  # fmt: skip
}

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["0s", "1ms", "-1s", "1e309", ".inf", "100000y", "http://h:0/x", "1GiB",
                     "perfops/v1", "H100-SXM", "chat", "dcgm", "latency", "a\x00b"]),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(list(VALID)), inner, max_size=3)
    ),
    max_leaves=8,
)


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``node``, containers included."""
    out = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _leaves(value, (*path, i))
    return out


PATHS = _leaves(VALID)


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replace(node[path[0]], path[1:], value)
    return copy


def located(error: ConfigError) -> None:
    """Every problem names the file (or an environment variable) and fits on one line."""
    assert error.problems
    for problem in error.problems:
        assert problem.location.startswith(("perfops.yaml", "spec.yaml", "env ")), problem
        assert "\n" not in str(problem), problem


def checked(text: str, *, model: Any = None) -> Config | None:
    """Parse ``text``: a Config (used as the cores use it), or a located ConfigError."""
    try:
        if model is not None:
            parse_spec(model, text, "spec.yaml")
            return None
        config = parse_config(text)
    except ConfigError as exc:
        located(exc)
        return None
    with contextlib.suppress(UsageError):  # "nothing to collect" is a usage error
        targets_from_config(config)
    declared_from_services(config.services)
    render_policy(config.escalation, dt.datetime.now(dt.UTC))
    meetings = plan_meetings(config.reviews, config.workspace.name, [], dt.date(2026, 3, 1))
    to_ical(meetings, name="reviews", stamp=dt.datetime.now(dt.UTC))
    assert math.isfinite(config.telemetry.interval)
    return config


def test_the_valid_document_is_valid() -> None:
    assert checked(yaml.safe_dump(VALID)) is not None


@PROPS
@given(st.text(max_size=200))
def test_any_text(text: str) -> None:
    checked(text)


@PROPS
@given(st.dictionaries(st.sampled_from([*VALID, "x"]), VALUES, max_size=5) | VALUES)
def test_any_document(document: Any) -> None:
    checked(yaml.safe_dump(document, allow_unicode=True))


@PROPS
@given(st.sampled_from(PATHS), VALUES)
def test_any_value_in_any_field_of_a_valid_config(path: tuple[Any, ...], value: Any) -> None:
    checked(yaml.safe_dump(_replace(VALID, path, value), allow_unicode=True))


@PROPS
@given(
    st.sampled_from(
        ["PERFOPS__TELEMETRY__INTERVAL", "PERFOPS__TELEMETRY__TIMEOUT",
         "PERFOPS__SERVICES__0__GPU__COUNT", "PERFOPS__PRICING__CURRENCY",
         "PERFOPS__TELEMETRY__TARGETS__0__MAX_BODY_BYTES", "PERFOPS__NOPE"]
    ),
    st.text(st.characters(blacklist_characters="\x00"), max_size=20),
)  # fmt: skip
def test_any_environment_override(name: str, value: str) -> None:
    try:
        parse_config(yaml.safe_dump(VALID), environ={name: value})
    except ConfigError as exc:
        located(exc)


@PROPS
@given(st.sampled_from([Experiment, Drill, GameDay]), VALUES)
def test_any_experiment_document(model: Any, document: Any) -> None:
    checked(yaml.safe_dump(document, allow_unicode=True), model=model)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config-fuzz")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), VALUES)
def test_the_cli_refuses_a_bad_config_with_exit_2(
    folder: Path, path: tuple[Any, ...], value: Any
) -> None:
    """Through the CLI: a valid config reaches the command (no SLO 'nope': exit 2); an invalid
    one is exit 2 with a head line and one located problem per line."""
    file = folder / "perfops.yaml"
    file.write_text(yaml.safe_dump(_replace(VALID, path, value), allow_unicode=True))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--config", str(file), "slo", "status", "nope"])
    shown = f"{path}={value!r}: exit {code}\n{err.getvalue()}"
    assert code == 2, shown
    assert "Traceback" not in err.getvalue(), shown
    assert "internal error" not in err.getvalue(), shown
    head, *problems = err.getvalue().rstrip("\n").split("\n")
    assert head.startswith("error:"), shown
    assert all(line.startswith(f"  {file}:") for line in problems), shown
