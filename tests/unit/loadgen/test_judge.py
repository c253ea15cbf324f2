"""The one SLO judge: nearest-rank percentiles by hand, the minimum run length, and the same
verdict whether a run comes from a load test's records or from plain arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perfops.loadgen.judge import LatencySamples, judge, min_samples
from perfops.loadgen.records import RequestRecord
from perfops.loadgen.slo import Threshold, parse_slo
from perfops.loadgen.summary import summarize

MS = 1_000_000  # ns


def records(ttft_ms: list[int]) -> list[RequestRecord]:
    """One finished request per TTFT, scheduled 10 ms apart and sent on time."""
    out = []
    for i, ttft in enumerate(ttft_ms):
        t0 = 1_000 * MS + i * 10 * MS
        out.append(
            RequestRecord(
                i,
                t0,
                t0,
                t0 + ttft * MS,
                t0 + (ttft + 40) * MS,
                100,
                5,
                "usage",
                200,
                None,
                [10 * MS] * 4,
                5,
            )  # fmt: skip
        )
    return out


# 200 requests with TTFTs of 1..200 ms, in a scrambled order. By hand, nearest rank
# (the value at rank ceil(q/100 x 200)): p50 = the 100th = 100 ms, p90 = the 180th = 180 ms,
# p95 = the 190th = 190 ms, p99 = the 198th = 198 ms.
TTFTS = [int(v) for v in np.random.default_rng(3).permutation(np.arange(1, 201))]
HAND = {50: 100, 90: 180, 95: 190, 99: 198}


@pytest.mark.parametrize("q", sorted(HAND))
def test_verdict_matches_a_hand_computation(q: int) -> None:
    hand = HAND[q]
    summary_at = summarize(records(TTFTS), parse_slo(f"ttft_p{q}={hand}ms"))
    summary_below = summarize(records(TTFTS), parse_slo(f"ttft_p{q}={hand - 1}ms"))
    assert summary_at.slo_met is True  # observed == limit meets it
    assert summary_below.slo_met is False  # one millisecond less does not
    detail = summary_at.slo_detail[f"ttft_p{q}"]
    assert detail["observed_ms"] == pytest.approx(hand)
    assert detail["margin"] == pytest.approx(1.0)
    assert summary_at.latency_ms["ttft"][f"p{q}"] == pytest.approx(hand)  # one definition
    # the same verdict from plain arrays, as the virtual-time driver hands them in
    arrays = LatencySamples(
        ttft=np.array(TTFTS, dtype=float) / 1000, tpot=np.zeros(0), e2e=np.zeros(0),
        itl=np.zeros(0), requests=len(TTFTS),
    )  # fmt: skip
    assert judge(arrays, [Threshold("ttft", q, hand / 1000)]).met is True
    assert judge(arrays, [Threshold("ttft", q, (hand - 1) / 1000)]).met is False


def test_weighted_itl_counts_each_gap_as_often_as_its_weight() -> None:
    """A gap of weight w is w samples: p95 of {10 ms x 90, 20 ms x 5, 30 ms x 5} is the 95th
    of 100, 20 ms; judged at p90 instead it would be 10 ms."""
    samples = LatencySamples(
        ttft=np.zeros(0), tpot=np.zeros(0), e2e=np.zeros(0),
        itl=np.array([0.030, 0.010, 0.020]), itl_weights=np.array([5.0, 90.0, 5.0]),
        requests=10,
    )  # fmt: skip
    (p95,) = judge(samples, [Threshold("itl", 95, 0.015)]).thresholds
    assert p95.observed_s == pytest.approx(0.020)
    assert not p95.met
    assert p95.samples == 100
    assert judge(samples, [Threshold("itl", 90, 0.015)]).met is True


def test_minimum_samples_per_percentile() -> None:
    """n_min(q) is the smallest n with (q/100)^n <= 0.05, about 3 x 100/(100 - q)."""
    assert {q: min_samples(q) for q in (50, 90, 95, 99, 99.9)} == {
        50: 5, 90: 29, 95: 59, 99: 299, 99.9: 2995,
    }  # fmt: skip
    for q in (50, 75, 90, 95, 99, 99.5, 99.9):
        n = min_samples(q)
        assert (q / 100) ** n <= 0.05 < (q / 100) ** (n - 1)
    assert min_samples(100) == 1  # the maximum is judged on the run as observed


def test_a_short_run_is_invalid_with_its_reason() -> None:
    short = summarize(records(TTFTS[:40]), parse_slo("ttft_p99=1s,ttft_p90=1s"))
    assert short.slo_met is True  # the percentiles are still computed and judged
    assert not short.valid
    assert short.invalid == [
        "too short: ttft_p99 rests on 40 samples, fewer than the 299 a p99 needs"
    ]
    assert short.as_dict()["valid"] is False
    long_enough = summarize(records(TTFTS), parse_slo("ttft_p95=1s"))  # 200 >= 59
    assert long_enough.valid


def test_a_failed_request_fails_the_slo_and_has_no_margin() -> None:
    runs = records(TTFTS)
    runs[7].error, runs[7].end_ns = "http_503", None
    summary = summarize(runs, parse_slo("ttft_p50=1s"))
    assert summary.slo_met is False
    assert summary.slo_margin == math.inf
    assert summary.as_dict()["slo_margin"] is None
