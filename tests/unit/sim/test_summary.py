"""Weighted percentiles of the virtual run: the linear-time pick equals sorting everything."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from perfops.sim._summary import Percentiles

QS = np.array([0.5, 0.9, 0.99])


def by_sorting(values: np.ndarray, weights: np.ndarray) -> tuple[float, float, float, float]:
    """The definition: sort, accumulate the weights, take the first value reaching q."""
    order = np.argsort(values, kind="stable")
    ranked, cum = values[order], np.cumsum(weights[order])
    picks = np.minimum(np.searchsorted(cum, QS * cum[-1], side="left"), len(ranked) - 1)
    p50, p90, p99 = (float(v) for v in ranked[picks])
    return float(np.dot(values, weights) / cum[-1]), p50, p90, p99


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=300)
@given(
    hnp.arrays(np.float64, st.integers(1, 300), elements=finite | st.sampled_from([0.0, 1.0])),
    st.data(),
)
def test_counts_give_exactly_the_sorted_answer(values: np.ndarray, data: st.DataObject) -> None:
    weights = data.draw(
        hnp.arrays(np.float64, len(values), elements=st.integers(0, 300).map(float))
    )
    if weights.sum() == 0:
        weights[0] = 1.0
    got = Percentiles.of(values, weights)
    assert (got.mean, got.p50, got.p90, got.p99) == by_sorting(values, weights)


def test_many_values_as_a_virtual_run_has_them() -> None:
    rng = np.random.default_rng(0)
    values = rng.lognormal(-4.5, 0.3, 200_000)
    values[:5000] = values[5000:10000]  # ties across the bins
    weights = rng.integers(1, 257, len(values)).astype(float)
    got = Percentiles.of(values, weights)
    assert (got.mean, got.p50, got.p90, got.p99) == by_sorting(values, weights)


def test_fractional_weights_take_the_full_sort() -> None:
    values = np.array([3.0, 1.0, 2.0, 5.0])
    weights = np.array([0.5, 0.25, 2.5, 0.1])
    got = Percentiles.of(values, weights)
    assert (got.mean, got.p50, got.p90, got.p99) == by_sorting(values, weights)
