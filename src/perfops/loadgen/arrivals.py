"""Arrival schedules for open-loop load: when each request is due, as seconds from the start.

An open-loop test sends every request at its scheduled time whatever the server does, so
latency measured from the schedule is free of coordinated omission. The schedule is built up
front from a seeded generator: the same spec and seed give the same schedule.

Processes (``ArrivalSpec.kind``):

- ``constant``: one request every ``1/rate`` seconds, the first at 0.
- ``poisson``: exponential gaps of mean ``1/rate`` (inter-arrival CV = 1).
- ``gamma``: gamma gaps of mean ``1/rate`` and squared CV ``burstiness`` (shape
  ``1/burstiness``, scale ``burstiness/rate``): 1 is Poisson, above 1 burstier, below smoother.
  vLLM's ``--burstiness`` uses the same parameter.
- ``burst``: ``burst_size`` requests at once every ``burst_interval`` seconds, from 0.
- ``ramp``: a Poisson process whose rate moves linearly from ``start_rate`` to ``end_rate``
  over the run (exact inversion of the integrated rate, no thinning).
- ``stages``: consecutive ``(duration_s, rate)`` stages, each a gamma process of the spec's
  ``burstiness`` (Poisson by default); a rate of 0 is a pause. Arrivals end with the last stage.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from perfops._internal.durations import parse_duration
from perfops.errors import UsageError

__all__ = ["MAX_RATE", "ArrivalKind", "ArrivalSpec", "build_schedule", "parse_arrival"]

ArrivalKind = Literal["constant", "poisson", "gamma", "burst", "ramp", "stages"]
Floats = npt.NDArray[np.float64]

MAX_SCHEDULE = 10_000_000  # requests; a bigger plan is almost surely a typo in rate or duration
MAX_RATE = 100_000.0
"""Requests/s a schedule may ask for: well past what one client machine sends (~800 req/s per
worker process)."""
_Rate = Annotated[float, Field(ge=0, le=MAX_RATE)]
_Span = Annotated[float, Field(gt=0, le=7 * 86400)]  # seconds: a burst interval, a stage

_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # kind: (required, optional)
    "constant": (("rate",), ()),
    "poisson": (("rate",), ()),
    "gamma": (("rate",), ("burstiness",)),
    "burst": (("burst_size", "burst_interval"), ()),
    "ramp": (("start_rate", "end_rate"), ()),
    "stages": (("stages",), ("burstiness",)),
}


class ArrivalSpec(BaseModel):
    """When requests arrive. Build one with :func:`parse_arrival` or from a spec file."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: ArrivalKind
    rate: Annotated[float, Field(gt=0, le=MAX_RATE)] | None = None  # requests/s
    burstiness: Annotated[float, Field(gt=0, le=1000)] = 1.0  # squared CV of the gaps
    burst_size: int | None = Field(default=None, ge=1, le=1_000_000)
    burst_interval: _Span | None = None  # seconds
    start_rate: _Rate | None = None
    end_rate: _Rate | None = None
    stages: tuple[tuple[_Span, _Rate], ...] = Field(default=(), max_length=1000)

    @model_validator(mode="after")
    def _fields_match_kind(self) -> Self:
        required, optional = _FIELDS[self.kind]
        missing = [name for name in required if getattr(self, name) in (None, ())]
        unused = sorted(self.model_fields_set - {"kind", *required, *optional})
        if missing:
            raise ValueError(f"{self.kind} arrivals need {', '.join(missing)}")
        if unused:
            raise ValueError(f"{self.kind} arrivals do not use {', '.join(unused)}")
        if self.kind == "ramp" and not (self.start_rate or self.end_rate):
            raise ValueError("a ramp needs a rate above 0 at one end at least")
        if self.kind == "stages" and not any(rate for _, rate in self.stages):
            raise ValueError("stages need a rate above 0 in one stage at least")
        return self

    def __str__(self) -> str:
        """The command-line form (``--rate`` apart), e.g. ``gamma:2`` or ``ramp:1..50``."""
        match self.kind:
            case "gamma":
                return f"gamma:{self.burstiness:g}"
            case "burst":
                return f"burst:{self.burst_size}/{self.burst_interval:g}s"
            case "ramp":
                return f"ramp:{self.start_rate:g}..{self.end_rate:g}"
            case "stages":
                return "stages:" + ",".join(f"{d:g}s@{r:g}" for d, r in self.stages)
        return self.kind

    @property
    def stages_duration_s(self) -> float | None:
        """Total length of the stages, for ``stages`` arrivals; else None."""
        return math.fsum(d for d, _ in self.stages) if self.stages else None


