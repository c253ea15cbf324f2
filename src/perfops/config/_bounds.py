"""Ranges of the numbers a spec may hold, each with the reason it has that range.

:func:`within` makes a pydantic validator that refuses a value outside ``[low, high]`` (either
end open) with a message naming the range and why: ``gpu.count must be at least 1 and at most
100,000 per service (a bigger fleet is a typo, or several services)``. NaN is outside every
range. The limits themselves are named constants, so the CLI and the docs quote the same
numbers.
"""

from __future__ import annotations

import math

from pydantic import AfterValidator

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_GPUS",
    "MAX_SAMPLES",
    "MAX_SCRAPE_INTERVAL_S",
    "MAX_SLO_WINDOW_S",
    "MIN_SCRAPE_INTERVAL_S",
    "SCRAPE_BODY_BYTES",
    "SCRAPE_SAMPLES",
    "number",
    "within",
]

MAX_GPUS = 100_000
"""GPUs one service may declare; a bigger fleet is a typo (or several services)."""
MIN_SCRAPE_INTERVAL_S = 1.0
"""Scraping faster floods the lake and the target; exporters refresh every second at best
(dcgm-exporter's default collection interval is 30 s)."""
MAX_SCRAPE_INTERVAL_S = 3600.0
"""Slower than hourly leaves hours without a sample, and cost attribution reads hourly rollups."""
MAX_SLO_WINDOW_S = 366 * 86400.0
"""An SLO period of at most a year (28d, 30d and 90d are usual)."""
SCRAPE_BODY_BYTES = 10 * 1024 * 1024
"""Default largest scrape body: the largest real exporter answer in tests/fixtures is 0.4 MB."""
MAX_BODY_BYTES = 256 * 1024 * 1024
"""The largest body limit a target may ask for: parsing costs about 30 times the body."""
SCRAPE_SAMPLES = 500_000
"""Default most samples in one scrape (a node-exporter answer has a few thousand)."""
MAX_SAMPLES = 2_000_000
"""The most samples a target may be allowed: each costs about 500 bytes while parsed."""


def number(x: float) -> str:
    """``x`` as the messages show a limit: ``100,000``, ``0.5``, ``3,600``."""
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


def within(
    low: float | None,
    high: float | None,
    *,
    what: str,
    unit: str = "",
    why: str = "",
    low_open: bool = False,
    high_open: bool = False,
) -> AfterValidator:
    """A validator keeping a number in the range; the error names the range and ``why``."""
    parts = []
    if low is not None:
        parts.append(f"{'above' if low_open else 'at least'} {number(low)}{unit}")
    if high is not None:
        parts.append(f"{'below' if high_open else 'at most'} {number(high)}{unit}")
    message = f"{what} must be {' and '.join(parts)}" + (f" ({why})" if why else "")

    def check(value: float) -> float:
        ok = not (isinstance(value, float) and math.isnan(value))
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            raise ValueError(message)
        return value

    return AfterValidator(check)
