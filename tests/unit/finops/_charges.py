"""A factory of perfops charges for the FOCUS tests: one day of March 2026 each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from perfops.finops import Charge

MONTH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
DAY = timedelta(days=1)


def charge(day: int = 1, cost: str = "10.00", **kw: object) -> Charge:
    start = MONTH[0] + (day - 1) * DAY
    fields: dict[str, object] = {
        "charge_start": start,
        "charge_end": start + DAY,
        "billing_start": MONTH[0],
        "billing_end": MONTH[1],
        "cost": Decimal(cost),
        "gpu_seconds": 3600.0,
        **kw,
    }
    return Charge(**fields)  # type: ignore[arg-type]
