"""`perfops cost` over the lake: who spent the GPU bill, what a (good) token costs, what a
change saves, what a fleet would cost, and the FOCUS file for the FinOps team.

The money math is :mod:`perfops.finops` (pure, exact to the cent); this shell reads GPU usage
and served work from the lake, prices them with the workspace's price book, and writes the
FOCUS export into the lake's ``costs`` table as well as the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pyarrow.compute as pc

from perfops.app._usage import GpuUsage, gpu_usage, served_work
from perfops.app.runtime import Runtime
from perfops.errors import UsageError
from perfops.finops import (
    DAY_MS,
    HOUR_MS,
    IDLE,
    SHARED,
    Attribution,
    Charge,
    CostLine,
    PriceBook,
    Reconciliation,
    ServedWork,
    UnitCosts,
    attribute,
    price_book,
    read_focus_bill,
    reconcile,
    shared_items,
    to_focus_table,
    unit_costs,
    write_focus,
)
from perfops.finops.catalog import load_catalog
from perfops.store import EventRecord

__all__ = [
    "CostReport",
    "GroupRow",
    "cost_report",
    "regroup",
    "total_work",
    "workspace_prices",
]

GroupBy = Literal["service", "model", "team", "tenant"]
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class GroupRow:
    """One group's share of the bill and what it bought."""

    group: str
    gpu_hours: float
    busy_gpu_hours: float
    gpu_cost: Decimal
    idle_cost: Decimal
    shared_cost: Decimal
    total: Decimal
    work: ServedWork
    unit: UnitCosts
    day: str | None = None  # the UTC day, in a per-day report


@dataclass(frozen=True)
class CostReport:
    start_ms: int
    end_ms: int
    currency: str
    basis: str
    idle: str
    by: str
    rows: tuple[GroupRow, ...]
    paid: Decimal
    attribution: Attribution
    work: Mapping[tuple[int, str], ServedWork]  # per (line start in the window, service)
    notes: tuple[str, ...] = field(default_factory=tuple)
    energy_per_kwh: float | None = None
    usage: GpuUsage | None = field(default=None, repr=False, compare=False)

    @property
    def total(self) -> Decimal:
        return sum((r.total for r in self.rows), Decimal(0))


def workspace_prices(rt: Runtime) -> PriceBook:
    """The price book of perfops.yaml's ``pricing:`` (the loader resolved its catalog path)."""
    pricing = rt.config.pricing
    return price_book(pricing, load_catalog(Path(pricing.catalog)) if pricing.catalog else None)


def cost_report(
    rt: Runtime,
    start_ms: int,
    end_ms: int,
    *,
    by: GroupBy = "service",
    basis: Literal["allocation", "usage"] | None = None,
    idle: Literal["separate", "weighted", "even"] | None = None,
    bucket_ms: int | None = None,
    daily: bool = False,
    work: bool = True,
    usage: GpuUsage | None = None,
) -> CostReport:
    """The bill of ``[start_ms, end_ms)`` split by ``by``, with each group's unit costs
    (``work=False``: the money alone, no served work read, so no unit costs). ``usage``: the
    GPU usage of the same window, when another report of it has read it already."""
    if end_ms <= start_ms:
        raise UsageError("the report window is empty", hint="use --since 1d or a longer one")
    pricing = rt.config.pricing
    book = workspace_prices(rt)
    if usage is None or (usage.start_ms, usage.end_ms) != (start_ms, end_ms):
        usage = gpu_usage(rt, start_ms, end_ms)
    basis = basis or pricing.basis
    idle = idle or pricing.idle
    attribution = attribute(
        usage.rows,
        book.hourly,
        shared=shared_items(pricing),
        basis=basis,
        idle=idle,
        bucket_ms=DAY_MS if daily else bucket_ms,
        window=(start_ms, end_ms),
        currency=book.currency,
    )
    served = (
        served_work(
            rt,
            sorted(
                {
                    _clip(x, attribution)
                    for x in attribution.lines
                    if x.service not in (IDLE, SHARED)
                }
            ),
        )
        if work
        else {}
    )
    rows = _group_rows(attribution, served, by, daily, pricing.energy_per_kwh)
    notes = [
        f"{name}: no GPU telemetry in the window; charged its declared "
        f"{rt.config.service(name).gpu.count}x {rt.config.service(name).gpu.type} for all of it"
        for name in usage.declared
    ]
    if attribution.unmeasured_gpu_seconds > 0 and basis == "usage":
        notes.append(
            f"{attribution.unmeasured_gpu_seconds / 3600:.2f} GPU-hours had no activity "
            "reading and count as busy"
        )
    return CostReport(
        start_ms,
        end_ms,
        book.currency,
        basis,
        idle,
        by,
        tuple(rows),
        attribution.paid,
        attribution,
        served,
        tuple(notes),
        pricing.energy_per_kwh,
        usage,
    )


