"""What a `capacity` run's journal says about its answer, read defensively.

The search writes ``capacity_rps``, ``capacity_rps_per_gpu``, ``confirmed``, ``reason`` and its
``points``; a search that repeats its decisive runs adds an interval, the repeats and a
validity verdict. Journals of every age are read: each field is looked for under the names it
has had or may have, and what was found is said in words (:attr:`CapacityReading.read`), so a
comparison never rests on a figure nobody can trace.

Interval: ``interval_rps``, ``capacity_interval``, ``interval``, ``capacity_rps_interval`` or
``ci``, as ``[low, high]`` or ``{"low", "high"}`` (also ``lo``/``hi``, ``lower``/``upper``),
with its ``confidence`` beside it or in the summary (95% when absent), also inside a
``capacity`` object. An interval whose ``confidence`` is given as null, or whose ``method`` is
``bracket``, is the search's bracket, not a confidence interval, and is not used as one.
Lower bound: ``lower_bound`` or ``capped`` true, ``method`` "lower bound", or a reason that
says the SLO still held at the maximum rate. Validity: ``valid`` false, or ``validity``
"INVALID" (or an object with ``valid`` and ``reasons``), with ``invalid``,
``invalid_reasons`` or ``reasons``. Repeats: a ``repeats`` list, else the points of phase
``repeat``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from perfops.loadgen.compare import COMPARE_CONFIDENCE, CapacityFigure
from perfops.store import RunRecord

__all__ = ["CapacityReading", "read_capacity"]

_INTERVAL_KEYS = ("interval_rps", "capacity_interval", "interval", "capacity_rps_interval", "ci")
_BOUNDS = (("low", "high"), ("lo", "hi"), ("lower", "upper"), ("low_rps", "high_rps"))
_CAPPED_WORDS = ("maximum rate", "max rate", "max-rate")


@dataclass(frozen=True)
class CapacityReading:
    """A capacity run's answer: at the endpoint and per GPU, and what was read to get it."""

    run_id: str
    endpoint: CapacityFigure
    per_gpu: CapacityFigure | None
    gpus: int | None
    valid: bool | None  # None: the journal says nothing about validity
    reasons: list[str] = field(default_factory=list)
    repeats: int | None = None
    read: str = ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _pair(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        low, high = _number(value[0]), _number(value[1])
    elif isinstance(value, Mapping):
        low = high = None
        for lo_key, hi_key in _BOUNDS:
            if lo_key in value and hi_key in value:
                low, high = _number(value[lo_key]), _number(value[hi_key])
                break
    else:
        return None
    if low is None or high is None or high < low:
        return None
    return low, high


def _interval(summary: Mapping[str, Any]) -> tuple[float, float, float | None, str] | None:
    """(low, high, confidence, where it was read) of the first interval found; confidence
    None when the interval is the search's bracket rather than a confidence interval."""
    places: list[tuple[str, Mapping[str, Any]]] = [("", summary)]
    nested = summary.get("capacity")
    if isinstance(nested, Mapping):
        places.append(("capacity.", nested))
    for prefix, place in places:
        for key in _INTERVAL_KEYS:
            pair = _pair(place.get(key))
            if pair is None:
                continue
            own = place[key] if isinstance(place[key], Mapping) else place
            if ("confidence" in own and own["confidence"] is None) or (
                str(place.get("method", "")).lower() == "bracket"
            ):
                return pair[0], pair[1], None, prefix + key
            level = _number(own.get("confidence")) or COMPARE_CONFIDENCE
            return pair[0], pair[1], level / 100 if level > 1 else level, prefix + key
    return None


def _validity(summary: Mapping[str, Any]) -> tuple[bool | None, list[str]]:
    raw = summary.get("validity")
    valid: bool | None = None
    reasons: Any = next(
        (summary[k] for k in ("invalid", "invalid_reasons", "reasons") if summary.get(k)), []
    )
    if isinstance(summary.get("valid"), bool):
        valid = summary["valid"]
    elif isinstance(raw, str):
        valid = raw.strip().lower() == "valid"
    elif isinstance(raw, Mapping):
        valid = raw.get("valid") if isinstance(raw.get("valid"), bool) else None
        reasons = raw.get("reasons") or reasons
    if isinstance(reasons, str):
        reasons = [reasons]
    return valid, [str(r) for r in reasons] if isinstance(reasons, list) else []


def _capped(summary: Mapping[str, Any]) -> bool:
    if summary.get("lower_bound") is True or summary.get("capped") is True:
        return True
    if str(summary.get("method", "")).lower() == "lower bound":
        return True
    reason = str(summary.get("reason") or "").lower()
    return "still meets" in reason and any(w in reason for w in _CAPPED_WORDS)


def read_capacity(run: RunRecord) -> CapacityReading:
    """The answer of capacity run ``run`` (see the module docstring for the fields read)."""
    summary, spec = run.summary, run.spec
    rps = _number(summary.get("capacity_rps"))
    gpus = spec.get("gpus") or summary.get("gpus")
    gpus = gpus if isinstance(gpus, int) and not isinstance(gpus, bool) and gpus > 0 else None
    found = _interval(summary)
    capped = _capped(summary)
    low, high, level, where = found if found else (None, None, None, "")
    bracket = found is not None and level is None
    if bracket:
        low = high = None  # a bracket is no confidence interval
    level = level or COMPARE_CONFIDENCE
    endpoint = CapacityFigure(rps, low, high, level, capped)
    per_gpu = None
    rps_gpu = _number(summary.get("capacity_rps_per_gpu"))
    if rps_gpu is None and rps is not None and gpus:
        rps_gpu = rps / gpus
    if rps_gpu is not None and gpus:
        scale = rps_gpu / rps if rps else 1 / gpus
        per_gpu = CapacityFigure(
            rps_gpu,
            None if low is None else low * scale,
            None if high is None else high * scale,
            level,
            capped,
        )
    valid, reasons = _validity(summary)
    count = _repeats(summary)
    where = f"'{where}' is the search's bracket, not a confidence interval" if bracket else where
    return CapacityReading(
        run.run_id, endpoint, per_gpu, gpus, valid, reasons, count,
        _describe(run.run_id, endpoint, where, gpus, valid, count),
    )  # fmt: skip


def _repeats(summary: Mapping[str, Any]) -> int | None:
    repeats = summary.get("repeats")
    if isinstance(repeats, list):
        return len(repeats)
    points = summary.get("points")
    if isinstance(points, list):
        phases = [p.get("phase") for p in points if isinstance(p, Mapping)]
        return phases.count("repeat") if "repeat" in phases else None
    return None


def _describe(
    run_id: str,
    fig: CapacityFigure,
    where: str,
    gpus: int | None,
    valid: bool | None,
    repeats: int | None,
) -> str:
    if fig.rps is None:
        return f"{run_id}: capacity_rps absent or null (no rate met the SLO)"
    parts = [f"{run_id}: capacity_rps {fig.rps:g}"]
    if fig.low is not None and fig.high is not None:
        parts.append(f"interval [{fig.low:g}, {fig.high:g}] ({fig.confidence:.0%}) from '{where}'")
    elif where:
        parts.append(f"no confidence interval: {where}")
    else:
        parts.append("no interval (none of " + ", ".join(_INTERVAL_KEYS) + ")")
    parts.append(f"{gpus} GPU{'s' if gpus != 1 else ''}" if gpus else "GPU count unknown")
    if repeats is not None:
        parts.append(f"{repeats} repeats")
    if valid is not None:
        parts.append("valid" if valid else "marked INVALID")
    if fig.lower_bound:
        parts.append("a lower bound (the SLO still held at the highest rate tried)")
    return ", ".join(parts)
