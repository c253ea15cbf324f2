"""Cost attribution golden cases, each worked out by hand in its comment."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perfops.config import parse_config
from perfops.errors import PerfopsError
from perfops.finops import (
    DAY_MS,
    IDLE,
    SHARED,
    Attribution,
    Declared,
    SharedItem,
    UsageRow,
    attribute,
    declared_from_services,
    declared_usage,
    fill_gaps,
    price_book,
    shared_items,
)

H = 3_600_000
PRICES = {"H100": Decimal("4.00"), "L40S": Decimal("1.00")}.__getitem__

# Two hours on day 0:
#   g0 H100 held by chat all 2 h, 50% busy          2 h x $4 = $8
#   g1 H100 held by search 1 h (25% busy), then nobody   $4 + $4
#   g2 L40S held by nobody for 2 h                  2 h x $1 = $2
# The bill: $18.00.
ROWS = [
    UsageRow(0, H, "g0", "H100", "chat", "llama", "assistant", activity=0.5),
    UsageRow(H, 2 * H, "g0", "H100", "chat", "llama", "assistant", activity=0.5),
    UsageRow(0, H, "g1", "H100", "search", "mistral", "web", activity=0.25),
    UsageRow(H, 2 * H, "g1", "H100", None),
    UsageRow(0, H, "g2", "L40S", None),
    UsageRow(H, 2 * H, "g2", "L40S", None),
]


def costs(result: Attribution) -> dict[str, tuple[str, str, str]]:
    """service -> (gpu, idle, shared) as strings, for one-bucket results."""
    return {
        line.service: (str(line.gpu_cost), str(line.idle_cost), str(line.shared_cost))
        for line in result.lines
    }


def assert_conserved(result: Attribution) -> None:
    assert sum(line.total for line in result.lines) == result.paid
    assert result.paid == result.gpu_paid + result.shared_paid


def test_allocation_basis_charges_held_time_and_shows_idle_apart() -> None:
    # chat holds 2 h ($8), search 1 h ($4); idle = g1's free hour $4 + the L40S $2 = $6.
    result = attribute(ROWS, PRICES)
    assert costs(result) == {
        "chat": ("8.00", "0.00", "0.00"),
        "search": ("4.00", "0.00", "0.00"),
        IDLE: ("0.00", "6.00", "0.00"),
    }
    assert result.paid == Decimal("18.00")
    assert result.idle_cost == Decimal("6.00")
    assert_conserved(result)


def test_lines_carry_owner_labels_and_seconds() -> None:
    chat, search, idle = attribute(ROWS, PRICES).lines
    assert (chat.model, chat.team, chat.tenant) == ("llama", "assistant", None)
    assert (chat.gpu_seconds, chat.busy_gpu_seconds) == (7200.0, 3600.0)  # 2 h at 50%
    assert (search.gpu_seconds, search.busy_gpu_seconds) == (3600.0, 900.0)
    assert idle.gpu_seconds == 3 * 3600.0  # g1 1 h + g2 2 h
    assert (chat.start_ms, chat.end_ms) == (0, DAY_MS)


def test_usage_basis_charges_busy_time_and_the_rest_is_idle() -> None:
    # chat $8 x 0.5 = $4; search $4 x 0.25 = $1; idle = $18 - $5 = $13.
    result = attribute(ROWS, PRICES, basis="usage")
    assert costs(result) == {
        "chat": ("4.00", "0.00", "0.00"),
        "search": ("1.00", "0.00", "0.00"),
        IDLE: ("0.00", "13.00", "0.00"),
    }
    idle = result.lines[-1]
    assert idle.gpu_seconds == 7200 * 0.5 + 3600 * 0.75 + 3 * 3600  # 16,200 idle GPU-seconds
    assert_conserved(result)


def test_usage_basis_idle_shared_by_weight() -> None:
    # $13 idle split 4:1 by usage cost: chat $10.40, search $2.60.
    result = attribute(ROWS, PRICES, basis="usage", idle="weighted")
    assert costs(result) == {
        "chat": ("4.00", "10.40", "0.00"),
        "search": ("1.00", "2.60", "0.00"),
    }
    assert result.idle_cost == Decimal("13.00")
    assert_conserved(result)


def test_usage_basis_idle_shared_evenly() -> None:
    # $13 idle / 2 lines = $6.50 each.
    result = attribute(ROWS, PRICES, basis="usage", idle="even")
    assert costs(result) == {
        "chat": ("4.00", "6.50", "0.00"),
        "search": ("1.00", "6.50", "0.00"),
    }


# $730 a month is $1 an hour (730 h months); the two-hour window carries $2.00.
MONTHLY = Decimal(730)


def test_shared_cost_weighted_by_gpu_cost_with_largest_remainder() -> None:
    # $2.00 split 8:4 -> 133.33 and 66.67 cents; floors 133 + 66 = 199, the spare cent goes to
    # the larger remainder (.67): chat $1.33, search $0.67. Idle ($6) is not a sharer.
    result = attribute(ROWS, PRICES, shared=[SharedItem("control-plane", MONTHLY)])
    assert costs(result) == {
        "chat": ("8.00", "0.00", "1.33"),
        "search": ("4.00", "0.00", "0.67"),
        IDLE: ("0.00", "6.00", "0.00"),
    }
    assert result.paid == Decimal("20.00")
    assert result.shared_by_item == {"control-plane": Decimal("2.00")}
    assert_conserved(result)


def test_hourly_shared_cost_restricted_to_named_services() -> None:
    # $0.75/h x 2 h = $1.50, all on search (the only named service).
    item = SharedItem("vector-db", Decimal("0.75"), per="hour", split="even", services=("search",))
    assert costs(attribute(ROWS, PRICES, shared=[item]))["search"] == ("4.00", "0.00", "1.50")


def test_shared_cost_not_split_is_its_own_line() -> None:
    result = attribute(ROWS, PRICES, shared=[SharedItem("audit", MONTHLY, split="none")])
    assert costs(result)[SHARED] == ("0.00", "0.00", "2.00")
    assert_conserved(result)


def test_shared_cost_for_services_absent_stays_apart() -> None:
    item = SharedItem("gone", MONTHLY, services=("retired",))
    assert costs(attribute(ROWS, PRICES, shared=[item]))[SHARED] == ("0.00", "0.00", "2.00")


def test_a_third_of_a_dollar_three_ways_still_adds_up() -> None:
    # Three services hold a $1/h GPU for 20 min each: $0.3333... each, bill $1.00.
    # Floors 33 + 33 + 33 = 99; the spare cent goes to the first line.
    third = H // 3
    rows = [UsageRow(i * third, (i + 1) * third, "g", "L40S", f"s{i}") for i in range(3)]
    result = attribute(rows, PRICES)
    assert [line.gpu_cost for line in result.lines] == [
        Decimal("0.34"),
        Decimal("0.33"),
        Decimal("0.33"),
    ]
    assert result.paid == Decimal("1.00")


def test_idle_with_nobody_to_share_it_never_vanishes() -> None:
    # Day 0: chat holds g0 1 h ($4). Day 1: g0 idle 1 h ($4), no one active that day.
    rows = [
        UsageRow(0, H, "g0", "H100", "chat"),
        UsageRow(DAY_MS, DAY_MS + H, "g0", "H100", None),
    ]
    result = attribute(rows, PRICES, idle="weighted")
    by_day = [(line.start_ms // DAY_MS, line.service, line.total) for line in result.lines]
    assert by_day == [(0, "chat", Decimal("4.00")), (1, IDLE, Decimal("4.00"))]
    assert result.paid == Decimal("8.00")


def test_missing_activity_counts_as_busy_and_is_reported() -> None:
    # No activity reading for chat's hour: usage basis charges it all ($4), invents no idle.
    rows = [UsageRow(0, H, "g0", "H100", "chat")]
    result = attribute(rows, PRICES, basis="usage")
    assert costs(result) == {"chat": ("4.00", "0.00", "0.00")}
    assert result.unmeasured_gpu_seconds == 3600.0


def test_window_clips_rows() -> None:
    # Window [0:30, 1:30): half of each first-hour row and half of each second-hour row.
    # chat 1 h $4, search 0.5 h $2, idle 0.5 h H100 $2 + 1 h L40S $1 = $3.
    result = attribute(ROWS, PRICES, window=(H // 2, 3 * H // 2), bucket_ms=None)
    assert costs(result) == {
        "chat": ("4.00", "0.00", "0.00"),
        "search": ("2.00", "0.00", "0.00"),
        IDLE: ("0.00", "3.00", "0.00"),
    }
    assert (result.lines[0].start_ms, result.lines[0].end_ms) == (H // 2, 3 * H // 2)


def test_hourly_buckets() -> None:
    # Hour 0: chat $4, search $4, idle L40S $1. Hour 1: chat $4, idle $4 + $1.
    result = attribute(ROWS, PRICES, bucket_ms=H)
    assert [(line.start_ms // H, line.service, str(line.total)) for line in result.lines] == [
        (0, "chat", "4.00"),
        (0, "search", "4.00"),
        (0, IDLE, "1.00"),
        (1, "chat", "4.00"),
        (1, IDLE, "5.00"),
    ]


def test_catalog_prices_through_the_price_book() -> None:
    # One H100-SXM hour at the sim default (AWS on demand) $6.88, one H200 hour $7.912 -> $14.79
    # (6.88 + 7.912 = 14.792, rounded once).
    prices = price_book(parse_config("apiVersion: perfops/v1\n").pricing)
    rows = [UsageRow(0, H, "a", "H100", "chat"), UsageRow(0, H, "b", "NVIDIA H200", "chat")]
    result = attribute(rows, prices.hourly)
    assert result.paid == Decimal("14.79")


def test_shared_items_from_perfops_yaml() -> None:
    config = parse_config(
        "apiVersion: perfops/v1\npricing:\n  shared:\n"
        "    - {name: cp, monthly: 146}\n    - {name: obs, hourly: 0.1, split: none}\n"
    )
    items = shared_items(config.pricing)
    assert [(i.name, i.amount, i.per, i.split) for i in items] == [
        ("cp", Decimal("146"), "month", "weighted"),
        ("obs", Decimal("0.1"), "hour", "none"),
    ]


def test_declared_gpus_without_telemetry() -> None:
    # 2 H100 x 24 h x $4 = $192; 1 L40S x 24 h x $1 = $24.
    config = parse_config(
        "apiVersion: perfops/v1\nservices:\n"
        "  - {name: chat, endpoint: 'http://h:1/v1', model: m, gpu: {type: H100, count: 2}}\n"
        "  - {name: emb, endpoint: 'http://h:2/v1', model: e, gpu: {type: L40S}}\n"
    )
    declared = declared_from_services(config.services)
    assert declared[0] == Declared("chat", "H100", 2, "m", "default", None)
    result = attribute(declared_usage(declared, 0, DAY_MS), PRICES)
    assert {line.service: line.gpu_cost for line in result.lines} == {
        "chat": Decimal("192.00"),
        "emb": Decimal("24.00"),
    }


def test_unreported_time_of_a_paid_fleet_becomes_idle() -> None:
    # Fleet g0, g1 (H100) paid for 3 h; telemetry saw g0 for its first hour only.
    # chat $4; idle = g0 2 h + g1 3 h = 5 h x $4 = $20.
    rows = fill_gaps([UsageRow(0, H, "g0", "H100", "chat")], {"g0": "H100", "g1": "H100"}, 0, 3 * H)
    assert costs(attribute(rows, PRICES)) == {
        "chat": ("4.00", "0.00", "0.00"),
        IDLE: ("0.00", "20.00", "0.00"),
    }


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (UsageRow(H, H, "g", "H100", "chat"), "ends at or before its start"),
        (UsageRow(0, H, "g", "H100", "chat", activity=1.5), "has activity outside"),
    ],
)
def test_bad_rows_are_refused_with_their_number(row: UsageRow, message: str) -> None:
    with pytest.raises(PerfopsError, match=f"usage row 1 {message}"):
        attribute([ROWS[0], row], PRICES)


def test_negative_price_is_refused() -> None:
    with pytest.raises(PerfopsError, match="price of H100 is negative"):
        attribute(ROWS[:1], {"H100": Decimal("-1")}.__getitem__)


def test_no_rows_and_no_window_is_an_error() -> None:
    with pytest.raises(PerfopsError, match="nothing to attribute"):
        attribute([], PRICES)
