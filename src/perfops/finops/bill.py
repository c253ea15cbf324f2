"""A provider's FOCUS bill: read it, and reconcile it with perfops' charges.

- :func:`read_focus_bill` reads a FOCUS 1.0, 1.1 or 1.2 bill (CSV or Parquet), checks its
  columns, numbers, dates and currency, and names the file, row and column of every problem.
- :func:`reconcile` compares a bill with perfops' charges (:class:`~perfops.finops.focus.Charge`)
  group by group, to show whether perfops' attribution accounts for what the provider billed.

Money is :class:`~decimal.Decimal` throughout; bill amounts keep 18 decimal places.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from perfops.errors import UsageError
from perfops.finops._focus_columns import EXACT, TIME, charge_row
from perfops.finops._focus_parse import (
    BillProblems,
    check_currency,
    check_not_null,
    check_periods,
    load_table,
    parse_column,
)
from perfops.finops.focus import FOCUS_SCHEMA, Charge

__all__ = [
    "BILL_REQUIRED_COLUMNS",
    "GroupDiff",
    "Reconciliation",
    "read_focus_bill",
    "reconcile",
]

#: Columns a bill must have: the mandatory columns of FOCUS 1.0, all still mandatory in 1.2.
BILL_REQUIRED_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
)
_BILL_NOT_NULL = (
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
)

_BILL_TYPES: dict[str, pa.DataType] = {
    **{f.name: EXACT if pa.types.is_decimal(f.type) else f.type for f in FOCUS_SCHEMA},
    "CommitmentDiscountQuantity": EXACT,
}


def read_focus_bill(path: str | os.PathLike[str], *, currency: str | None = None) -> pa.Table:
    """Read a FOCUS 1.0-1.2 bill (``.csv`` or ``.parquet``) into a normalised Arrow table.

    Every column is kept. Cost, price and quantity columns become decimals with 18 places
    (further places are rounded), date columns UTC timestamps (a time without a zone is read
    as UTC, as FOCUS requires), perfops' integer ``x_`` columns integers, and everything else
    strings. Row ``i`` of the result is data row ``i + 1`` of the file.

    Raises :class:`~perfops.errors.ConfigError` listing every problem with its file, line (CSV)
    or row (Parquet) and column: missing FOCUS columns, values that are not numbers or dates,
    dates outside the years 2000 to 2099, a charge ending before it starts, a bill spanning
    more than 366 days, empty costs, and a BillingCurrency other than ``currency`` (or, when
    ``currency`` is None, a bill in more than one currency).
    """
    source = Path(path)
    raw = load_table(source)
    problems = BillProblems(source, csv_lines=source.suffix.lower() == ".csv")
    missing = [c for c in BILL_REQUIRED_COLUMNS if c not in raw.column_names]
    if missing:
        problems.add(
            str(source),
            "",
            f"not a FOCUS bill: missing column{'s' if len(missing) > 1 else ''} "
            + ", ".join(missing),
            "export the bill in FOCUS 1.0 or later (for example the AWS Data Exports 'FOCUS "
            "1.2' table or Azure Cost Management 'FOCUS cost'), with all its columns",
        )
        problems.raise_if_any()
    columns = [
        parse_column(name, raw.column(name), _BILL_TYPES.get(name, pa.string()), problems)
        for name in raw.column_names
    ]
    table = pa.table(columns, names=raw.column_names)
    check_not_null(table, _BILL_NOT_NULL, problems)
    check_periods(table, problems)
    check_currency(table, currency, problems)
    problems.raise_if_any()
    return table


# --- reconciliation -----------------------------------------------------------------------

GroupStatus = Literal["match", "over", "under", "bill only", "perfops only"]
_DAY = "Day"


@dataclass(frozen=True, slots=True)
class GroupDiff:
    """One group of the comparison: the bill's and perfops' cost for one key.

    ``status`` is "match" when the two agree within the tolerance, else "over" (perfops
    attributes more than was billed), "under" (less), "bill only" (billed, nothing attributed:
    the bill lines in ``bill_rows`` are unaccounted for) or "perfops only" (attributed, not
    billed).
    """

    key: tuple[str | None, ...]
    bill: Decimal
    perfops: Decimal
    bill_rows: tuple[int, ...]
    charges: int
    status: GroupStatus

    @property
    def difference(self) -> Decimal:
        """perfops minus bill; positive when perfops attributes more than was billed."""
        return self.perfops - self.bill

    @property
    def difference_pct(self) -> Decimal | None:
        """The difference as a percentage of the bill; None when the bill is zero."""
        return self.difference / self.bill * 100 if self.bill else None


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """A bill set against perfops' charges: totals, per-group differences and a verdict.

    ``matched`` is the bill cost in groups where perfops agrees within the tolerance;
    ``unmatched_bill`` the bill cost in groups perfops attributes nothing to. ``ok`` holds
    when the totals agree and every group agrees, each within the tolerance (the larger of
    ``tolerance_abs`` and ``tolerance_pct`` percent of the bill amount).
    """

    by: tuple[str, ...]
    cost_column: str
    currency: str | None
    period: tuple[datetime, datetime] | None
    bill_total: Decimal
    perfops_total: Decimal
    matched: Decimal
    unmatched_bill: Decimal
    groups: tuple[GroupDiff, ...]
    excluded_bill_lines: int
    tolerance_pct: Decimal
    tolerance_abs: Decimal
    ok: bool

    @property
    def difference(self) -> Decimal:
        return self.perfops_total - self.bill_total

    @property
    def difference_pct(self) -> Decimal | None:
        return self.difference / self.bill_total * 100 if self.bill_total else None

    @property
    def unmatched_bill_lines(self) -> tuple[int, ...]:
        """Bill rows (1-based data rows) in groups perfops attributes nothing to."""
        return tuple(r for g in self.groups if g.status == "bill only" for r in g.bill_rows)

    def summary(self) -> str:
        """One sentence for a terminal or report."""
        cur = f" {self.currency}" if self.currency else ""
        pct = self.difference_pct
        share = f" ({pct:+.2f}%)" if pct is not None else ""
        verdict = "accounts for the bill" if self.ok else "does NOT account for the bill"
        bad = sum(g.status != "match" for g in self.groups)
        return (
            f"perfops {verdict}: billed {self.bill_total:.2f}{cur}, attributed "
            f"{self.perfops_total:.2f}{cur}, difference {self.difference:+.2f}{cur}{share}; "
            f"{len(self.groups) - bad} of {len(self.groups)} groups by "
            f"{', '.join(self.by) or 'total'} match"
        )


def _bill_key_values(bill: pa.Table, column: str) -> list[str | None]:
    if column == _DAY:
        starts = bill.column("ChargePeriodStart").to_pylist()
        return [s.date().isoformat() if s else None for s in starts]
    values = bill.column(column).to_pylist()
    return [v.isoformat() if isinstance(v, datetime) else v for v in values]


def _charge_key_value(row: Mapping[str, object], column: str) -> str | None:
    if column == _DAY:
        start = row["ChargePeriodStart"]
        return start.date().isoformat() if isinstance(start, datetime) else None
    value = row[column]
    if isinstance(value, datetime):
        return value.isoformat()
    return None if value is None else str(value)


#: Columns :func:`~perfops.finops.focus.to_focus_table` fills from its arguments, not from
#: the charge: perfops' side has no value of its own to group by.
_ACCOUNT_COLUMNS = frozenset(
    {
        "BillingAccountId",
        "BillingAccountName",
        "BillingAccountType",
        "BillingCurrency",
        "InvoiceIssuerName",
        "PricingCurrency",
        "ProviderName",
        "PublisherName",
    }
)
_KEY_COLUMNS = (
    _DAY,
    *(
        f.name
        for f in FOCUS_SCHEMA
        if (pa.types.is_string(f.type) or f.type == TIME) and f.name not in _ACCOUNT_COLUMNS
    ),
)


def reconcile(
    bill: pa.Table,
    charges: Sequence[Charge],
    *,
    by: Sequence[str] = ("ResourceId",),
    scope: Mapping[str, Collection[str]] | None = None,
    period: tuple[datetime, datetime] | None = None,
    cost_column: Literal["EffectiveCost", "BilledCost"] = "EffectiveCost",
    tolerance_pct: Decimal = Decimal("0.5"),
    tolerance_abs: Decimal = Decimal("0.01"),
) -> Reconciliation:
    """Does perfops' attribution account for the bill? Compare the two group by group.

    ``bill`` is a table from :func:`read_focus_bill`; ``charges`` are perfops' charges for
    the same resources. Both sides are grouped by the FOCUS columns in ``by`` (perfops' side
    takes each charge's FOCUS value, as :func:`to_focus_table` would write it) plus ``"Day"``,
    the UTC date of ChargePeriodStart. Group by ``ResourceId`` when perfops' charges carry
    the provider's instance ids, by ``SkuId`` or ``RegionId`` when they carry the GPU type or
    region, by ``Day`` to compare periods, or by nothing (``by=()``) to compare totals.

    Only bill lines in scope are compared:

    - ``scope`` maps bill columns to accepted values, e.g. ``{"ServiceName": {"Amazon Elastic
      Compute Cloud"}}``; the default is ``{"ChargeCategory": {"Usage"}}`` (taxes, credits and
      purchases are not something perfops attributes);
    - ``period`` is the time window; the default spans perfops' charges, from the earliest
      start to the latest end, and bill lines whose charge period is not inside it are left
      out. ``excluded_bill_lines`` counts the lines left out by either rule.

    The bill side sums ``cost_column`` (EffectiveCost: amortized, after discounts, like
    perfops' cost); perfops' side sums ``Charge.cost``.
    """
    keys = tuple(by)
    unknown = [k for k in keys if k not in _KEY_COLUMNS]
    if unknown:
        raise UsageError(
            f"cannot reconcile by {', '.join(unknown)}",
            hint=f"group by any of {', '.join(_KEY_COLUMNS)}",
        )
    absent = [k for k in keys if k != _DAY and k not in bill.column_names]
    if absent:
        raise UsageError(
            f"the bill has no column {', '.join(absent)} to reconcile by",
            hint=f"group by columns the bill has, such as {', '.join(_KEY_COLUMNS[:4])}",
        )
    rules = {"ChargeCategory": {"Usage"}} if scope is None else scope
    window = period or _span(charges)
    currency = next(iter(bill.column("BillingCurrency").to_pylist()), None)

    groups: dict[tuple[str | None, ...], _Group] = {}
    rows_in, excluded = _bill_rows_in_scope(bill, rules, window)
    costs = bill.column(cost_column).to_pylist()
    bill_keys = [_bill_key_values(bill, k) for k in keys]
    for row in rows_in:
        group = groups.setdefault(tuple(col[row] for col in bill_keys), _Group())
        group.bill += costs[row] or Decimal(0)
        group.bill_rows.append(row + 1)
    for charge in charges:
        row_values = charge_row(charge)
        key = tuple(_charge_key_value(row_values, k) for k in keys)
        group = groups.setdefault(key, _Group())
        group.perfops += charge.cost
        group.charges += 1

    def within(diff: Decimal, base: Decimal) -> bool:
        return abs(diff) <= max(tolerance_abs, abs(base) * tolerance_pct / 100)

    diffs = tuple(
        g.diff(key, within) for key, g in sorted(groups.items(), key=lambda kv: _sort_key(kv[0]))
    )
    bill_total = sum((g.bill for g in diffs), Decimal(0))
    perfops_total = sum((g.perfops for g in diffs), Decimal(0))
    return Reconciliation(
        by=keys,
        cost_column=cost_column,
        currency=currency,
        period=window,
        bill_total=bill_total,
        perfops_total=perfops_total,
        matched=sum((g.bill for g in diffs if g.status == "match"), Decimal(0)),
        unmatched_bill=sum((g.bill for g in diffs if g.status == "bill only"), Decimal(0)),
        groups=diffs,
        excluded_bill_lines=excluded,
        tolerance_pct=tolerance_pct,
        tolerance_abs=tolerance_abs,
        ok=within(perfops_total - bill_total, bill_total)
        and all(g.status == "match" for g in diffs),
    )


@dataclass
class _Group:
    bill: Decimal = Decimal(0)
    perfops: Decimal = Decimal(0)
    bill_rows: list[int] = field(default_factory=list)
    charges: int = 0

    def diff(
        self, key: tuple[str | None, ...], within: Callable[[Decimal, Decimal], bool]
    ) -> GroupDiff:
        status: GroupStatus
        if within(self.perfops - self.bill, self.bill):
            status = "match"
        elif not self.charges:
            status = "bill only"
        elif not self.bill_rows:
            status = "perfops only"
        else:
            status = "over" if self.perfops > self.bill else "under"
        return GroupDiff(key, self.bill, self.perfops, tuple(self.bill_rows), self.charges, status)


def _sort_key(key: tuple[str | None, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((v is None, v or "") for v in key)


def _span(charges: Sequence[Charge]) -> tuple[datetime, datetime] | None:
    if not charges:
        return None
    start = min(c.charge_start for c in charges).astimezone(UTC)
    end = max(c.charge_end for c in charges).astimezone(UTC)
    return start, end


def _bill_rows_in_scope(
    bill: pa.Table,
    rules: Mapping[str, Collection[str]],
    window: tuple[datetime, datetime] | None,
) -> tuple[list[int], int]:
    absent = [c for c in rules if c not in bill.column_names]
    if absent:
        raise UsageError(
            f"the bill has no column {', '.join(absent)} to scope the reconciliation by",
            hint="scope by columns the bill has, such as ServiceName or ResourceId",
        )
    mask = pa.array([True] * bill.num_rows, pa.bool_())
    for column, accepted in rules.items():
        values = pc.cast(bill.column(column), pa.string())
        mask = pc.and_(
            mask, pc.fill_null(pc.is_in(values, pa.array(list(accepted), pa.string())), False)
        )
    if window is not None:
        start = pa.scalar(window[0], TIME)
        end = pa.scalar(window[1], TIME)
        inside = pc.and_(
            pc.greater_equal(bill.column("ChargePeriodStart"), start),
            pc.less_equal(bill.column("ChargePeriodEnd"), end),
        )
        mask = pc.and_(mask, pc.fill_null(inside, False))
    rows = pc.indices_nonzero(mask).to_pylist()
    return rows, bill.num_rows - len(rows)