def build_schedule(
    spec: ArrivalSpec,
    *,
    duration_s: float,
    max_requests: int | None,
    rng: np.random.Generator,
) -> list[float]:
    """Sorted offsets in seconds from the start, each below ``duration_s``, at most
    ``max_requests`` of them. ``duration_s`` may be ``math.inf`` when ``max_requests`` bounds
    the run (not for ``ramp``, which ramps over the duration)."""
    _check_bounds(spec, duration_s, max_requests)
    limit = MAX_SCHEDULE + 1 if max_requests is None else max_requests
    times = _BUILDERS[spec.kind](spec, duration_s, limit, rng)
    times = times[times < duration_s][:limit]
    if len(times) > MAX_SCHEDULE:
        raise UsageError(
            f"the schedule has more than {MAX_SCHEDULE:,} requests",
            hint="lower the rate, the duration or the number of requests",
        )
    schedule: list[float] = times.tolist()
    return schedule


def _check_bounds(spec: ArrivalSpec, duration_s: float, max_requests: int | None) -> None:
    if not duration_s > 0:
        raise UsageError(f"the duration must be above 0 s, got {duration_s}")
    if max_requests is not None and max_requests < 0:
        raise UsageError(f"the maximum number of requests cannot be negative: {max_requests}")
    if math.isinf(duration_s) and spec.kind == "ramp":
        raise UsageError("a ramp needs a finite duration", hint="give the run a duration")
    if math.isinf(duration_s) and max_requests is None and spec.kind != "stages":
        raise UsageError(
            "an open-ended run needs a limit", hint="give a duration or a number of requests"
        )


def _renewal(
    gaps: Callable[[int], Floats], rate: float, start: float, end: float, limit: int
) -> Floats:
    """Arrivals in [start, end) of a renewal process with these gaps, at most ``limit``."""
    chunks: list[Floats] = []
    t, count = start, 0
    while t < end and count < limit:
        expected = rate * (end - t) if math.isfinite(end) else limit
        size = max(1, min(limit - count, int(expected + 4 * math.sqrt(expected) + 16)))
        times = t + np.cumsum(gaps(size))
        chunks.append(times)
        t, count = float(times[-1]), count + size
    return np.concatenate(chunks) if chunks else np.empty(0)


def _gamma_gaps(
    rng: np.random.Generator, rate: float, burstiness: float
) -> Callable[[int], Floats]:
    if burstiness == 1.0:
        return lambda size: rng.exponential(1.0 / rate, size)
    return lambda size: rng.gamma(1.0 / burstiness, burstiness / rate, size)


def _constant(spec: ArrivalSpec, duration: float, limit: int, _: np.random.Generator) -> Floats:
    assert spec.rate is not None
    count = limit if math.isinf(duration) else min(limit, math.ceil(duration * spec.rate) + 1)
    return np.arange(count, dtype=np.float64) / spec.rate


def _gamma(spec: ArrivalSpec, duration: float, limit: int, rng: np.random.Generator) -> Floats:
    assert spec.rate is not None
    burstiness = 1.0 if spec.kind == "poisson" else spec.burstiness
    return _renewal(_gamma_gaps(rng, spec.rate, burstiness), spec.rate, 0.0, duration, limit)


