from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from perfops.config import Config, load_config, parse_config
from perfops.errors import ConfigError

EXAMPLE = resources.files("perfops.config").joinpath("example.yaml").read_text("utf-8")

BASE = """\
apiVersion: perfops/v1
workspace:
  lake: lake
services:
  - name: chat
    endpoint: http://127.0.0.1:8000/v1
    model: llama-3.1-8b
    gpu: {type: H100-SXM, count: 2}
"""


def problems(text: str, **kw: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, **kw)  # type: ignore[arg-type]
    return [str(p) for p in info.value.problems]


def test_example_loads_into_frozen_models() -> None:
    config = parse_config(EXAMPLE)
    assert isinstance(config, Config)
    assert config.services[0].gpu.count == 2
    assert config.slos[0].sli.kind == "latency"
    assert config.slos[0].sli.threshold == pytest.approx(0.5)  # type: ignore[union-attr]
    assert config.slos[0].window == 28 * 86400
    with pytest.raises(ValueError, match="frozen"):
        config.services[0].model = "x"  # type: ignore[misc]


def test_unknown_field_suggests_the_close_name_with_line_and_column() -> None:
    text = (
        BASE + "slos:\n  - name: a\n    service: chat\n    sli: {kind: availability}\n"
        "    objectiv: 99\n"
    )
    found = problems(text)
    assert 'perfops.yaml:13:5 slos[0].objectiv: unknown field; did you mean "objective"?' in found
    assert any(
        p.startswith("perfops.yaml:10:5 slos[0].objective: required field is missing")
        for p in found
    )


def test_every_problem_is_reported_at_once() -> None:
    text = """\
apiVersion: perfops/v2
services:
  - name: Chat
    endpoint: ftp://x
    model: m
    gpu: {type: H100-SXM, count: 0}
slos:
  - name: s
    service: chatt
    sli: {kind: latency, metric: ttft, threshold: 5 sec}
    objective: 120
"""
    found = problems(text)
    assert len(found) == 7, found
    joined = "\n".join(found)
    assert "perfops.yaml:1:13 apiVersion:" in joined
    assert "use apiVersion: perfops/v1" in joined
    assert "perfops.yaml:3:11 services[0].name: 'Chat' is not a valid name" in joined
    assert "services[0].endpoint: 'ftp://x' is not an http(s) URL" in joined
    assert "services[0].gpu.count: a service's GPU count must be at least 1 and at most" in joined
    assert "perfops.yaml:9:14 slos[0].service: unknown service 'chatt'" in joined
    assert "'5 sec' is not a duration" in joined
    assert "slos[0].objective: objective 120 is neither a percentage" in joined


def test_unknown_kind_lists_the_valid_kinds() -> None:
    text = (
        BASE + "slos:\n  - name: a\n    service: chat\n    sli: {kind: latnecy}\n"
        "    objective: 99\n"
    )
    (found,) = problems(text)
    assert found.startswith("perfops.yaml:12:17 slos[0].sli.kind: unknown kind 'latnecy'")
    assert "'latency'" in found
    assert "'gpu_health'" in found


def test_yaml_syntax_error_says_where() -> None:
    (found,) = problems("apiVersion: perfops/v1\nservices: [a\nslos: []\n")
    assert found.startswith("perfops.yaml:3:")
    assert "YAML syntax error" in found


def test_duplicate_keys_and_names_are_problems() -> None:
    text = (
        BASE + "  - name: chat\n    endpoint: http://h:1\n    model: m\n    gpu: {type: L40S}\n"
        "workspace:\n  name: again\n"
    )
    found = problems(text)
    assert any("perfops.yaml:13:1 workspace: duplicate key" in p for p in found)
    assert any("services[1].name: duplicate name 'chat'" in p for p in found)


def test_not_a_mapping() -> None:
    (found,) = problems("- a\n- b\n")
    assert "the file must be a mapping" in found


def test_env_overrides_apply_and_name_the_variable_in_errors() -> None:
    config = parse_config(
        BASE,
        environ={
            "PERFOPS__SERVICES__0__MODEL": "llama-3.1-70b",
            "PERFOPS__TELEMETRY__INTERVAL": "30s",
        },
    )
    assert config.services[0].model == "llama-3.1-70b"
    assert config.telemetry.interval == 30
    (found,) = problems(BASE, environ={"PERFOPS__SERVICES__0__GPU__COUNT": "-3"})
    assert found.startswith("env PERFOPS__SERVICES__0__GPU__COUNT services[0].gpu.count:")


def test_unknown_env_variable_warns_with_a_suggestion() -> None:
    warnings: list[str] = []
    parse_config(
        BASE,
        environ={"PERFOPS__WORKSPACE__LAKX": "/x", "PERFOPS__NOPE": "1", "OTHER": "1"},
        warn=warnings.append,
    )
    assert len(warnings) == 2
    assert "PERFOPS__WORKSPACE__LAKX" in warnings[1]
    assert "did you mean 'lake'?" in warnings[1]
    assert "PERFOPS__NOPE" in warnings[0]


def test_load_config_resolves_the_lake_next_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(BASE)
    config = load_config(tmp_path / "perfops.yaml", environ={})
    assert config.workspace.lake == (tmp_path / "lake").resolve()
    config = load_config(None, environ={"PERFOPS_CONFIG": str(tmp_path)})
    assert config.services[0].name == "chat"


def test_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run `perfops init`"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_bad_slo_specs_are_located() -> None:
    text = BASE + (
        "slos:\n"
        "  - {name: a, service: chat, sli: {kind: availability}, objective: 1.2}\n"
        "  - {name: b, service: chat, sli: {kind: availability}, objective: 99, window: 1d}\n"
        "  - {name: c, service: chat, sli: {kind: availability}, objective: 0.995,"
        " alerting: sloth}\n"
    )
    found = problems(text)
    assert any(
        p.startswith("perfops.yaml:10:68 slos[0].objective: objective 1.2 is neither")
        for p in found
    ), found
    assert any("slos[1].window: a window of 1 d is shorter" in p for p in found)
    assert any("slos[2].alerting" in p and "'google-30d'" in p for p in found)
    ok = parse_config(
        BASE + "slos:\n  - {name: r, service: chat, sli: {kind: availability}, objective: 0.995}\n"
    )
    assert ok.slos[0].objective == pytest.approx(99.5)
