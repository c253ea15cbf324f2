"""Shaping Prometheus history for the lake: raw windows, staleness at gaps, lookback repeats."""

from __future__ import annotations

import pytest

from perfops.app.imports import plan_queries
from perfops.errors import UsageError
from perfops.telemetry.history import LOOKBACK_MS, GapMarkers, LookbackTrim, RawChunks
from perfops.telemetry.selectors import check_metric_name, is_selector
from perfops.telemetry.series import is_stale_marker


@pytest.mark.parametrize(
    "query",
    [
        "up",
        "vllm:request_success_total",
        ' vllm:request_success_total{model_name="m", engine=~"0|1",} ',
        "{__name__=~\"vllm:.*\", job!='x'}",
        'x{a="}", b=`{`}',
        '{"http.requests"}',
    ],
)
def test_selectors_are_read_raw(query: str) -> None:
    assert is_selector(query)


@pytest.mark.parametrize(
    "query",
    [
        "rate(x[5m])",
        "x[5m]",
        "sum by (a) (x)",
        "x + 1",
        "x offset 5m",
        "x @ 100",
        'label_replace(x, "service", "chat", "", "")',
        "x{a=1}",
        "sum",
        "",
    ],
)
def test_anything_else_is_an_expression(query: str) -> None:
    assert not is_selector(query)


def test_expressions_take_their_names_in_order() -> None:
    plan = plan_queries(["up", "rate(x[1m])", "y", "sum(z)"], ["x:rate1m", "z:sum"])
    assert [(q.query, q.name) for q in plan] == [
        ("up", None),
        ("rate(x[1m])", "x:rate1m"),
        ("y", None),
        ("sum(z)", "z:sum"),
    ]
    with pytest.raises(UsageError, match=r"'sum\(z\)' is an expression") as err:
        plan_queries(["rate(x[1m])", "sum(z)"], ["x:rate1m"])
    assert "--as NAME" in str(err.value)
    with pytest.raises(UsageError, match="1 --as name"):
        plan_queries(["up"], ["up2"])
    with pytest.raises(UsageError, match="'9lives' is not a metric name"):
        check_metric_name("9lives")


def test_raw_windows_cover_the_range_once_and_follow_the_answers() -> None:
    chunks = RawChunks(1_000, 20_000, first_ms=4_000, target_samples=100, max_ms=16_000)
    seen, sizes = [], iter([10, 10, 400])
    while (window := chunks.next()) is not None:
        seen.append(window)
        chunks.done(window[1], next(sizes))
    # (start - 1 ms, ...]: the sample at start is in; small answers double the next window
    assert seen == [(999, 4_999), (4_999, 12_999), (12_999, 20_000)]
    big = RawChunks(0, 100_000, first_ms=10_000, target_samples=100)
    big.done(10_000, 400)  # four times the target: a quarter of the window next
    assert big.next() == (10_000, 12_500)
    refused = RawChunks(0, 10, first_ms=2)
    assert refused.too_big()
    assert refused.next() == (-1, 0)
    assert not refused.too_big()  # nothing under a millisecond to ask for


def test_gaps_get_one_marker_an_interval_after_the_last_sample() -> None:
    gaps = GapMarkers()
    first = gaps.window({7: [0, 15_003, 30_001, 45_000]}, 60_000)
    assert first == {}
    # silent through the next window: a marker one interval after its last sample, once
    assert gaps.window({}, 120_000) == {7: [60_000]}
    assert gaps.window({}, 180_000) == {}
    assert gaps.window({7: [200_000, 215_000]}, 220_000) == {}  # back: no second marker
    assert gaps.window({7: [230_000, 275_000]}, 280_000) == {7: [245_000]}  # gap inside


def test_lookback_repeats_after_a_series_ends_are_dropped() -> None:
    step = 15_000
    trim = LookbackTrim(step, end_ms=3_600_000)
    rising = [(i * step, float(i)) for i in range(10)]
    # the series' last sample is at 9 steps; the lookback repeats it for 5 minutes
    padded = [(i * step, 9.0) for i in range(10, 10 + LOOKBACK_MS // step)]
    kept = trim.add(1, rising + padded[:5]) + trim.add(1, padded[5:])
    left = trim.finish()[1]
    points = kept + left
    assert [p for p in points if not is_stale_marker(p[1])] == rising
    assert [p[0] for p in points if is_stale_marker(p[1])] == [10 * step]


def test_a_flat_series_that_stays_keeps_every_point() -> None:
    step = 60_000
    trim = LookbackTrim(step, end_ms=59 * step)
    flat = [(i * step, 0.0) for i in range(60)]
    kept = trim.add(1, flat[:30]) + trim.add(1, flat[30:])
    assert kept + trim.finish()[1] == flat
