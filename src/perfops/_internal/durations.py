"""Prometheus-style durations ("500ms", "1h30m", "28d") to and from seconds."""

from __future__ import annotations

import math
import re

__all__ = ["format_duration", "parse_duration"]

_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    "y": 31536000.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``text``. Numbers are seconds. Raises ValueError naming the valid units; an
    infinite, NaN or negative duration is refused (so is one too long for a float)."""
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 500ms, 30s, 5m, 1h, 28d")
    if isinstance(text, int | float):
        try:
            seconds = float(text)
        except OverflowError:
            seconds = math.inf
        if not math.isfinite(seconds):
            raise ValueError(f"a duration must be a finite number of seconds, got {text!r}")
        if seconds < 0:
            raise ValueError("a duration cannot be negative")
        return seconds
    if not isinstance(text, str):
        raise ValueError(f"expected a duration such as 500ms, 30s, 5m, 1h, 28d, got {text!r}")
    s = text.strip()
    pos, total = 0, 0.0
    for match in _PART.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not s or pos != len(s):
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit (ms, s, m, h, d, w, y), "
            "e.g. 500ms, 30s, 1h30m, 28d"
        )
    if not math.isfinite(total):
        raise ValueError(f"{text!r} is too long to be a duration")
    return total


def format_duration(seconds: float) -> str:
    """The shortest Prometheus form of ``seconds`` ("1h30m", "500ms")."""
    if seconds < 1 and seconds > 0:
        return f"{round(seconds * 1000)}ms"
    rest, out = round(seconds), []
    for unit in ("d", "h", "m", "s"):
        size = int(_UNITS[unit])
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(out) or "0s"
