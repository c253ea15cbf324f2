"""What every section of the leadership report shares: the period, the services in scope,
the lake's table versions read once at the start (so every footnote cites the same snapshot),
and the one way a figure is made and a sum of money is written."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from perfops._internal.provenance import Figure, Source
from perfops.app.runtime import Runtime
from perfops.config import SLO, Service

__all__ = ["Ctx", "day", "money", "pct", "rate"]

_MONTH_DAYS = 30.0


def day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d")


def stamp(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def money(amount: Decimal | float, currency: str) -> str:
    value = Decimal(str(amount)) if not isinstance(amount, Decimal) else amount
    return f"{value:,.2f} {currency}"


def pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}%"


def rate(value: float | None, unit: str, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:,.{digits}f} {unit}"


@dataclass
class Ctx:
    """One report's build: the runtime, the period ``[start_ms, end_ms)``, the previous
    period of the same length, the services and SLOs in scope and the table versions."""

    rt: Runtime
    period: str
    start_ms: int
    end_ms: int
    prev: tuple[int, int]
    services: list[Service]
    slos: list[SLO]
    versions: dict[str, int]
    scoped: bool = False  # some services chosen: the fleet's idle and shared costs are apart
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return self.rt.config.pricing.currency

    @property
    def month_factor(self) -> float:
        """What a figure of the period is per 30-day month."""
        return _MONTH_DAYS * 86_400_000 / (self.end_ms - self.start_ms)

    @property
    def names(self) -> set[str]:
        return {s.name for s in self.services}

    def source(self, call: str, *tables: str, query: str | None = None) -> Source:
        return Source(call, query, tuple((t, self.versions[t]) for t in tables))

    def fig(
        self,
        key: str,
        text: str,
        value: float | int | str | None,
        source: Source,
    ) -> Figure:
        return Figure(text, source, value, key)

    def money_fig(self, key: str, amount: Decimal | None, source: Source) -> Figure:
        if amount is None:
            return Figure("n/a", source, None, key)
        return Figure(money(amount, self.currency), source, str(amount), key)
