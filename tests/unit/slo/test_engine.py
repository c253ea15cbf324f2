"""Golden cases for the SLO engine, each worked out by hand in its comment."""

from __future__ import annotations

import math

import pytest

from perfops.errors import UsageError
from perfops.slo import (
    WINDOW_SET_NAMES,
    AlertWindow,
    burn_rate,
    detection_time_s,
    error_budget,
    evaluate_alerts,
    feasibility,
    increase,
    load_window_set,
    window_counts,
)

H, M, D = 3600.0, 60.0, 86400.0


def test_budget_half_spent() -> None:
    # 99.9% of 1,000,000 -> 1,000 bad allowed; 500 bad spend 50%, leave 50%.
    budget = error_budget(99.9, good=999_500, total=1_000_000)
    assert budget.total_fraction == 0.001
    assert budget.consumed == 0.5
    assert budget.remaining_fraction == 0.5
    assert budget.remaining_pct == 50.0


def test_budget_goes_negative_when_overspent() -> None:
    # 99.9% of 1,000 -> 1 bad allowed; 3 bad spend 300%, leave -200%.
    budget = error_budget(99.9, good=997, total=1_000)
    assert (budget.consumed, budget.remaining_pct) == (3.0, -200.0)


def test_budget_without_traffic_is_untouched() -> None:
    assert error_budget(99.0, good=0, total=0).remaining_pct == 100.0


def test_burn_rate_is_exact() -> None:
    # 72 bad of 5,000 = 1.44% errors; / 0.1% budget = 14.4x exactly (floats alone give 14.3999...).
    assert burn_rate(72, 5_000, 99.9) == 14.4


def test_burn_rate_without_traffic_is_nan() -> None:
    assert math.isnan(burn_rate(0, 0, 99.9))


def test_objective_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(0, 100\]"):
        burn_rate(1, 10, 120.0)


GOOGLE = load_window_set("google-30d")
# 99.9%: budget 0.001. Burn = bad/total/0.001.
COUNTS = {
    1 * H: (4_900, 5_000),  # 100 bad -> 2% -> 20x
    5 * M: (490, 500),  # 10 bad -> 2% -> 20x
    6 * H: (29_964, 30_000),  # 36 bad -> 0.12% -> 1.2x
    30 * M: (2_995, 3_000),  # 5 bad -> 1.667x
    1 * D: (119_850, 120_000),  # 150 bad -> 1.25x
    2 * H: (9_988, 10_000),  # 12 bad -> 1.2x
    3 * D: (359_600, 360_000),  # 400 bad -> 1.111x
}


def _firing(counts: dict[float, tuple[float, float]], min_events: int = 0) -> list[bool]:
    states = evaluate_alerts(counts, 99.9, GOOGLE, min_events=min_events)
    return [s.firing for s in states]


def test_page_and_ticket_fire_when_both_windows_exceed() -> None:
    # page 14.4x: 20x and 20x -> fires.   page 6x: 1.2x, 1.667x -> no.
    # ticket 3x: 1.25x, 1.2x -> no.       ticket 1x: 3d 1.111x and 6h 1.2x -> fires.
    states = evaluate_alerts(COUNTS, 99.9, GOOGLE, min_events=0)
    assert [(s.severity, s.factor, s.firing) for s in states] == [
        ("page", 14.4, True),
        ("page", 6.0, False),
        ("ticket", 3.0, False),
        ("ticket", 1.0, True),
    ]
    assert states[0].long_burn == 20.0
    assert "both above 14.4x" in states[0].reason


def test_page_needs_the_short_window_too() -> None:
    # 1h still 20x, but 5m has 1 bad of 500 -> 2x: the outage is over, no page.
    states = evaluate_alerts({**COUNTS, 5 * M: (499, 500)}, 99.9, GOOGLE, min_events=0)
    assert not states[0].firing
    assert states[0].reason == "5m burn not above 14.4x"


def test_threshold_is_strict_and_exact() -> None:
    # 72 bad of 5,000 in 1h is exactly 14.4x: equal, not above, so no page.
    states = evaluate_alerts({**COUNTS, 1 * H: (4_928, 5_000)}, 99.9, GOOGLE, min_events=0)
    assert states[0].long_burn == 14.4
    assert not states[0].firing


def test_low_traffic_guard_holds_the_page() -> None:
    # 1h saw 5,000 events < 10,000 required: burning 20x but not trusted.
    states = evaluate_alerts(COUNTS, 99.9, GOOGLE, min_events=10_000)
    assert not states[0].firing
    assert states[0].reason.startswith("low traffic: 1h window has 5000 events")


def test_missing_window_is_named() -> None:
    counts = {k: v for k, v in COUNTS.items() if k != 3 * D}
    with pytest.raises(ValueError, match="3d"):
        evaluate_alerts(counts, 99.9, GOOGLE, min_events=0)


