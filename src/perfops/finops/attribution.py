"""Cost attribution: who spent the GPU bill, what sat idle, who carries the shared costs.

Input is GPU usage per interval (usually an hour): which GPU, its type, the service holding it
(or None when nobody did) and, where telemetry has it, how busy it was (DCGM SM-active or
GR-engine-active, a fraction in [0, 1]). Output is one :class:`CostLine` per bucket (a day by
default) and owner (service, model, team, tenant), plus ``__idle__`` and ``__shared__`` lines
for the money not shared out.

Rules, each a choice users have asked tools to make explicit:

* **Paid time is reported time.** A GPU is paid for the intervals it appears in; an interval
  missing from telemetry is not paid unless it is declared (``usage.fill_gaps`` adds a paid
  fleet's unreported time as idle; ``usage.declared_usage`` builds usage from the GPU counts
  services declare).
* **Basis.** ``allocation``: a service pays for every GPU-second it holds (OpenCost's
  request-based GPU cost). ``usage``: it pays for the busy share only (activity x time); the
  rest of its time is idle. Time with no activity reading counts as busy on either basis, so a
  telemetry gap never invents idle; :attr:`Attribution.unmeasured_gpu_seconds` reports it.
* **Idle** (unassigned GPU time, plus unused time on the usage basis) is kept apart as
  ``__idle__`` (``separate``), or shared within its bucket by GPU cost (``weighted``) or
  equally per line (``even``). A bucket with no one to share with keeps its ``__idle__`` line:
  idle never vanishes.
* **Shared costs** (monthly or hourly) are spread over the window pro rata by time and split in
  each bucket by GPU cost including idle share (``weighted``), equally (``even``), or not at all
  (``none``: a ``__shared__`` line); ``services`` restricts who shares one.
* **Conservation.** The bill is rounded to the cent once; every part is split from it by the
  largest remainder method, so gpu + idle + shared over all lines equals the bill exactly, and
  no amount is negative.

A row belongs to the bucket its start falls in. Rows are clipped to ``window`` when given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from perfops.config.models import Pricing, SharedCost
from perfops.errors import PerfopsError
from perfops.finops._money import cents, decimal_of, from_cents, largest_remainder, split_cents
from perfops.finops.usage import DAY_MS, HOUR_MS, Owner, UsageColumns, UsageRow

__all__ = [
    "IDLE",
    "SHARED",
    "Attribution",
    "Basis",
    "CostLine",
    "IdleShare",
    "SharedItem",
    "attribute",
    "shared_items",
]

Basis = Literal["allocation", "usage"]
IdleShare = Literal["separate", "weighted", "even"]
IDLE = "__idle__"
SHARED = "__shared__"
_F = NDArray[np.float64]
_I = NDArray[np.int64]
_B = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class SharedItem:
    """A cost outside the GPUs: ``amount`` per month or per hour, split by ``split``."""

    name: str
    amount: Decimal
    per: Literal["month", "hour"] = "month"
    split: Literal["weighted", "even", "none"] = "weighted"
    services: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise PerfopsError(f"shared cost {self.name!r} is negative ({self.amount})")


def shared_items(pricing: Pricing) -> tuple[SharedItem, ...]:
    """perfops.yaml's ``pricing.shared`` as :class:`SharedItem` values."""
    return tuple(_shared_item(s) for s in pricing.shared)


def _shared_item(cost: SharedCost) -> SharedItem:
    per: Literal["month", "hour"] = "month" if cost.monthly is not None else "hour"
    amount = cost.monthly if cost.monthly is not None else cost.hourly
    return SharedItem(
        name=cost.name,
        amount=decimal_of(amount or 0.0, what=f"shared cost {cost.name!r}"),
        per=per,
        split=cost.split,
        services=cost.services,
    )


@dataclass(frozen=True, slots=True)
class CostLine:
    """The cost of one owner (or ``__idle__`` / ``__shared__``) in one bucket."""

    start_ms: int
    end_ms: int
    service: str
    model: str | None
    team: str | None
    tenant: str | None
    gpu_seconds: float
    """GPU-seconds held (on ``__idle__``: idle GPU-seconds)"""
    busy_gpu_seconds: float
    """GPU-seconds weighted by activity (unmeasured time counts as busy)"""
    gpu_cost: Decimal
    idle_cost: Decimal
    shared_cost: Decimal

    @property
    def total(self) -> Decimal:
        return self.gpu_cost + self.idle_cost + self.shared_cost


