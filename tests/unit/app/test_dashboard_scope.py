"""The dashboard's scope: bucket sizes that keep a chart at most one bucket per pixel, the
filters (through the service that owns a series), and bad ranges as usage errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfops.app import open_runtime
from perfops.app.dashboard import Scope, bucket_for
from perfops.errors import UsageError

CONFIG = """apiVersion: perfops/v1
services:
  - {name: chat, model: llama, team: web, endpoint: "http://127.0.0.1:9/v1",
     gpu: {type: H200, count: 1}, labels: {hostname: node-a}}
  - {name: batch, model: mistral, team: ml, endpoint: "http://127.0.0.1:8/v1",
     gpu: {type: H200, count: 1}}
"""


@given(
    span=st.integers(1, 400 * 86_400_000),
    width=st.integers(50, 10_000),
)
def test_a_bucket_never_gives_more_buckets_than_pixels(span: int, width: int) -> None:
    size = bucket_for(0, span, width)
    assert math.ceil(span / size) <= width


def test_buckets_are_round_and_hourly_for_a_week() -> None:
    week = 7 * 86_400_000
    assert bucket_for(0, 900_000, 1000) == 1_000
    assert bucket_for(0, week, 168) == 3_600_000
    assert bucket_for(0, week, 1000) == 900_000
    # from two days on the scope reads whole hours (the hourly rollups)
    assert Scope(start_ms=0, end_ms=week, width_px=1000).bucket_ms == 3_600_000
    assert Scope(start_ms=0, end_ms=86_400_000, width_px=1000).bucket_ms == 300_000


def test_filters_go_through_the_owning_service(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(CONFIG)
    rt = open_runtime(tmp_path / "perfops.yaml")
    by_label = {"model_name": "mistral", "gpu": "0"}  # batch's series, by its selector
    by_join = {"hostname": "node-a", "gpu": "1"}  # chat's join label
    nobody = {"hostname": "node-z"}
    scope = Scope(start_ms=0, end_ms=1000, service="chat")
    assert [scope.admits(x, rt) for x in (by_label, by_join, nobody)] == [False, True, False]
    scope = Scope(start_ms=0, end_ms=1000, team="ml")
    assert [scope.admits(x, rt) for x in (by_label, by_join, nobody)] == [True, False, False]
    scope = Scope(start_ms=0, end_ms=1000, model="llama", gpu="1")
    assert [scope.admits(x, rt) for x in (by_label, by_join, nobody)] == [False, True, False]
    scope = Scope(start_ms=0, end_ms=1000, host="node-z")
    assert [scope.admits(x, rt) for x in (by_label, by_join, nobody)] == [False, False, True]


def test_live_updates_start_at_the_bucket_of_since() -> None:
    scope = Scope(start_ms=0, end_ms=900_000, width_px=100, since_ms=123_456)
    assert scope.bucket_ms == 15_000
    assert scope.query_start_ms == 120_000


@pytest.mark.parametrize(
    ("start", "end", "width"), [(10, 10, 1000), (20, 10, 1000), (0, 10, 10), (0, 10, 20_000)]
)
def test_bad_scopes_are_usage_errors(start: int, end: int, width: int) -> None:
    with pytest.raises(UsageError):
        Scope(start_ms=start, end_ms=end, width_px=width)
