"""docs/experiments.md documents the Experiment format field by field: every field of every
model of ``perfops.config.experiment`` has its row in the section marked for that model, and
every fault kind its row naming each of its parameters. (Its YAML examples are loaded by
``test_docs.test_specs_shown_in_the_docs_load``, its runnable blocks run by
``test_docs.test_runnable_blocks_run``.)"""

from __future__ import annotations

import inspect
import re

import pytest
from tests.conftest import REPO

import perfops.config.experiment as experiment
from perfops.chaos.faults import FAULTS
from perfops.config.models import Spec

PAGE = REPO / "docs" / "experiments.md"
MARKER = re.compile(r"^<!-- (model|faults): (\w+) -->$", re.M)
MODELS = sorted(
    name
    for name, cls in inspect.getmembers(experiment, inspect.isclass)
    if issubclass(cls, Spec) and cls.__module__ == experiment.__name__
)


def sections() -> dict[tuple[str, str], str]:
    """Each marked section's text, up to the next marker or heading."""
    text = PAGE.read_text(encoding="utf-8")
    marks = list(MARKER.finditer(text))
    out = {}
    for mark in marks:
        rest = text[mark.end() :]
        end = re.search(r"^(<!-- |#{2,3} )", rest, re.M)
        out[(mark[1], mark[2])] = rest[: end.start()] if end else rest
    return out


def rows(section: str) -> dict[str, str]:
    """Table rows by the code word in their first cell."""
    return {m[1]: m[0] for m in re.finditer(r"^\| `([\w.]+)` \|.*$", section, re.M)}


@pytest.mark.parametrize("model", MODELS)
def test_every_field_of_every_model_has_its_row(model: str) -> None:
    found = sections()
    assert ("model", model) in found, f"docs/experiments.md has no <!-- model: {model} -->"
    documented = rows(found[("model", model)])
    fields = list(getattr(experiment, model).model_fields)
    assert [f for f in fields if f not in documented] == []
    assert [f for f in documented if f not in fields] == []  # nor a field that does not exist


def _params(kind: str) -> list[str]:
    cls = FAULTS[kind]
    fields = getattr(cls, "fields", None)
    return list(fields()) if callable(fields) else list(cls.known)


def test_every_fault_kind_has_its_row_with_every_param() -> None:
    found = sections()
    documented = {}
    for family in ("sim", "proxy", "process"):
        documented.update(rows(found[("faults", family)]))
    assert sorted(documented) == sorted(FAULTS)
    missing = {
        kind: [p for p in _params(kind) if f"`{p}`" not in documented[kind].split("|")[2]]
        for kind in FAULTS
    }
    assert {k: v for k, v in missing.items() if v} == {}


def test_the_prove_guide_links_to_the_format() -> None:
    assert "(experiments.md)" in (REPO / "docs" / "prove.md").read_text(encoding="utf-8")
