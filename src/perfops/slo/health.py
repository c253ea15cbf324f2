"""An SLO's state in words a non-SRE reads: *healthy*, *recovering*, *at risk* or *breached*,
from its error budget and burn rates, with the reason naming the numbers behind it.

- **breached**: the budget of the SLO period is spent (remaining <= 0): the objective is
  missed for this period whatever happens next.
- **at risk**: an alert fires now, or the longest alert window burns faster than 1x (the
  budget runs out before the period ends at that pace), or less than ``low_pct`` of the
  budget is left.
- **recovering**: none of those, but the period under review had bad spells (an incident,
  or its attainment below the objective): the short windows are back under 1x.
- **healthy**: otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["HealthState", "SloHealth", "slo_health"]

HealthState = Literal["healthy", "recovering", "at risk", "breached"]


@dataclass(frozen=True, slots=True)
class SloHealth:
    state: HealthState
    reason: str


def _burns(burn_rates: Mapping[str, float], most: int = 4) -> str:
    """The burn rates as ``1h 0.44x, 6h 0.40x, ...``: at most ``most`` windows, the shortest
    and the longest always among them."""
    shown = [f"{w} {b:.2f}x" for w, b in burn_rates.items() if math.isfinite(b)]
    if len(shown) > most:
        step = (len(shown) - 1) / (most - 1)
        shown = [shown[round(i * step)] for i in range(most)]
    return ", ".join(shown) if shown else "no burn windows with events"


def slo_health(
    *,
    remaining_pct: float,
    burn_rates: Mapping[str, float],
    firing: tuple[str, ...] = (),
    bad_spell: bool = False,
    low_pct: float = 25.0,
) -> SloHealth:
    """The state of an SLO whose period budget has ``remaining_pct`` left, whose alert windows
    (short to long, as the window set lists them) burn at ``burn_rates``, with ``firing``
    alerts, and whether the reviewed period had a bad spell (an incident or a missed
    objective)."""
    burns = _burns(burn_rates)
    if remaining_pct <= 0:
        return SloHealth("breached", f"{100 - remaining_pct:.1f}% of the budget spent ({burns})")
    if firing:
        return SloHealth("at risk", f"alert firing: {', '.join(firing)} ({burns})")
    finite = [b for b in burn_rates.values() if math.isfinite(b)]
    if finite and finite[-1] > 1:
        return SloHealth(
            "at risk",
            f"the longest window burns {finite[-1]:.2f}x: the budget runs out before the "
            f"period ends at this pace ({burns})",
        )
    if remaining_pct < low_pct:
        return SloHealth("at risk", f"only {remaining_pct:.1f}% of the budget left ({burns})")
    if bad_spell:
        return SloHealth("recovering", f"bad spell in the period, burning under 1x now ({burns})")
    return SloHealth("healthy", f"{remaining_pct:.1f}% of the budget left ({burns})")
