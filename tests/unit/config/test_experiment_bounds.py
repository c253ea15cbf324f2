"""An experiment is bounded: every span of time above 0 and at most an hour, the rate and the
token counts within sensible limits, so that a chaos run always ends by itself. Each value out
of bounds is a located problem naming the bound, all of them at once."""

from __future__ import annotations

import pytest

from perfops.config.experiment import Experiment
from perfops.config.loader import parse_spec
from perfops.errors import ConfigError

SPEC = """apiVersion: perfops/v1
kind: Experiment
title: t
hypothesis: {{baseline: {baseline}, recovery: 5s}}
load: {{service: chat, rate: {rate}, duration: {duration}, prompt_tokens: {tokens}}}
method:
  - {{kind: sim.error, start: {start}, duration: {fault}}}
stop:
  - {{kind: error_ratio, above: 0.5, window: {window}}}
"""
GOOD = {"baseline": "5s", "rate": 4, "duration": "20s", "tokens": 256, "start": "0s",
        "fault": "10s", "window": "10s"}  # fmt: skip


def problems(**bad: object) -> list[str]:
    try:
        parse_spec(Experiment, SPEC.format(**{**GOOD, **bad}), "exp.yaml")
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return []


def test_the_good_spec_is_good() -> None:
    assert problems() == []


@pytest.mark.parametrize(
    ("field", "value", "where", "says"),
    [
        ("duration", "2h", "exp.yaml:5:", "a span of time must be above 0 and at most 3,600 s"),
        ("duration", "0s", "exp.yaml:5:", "a span of time must be above 0"),
        ("duration", ".inf", "exp.yaml:5:", "a duration must be a finite number of seconds"),
        ("baseline", "0s", "exp.yaml:4:", "a span of time must be above 0"),
        ("rate", ".inf", "exp.yaml:5:", "should be a finite number"),
        ("rate", ".nan", "exp.yaml:5:", "should be a finite number"),
        ("tokens", 0, "exp.yaml:5:", "a token count must be at least 1 and at most 1,000,000"),
        ("start", "2h", "exp.yaml:7:", "an offset must be at least 0 and at most 3,600 s"),
        ("fault", "0s", "exp.yaml:7:", "a span of time must be above 0"),
        ("window", "90m", "exp.yaml:9:", "a span of time must be above 0 and at most 3,600 s"),
    ],
)
def test_out_of_bounds_is_a_located_problem(
    field: str, value: object, where: str, says: str
) -> None:
    found = problems(**{field: value})
    assert len(found) >= 1, f"{field}={value} was accepted"
    assert any(p.startswith(where) and says in p for p in found), found


def test_every_problem_at_once() -> None:
    found = problems(duration="2h", rate=0, window="0s")
    assert len(found) == 3, found
