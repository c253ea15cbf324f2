"""The bootstrap behind `perfops load compare`, on fixed arrays: its percentiles are the load
summary's, its intervals cover 0 when nothing changed and exclude it when something did, and
one seed gives one answer."""

from __future__ import annotations

import json
import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfops.loadgen.bootstrap import min_samples, weighted_percentiles
from perfops.loadgen.compare import (
    BETTER,
    INCONCLUSIVE,
    NO_INTERVAL,
    SAME,
    SHORT,
    WORSE,
    CapacityFigure,
    compare_capacity,
    compare_samples,
    run_sample,
)
from perfops.loadgen.records import RequestRecord
from perfops.loadgen.slo import parse_slo
from perfops.loadgen.summary import summarize

MS = 1_000_000  # ns


def run(ttft_ms: np.ndarray, *, gaps: int = 4, itl_ms: float = 10.0) -> list[RequestRecord]:
    """One request per TTFT, 100 ms apart, each streaming ``gaps + 1`` tokens."""
    out = []
    for i, ttft in enumerate(ttft_ms):
        start = i * 100 * MS
        first = start + int(ttft * MS)
        chunk = [int(itl_ms * MS) + 1000 * (i % 7)] * gaps
        out.append(
            RequestRecord(i, start, start, first, first + sum(chunk), 8, gaps + 1, "usage", 200,
                          None, chunk, gaps + 1)
        )  # fmt: skip
    return out


def by_figure(diffs: list) -> dict[tuple[str, str], object]:
    return {(d.metric, d.stat): d for d in diffs}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 40)), min_size=0, max_size=60),
    st.lists(st.integers(0, 3), min_size=10, max_size=10),
    st.sampled_from((0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0)),
)
def test_weighted_percentile_is_the_nearest_rank_of_the_drawn_samples(
    samples: list[tuple[int, int]], draws: list[int], q: float
) -> None:
    """A resample's percentile is numpy's inverted_cdf (the summary's nearest rank) of the
    samples it drew, each request's samples repeated as often as the request was drawn."""
    samples.sort(key=lambda s: s[1])
    owners = np.array([o for o, _ in samples], dtype=np.int64)
    values = np.array([v for _, v in samples], dtype=np.float64)
    counts = np.array([draws], dtype=np.int64)
    got = weighted_percentiles(values, owners, counts, (q,))[0, 0]
    drawn = np.repeat(values, counts[0, owners]) if len(values) else values
    if drawn.size == 0:
        assert math.isnan(got)
    else:
        assert got == np.percentile(drawn, q, method="inverted_cdf")


def test_minimum_samples_are_where_the_largest_sample_bounds_the_percentile() -> None:
    for q in (50.0, 90.0, 99.0):
        n = min_samples(q)
        assert (q / 100) ** n <= 0.025 < (q / 100) ** (n - 1)
    assert [min_samples(q) for q in (50, 90, 99)] == [6, 36, 368]  # as docs/prove.md says


def test_an_interval_for_identical_runs_contains_zero() -> None:
    ttft = np.random.default_rng(7).gamma(4.0, 10.0, 400)
    same = run_sample(run(ttft), parse_slo("ttft_p90=50ms"))
    judged = [d for d in compare_samples(same, same, seed=3) if d.verdict != SHORT]
    assert len(judged) == 20  # 400 requests: p50, p90 and p99 of six latencies, 2 rates
    for d in judged:
        assert d.low is not None
        assert d.high is not None
        assert d.low <= 0 <= d.high, d
        assert d.verdict == SAME


def test_intervals_cover_zero_about_95_times_in_100_when_nothing_changed() -> None:
    """Coverage, not just one case: 60 pairs of runs drawn from one distribution (seeded, so
    the count is fixed): a 95% interval should miss 0 for about 3 of them."""
    verdicts: Counter[str] = Counter()
    rng = np.random.default_rng(11)
    for seed in range(60):
        a, b = (run_sample(run(rng.gamma(4.0, 10.0, 120))) for _ in range(2))
        d = compare_samples(a, b, latencies=("ttft",), percentiles=(50.0,), resamples=400,
                            seed=seed)[0]  # fmt: skip
        verdicts[d.verdict] += 1
    assert verdicts[SAME] >= 53  # >= 88%: binomial(60, 0.95) falls below 53 with p < 1%
    assert verdicts[BETTER] + verdicts[WORSE] == 60 - verdicts[SAME]


