"""The latency histogram: percentiles within 0.1%, merging, JSON round trips, edge cases."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfops.loadgen import LatencyHistogram

QS = (0.0, 1.0, 25.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0)
latencies = st.floats(min_value=1e-6, max_value=3600.0, allow_nan=False)


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(Fraction(str(q)) * len(ordered) / 100))
    return ordered[rank - 1]


def filled(values) -> LatencyHistogram:
    hist = LatencyHistogram()
    for value in values:
        hist.record(float(value))
    return hist


def assert_close(got: float, true: float) -> None:
    """Never below the true value, at most 0.1% above it (to float rounding)."""
    assert true * (1 - 1e-12) <= got <= true * 1.001 * (1 + 1e-12)


@settings(max_examples=200, deadline=None)
@given(st.lists(latencies, min_size=1, max_size=200), st.sampled_from(QS))
def test_percentile_is_the_nearest_rank_within_a_tenth_of_a_percent(
    values: list[float], q: float
) -> None:
    assert_close(filled(values).percentile(q), nearest_rank(values, q))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_percentiles_agree_with_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.lognormal(-3, 1.5, 10_000), rng.uniform(1e-6, 1e-3, 7)])
    hist = LatencyHistogram()
    hist.record_many(values)
    got = hist.percentiles()
    assert list(got) == ["p50", "p90", "p95", "p99", "p99.9"]
    expected = np.percentile(values, [50, 90, 95, 99, 99.9], method="inverted_cdf")
    for value, true in zip(got.values(), expected, strict=True):
        assert_close(value, float(true))
    assert hist.mean == pytest.approx(values.mean())
    assert (hist.min, hist.max, hist.count) == (values.min(), values.max(), len(values))


def test_nearest_rank_is_exact_where_floats_are_not() -> None:
    hist = filled(range(1, 1001))  # 1 s .. 1000 s
    assert hist.percentile(99.9) == pytest.approx(999, rel=1e-3)  # rank 999, not 1000
    assert hist.percentile(99.9) < 1000


@settings(max_examples=50, deadline=None)
@given(st.lists(latencies, max_size=100))
def test_record_many_matches_record(values: list[float]) -> None:
    one, many = filled(values), LatencyHistogram()
    many.record_many(values)
    assert one.to_dict() == many.to_dict() | {"sum": one.sum}
    assert many.sum == pytest.approx(one.sum)


@settings(max_examples=50, deadline=None)
@given(st.lists(latencies, max_size=60), st.lists(latencies, max_size=60))
def test_merge_equals_recording_both(first: list[float], second: list[float]) -> None:
    merged = filled(first)
    merged.merge(filled(second))
    both = filled(first + second)
    assert merged.to_dict() == both.to_dict() | {"sum": merged.sum}
    assert merged.sum == pytest.approx(both.sum)
    assert merged.percentiles() == both.percentiles()


def test_json_round_trip() -> None:
    hist = filled([0.001, 0.002, 0.002, 1.5, 42.0])
    hist.record(0.25, count=3)
    copy = LatencyHistogram.from_dict(json.loads(json.dumps(hist.to_dict())))
    assert copy.to_dict() == hist.to_dict()
    assert copy.percentiles((0, 50, 100)) == hist.percentiles((0, 50, 100))
    assert (copy.count, copy.mean, copy.min, copy.max) == (8, hist.mean, 0.001, 42.0)
    empty = LatencyHistogram.from_dict(LatencyHistogram().to_dict())
    assert empty.count == 0
    assert math.isnan(empty.min)


@pytest.mark.parametrize(
    "data",
    [
        {"version": 2},
        {"version": 1, "count": 1, "buckets": [1, 2], "counts": [1]},
        {"version": 1, "count": 1, "buckets": [10**6], "counts": [1]},
        {"version": 1, "count": 1, "buckets": [5], "counts": [-1]},
        {"version": 1, "count": 3, "buckets": [5], "counts": [1], "sum": 1, "min": 1, "max": 1},
    ],
)
def test_from_dict_rejects_what_it_did_not_write(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="histogram"):
        LatencyHistogram.from_dict(data)


def test_empty_histogram_is_nan() -> None:
    hist = LatencyHistogram()
    assert hist.count == 0
    assert all(math.isnan(v) for v in (hist.min, hist.max, hist.mean, hist.percentile(50)))
    assert all(math.isnan(v) for v in hist.percentiles().values())
    hist.record_many([])
    assert hist.count == 0


def test_one_value_is_every_percentile() -> None:
    hist = filled([0.0123])
    assert set(hist.percentiles((0, 50, 99.9, 100)).values()) == {0.0123}
    assert hist.mean == 0.0123


def test_out_of_range_values_clamp_and_count() -> None:
    hist = filled([-0.5, 7200.0, 0.1])
    assert hist.count == 3
    assert hist.min == 0.0  # a negative latency (clock skew) counts as 0
    assert hist.max == 7200.0  # the exact maximum is kept
    assert hist.percentile(100) == pytest.approx(3600, rel=1e-3)  # the top bucket: >= 1 hour
    assert hist.percentile(0) == 0.0
    assert hist.mean == pytest.approx(7200.1 / 3)
    many = LatencyHistogram()
    many.record_many([-0.5, 7200.0, 0.1, 1e300])
    assert many.count == 4
    assert many.percentile(100) == pytest.approx(3600, rel=1e-3)


def test_counts_weight_values() -> None:
    hist = LatencyHistogram()
    hist.record(0.010, count=99)
    hist.record(1.0)
    assert hist.count == 100
    assert hist.percentile(99) == pytest.approx(0.010, rel=1e-3)
    assert hist.percentile(99.5) == 1.0
    assert hist.mean == pytest.approx((0.99 + 1.0) / 100)


def test_nan_and_infinity_are_refused() -> None:
    hist = LatencyHistogram()
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError, match="cannot record"):
            hist.record(bad)
        with pytest.raises(ValueError, match="cannot record"):
            hist.record_many([0.1, bad])
    with pytest.raises(ValueError, match="between 0 and 100"):
        hist.percentile(101)
    assert hist.count == 0