def _burst(spec: ArrivalSpec, duration: float, limit: int, _: np.random.Generator) -> Floats:
    assert spec.burst_size is not None
    assert spec.burst_interval is not None
    bursts = -(-limit // spec.burst_size)
    if math.isfinite(duration):
        bursts = min(bursts, math.ceil(duration / spec.burst_interval) + 1)
    starts = np.arange(bursts, dtype=np.float64) * spec.burst_interval
    return np.repeat(starts, spec.burst_size)


def _ramp(spec: ArrivalSpec, duration: float, limit: int, rng: np.random.Generator) -> Floats:
    """Inverts Lambda(t) = r0 t + (r1 - r0) t^2 / 2T at unit-rate Poisson arrivals."""
    assert spec.start_rate is not None
    assert spec.end_rate is not None
    r0, slope = spec.start_rate, (spec.end_rate - spec.start_rate) / duration
    total = (spec.start_rate + spec.end_rate) * duration / 2  # Lambda(T)
    unit = _renewal(lambda size: rng.exponential(1.0, size), 1.0, 0.0, total, limit)
    unit = unit[unit < total]
    # t = 2E / (r0 + sqrt(r0^2 + 2 slope E)): the stable root of slope/2 t^2 + r0 t - E = 0
    root = np.sqrt(np.maximum(r0 * r0 + 2.0 * slope * unit, 0.0))
    return np.minimum(2.0 * unit / (r0 + root), np.nextafter(duration, 0.0))


def _stages(spec: ArrivalSpec, duration: float, limit: int, rng: np.random.Generator) -> Floats:
    chunks, start, count = [], 0.0, 0
    for length, rate in spec.stages:
        end = min(start + length, duration)
        if rate > 0 and count < limit:
            times = _renewal(_gamma_gaps(rng, rate, spec.burstiness), rate, start, end, limit)
            times = times[times < end][: limit - count]
            chunks.append(times)
            count += len(times)
        start = end
        if start >= duration:
            break
    return np.concatenate(chunks) if chunks else np.empty(0)


_BUILDERS: dict[str, Callable[[ArrivalSpec, float, int, np.random.Generator], Floats]] = {
    "constant": _constant,
    "poisson": _gamma,
    "gamma": _gamma,
    "burst": _burst,
    "ramp": _ramp,
    "stages": _stages,
}

_FORMS = {
    "constant": "constant (with a rate)",
    "poisson": "poisson (with a rate)",
    "gamma": "gamma:BURSTINESS (with a rate), e.g. gamma:2.0",
    "burst": "burst:SIZE/INTERVAL, e.g. burst:10/2s",
    "ramp": "ramp:START..END in requests/s, e.g. ramp:1..50",
    "stages": "stages:DURATION@RATE,..., e.g. stages:30s@5,60s@20,30s@5",
}
_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"


def parse_arrival(text: str, rate: float | None) -> ArrivalSpec:
    """The arrival process the command line names; ``rate`` (requests/s) is needed by
    ``constant``, ``poisson`` and ``gamma`` and refused by the forms that carry their own."""
    kind, _, arg = text.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in _FIELDS:
        forms = " | ".join(_FORMS.values())
        raise UsageError(f"unknown arrival process {text!r}", hint=f"use one of: {forms}")
    if kind in ("constant", "poisson", "gamma"):
        if rate is None or not (math.isfinite(rate) and rate > 0):
            raise UsageError(
                f"{kind} arrivals need a rate above 0, got {rate}",
                hint="give the rate in requests/s, e.g. --rate 10",
            )
    elif rate is not None:
        raise UsageError(
            f"{kind} arrivals carry their own rate; a separate rate ({rate:g}) would be ignored",
            hint="drop the rate",
        )
    try:
        return _PARSERS[kind](arg.strip(), rate)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        reason = str(error["msg"]).removeprefix("Value error, ")
        reason = f"{field} {reason[:1].lower()}{reason[1:]}" if field else reason
        why = _WHY.get(str(error["loc"][0]) if error["loc"] else "")
        reason += f" ({why})" if why and error["type"] != "value_error" else ""
    except ValueError as exc:
        reason = str(exc)
    shown = text if len(text) <= 60 else text[:57] + "..."
    raise UsageError(f"bad arrival process {shown!r}: {reason}", hint=f"write {_FORMS[kind]}")


_WHY = {  # why a field has its range
    "rate": "a request rate one client can send",
    "start_rate": "a request rate one client can send",
    "end_rate": "a request rate one client can send",
    "burstiness": "the squared coefficient of variation of the gaps: 1 is Poisson",
    "burst_size": "requests sent at once",
    "burst_interval": "seconds between bursts, at most a week",
    "stages": "at most 1,000 stages, each above 0 s and at most a week, at a rate a client "
    "can send",
}


def _plain(kind: ArrivalKind) -> Callable[[str, float | None], ArrivalSpec]:
    def parse(arg: str, rate: float | None) -> ArrivalSpec:
        if arg:
            raise ValueError(f"{kind} takes no argument")
        return ArrivalSpec(kind=kind, rate=rate)

    return parse


def _parse_gamma(arg: str, rate: float | None) -> ArrivalSpec:
    if not re.fullmatch(_NUMBER, arg):
        raise ValueError("gamma needs a burstiness, e.g. gamma:2.0")
    return ArrivalSpec(kind="gamma", rate=rate, burstiness=float(arg))


def _seconds(text: str) -> float:
    return float(text) if re.fullmatch(_NUMBER, text) else parse_duration(text)


def _parse_burst(arg: str, _: float | None) -> ArrivalSpec:
    match = re.fullmatch(r"(\d+)\s*/\s*(\S+)", arg)
    if not match:
        raise ValueError("burst needs a size and an interval, e.g. burst:10/2s")
    size, interval = int(match.group(1)), _seconds(match.group(2))
    return ArrivalSpec(kind="burst", burst_size=size, burst_interval=interval)


def _parse_ramp(arg: str, _: float | None) -> ArrivalSpec:
    match = re.fullmatch(rf"{_NUMBER}\s*\.\.\s*{_NUMBER}", arg)
    if not match:
        raise ValueError("ramp needs a start and an end rate, e.g. ramp:1..50")
    start, end = float(match.group(1)), float(match.group(2))
    return ArrivalSpec(kind="ramp", start_rate=start, end_rate=end)


def _parse_stages(arg: str, _: float | None) -> ArrivalSpec:
    stages = []
    for part in arg.split(","):
        match = re.fullmatch(rf"\s*(\S+?)\s*@\s*{_NUMBER}\s*", part)
        if not match:
            raise ValueError(f"stage {part.strip()!r} is not DURATION@RATE, e.g. 30s@5")
        stages.append((_seconds(match.group(1)), float(match.group(2))))
    return ArrivalSpec(kind="stages", stages=tuple(stages))


_PARSERS: dict[str, Callable[[str, float | None], ArrivalSpec]] = {
    "constant": _plain("constant"),
    "poisson": _plain("poisson"),
    "gamma": _parse_gamma,
    "burst": _parse_burst,
    "ramp": _parse_ramp,
    "stages": _parse_stages,
}