def test_a_shift_is_detected_in_its_direction() -> None:
    ttft = np.random.default_rng(5).gamma(4.0, 10.0, 200)
    base = run_sample(run(ttft))
    slower = run_sample(run(np.random.default_rng(6).gamma(4.0, 10.0, 200) + 15.0))
    diffs = by_figure(compare_samples(base, slower))
    assert diffs["ttft", "p50"].verdict == WORSE
    assert diffs["ttft", "p50"].low > 0
    assert diffs["ttft", "p50"].relative_low > 0
    assert diffs["ttft_from_schedule", "p50"].verdict == WORSE
    assert by_figure(compare_samples(slower, base))["ttft", "p50"].verdict == BETTER
    assert diffs["itl", "p50"].verdict == SAME  # the streams did not change


def test_one_seed_gives_one_answer() -> None:
    rng = np.random.default_rng(2)
    a, b = (run_sample(run(rng.gamma(4.0, 10.0, 80))) for _ in range(2))
    first = [d.as_dict() for d in compare_samples(a, b, seed=42)]
    assert first == [d.as_dict() for d in compare_samples(a, b, seed=42)]
    assert first != [d.as_dict() for d in compare_samples(a, b, seed=43)]


def test_too_few_requests_for_a_percentile_gets_no_verdict() -> None:
    rng = np.random.default_rng(3)
    a, b = run_sample(run(rng.gamma(4.0, 10.0, 30))), run_sample(run(rng.gamma(4.0, 10.0, 50)))
    diffs = by_figure(compare_samples(a, b))
    assert diffs["ttft", "p99"].verdict == SHORT
    assert diffs["ttft", "p99"].note == "not enough requests for p99: A 30, B 50 < 368"
    assert diffs["ttft", "p90"].note == "not enough requests for p90: A 30 < 36"
    assert diffs["ttft", "p50"].verdict in (SAME, BETTER, WORSE)
    assert diffs["itl", "p90"].verdict != SHORT  # 4 chunk gaps a request: 120 of them


def test_point_values_are_the_summary_figures_and_json_is_strict() -> None:
    slo = parse_slo("ttft_p99=45ms")
    records = run(np.random.default_rng(4).gamma(4.0, 10.0, 60))
    records[3].error, records[3].first_token_ns = "http_503", None
    sample = run_sample(records, slo)
    diffs = by_figure(compare_samples(sample, sample))
    summary = summarize(records, slo)
    assert diffs["goodput_rps", ""].a == pytest.approx(summary.goodput_rps)
    assert diffs["output_tokens_per_s", ""].a == pytest.approx(summary.output_tokens_per_s)
    ok = sorted(r.ttft_s for r in records if r.ok)
    rank = math.ceil(Fraction(90) * len(ok) / 100)
    assert diffs["ttft", "p90"].a == pytest.approx(ok[rank - 1] * 1000)
    # the summary's histogram gives the same percentile, rounded up by at most 0.1%
    assert summary.latency_ms["ttft"]["p90"] == pytest.approx(diffs["ttft", "p90"].a, rel=1e-3)
    text = json.dumps([d.as_dict() for d in diffs.values()], allow_nan=False)
    assert "not enough requests for p99" in text


def test_without_an_slo_goodput_is_not_compared() -> None:
    sample = run_sample(run(np.full(40, 30.0)))
    goodput = by_figure(compare_samples(sample, sample))["goodput_rps", ""]
    assert (goodput.a, goodput.verdict, goodput.significant) == (None, "n/a", False)


def test_capacities_compare_through_their_intervals() -> None:
    a = CapacityFigure(20.0, 18.5, 21.5)
    assert compare_capacity(a, CapacityFigure(30.0, 28.0, 32.0)).verdict == BETTER
    assert compare_capacity(a, CapacityFigure(15.0, 14.0, 16.0)).verdict == WORSE
    close = compare_capacity(a, CapacityFigure(21.0, 19.5, 22.5))
    assert close.verdict == SAME
    assert close.low < 0 < close.high
    # se 1.5/1.96 each: the interval of B - A is 1 +- 1.96 x sqrt(2) x 1.5 / 1.96
    assert close.high - close.low == pytest.approx(2 * math.sqrt(2) * 1.5)
    bare = compare_capacity(a, CapacityFigure(30.0))
    assert (bare.verdict, bare.significant) == (NO_INTERVAL, False)
    assert "no confidence interval for run B" in bare.note


def test_a_capped_capacity_keeps_only_the_verdict_it_cannot_overturn() -> None:
    capped = CapacityFigure(64.0, 60.0, 64.0, lower_bound=True)
    # B far below a capped A: worse whatever A's true capacity
    assert compare_capacity(capped, CapacityFigure(20.0, 18.0, 22.0)).verdict == WORSE
    # B above a capped A: A may be higher still
    above = compare_capacity(capped, CapacityFigure(90.0, 85.0, 95.0))
    assert (above.verdict, above.note) == (INCONCLUSIVE, "A's capacity is a lower bound")
