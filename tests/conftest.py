"""Shared fixtures: a clean environment, and helpers to run the CLI as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"  # real exporter scrapes, traces, a FOCUS bill: SOURCES.md


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No PERFOPS_ variable from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("PERFOPS"):
            monkeypatch.delenv(name)
    return


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `perfops ARGS` in a subprocess, the way a user's shell would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PERFOPS")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "perfops", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
