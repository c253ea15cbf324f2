"""Burn-rate alert window sets, loaded from the YAML files bundled in ``slo/windows/``.

Each file cites where its numbers come from and says how it adapts to an SLO period other
than the one it was written for:

* ``scaling: factor`` (Sloth, google-30d): the windows stay fixed and the factor scales with
  the period, so each alert still fires after the same share of the budget is spent. A 28d SLO
  gets 14.4 x 28/30 = 13.44, exactly Sloth's ``google-28d.yaml``.
* ``scaling: windows`` (Pyrra): the factors stay fixed and every window scales with the period.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from perfops._internal.durations import parse_duration
from perfops.errors import UsageError

__all__ = ["WINDOW_SET_NAMES", "AlertWindow", "WindowSet", "load_window_set"]

WINDOW_SET_NAMES = ("google-30d", "pyrra")

Severity = Literal["page", "ticket"]
Scaling = Literal["factor", "windows"]


@dataclass(frozen=True, slots=True)
class AlertWindow:
    """One multiwindow alert: fire when both windows burn faster than ``factor``."""

    severity: Severity
    long_s: float
    short_s: float
    factor: float


@dataclass(frozen=True, slots=True)
class WindowSet:
    """The alerts of one window set, resolved for an SLO period of ``period_s`` seconds."""

    name: str
    source: str
    period_s: float
    scaling: Scaling
    windows: tuple[AlertWindow, ...]

    def for_period(self, period_s: float) -> WindowSet:
        """This set adapted to an SLO period of ``period_s`` seconds (see module docstring)."""
        if period_s <= 0:
            raise ValueError(f"an SLO period must be positive, got {period_s}s")
        ratio = Fraction(period_s) / Fraction(self.period_s)
        windows = tuple(_scale(w, ratio, self.scaling) for w in self.windows)
        return replace(self, period_s=float(period_s), windows=windows)

    def window_lengths(self) -> tuple[float, ...]:
        """Every distinct window length in seconds, shortest first: what evaluation needs."""
        return tuple(sorted({s for w in self.windows for s in (w.long_s, w.short_s)}))


def _scale(window: AlertWindow, ratio: Fraction, scaling: Scaling) -> AlertWindow:
    if scaling == "factor":
        return replace(window, factor=float(_exact(window.factor) * ratio))
    return replace(
        window,
        long_s=float(Fraction(window.long_s) * ratio),
        short_s=float(Fraction(window.short_s) * ratio),
    )


def _exact(value: float) -> Fraction:
    """``value`` at its decimal face value (14.4 is 72/5, not the nearest binary double)."""
    return Fraction(repr(value))


def load_window_set(name: str, *, period_s: float | None = None) -> WindowSet:
    """The bundled window set ``name``, adapted to ``period_s`` when given.

    Raises :class:`~perfops.errors.UsageError` listing the valid names for an unknown one.
    """
    if name not in WINDOW_SET_NAMES:
        raise UsageError(
            f"unknown burn-rate window set {name!r}",
            hint=f"use one of: {', '.join(WINDOW_SET_NAMES)}",
        )
    window_set = _bundled(name)
    return window_set if period_s is None else window_set.for_period(period_s)


@cache
def _bundled(name: str) -> WindowSet:
    """The bundled file, parsed once a process (a WindowSet is frozen)."""
    text = resources.files("perfops.slo").joinpath(f"windows/{name}.yaml").read_text("utf-8")
    return _parse(yaml.safe_load(text))


def _parse(data: dict[str, Any]) -> WindowSet:
    windows = tuple(
        AlertWindow(
            severity=w["severity"],
            long_s=parse_duration(w["long"]),
            short_s=parse_duration(w["short"]),
            factor=float(w["factor"]),
        )
        for w in data["windows"]
    )
    return WindowSet(
        name=str(data["name"]),
        source=str(data["source"]),
        period_s=parse_duration(data["period"]),
        scaling=data["scaling"],
        windows=windows,
    )