def _clip(line: CostLine, attribution: Attribution) -> tuple[int, int]:
    """A line's bucket within the report's window (buckets are whole hours or days)."""
    return max(line.start_ms, attribution.start_ms), min(line.end_ms, attribution.end_ms)


def _group_rows(
    attribution: Attribution,
    work: Mapping[tuple[int, str], ServedWork],
    by: GroupBy,
    daily: bool,
    energy_per_kwh: float | None,
) -> list[GroupRow]:
    """Sum the attribution lines per group (and per day), with the work each group served."""
    lines = attribution.lines
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for line in lines:
        name = line.service if line.service in (IDLE, SHARED) else str(getattr(line, by) or "-")
        day = _utc(line.start_ms).date().isoformat() if daily else ""
        g = groups.setdefault(
            (day, name),
            {"gpu_s": 0.0, "busy_s": 0.0, "gpu": Decimal(0), "idle": Decimal(0),
             "shared": Decimal(0), "work": ServedWork()},
        )  # fmt: skip
        g["gpu_s"] += line.gpu_seconds
        g["busy_s"] += line.busy_gpu_seconds
        g["gpu"] += line.gpu_cost
        g["idle"] += line.idle_cost
        g["shared"] += line.shared_cost
        if line.service not in (IDLE, SHARED):
            start = _clip(line, attribution)[0]
            g["work"] = _add(g["work"], work.get((start, line.service), ServedWork()))
    rows = []
    for day, name in sorted(groups, key=lambda k: (k[0], k[1] in (IDLE, SHARED), k[1])):
        g = groups[(day, name)]
        cost = g["gpu"] + g["idle"] + g["shared"]
        rows.append(
            GroupRow(
                name,
                g["gpu_s"] / 3600,
                g["busy_s"] / 3600,
                g["gpu"],
                g["idle"],
                g["shared"],
                cost,
                g["work"],
                unit_costs(cost, g["work"], energy_per_kwh=energy_per_kwh),
                day or None,
            )
        )
    return rows


def regroup(
    report: CostReport,
    by: GroupBy,
    *,
    daily: bool = False,
    services: Collection[str] | None = None,
) -> tuple[GroupRow, ...]:
    """The same bill's rows grouped another way (by team, by model; per day when the report
    was bucketed by day): the lines and the work are the report's, only the sums differ.
    With ``services``, only their lines (no idle or shared lines: those are the fleet's)."""
    attribution = report.attribution
    if services is not None:
        lines = tuple(x for x in attribution.lines if x.service in services)
        attribution = replace(attribution, lines=lines)
    return tuple(_group_rows(attribution, report.work, by, daily, report.energy_per_kwh))


def total_work(rows: Sequence[GroupRow]) -> ServedWork:
    """The work of ``rows`` together (tokens, requests, SLO tokens, time, energy)."""
    out = ServedWork()
    for row in rows:
        out = _add(out, row.work)
    return out


