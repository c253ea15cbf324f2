"""GPU usage, the input of cost attribution: who held which GPU when, and how busy it was.

Rows come from telemetry (DCGM activity joined to services) or, where there is none, from the
GPUs services declare (:func:`declared_usage`: one row per hour and service, standing for all
its GPUs, so a 100,000-GPU service costs no more to attribute than a one-GPU one).
:func:`fill_gaps` adds a paid fleet's unreported time as unassigned (idle) rows.
:class:`UsageColumns` is the columnar form the attribution works on; a store shell builds it
from Arrow without a Python loop per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from perfops.config.models import Service
from perfops.errors import PerfopsError

__all__ = [
    "DAY_MS",
    "HOUR_MS",
    "MAX_PERIOD_DAYS",
    "MODEL_NAME_GPU_TYPES",
    "YEARS",
    "Declared",
    "Owner",
    "UsageColumns",
    "UsageRow",
    "declared_from_services",
    "declared_usage",
    "fill_gaps",
    "gpu_type_of_model_name",
]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MAX_PERIOD_DAYS = 366
"""The longest span attributed at once (cost windows, bill periods): a year, hour by hour."""
YEARS = (2000, 2099)
MODEL_NAME_GPU_TYPES = (
    ("H200", "H200"),
    ("H100", "H100-SXM"),
    ("A100-SXM4-40GB", "A100-40GB"),
    ("A100 40GB", "A100-40GB"),
    ("A100", "A100-80GB"),
    ("L40S", "L40S"),
)
"""dcgm-exporter's ``modelName`` label -> the catalog's GPU type, for GPUs no service claims:
the first entry whose text the model name contains wins (so a 40 GB A100 is not an 80 GB one).
The cost report and the generated cost recording rules both read this table."""


def gpu_type_of_model_name(model: str) -> str | None:
    """The catalog GPU type of a dcgm-exporter ``modelName``; None when no entry fits."""
    return next((gpu for needle, gpu in MODEL_NAME_GPU_TYPES if needle in model), None)


"""The years a charge may fall in; a date outside them is a broken export or a typo."""


@dataclass(frozen=True, slots=True, order=True)
class Owner:
    """Who holds a GPU: the service, and the model, team and tenant it serves."""

    service: str
    model: str | None = None
    team: str | None = None
    tenant: str | None = None


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One GPU (or ``gpus`` alike) for one interval [start_ms, end_ms), epoch milliseconds
    UTC."""

    start_ms: int
    end_ms: int
    gpu: str
    gpu_type: str
    service: str | None
    model: str | None = None
    team: str | None = None
    tenant: str | None = None
    activity: float | None = None
    """busy fraction in [0, 1] (DCGM SM-active or GR-engine-active); None when not measured"""
    gpus: int = 1
    """how many GPUs of the same type, owner and activity the row stands for"""