@dataclass(frozen=True, slots=True)
class Attribution:
    """Every line of an attribution and the totals they add up to, exactly."""

    lines: tuple[CostLine, ...]
    start_ms: int
    end_ms: int
    currency: str
    basis: Basis
    idle: IdleShare
    paid: Decimal
    """the bill: GPU time paid plus shared costs over the window"""
    gpu_paid: Decimal
    shared_paid: Decimal
    idle_cost: Decimal
    """idle cost, whether shown apart or shared out"""
    unmeasured_gpu_seconds: float
    shared_by_item: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def allocated(self) -> Decimal:
        return sum((line.gpu_cost for line in self.lines), Decimal(0))


def attribute(
    usage: UsageColumns | Iterable[UsageRow],
    price: Callable[[str], Decimal],
    *,
    shared: Sequence[SharedItem] = (),
    basis: Basis = "allocation",
    idle: IdleShare = "separate",
    bucket_ms: int | None = DAY_MS,
    window: tuple[int, int] | None = None,
    currency: str = "USD",
    hours_per_month: Decimal = Decimal(730),
) -> Attribution:
    """Attribute GPU time and shared costs to owners; see the module docstring for the rules.

    ``price`` gives the price per GPU-hour of a GPU type (:meth:`PriceBook.hourly`, or a
    dict's ``__getitem__``). ``bucket_ms`` None makes one bucket of the whole window, which
    defaults to the span of the rows.
    """
    cols = usage if isinstance(usage, UsageColumns) else UsageColumns.from_rows(usage)
    grid = _Grid.build(cols, price, window, bucket_ms)
    gpu = _gpu_cells(grid, basis, idle)
    items = [(item, grid.prorate(item, hours_per_month)) for item in shared]
    category = [grid.gpu_exact, *(sum(a, Fraction(0)) for _, a in items)]
    bill = cents(sum(category, Fraction(0)))
    category_cents = largest_remainder(bill, category)
    both = split_cents(category_cents[0], np.concatenate([gpu.work.ravel(), gpu.idle.ravel()]))
    work_cents = both[: gpu.work.size].reshape(gpu.work.shape)
    idle_cents = both[gpu.work.size :].reshape(gpu.work.shape)
    shared_cents = np.zeros_like(work_cents)
    by_item: dict[str, Decimal] = {}
    for (item, amounts), item_cents in zip(items, category_cents[1:], strict=True):
        weights = _shared_weights(item, amounts, gpu.work + gpu.idle, grid)
        shared_cents += split_cents(item_cents, weights.ravel()).reshape(weights.shape)
        by_item[item.name] = by_item.get(item.name, Decimal(0)) + from_cents(item_cents)
    return Attribution(
        lines=_lines(grid, gpu, (work_cents, idle_cents, shared_cents)),
        start_ms=grid.start,
        end_ms=grid.end,
        currency=currency,
        basis=basis,
        idle=idle,
        paid=from_cents(bill),
        gpu_paid=from_cents(category_cents[0]),
        shared_paid=from_cents(sum(category_cents[1:])),
        idle_cost=from_cents(int(idle_cents.sum())),
        unmeasured_gpu_seconds=gpu.unmeasured,
        shared_by_item=by_item,
    )


