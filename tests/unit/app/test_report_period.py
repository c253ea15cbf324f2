"""The report's periods: a duration ending now, or a calendar month in UTC, each with the
period before it of the same kind."""

from __future__ import annotations

import datetime as dt

import pytest

from perfops.app.report import parse_period
from perfops.errors import UsageError


def ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1000)


NOW = ms(2026, 12, 3, 18, 59)


def test_a_duration_ends_now_and_the_previous_one_precedes_it() -> None:
    label, start, end, prev = parse_period("7d", NOW)
    assert label == "the last 7d"
    assert (start, end) == (NOW - 7 * 86_400_000, NOW)
    assert prev == (NOW - 14 * 86_400_000, NOW - 7 * 86_400_000)


def test_a_past_month_is_whole_and_compared_with_the_month_before() -> None:
    label, start, end, prev = parse_period("month:2026-03", NOW)
    assert label == "March 2026"
    assert (start, end) == (ms(2026, 3, 1), ms(2026, 4, 1))
    assert prev == (ms(2026, 2, 1), ms(2026, 3, 1))  # 28 days: a calendar month, not 31 days


def test_january_is_compared_with_the_december_before() -> None:
    _, start, end, prev = parse_period("month:2026-01", NOW)
    assert (start, end, prev) == (ms(2026, 1, 1), ms(2026, 2, 1), (ms(2025, 12, 1), start))


def test_the_current_month_runs_to_now() -> None:
    label, start, end, _ = parse_period("month:2026-12", NOW)
    assert label == "December 2026 (to date)"
    assert (start, end) == (ms(2026, 12, 1), NOW)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("month:2026-13", "month:YYYY-MM"),
        ("month:2027-01", "has not started yet"),
        ("0s", "is empty"),
        ("fortnight", "--period 'fortnight'"),
    ],
)
def test_bad_periods_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_period(text, NOW)
