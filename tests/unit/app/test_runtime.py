"""open_runtime: perfops.yaml and its lake, or with scratch=True a lake in ./.perfops when no
perfops.yaml is around (and only then)."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfops.app import open_runtime
from perfops.errors import ConfigError

SERVICE = """apiVersion: perfops/v1
workspace: {lake: data/lake}
services:
  - {name: chat, model: m, endpoint: "http://127.0.0.1:9/v1", gpu: {type: H200, count: 1}}
"""


def test_scratch_without_a_perfops_yaml_keeps_results_in_dot_perfops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rt = open_runtime(environ={}, scratch=True)
    assert rt.config.services == ()
    assert rt.store.root == tmp_path / ".perfops" / "lake"


def test_scratch_uses_the_perfops_yaml_that_is_around(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "perfops.yaml").write_text(SERVICE)
    monkeypatch.chdir(tmp_path)
    rt = open_runtime(environ={}, scratch=True)
    assert [s.name for s in rt.config.services] == ["chat"]
    assert rt.store.root == tmp_path / "data" / "lake"


def test_scratch_does_not_hide_an_invalid_perfops_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "perfops.yaml").write_text("apiVersion: perfops/v1\nservics: []\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"perfops\.yaml:2:1 servics: unknown field"):
        open_runtime(environ={}, scratch=True)


def test_scratch_does_not_hide_a_named_file_that_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = str(tmp_path / "other.yaml")
    with pytest.raises(ConfigError, match="other.yaml: 1 problem\n.*file not found"):
        open_runtime(missing, environ={}, scratch=True)
    with pytest.raises(ConfigError, match="other.yaml: 1 problem\n.*file not found"):
        open_runtime(environ={"PERFOPS_CONFIG": missing}, scratch=True)


def test_without_scratch_a_missing_perfops_yaml_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="file not found"):
        open_runtime(environ={})