def _add(a: ServedWork, b: ServedWork) -> ServedWork:
    def opt(x: Any, y: Any) -> Any:
        return None if x is None and y is None else (x or 0) + (y or 0)

    return ServedWork(
        a.input_tokens + b.input_tokens,
        a.output_tokens + b.output_tokens,
        a.requests + b.requests,
        opt(a.slo_tokens, b.slo_tokens),
        opt(a.prefill_seconds, b.prefill_seconds),
        opt(a.decode_seconds, b.decode_seconds),
        opt(a.energy_joules, b.energy_joules),
    )


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")


def report_json(report: CostReport) -> dict[str, Any]:
    """The report as plain JSON (money as strings, exact)."""

    def money(x: Decimal | None) -> str | None:
        return None if x is None else str(x)

    return {
        "start": iso(report.start_ms),
        "end": iso(report.end_ms),
        "currency": report.currency,
        "basis": report.basis,
        "idle": report.idle,
        "by": report.by,
        "paid": money(report.paid),
        "total": money(report.total),
        "rows": [
            {
                "day": r.day,
                "group": r.group,
                "gpu_hours": round(r.gpu_hours, 6),
                "busy_gpu_hours": round(r.busy_gpu_hours, 6),
                "gpu_cost": money(r.gpu_cost),
                "idle_cost": money(r.idle_cost),
                "shared_cost": money(r.shared_cost),
                "total": money(r.total),
                "input_tokens": r.work.input_tokens,
                "output_tokens": r.work.output_tokens,
                "requests": r.work.requests,
                "slo_tokens": r.work.slo_tokens,
                "per_1m_tokens": money(r.unit.per_1m_tokens),
                "per_1m_input_tokens": money(r.unit.per_1m_input_tokens),
                "per_1m_output_tokens": money(r.unit.per_1m_output_tokens),
                "per_1m_slo_tokens": money(r.unit.per_1m_slo_tokens),
                "per_request": money(r.unit.per_request),
                "slo_waste": money(r.unit.slo_waste),
                "tokens_per_joule": r.unit.tokens_per_joule,
                "energy_cost": money(r.unit.energy_cost),
            }
            for r in report.rows
        ],
        "notes": list(report.notes),
    }


def _utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _month_bounds(start_ms: int, end_ms: int) -> tuple[dt.datetime, dt.datetime]:
    """The billing period: the calendar months the window touches."""
    first = _utc(start_ms).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last = _utc(end_ms - 1).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    after = (last + dt.timedelta(days=32)).replace(day=1)
    return first, after


def focus_charges(rt: Runtime, report: CostReport) -> list[Charge]:
    """The report's attribution lines as FOCUS charges: per line, the GPU time it held, its
    share of idle and of shared costs; the ``__idle__`` and ``__shared__`` lines as they are.
    Tokens ride on each service's GPU charge."""
    book = workspace_prices(rt)
    billing = _month_bounds(report.start_ms, report.end_ms)
    lines = report.attribution.lines
    out: list[Charge] = []
    for line in lines:
        common: dict[str, Any] = {
            "charge_start": _utc(_clip(line, report.attribution)[0]),
            "charge_end": _utc(_clip(line, report.attribution)[1]),
            "billing_start": billing[0],
            "billing_end": billing[1],
            "provider": rt.config.pricing.provider or "perfops",
        }
        owner: dict[str, Any] = {"service": line.service, "team": line.team, "model": line.model,
                 "tenant": line.tenant}  # fmt: skip
        if line.service == SHARED:
            if line.shared_cost:
                out.append(Charge(cost=line.shared_cost, kind="shared", **common))
            continue
        if line.service == IDLE:
            cost = line.idle_cost + line.gpu_cost
            if cost:
                out.append(Charge(cost=cost, kind="idle", gpu_seconds=line.gpu_seconds, **common))
            continue
        served = report.work.get((_clip(line, report.attribution)[0], line.service))
        tokens = served.input_tokens + served.output_tokens if served else 0
        gpu_type = _gpu_type_of(rt, line.service)
        out.append(
            Charge(
                cost=line.gpu_cost,
                kind="gpu",
                gpu_seconds=line.gpu_seconds,
                tokens=tokens,
                slo_compliant_tokens=(served.slo_tokens or 0) if served else 0,
                gpu_type=gpu_type,
                list_unit_price=book.hourly(gpu_type) if gpu_type and line.gpu_cost else None,
                description=f"{line.service}: GPU time on {gpu_type}",
                **owner,
                **common,
            )
        )
        for share, cost in (("idle", line.idle_cost), ("shared", line.shared_cost)):
            if cost:
                out.append(
                    Charge(
                        cost=cost,
                        kind="idle" if share == "idle" else "shared",
                        pricing_quantity=Decimal(1),
                        pricing_unit="Allocations",
                        description=f"{line.service}: its share of {share} cost",
                        **owner,
                        **common,
                    )
                )
    return out