@dataclass(frozen=True, slots=True)
class UsageColumns:
    """Usage rows as columns: what a store shell hands over from Arrow without a Python loop.

    ``gpu_type`` and ``owner`` are codes into ``gpu_types`` and ``owners``; owner -1 means
    unassigned. ``activity`` is NaN where not measured. ``gpus`` is how many GPUs each row
    stands for (default: one each).
    """

    start_ms: NDArray[np.int64]
    end_ms: NDArray[np.int64]
    gpu_type: NDArray[np.int64]
    owner: NDArray[np.int64]
    activity: NDArray[np.float64]
    gpu_types: tuple[str, ...]
    owners: tuple[Owner, ...]
    gpus: NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        n = len(self.start_ms)
        if self.gpus is None:
            object.__setattr__(self, "gpus", np.ones(n, dtype=np.int64))
        assert self.gpus is not None
        columns = (self.end_ms, self.gpu_type, self.owner, self.activity, self.gpus)
        if any(len(c) != n for c in columns):
            raise PerfopsError("usage columns differ in length")
        checks = (
            (self.end_ms <= self.start_ms, "ends at or before its start"),
            (
                (self.gpu_type < 0) | (self.gpu_type >= len(self.gpu_types)),
                "has an unknown GPU type code",
            ),
            ((self.owner < -1) | (self.owner >= len(self.owners)), "has an unknown owner code"),
            ((self.activity < 0) | (self.activity > 1), "has activity outside [0, 1]"),
            (self.gpus < 1, "stands for fewer than one GPU"),
        )
        for bad, what in checks:
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise PerfopsError(
                    f"usage row {row} {what}",
                    hint="fix the telemetry query; activity is a fraction such as 0.42",
                )

    def __len__(self) -> int:
        return len(self.start_ms)

    @classmethod
    def from_rows(cls, rows: Iterable[UsageRow]) -> UsageColumns:
        rows = list(rows)
        types: dict[str, int] = {}
        owners: dict[Owner, int] = {}
        type_codes = [types.setdefault(r.gpu_type, len(types)) for r in rows]
        owner_codes = [
            -1
            if r.service is None
            else owners.setdefault(Owner(r.service, r.model, r.team, r.tenant), len(owners))
            for r in rows
        ]
        return cls(
            start_ms=np.array([r.start_ms for r in rows], dtype=np.int64),
            end_ms=np.array([r.end_ms for r in rows], dtype=np.int64),
            gpu_type=np.array(type_codes, dtype=np.int64),
            owner=np.array(owner_codes, dtype=np.int64),
            activity=np.array(
                [np.nan if r.activity is None else r.activity for r in rows], dtype=np.float64
            ),
            gpu_types=tuple(types),
            owners=tuple(owners),
            gpus=np.array([r.gpus for r in rows], dtype=np.int64),
        )


@dataclass(frozen=True, slots=True)
class Declared:
    """GPUs a service declares it holds (perfops.yaml ``services[].gpu``)."""

    service: str
    gpu_type: str
    count: int
    model: str | None = None
    team: str | None = None
    tenant: str | None = None


def declared_from_services(services: Iterable[Service]) -> tuple[Declared, ...]:
    """The GPUs perfops.yaml's services declare."""
    return tuple(
        Declared(s.name, s.gpu.type, s.gpu.count, s.model, s.team, s.tenant) for s in services
    )


def declared_usage(
    declared: Iterable[Declared], start_ms: int, end_ms: int, *, step_ms: int = HOUR_MS
) -> list[UsageRow]:
    """Usage rows for declared GPUs held all of [start_ms, end_ms), no activity: one row per
    step and service, standing for its ``count`` GPUs (rows grow with hours, not GPUs).

    For services with no GPU telemetry: the allocation basis then charges what they hold.
    """
    if step_ms <= 0:
        raise PerfopsError(f"step_ms must be positive, got {step_ms}")
    rows: list[UsageRow] = []
    for d in declared:
        if d.count < 1:
            raise PerfopsError(f"service {d.service!r} declares {d.count} GPUs")
        gpu = f"{d.service}/declared"
        for t in range(start_ms, end_ms, step_ms):
            nxt = min(t + step_ms, end_ms)
            rows.append(
                UsageRow(t, nxt, gpu, d.gpu_type, d.service, d.model, d.team, d.tenant,
                         gpus=d.count)
            )  # fmt: skip
    return rows


def fill_gaps(
    rows: Iterable[UsageRow], fleet: Mapping[str, str], start_ms: int, end_ms: int
) -> list[UsageRow]:
    """``rows`` plus unassigned rows for the time each fleet GPU reported nothing.

    ``fleet`` maps GPU id to GPU type: the GPUs paid for over [start_ms, end_ms) whether
    telemetry saw them or not. Their unreported time becomes idle (unassigned) time.
    """
    rows = list(rows)
    spans: dict[str, list[tuple[int, int]]] = {}
    for r in rows:
        spans.setdefault(r.gpu, []).append((r.start_ms, r.end_ms))
    filled = list(rows)
    for gpu, gpu_type in fleet.items():
        t = start_ms
        for lo, hi in sorted(spans.get(gpu, [])):
            if lo > t:
                filled.append(UsageRow(t, min(lo, end_ms), gpu, gpu_type, None))
            t = max(t, hi)
            if t >= end_ms:
                break
        if t < end_ms:
            filled.append(UsageRow(t, end_ms, gpu, gpu_type, None))
    return filled
