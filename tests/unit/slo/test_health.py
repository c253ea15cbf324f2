"""The SLO states a leadership report shows, from the budget and the burn rates."""

from __future__ import annotations

import math

import pytest

from perfops.slo import slo_health

CALM = {"5m": 0.2, "1h": 0.3, "6h": 0.4, "3d": 0.5}


@pytest.mark.parametrize(
    ("kwargs", "state"),
    [
        ({"remaining_pct": 0.0, "burn_rates": CALM}, "breached"),
        ({"remaining_pct": -50.0, "burn_rates": CALM, "bad_spell": True}, "breached"),
        ({"remaining_pct": 80.0, "burn_rates": CALM, "firing": ("page 1h/5m",)}, "at risk"),
        ({"remaining_pct": 80.0, "burn_rates": {**CALM, "3d": 1.01}}, "at risk"),
        ({"remaining_pct": 24.9, "burn_rates": CALM}, "at risk"),
        ({"remaining_pct": 25.0, "burn_rates": CALM}, "healthy"),
        ({"remaining_pct": 80.0, "burn_rates": CALM, "bad_spell": True}, "recovering"),
        ({"remaining_pct": 80.0, "burn_rates": {**CALM, "5m": 9.0}}, "healthy"),
        ({"remaining_pct": 80.0, "burn_rates": {"1h": math.nan}}, "healthy"),
    ],
)
def test_each_state_and_its_boundary(kwargs: dict, state: str) -> None:
    assert slo_health(**kwargs).state == state


def test_the_reason_names_the_numbers_behind_the_state() -> None:
    breached = slo_health(remaining_pct=-20.0, burn_rates=CALM)
    assert breached.reason.startswith("120.0% of the budget spent")
    risk = slo_health(remaining_pct=80.0, burn_rates={**CALM, "3d": 1.5})
    assert "the longest window burns 1.50x" in risk.reason
    firing = slo_health(remaining_pct=80.0, burn_rates=CALM, firing=("ticket 3d/6h",))
    assert "alert firing: ticket 3d/6h" in firing.reason


def test_at_most_four_burn_windows_are_named_the_shortest_and_longest_among_them() -> None:
    burns = {w: 0.1 * i for i, w in enumerate(("5m", "30m", "1h", "2h", "6h", "1d", "3d"), 1)}
    reason = slo_health(remaining_pct=90.0, burn_rates=burns).reason
    named = [part.split()[0] for part in reason.split("(", 1)[1].rstrip(")").split(", ")]
    assert len(named) == 4
    assert named[0] == "5m"
    assert named[-1] == "3d"
    assert "no burn windows" in slo_health(remaining_pct=90.0, burn_rates={}).reason