@dataclass(frozen=True, slots=True)
class _Grid:
    """Rows clipped to the window, each placed in a cell: (bucket, owner slot).

    Slot ``len(owners)`` of each bucket is nobody's: unassigned time, then idle and shared
    money not shared out.
    """

    start: int
    end: int
    origin: int
    step: int
    buckets: int
    owners: tuple[Owner, ...]
    dur: _I
    """GPU-milliseconds of each row inside the window (its time x its GPUs)"""
    cost: _F
    """float cost of each row: the weights; exact totals come from ``gpu_exact``"""
    owner: _I
    activity: _F
    bucket: _I
    gpu_exact: Fraction

    @classmethod
    def build(
        cls,
        cols: UsageColumns,
        price: Callable[[str], Decimal],
        window: tuple[int, int] | None,
        bucket_ms: int | None,
    ) -> _Grid:
        start, end = window if window is not None else _span(cols)
        if end <= start:
            raise PerfopsError(f"the window [{start}, {end}) is empty")
        if bucket_ms is not None and bucket_ms <= 0:
            raise PerfopsError(f"bucket_ms must be positive, got {bucket_ms}")
        step = bucket_ms or (end - start)
        origin = start - start % step if bucket_ms else start
        prices = [_price(price, t) for t in cols.gpu_types]
        s, e = np.maximum(cols.start_ms, start), np.minimum(cols.end_ms, end)
        keep = e > s
        assert cols.gpus is not None
        dur = ((e - s) * cols.gpus)[keep].astype(np.int64)  # GPU-milliseconds
        typ = cols.gpu_type[keep]
        exact = sum(
            (Fraction(p) * int(dur[typ == t].sum()) / HOUR_MS for t, p in enumerate(prices)),
            Fraction(0),
        )
        return cls(
            start=start,
            end=end,
            origin=origin,
            step=step,
            buckets=-(-(end - origin) // step),
            owners=cols.owners,
            dur=dur,
            cost=np.array([float(p) for p in prices] or [0.0])[typ] * dur / HOUR_MS,
            owner=cols.owner[keep],
            activity=cols.activity[keep],
            bucket=(s[keep] - origin) // step,
            gpu_exact=exact,
        )

    @property
    def shape(self) -> tuple[int, int]:
        return self.buckets, len(self.owners) + 1

    def total(self, values: NDArray[Any], *, by_owner: bool = True) -> _F:
        """``values`` per row summed per cell (or per bucket)."""
        if not by_owner:
            return np.bincount(self.bucket, values, self.buckets).astype(np.float64)
        n = len(self.owners)
        cell = self.bucket * (n + 1) + np.where(self.owner >= 0, self.owner, n)
        flat = np.bincount(cell, values, self.buckets * (n + 1))
        return flat.astype(np.float64).reshape(self.shape)

    def span(self, b: int) -> tuple[int, int]:
        return self.origin + b * self.step, self.origin + (b + 1) * self.step

    def prorate(self, item: SharedItem, hours_per_month: Decimal) -> list[Fraction]:
        """A shared item's exact amount in each bucket: its rate x the bucket's time inside."""
        per_hour = Fraction(item.amount)
        if item.per == "month":
            per_hour /= Fraction(hours_per_month)
        spans = (self.span(b) for b in range(self.buckets))
        inside = (max(0, min(hi, self.end) - max(lo, self.start)) for lo, hi in spans)
        return [per_hour * ms / HOUR_MS for ms in inside]


def _span(cols: UsageColumns) -> tuple[int, int]:
    if len(cols) == 0:
        raise PerfopsError("no usage rows and no window: nothing to attribute")
    return int(cols.start_ms.min()), int(cols.end_ms.max())


def _price(price: Callable[[str], Decimal], gpu_type: str) -> Decimal:
    value = decimal_of(price(gpu_type), what=f"price of {gpu_type}")
    if value < 0:
        raise PerfopsError(f"the price of {gpu_type} is negative ({value})")
    return value


@dataclass(frozen=True, slots=True)
class _GpuCells:
    work: _F
    """GPU cost each cell owes for its own work"""
    idle: _F
    """idle cost placed on each cell; the nobody slot holds what is shown apart"""
    held: _F
    busy: _F
    idle_seconds: _F
    idle_apart: _B
    unmeasured: float


def _gpu_cells(grid: _Grid, basis: Basis, rule: IdleShare) -> _GpuCells:
    measured = np.where(np.isnan(grid.activity), 1.0, grid.activity)
    assigned = grid.owner >= 0
    work_frac = np.where(assigned, measured if basis == "usage" else 1.0, 0.0)
    work = grid.total(grid.cost * work_frac)
    idle, apart = _share_idle(
        grid.total(grid.cost * (1.0 - work_frac), by_owner=False), work, grid, rule
    )
    held = grid.total(grid.dur.astype(np.float64)) / 1000.0
    idle_seconds = grid.total(grid.dur * (1.0 - work_frac), by_owner=False) / 1000.0
    return _GpuCells(
        work=work,
        idle=idle,
        held=held,
        busy=grid.total(grid.dur * np.where(assigned, measured, 0.0)) / 1000.0,
        idle_seconds=idle_seconds,
        idle_apart=apart & (idle_seconds > 0),
        unmeasured=float(grid.dur[np.isnan(grid.activity) & assigned].sum()) / 1000.0,
    )


def _share_idle(idle: _F, work: _F, grid: _Grid, rule: IdleShare) -> tuple[_F, _B]:
    """Each bucket's idle cost on owners' cells by ``rule``, or in the nobody slot."""
    n = len(grid.owners)
    active = grid.total(grid.dur.astype(np.float64))[:, :n] > 0
    weights = work[:, :n] if rule == "weighted" else active.astype(np.float64)
    out = np.zeros(grid.shape)
    apart = _spread(out, idle, weights, enabled=rule != "separate")
    return out, apart


def _spread(out: _F, amount: _F, weights: _F, *, enabled: bool = True) -> _B:
    """Put each bucket's ``amount`` on owners by ``weights`` (nobody slot when none); in place.

    Returns which buckets kept their amount in the nobody slot.
    """
    n = weights.shape[1]
    total = weights.sum(axis=1)
    can = (total > 0) & enabled
    out[can, :n] = amount[can, None] * weights[can] / total[can, None]
    out[~can, n] = amount[~can]
    kept: _B = np.logical_not(can)
    return kept


def _shared_weights(item: SharedItem, amounts: list[Fraction], gpu: _F, grid: _Grid) -> _F:
    """Where one shared item's money goes, bucket by bucket, as float weights."""
    n = len(grid.owners)
    eligible = grid.total(grid.dur.astype(np.float64))[:, :n] > 0
    if item.services:
        allowed = np.array([o.service in item.services for o in grid.owners], dtype=np.bool_)
        eligible &= allowed[None, :]
    if item.split == "weighted":
        weights = np.where(eligible, gpu[:, :n], 0.0)
    else:
        weights = eligible.astype(np.float64) * (item.split == "even")
    out = np.zeros(grid.shape)
    _spread(out, np.array([float(a) for a in amounts]), weights)
    return out


def _lines(grid: _Grid, gpu: _GpuCells, money: tuple[_I, _I, _I]) -> tuple[CostLine, ...]:
    """The lines, bucket by bucket: owners sorted by name, then ``__idle__``, ``__shared__``."""
    work, idle, shared = money
    n = len(grid.owners)
    order = sorted(range(n), key=lambda i: _sort_key(grid.owners[i]))
    lines: list[CostLine] = []
    for b in range(grid.buckets):
        span = grid.span(b)
        for i in order:
            if gpu.held[b, i] > 0 or work[b, i] or idle[b, i] or shared[b, i]:
                cost = (work[b, i], idle[b, i], shared[b, i])
                seconds = (gpu.held[b, i], gpu.busy[b, i])
                lines.append(_line(span, grid.owners[i], seconds, cost))
        if gpu.idle_apart[b] or idle[b, n] or work[b, n]:
            cost = (0, idle[b, n] + work[b, n], 0)
            lines.append(_line(span, Owner(IDLE), (gpu.idle_seconds[b], 0.0), cost))
        if shared[b, n]:
            lines.append(_line(span, Owner(SHARED), (0.0, 0.0), (0, 0, shared[b, n])))
    return tuple(lines)


def _line(
    span: tuple[int, int],
    owner: Owner,
    seconds: tuple[float | np.float64, float | np.float64],
    cost: tuple[int | np.int64, int | np.int64, int | np.int64],
) -> CostLine:
    gpu, idle, shared = (from_cents(int(c)) for c in cost)
    return CostLine(
        start_ms=span[0],
        end_ms=span[1],
        service=owner.service,
        model=owner.model,
        team=owner.team,
        tenant=owner.tenant,
        gpu_seconds=float(seconds[0]),
        busy_gpu_seconds=float(seconds[1]),
        gpu_cost=gpu,
        idle_cost=idle,
        shared_cost=shared,
    )


def _sort_key(owner: Owner) -> tuple[str, str, str, str]:
    return (owner.service, owner.model or "", owner.team or "", owner.tenant or "")
