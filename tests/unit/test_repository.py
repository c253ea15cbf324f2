"""The repository stands on its own: no tracked file reaches outside it for fixtures or notes."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from tests.conftest import REPO

# Built from parts, so that this file does not name what it looks for.
NEEDLES = (b".." + b"/" + b"shared", b"PERFOPS_" + b"SHARED")


def _tracked() -> list[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: nothing to list")
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60
    )
    return [name for name in out.stdout.decode().split("\0") if name]


def test_no_tracked_file_names_a_folder_beside_the_repository() -> None:
    files = _tracked()
    assert "tests/fixtures/SOURCES.md" in files  # the listing works and sees the fixtures
    hits = []
    for name in files:
        path = REPO / name
        if not path.is_file():  # deleted in the work tree, or a submodule
            continue
        data = path.read_bytes()
        hits += [f"{name}: {needle.decode()}" for needle in NEEDLES if needle in data]
    assert hits == [], "tracked files reach outside the repository:\n" + "\n".join(hits)