def test_feasibility_flags_the_page_on_93_percent() -> None:
    # 14.4 x 7% = 100.8% error ratio: impossible. Needs > 1 - 1/14.4 = 93.06%. 6x: 42%, fine.
    (warning,) = feasibility(93.0, GOOGLE)
    assert warning.startswith("page alert 1h/5m at 14.4x can never fire on a 93% objective")
    assert "above 93.06%" in warning


def test_feasibility_is_quiet_when_all_alerts_can_fire() -> None:
    # Pyrra's 14x: 14 x 7% = 98% < 100%.
    assert feasibility(93.0, load_window_set("pyrra")) == []


def test_detection_time_for_a_total_outage() -> None:
    # t = b·B·L/e = 14.4 x 0.001 x 3600 s / 1.0 = 51.84 s (0.86 min, the workbook's figure).
    assert detection_time_s(1.0, 14.4, 0.001, 3600) == pytest.approx(51.84)


def test_google_set_keeps_windows_and_scales_factor_for_28d() -> None:
    # Sloth's google-28d: same windows; 2% x 672h / 1h = 13.44 = 14.4 x 28/30.
    scaled = load_window_set("google-30d", period_s=28 * D)
    assert scaled.windows[0] == AlertWindow("page", 1 * H, 5 * M, 13.44)
    assert [w.factor for w in scaled.windows] == [13.44, 5.6, 2.8, 28 / 30]


def test_pyrra_set_keeps_factors_and_scales_windows() -> None:
    # Defined for 28d: 1h/5m 14x, 6h/30m 7x, 1d/2h 2x, 4d/6h 1x. A 30d SLO stretches by 30/28.
    assert load_window_set("pyrra").windows[3] == AlertWindow("ticket", 4 * D, 6 * H, 1.0)
    stretched = load_window_set("pyrra", period_s=30 * D).windows[0]
    assert stretched.factor == 14.0
    assert stretched.long_s == pytest.approx(H * 30 / 28)


def test_unknown_window_set_lists_the_valid_ones() -> None:
    with pytest.raises(UsageError, match="google-30d, pyrra"):
        load_window_set("google-7d")
    assert WINDOW_SET_NAMES == ("google-30d", "pyrra")


SEC = 1000  # ms


@pytest.mark.parametrize(
    ("ts_s", "values", "expected"),
    [
        # Window (0s, 60s]. Samples every 15s: delta 30 over 45s, first sample 15s from the start
        # (< 1.1 x 15s) -> extrapolate to both edges: 30 x 60/45 = 40.
        ([15, 30, 45, 60], [10, 20, 30, 40], 40.0),
        # Zero clamp: delta 45 over 45s hits 0 at 45 x 5/45 = 5s before the first sample, sooner
        # than the 15s edge -> extrapolate only 5s: 45 x 50/45 = 50.
        ([15, 30, 45, 60], [5, 20, 35, 50], 50.0),
        # Reset at 45s (20 -> 5): 15 - 10 + 20 = 25; zero point 45 x 10/25 = 18s > 15s:
        # 25 x 60/45 = 33.33...
        ([15, 30, 45, 60], [10, 20, 5, 15], 100 / 3),
        # Series starts late: first sample 40s from the start, > 1.1 x 10s average -> extend by
        # only half an interval (5s): 20 x 25/20 = 25.
        ([40, 50, 60], [100, 110, 120], 25.0),
        # Left-open range: the sample at 0s is outside (0s, 60s]. 10 -> 20 over 30s, 30s to the
        # start < 33s threshold, zero point also 30s: 10 x 60/30 = 20 (a closed range gives 15).
        ([0, 30, 60], [5, 10, 20], 20.0),
    ],
)
def test_increase_matches_prometheus(ts_s: list[int], values: list[float], expected: float) -> None:
    ts_ms = [t * SEC for t in ts_s]
    assert increase(ts_ms, values, 0, 60 * SEC) == pytest.approx(expected, rel=1e-12)


def test_increase_needs_two_samples() -> None:
    assert math.isnan(increase([60 * SEC], [5.0], 0, 60 * SEC))


def test_window_counts_feed_evaluate_alerts() -> None:
    # total grows 10/s and good 9.9/s (1% errors), scraped every 15s for 1h.
    ts_ms = [t * 15 * SEC for t in range(241)]
    total = [10.0 * t * 15 for t in range(241)]
    good = [9.9 * t * 15 for t in range(241)]
    counts = window_counts(ts_ms, good, total, end_ms=3600 * SEC, windows_s=[60.0, 300.0])
    # 60s window: samples at 3555..3600s, extrapolated to the edge: exactly 10/s x 60s = 600.
    assert counts[60.0] == pytest.approx((594.0, 600.0))
    good_5m, total_5m = counts[300.0]
    assert burn_rate(total_5m - good_5m, total_5m, 99.0) == pytest.approx(1.0)  # 1% / 1%
    assert counts[300.0][1] == pytest.approx(3000.0)
