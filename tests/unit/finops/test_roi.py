"""ROI of a change, worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perfops.errors import PerfopsError
from perfops.finops import RunEconomics, compare, gpus_needed


def test_faster_engine_on_the_same_gpus() -> None:
    # Before: 1,000 tok/s per H100 at $6.88; after an engine upgrade: 1,250 tok/s (+25%).
    # At 10,000 tok/s and 80% utilisation: ceil(10,000 / 800) = 13 GPUs before,
    # ceil(10,000 / 1,000) = 10 after. Month = 730 h:
    #   13 x 6.88 x 730 = $65,291.20; 10 x 6.88 x 730 = $50,224.00; saving $15,067.20.
    # A $30,134.40 migration pays back in 2.00 months.
    # $/1M tokens from capacity: 6.88 / (1,000 x 3,600 x 0.8) x 1e6 = 2.388889;
    #                            6.88 / (1,250 x 3,600 x 0.8) x 1e6 = 1.911111.
    before = RunEconomics(1_000.0, Decimal("6.88"), gpus=13)
    after = RunEconomics(1_250.0, Decimal("6.88"), gpus=13)
    roi = compare(
        before, after, traffic=10_000, one_off_cost=Decimal("30134.40"), utilisation_target=0.8
    )
    assert roi.capacity_change == pytest.approx(0.25)
    assert roi.fleet_capacity_change == pytest.approx(0.25)
    assert (roi.gpus_before, roi.gpus_after) == (13, 10)
    assert roi.monthly_cost_before == Decimal("65291.20")
    assert roi.monthly_cost_after == Decimal("50224.00")
    assert roi.monthly_savings == Decimal("15067.20")
    assert roi.payback_months == Decimal("2.00")
    assert roi.cost_per_1m_before == Decimal("2.388889")
    assert roi.cost_per_1m_after == Decimal("1.911111")
    assert roi.cost_per_1m_change == Decimal("-0.477778")


def test_measured_cost_per_token_is_used_when_given() -> None:
    before = RunEconomics(500.0, Decimal("3.43"), 4, cost_per_1m=Decimal("2.10"))
    after = RunEconomics(1_000.0, Decimal("6.88"), 2, cost_per_1m=Decimal("2.05"))
    roi = compare(before, after, traffic=1_000)
    assert roi.cost_per_1m_change == Decimal("-0.05")


def test_a_change_that_costs_more_never_pays_back() -> None:
    # Same capacity on a pricier GPU: 2 x 3.43 x 730 = 5,007.80 vs 2 x 6.88 x 730 = 10,044.80.
    before = RunEconomics(1_000.0, Decimal("3.43"), 2)
    after = RunEconomics(1_000.0, Decimal("6.88"), 2)
    roi = compare(before, after, traffic=2_000, one_off_cost=100)
    assert roi.monthly_savings == Decimal("-5037.00")
    assert roi.payback_months is None


def test_gpus_needed_uses_face_values() -> None:
    # Face values, not binary doubles, decide the ceiling.
    assert gpus_needed(10_000, 2_000, 0.5) == 10
    assert gpus_needed(2.1, 0.7) == 3  # floats say 2.1 / 0.7 = 3.0000000000000004 -> 4
    assert gpus_needed(0, 100) == 0


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(PerfopsError, match="utilisation"):
        gpus_needed(1, 1, 1.5)
    with pytest.raises(PerfopsError, match="capacity"):
        RunEconomics(0.0, Decimal(1), 1)