def _gpu_type_of(rt: Runtime, service: str) -> str | None:
    svc = next((s for s in rt.config.services if s.name == service), None)
    return None if svc is None else svc.gpu.type


def export_focus(
    rt: Runtime, start_ms: int, end_ms: int, path: Path
) -> tuple[Path, int, CostReport]:
    """Write the attribution of whole hours from ``start_ms``'s hour to ``end_ms`` as a FOCUS
    1.2 file (Parquet or CSV by suffix), one charge period an hour as cloud bills have, and
    into the lake's ``costs`` table, replacing the rows of the same hours: exporting again
    never counts an hour twice. Returns the path, the row count and the report."""
    start_ms -= start_ms % HOUR_MS
    report = cost_report(rt, start_ms, end_ms, bucket_ms=HOUR_MS)
    table = to_focus_table(
        focus_charges(rt, report),
        currency=report.currency,
        billing_account_id=rt.config.workspace.name,
        billing_account_name=rt.config.workspace.name,
        provider=rt.config.pricing.provider or "perfops",
    )
    written = write_focus(table, path)
    rt.store.journal.replace_costs(table, report.start_ms, report.end_ms)
    return written, table.num_rows, report


def reconcile_bill(
    rt: Runtime, bill_path: Path, *, by: Sequence[str] = ()
) -> tuple[Reconciliation, CostReport]:
    """Set a FOCUS bill against perfops' attribution of the bill's own period (from its
    earliest charge start to its latest charge end): totals, or grouped ``by`` columns."""
    currency = rt.config.pricing.currency
    bill = read_focus_bill(bill_path, currency=currency)
    if bill.num_rows == 0:
        raise UsageError(f"{bill_path} has no charges", hint="export a bill with usage lines")
    start = int(pc.min(bill.column("ChargePeriodStart")).value // 1000)
    end = int(pc.max(bill.column("ChargePeriodEnd")).value // 1000)
    report = cost_report(rt, start, end)
    result = reconcile(
        bill, focus_charges(rt, report), by=tuple(by), period=(_utc(start), _utc(end))
    )
    rt.store.journal.append_events([_reconciled(rt, bill_path, result, start, end)])
    return result, report


def _reconciled(
    rt: Runtime, bill_path: Path, result: Reconciliation, start_ms: int, end_ms: int
) -> EventRecord:
    """The ``reconciliation`` event a report reads: which bill, its period, both totals and
    whether they agree (amounts as exact decimal strings)."""
    verdict = "agrees" if result.ok else "disagrees"
    return EventRecord(
        rt.clock.now_ns(),
        "reconciliation",
        f"bill {bill_path.name} {verdict} with perfops' attribution",
        data={
            "bill": str(bill_path),
            "start_ms": start_ms,
            "end_ms": end_ms,
            "bill_total": str(result.bill_total.quantize(_CENT)),
            "perfops_total": str(result.perfops_total.quantize(_CENT)),
            "difference": str(result.difference.quantize(_CENT)),
            "ok": result.ok,
            "currency": result.currency,
        },
    )
