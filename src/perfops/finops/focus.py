"""FOCUS 1.2: export perfops' charges, import a provider's FOCUS bill, reconcile the two.

FOCUS (FinOps Open Cost and Usage Specification, https://focus.finops.org) is the column
standard cloud bills are exported in. perfops speaks it both ways:

- :func:`to_focus_table` turns :class:`Charge` rows (what perfops attributed to each service,
  team, model, idle capacity and shared cost) into a FOCUS 1.2 cost-and-usage table with every
  mandatory column, the conditional columns perfops can honestly fill (listed with the feature
  flags in :data:`APPLICABILITY_CRITERIA`), and ``x_`` columns for tokens, SLO-compliant tokens
  and GPU-seconds. :func:`write_focus` writes it as Parquet or CSV. The FinOps Foundation's
  focus-validator 2.2.1 passes it on every rule but InvoiceId-C-005-C, which no dataset can
  pass alongside its twin C-004-C (FOCUS_Spec#2394; ``tests/integration/finops``).
- :func:`read_focus_bill` reads a FOCUS 1.0, 1.1 or 1.2 bill (CSV or Parquet), checks its
  columns, numbers, dates and currency, and names the file, row and column of every problem.
- :func:`reconcile` compares a bill with perfops' charges group by group, to show whether
  perfops' attribution accounts for what the provider billed.

Money is :class:`~decimal.Decimal` throughout: costs and quantities are kept to 10 decimal
places, unit prices to 16 (so ``unit price x quantity = cost`` holds to well within the
validator's 1e-9), and no amount passes through a float.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Context, Decimal
from pathlib import Path
from typing import Literal, get_args

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from perfops.errors import ConfigError, Problem, UsageError

__all__ = [
    "APPLICABILITY_CRITERIA",
    "BILL_REQUIRED_COLUMNS",
    "FOCUS_SCHEMA",
    "FOCUS_VERSION",
    "Charge",
    "ChargeKind",
    "GroupDiff",
    "PurchaseOption",
    "Reconciliation",
    "read_focus_bill",
    "reconcile",
    "to_focus_table",
    "write_focus",
]

FOCUS_VERSION = "1.2"

ChargeKind = Literal["gpu", "idle", "shared", "overhead"]
PurchaseOption = Literal["on_demand", "committed", "spot"]
ChargeCategory = Literal["Usage", "Adjustment", "Credit"]

#: The focus-validator applicability criteria perfops' export meets: which optional FOCUS
#: features a perfops "provider" supports. Not claimed: availability zones, capacity
#: reservations, commitment discounts (perfops prices committed GPUs at their committed rate but
#: does not track the commitment itself), several sub-account or billing-account types, and
#: pricing in a currency other than the billing one.
APPLICABILITY_CRITERIA: tuple[str, ...] = (
    "ACCOUNT_NAMING_SUPPORTED",
    "BILLING_BASED_ON_PROVISIONED_RESOURCES_SUPPORTED",
    "MULTIPLE_PRICING_CATEGORIES_SUPPORTED",
    "NEGOTIATED_PRICING_SUPPORTED",
    "PUBLIC_PRICE_LIST_SUPPORTED",
    "REGION_SUPPORTED",
    "RESOURCE_TYPE_ASSIGNMENT_SUPPORTED",
    "SUB_ACCOUNT_SUPPORTED",
    "TAGGING_SUPPORTED",
    "UNIT_PRICING_SUPPORTED",
    "USAGE_MEASUREMENT_SUPPORTED",
)

_MONEY = pa.decimal128(38, 10)
_PRICE = pa.decimal128(38, 16)
_TIME = pa.timestamp("us", tz="UTC")
_EXACT = pa.decimal128(38, 18)  # bills: 18 places keep any provider's precision
_DECIMAL38 = Context(prec=38)  # decimal128's precision; the default 28 is too few for 18 places
_STEP = {_MONEY: Decimal("1e-10"), _PRICE: Decimal("1e-16"), _EXACT: Decimal("1e-18")}

#: The columns :func:`to_focus_table` writes, in order, with their types.
FOCUS_SCHEMA = pa.schema(
    [
        ("BilledCost", _MONEY),
        ("BillingAccountId", pa.string()),
        ("BillingAccountName", pa.string()),
        ("BillingAccountType", pa.string()),
        ("BillingCurrency", pa.string()),
        ("BillingPeriodEnd", _TIME),
        ("BillingPeriodStart", _TIME),
        ("ChargeCategory", pa.string()),
        ("ChargeClass", pa.string()),
        ("ChargeDescription", pa.string()),
        ("ChargeFrequency", pa.string()),
        ("ChargePeriodEnd", _TIME),
        ("ChargePeriodStart", _TIME),
        ("CommitmentDiscountId", pa.string()),
        ("CommitmentDiscountStatus", pa.string()),
        ("ConsumedQuantity", _MONEY),
        ("ConsumedUnit", pa.string()),
        ("ContractedCost", _MONEY),
        ("ContractedUnitPrice", _PRICE),
        ("EffectiveCost", _MONEY),
        ("InvoiceId", pa.string()),
        ("InvoiceIssuerName", pa.string()),
        ("ListCost", _MONEY),
        ("ListUnitPrice", _PRICE),
        ("PricingCategory", pa.string()),
        ("PricingCurrency", pa.string()),
        ("PricingCurrencyContractedUnitPrice", _PRICE),
        ("PricingCurrencyEffectiveCost", _MONEY),
        ("PricingCurrencyListUnitPrice", _PRICE),
        ("PricingQuantity", _MONEY),
        ("PricingUnit", pa.string()),
        ("ProviderName", pa.string()),
        ("PublisherName", pa.string()),
        ("RegionId", pa.string()),
        ("RegionName", pa.string()),
        ("ResourceId", pa.string()),
        ("ResourceName", pa.string()),
        ("ResourceType", pa.string()),
        ("ServiceCategory", pa.string()),
        ("ServiceName", pa.string()),
        ("ServiceSubcategory", pa.string()),
        ("SkuId", pa.string()),
        ("SkuMeter", pa.string()),
        ("SkuPriceDetails", pa.string()),
        ("SkuPriceId", pa.string()),
        ("SubAccountId", pa.string()),
        ("SubAccountName", pa.string()),
        ("SubAccountType", pa.string()),
        ("Tags", pa.string()),
        ("x_Service", pa.string()),
        ("x_Team", pa.string()),
        ("x_Model", pa.string()),
        ("x_Tenant", pa.string()),
        ("x_ChargeKind", pa.string()),
        ("x_GpuSeconds", pa.float64()),
        ("x_Tokens", pa.int64()),
        ("x_SloCompliantTokens", pa.int64()),
    ]
)

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

_PRICING_CATEGORY: dict[str, str] = {
    "on_demand": "Standard",
    "committed": "Committed",
    "spot": "Dynamic",
}
_KIND_SERVICE: dict[str, str] = {
    "gpu": "GPU Inference",
    "idle": "Idle GPU Capacity",
    "shared": "Shared Infrastructure",
    "overhead": "Platform Overhead",
}
_KIND_METER: dict[str, str] = {
    "gpu": "GPU Time",
    "idle": "Idle GPU Time",
    "shared": "Shared Cost",
    "overhead": "Overhead Cost",
}
_AI_SUBCATEGORIES = (
    "AI Platforms",
    "Bots",
    "Generative AI",
    "Machine Learning",
    "Natural Language Processing",
    "Other (AI and Machine Learning)",
)


@dataclass(frozen=True, slots=True)
class Charge:
    """One cost line perfops computed: what one service, team or idle pool cost in one period.

    ``cost`` is what was paid (FOCUS BilledCost and EffectiveCost). ``list_cost`` (the public
    price) and ``contracted_cost`` (the negotiated price) default to ``list_unit_price`` or
    ``contracted_unit_price`` times the pricing quantity when those are given, else to ``cost``.
    The pricing quantity defaults to GPU-hours (``gpu_seconds / 3600``) for GPU and idle lines
    and to one allocation for shared and overhead lines; a line with a cost needs a positive
    quantity. ``purchase`` maps to FOCUS PricingCategory: on_demand -> Standard,
    committed -> Committed, spot -> Dynamic. Datetimes must carry a time zone.
    """

    charge_start: datetime
    charge_end: datetime
    billing_start: datetime
    billing_end: datetime
    cost: Decimal
    kind: ChargeKind = "gpu"
    service: str | None = None
    team: str | None = None
    model: str | None = None
    tenant: str | None = None
    gpu_seconds: float = 0.0
    tokens: int = 0
    slo_compliant_tokens: int = 0
    resource_id: str | None = None
    resource_name: str | None = None
    resource_type: str | None = None
    gpu_type: str | None = None
    provider: str | None = None
    region: str | None = None
    region_name: str | None = None
    purchase: PurchaseOption = "on_demand"
    pricing_quantity: Decimal | None = None
    pricing_unit: str | None = None
    list_unit_price: Decimal | None = None
    contracted_unit_price: Decimal | None = None
    list_cost: Decimal | None = None
    contracted_cost: Decimal | None = None
    description: str | None = None
    category: ChargeCategory = "Usage"
    subcategory: str = "Generative AI"
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for name in ("charge_start", "charge_end", "billing_start", "billing_end"):
            if getattr(self, name).utcoffset() is None:
                raise ValueError(f"Charge.{name} must be timezone-aware (UTC)")
        if self.charge_end <= self.charge_start:
            raise ValueError("Charge.charge_end must be after charge_start")
        if not self.billing_start <= self.charge_start < self.charge_end <= self.billing_end:
            raise ValueError("the charge period must lie inside the billing period")
        _check_choice("kind", self.kind, get_args(ChargeKind))
        _check_choice("purchase", self.purchase, get_args(PurchaseOption))
        _check_choice("category", self.category, get_args(ChargeCategory))
        _check_choice("subcategory", self.subcategory, _AI_SUBCATEGORIES)
        if self.gpu_seconds < 0 or self.tokens < 0 or self.slo_compliant_tokens < 0:
            raise ValueError("gpu_seconds, tokens and slo_compliant_tokens must be >= 0")
        if self.slo_compliant_tokens > self.tokens:
            raise ValueError("slo_compliant_tokens cannot exceed tokens")
        quantity = _q(self.quantity()[0])
        if self.category == "Usage" and quantity == 0 and self._has_cost():
            raise ValueError("a usage charge with a cost needs a pricing quantity above zero")
        for price, total in (
            (self.list_unit_price, self.list_cost),
            (self.contracted_unit_price, self.contracted_cost),
        ):
            if price is not None and total is not None and not _agrees(price * quantity, total):
                raise ValueError(
                    f"unit price {price} x quantity {quantity} is not the cost {total}; "
                    "give the unit price or the cost, not both"
                )

    def quantity(self) -> tuple[Decimal, str]:
        """The FOCUS PricingQuantity and PricingUnit of this line."""
        if self.pricing_quantity is not None:
            return self.pricing_quantity, self.pricing_unit or "GPU-Hours"
        if self.kind in ("gpu", "idle"):
            return Decimal(repr(self.gpu_seconds)) / 3600, self.pricing_unit or "GPU-Hours"
        return Decimal(1), self.pricing_unit or "Allocations"

    def _has_cost(self) -> bool:
        amounts = (self.cost, self.list_cost, self.contracted_cost)
        return any(a is not None and a != 0 for a in amounts)


def _agrees(product: Decimal, total: Decimal) -> bool:
    """FOCUS' "unit price x quantity MUST match cost", to focus-validator's relative 1e-9."""
    return abs(product - total) <= Decimal("1e-9") * max(abs(total), Decimal(1))


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"Charge.{name} {value!r} is not one of {', '.join(allowed)}")


def _q(value: Decimal, kind: pa.DataType = _MONEY) -> Decimal:
    """``value`` rounded half even to the scale of ``kind``; InvalidOperation past 38 digits."""
    return value.quantize(_STEP[kind], context=_DECIMAL38)


def _prices(c: Charge) -> dict[str, object]:
    """The FOCUS quantity, unit price and cost columns of one charge, mutually consistent."""
    qty, unit = c.quantity()
    qty = _q(qty)
    cost = _q(c.cost)
    contracted = c.contracted_cost
    if contracted is None:
        contracted = c.contracted_unit_price * qty if c.contracted_unit_price is not None else cost
    listed = c.list_cost
    if listed is None:
        listed = c.list_unit_price * qty if c.list_unit_price is not None else contracted
    contracted, listed = _q(contracted), _q(listed)

    def unit_price(given: Decimal | None, total: Decimal) -> Decimal:
        if given is not None:
            return _q(given, _PRICE)
        return _q(total / qty, _PRICE) if qty else Decimal(0)

    usage = c.category == "Usage"
    return {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ContractedCost": contracted,
        "ListCost": listed,
        "PricingQuantity": qty if usage else None,
        "PricingUnit": unit if usage else None,
        "ConsumedQuantity": qty if usage else None,
        "ConsumedUnit": unit if usage else None,
        "ContractedUnitPrice": unit_price(c.contracted_unit_price, contracted) if usage else None,
        "ListUnitPrice": unit_price(c.list_unit_price, listed) if usage else None,
    }


def _charge_row(c: Charge) -> dict[str, object]:
    """The FOCUS columns of one charge that depend on the charge alone."""
    service = c.service or _KIND_SERVICE[c.kind]
    usage = c.category == "Usage"
    sku = c.gpu_type or f"perfops-{c.kind}"
    price_id = f"{sku}/{c.purchase}/{c.region or 'any'}"
    resource_type = (c.resource_type or "GPU") if c.resource_id else None
    tags = {
        **{f"perfops/{k}": v for k, v in _labels(c).items() if v is not None},
        **dict(c.tags),
    }
    return {
        **_prices(c),
        "ChargeCategory": c.category,
        "ChargeClass": None,
        "ChargeDescription": c.description or _describe(c, service),
        "ChargeFrequency": "Usage-Based" if usage else "One-Time",
        "ChargePeriodStart": c.charge_start.astimezone(UTC),
        "ChargePeriodEnd": c.charge_end.astimezone(UTC),
        "BillingPeriodStart": c.billing_start.astimezone(UTC),
        "BillingPeriodEnd": c.billing_end.astimezone(UTC),
        "CommitmentDiscountId": None,
        "CommitmentDiscountStatus": None,
        "InvoiceId": None,
        "PricingCategory": _PRICING_CATEGORY[c.purchase] if usage else None,
        "RegionId": c.region,
        "RegionName": (c.region_name or c.region) if c.region else None,
        "ResourceId": c.resource_id,
        "ResourceName": (c.resource_name or c.resource_id) if c.resource_id else None,
        "ResourceType": resource_type,
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": service,
        "ServiceSubcategory": c.subcategory,
        "SkuId": sku if usage else None,
        "SkuMeter": _KIND_METER[c.kind] if usage else None,
        "SkuPriceDetails": None,
        "SkuPriceId": price_id if usage else None,
        "SubAccountId": c.team,
        "SubAccountName": c.team,
        "SubAccountType": "Team" if c.team else None,
        "Tags": json.dumps(tags, sort_keys=True) if tags else None,
        "x_Service": c.service,
        "x_Team": c.team,
        "x_Model": c.model,
        "x_Tenant": c.tenant,
        "x_ChargeKind": c.kind,
        "x_GpuSeconds": float(c.gpu_seconds),
        "x_Tokens": c.tokens,
        "x_SloCompliantTokens": c.slo_compliant_tokens,
    }


def _labels(c: Charge) -> dict[str, str | None]:
    return {"service": c.service, "team": c.team, "model": c.model, "tenant": c.tenant}


def _describe(c: Charge, service: str) -> str:
    what = {"gpu": "GPU time", "idle": "Idle GPU time", "shared": "Shared cost"}.get(
        c.kind, "Overhead"
    )
    parts = [f"{what} of {service}" if c.kind != "idle" else what]
    if c.model:
        parts.append(f"model {c.model}")
    if c.gpu_type:
        parts.append(f"on {c.gpu_type}")
    if c.resource_id:
        parts.append(f"({c.resource_id})")
    return " ".join(parts)


def to_focus_table(
    charges: Iterable[Charge],
    *,
    currency: str,
    billing_account_id: str,
    billing_account_name: str,
    provider: str,
    invoice_issuer: str | None = None,
    publisher: str | None = None,
    billing_account_type: str = "Workspace",
) -> pa.Table:
    """perfops' charges as a FOCUS 1.2 cost-and-usage table (:data:`FOCUS_SCHEMA`).

    ``provider`` is the ProviderName of charges that do not name their own; ``invoice_issuer``
    and ``publisher`` default to each row's provider. Keep the issuer equal to the provider:
    FOCUS requires BilledCost 0 on lines invoiced by a third party (marketplace purchases).
    The workspace is the billing account; teams are sub-accounts (SubAccountType "Team").

    Columns perfops has no data for are present and null: InvoiceId (perfops issues no
    invoice), CommitmentDiscountId and CommitmentDiscountStatus (commitments are priced, not
    tracked). The PricingCurrency columns repeat the billing currency and its prices.
    """
    if len(currency) != 3 or not currency.isascii() or not currency.isupper():
        raise UsageError(
            f"currency {currency!r} is not an ISO 4217 code",
            hint="use three capital letters such as USD or EUR",
        )
    rows: list[dict[str, object]] = []
    for charge in charges:
        row = _charge_row(charge)
        row_provider = charge.provider or provider
        row.update(
            BillingAccountId=billing_account_id,
            BillingAccountName=billing_account_name,
            BillingAccountType=billing_account_type,
            BillingCurrency=currency,
            ProviderName=row_provider,
            PublisherName=publisher or row_provider,
            InvoiceIssuerName=invoice_issuer or row_provider,
            PricingCurrency=currency,
            PricingCurrencyContractedUnitPrice=row["ContractedUnitPrice"],
            PricingCurrencyEffectiveCost=row["EffectiveCost"],
            PricingCurrencyListUnitPrice=row["ListUnitPrice"],
        )
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=FOCUS_SCHEMA)


def write_focus(table: pa.Table, path: str | os.PathLike[str]) -> Path:
    """Write ``table`` to ``path`` as Parquet (``.parquet``) or CSV (``.csv``), atomically.

    CSV dates are ISO 8601 in UTC to the second (``2026-01-01T00:00:00Z``), as FOCUS' DateTime
    format asks; decimals keep their full scale; empty fields are nulls.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise UsageError(
            f"{target}: cannot tell the format from the suffix {target.suffix!r}",
            hint="name the file *.parquet or *.csv",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        if suffix == ".parquet":
            pq.write_table(table, tmp)
        else:
            pacsv.write_csv(_csv_ready(table), tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _csv_ready(table: pa.Table) -> pa.Table:
    columns = []
    for column, f in zip(table.columns, table.schema, strict=True):
        if pa.types.is_timestamp(f.type):
            seconds = pc.cast(column, pa.timestamp("s", tz="UTC"), safe=False)
            column = pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%SZ")
        columns.append(column)
    return pa.table(columns, names=table.column_names)


# --- reading a bill -----------------------------------------------------------------------

_MAX_PROBLEMS = 20
_BILL_TYPES: dict[str, pa.DataType] = {
    **{f.name: _EXACT if pa.types.is_decimal(f.type) else f.type for f in FOCUS_SCHEMA},
    "CommitmentDiscountQuantity": _EXACT,
}


class _Problems:
    """Problems found in one bill, capped so a broken million-row file stays readable."""

    def __init__(self, path: Path, csv_lines: bool) -> None:
        self.path = path
        self.csv_lines = csv_lines
        self.items: list[Problem] = []
        self.dropped = 0
        self.bad: set[tuple[int, str]] = set()  # (row, column) of values that did not parse

    def where(self, row: int) -> str:
        """``row`` is 0-based over the data rows; CSV line = row + 2 (the header is line 1)."""
        if self.csv_lines:
            return f"{self.path}:{row + 2}"
        return f"{self.path} row {row + 1}"

    def add(self, location: str, column: str, message: str, hint: str | None) -> None:
        if len(self.items) < _MAX_PROBLEMS:
            self.items.append(Problem(location, column, message, hint))
        else:
            self.dropped += 1

    def raise_if_any(self) -> None:
        if not self.items:
            return
        items = list(self.items)
        if self.dropped:
            items.append(Problem(str(self.path), "", f"... and {self.dropped} more problems"))
        raise ConfigError(items, source=str(self.path))


def read_focus_bill(path: str | os.PathLike[str], *, currency: str | None = None) -> pa.Table:
    """Read a FOCUS 1.0-1.2 bill (``.csv`` or ``.parquet``) into a normalised Arrow table.

    Every column is kept. Cost, price and quantity columns become decimals with 18 places
    (further places are rounded), date columns UTC timestamps (a time without a zone is read
    as UTC, as FOCUS requires), perfops' integer ``x_`` columns integers, and everything else
    strings. Row ``i`` of the result is data row ``i + 1`` of the file.

    Raises :class:`~perfops.errors.ConfigError` listing every problem with its file, line (CSV)
    or row (Parquet) and column: missing FOCUS columns, values that are not numbers or dates,
    empty costs, and a BillingCurrency other than ``currency`` (or, when ``currency`` is None,
    a bill in more than one currency).
    """
    source = Path(path)
    raw = _load(source)
    problems = _Problems(source, csv_lines=source.suffix.lower() == ".csv")
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
        _parse_column(name, raw.column(name), _BILL_TYPES.get(name, pa.string()), problems)
        for name in raw.column_names
    ]
    table = pa.table(columns, names=raw.column_names)
    _check_not_null(table, problems)
    _check_currency(table, currency, problems)
    problems.raise_if_any()
    return table


def _load(source: Path) -> pa.Table:
    suffix = source.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UsageError(
            f"{source}: cannot read a bill from a {source.suffix or 'suffix-less'} file",
            hint="give a FOCUS export named *.csv or *.parquet",
        )
    if not source.is_file():
        raise UsageError(f"{source}: no such file", hint="check the path to the FOCUS bill")
    try:
        if suffix == ".parquet":
            return pq.read_table(source)
        with source.open(newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
        options = pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            null_values=["", "NULL", "null"],
            strings_can_be_null=True,
        )
        return pacsv.read_csv(source, convert_options=options)
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError, csv.Error) as exc:
        kind = "Parquet" if suffix == ".parquet" else "CSV"
        raise ConfigError(
            [Problem(str(source), "", f"cannot be read as {kind}: {exc}", _FIX_FILE)],
            source=str(source),
        ) from None


_FIX_FILE = "re-export the bill; perfops reads UTF-8 CSV with a header row, or Parquet"


def _parse_column(
    name: str, column: pa.ChunkedArray, kind: pa.DataType, problems: _Problems
) -> pa.Array:
    if pa.types.is_string(kind):
        return _text(column)
    parse: Callable[[object], object]
    if pa.types.is_decimal(kind):
        parse, what = (lambda v: _decimal(v, kind)), "a decimal number"
        hint = "write plain numbers such as 12.34, without currency symbols or separators"
    elif pa.types.is_timestamp(kind):
        parse, what = _timestamp, "a date-time"
        hint = "write ISO 8601 in UTC, such as 2026-01-31T00:00:00Z"
    elif pa.types.is_integer(kind):
        parse, what, hint = _integer, "a whole number", "write whole numbers such as 1200"
    else:
        parse, what, hint = _float, "a number", "write numbers such as 3600.5"
    values: list[object] = []
    for row, value in enumerate(column.to_pylist()):
        try:
            values.append(None if _blank(value) else parse(value))
        except (ValueError, ArithmeticError, TypeError):
            problems.add(problems.where(row), name, f"{value!r} is not {what}", hint)
            problems.bad.add((row, name))
            values.append(None)
    return pa.array(values, type=kind)


def _text(column: pa.ChunkedArray) -> pa.Array:
    """A column as strings; maps, lists and structs (Tags in some Parquet exports) as JSON."""
    try:
        return pc.cast(column, pa.string()).combine_chunks()
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        pairs = pa.types.is_map(column.type)
        values = [
            None if v is None else json.dumps(dict(v) if pairs else v, default=str)
            for v in column.to_pylist()
        ]
        return pa.array(values, pa.string())


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _decimal(value: object, kind: pa.DataType) -> Decimal:
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    if not number.is_finite():
        raise ValueError(value)
    return _q(number, kind)


def _timestamp(value: object) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        moment = datetime.fromisoformat(str(value).strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _integer(value: object) -> int:
    if isinstance(value, int):
        return value
    number = Decimal(str(value).strip())
    if number != number.to_integral_value():
        raise ValueError(value)
    return int(number)


def _float(value: object) -> float:
    if isinstance(value, int | float | Decimal):
        return float(value)
    return float(str(value).strip())


def _check_not_null(table: pa.Table, problems: _Problems) -> None:
    for name in _BILL_NOT_NULL:
        column = table.column(name)
        if column.null_count == 0:
            continue
        for row in pc.indices_nonzero(pc.is_null(column)).to_pylist():
            if (row, name) in problems.bad:
                continue
            problems.add(problems.where(row), name, "is empty", f"every FOCUS charge has a {name}")


def _check_currency(table: pa.Table, expected: str | None, problems: _Problems) -> None:
    """One problem per unexpected currency, at its first row, with how many rows carry it."""
    rows: dict[str, list[int]] = {}
    for row, currency in enumerate(table.column("BillingCurrency").to_pylist()):
        if currency is not None:
            rows.setdefault(currency, []).append(row)
    want = expected or next(iter(rows), None)
    for currency, where in rows.items():
        if currency == want:
            continue
        if expected:
            hint = (
                f"perfops prices in {expected} (pricing.currency): export the bill in "
                f"{expected}, or set pricing.currency: {currency} in perfops.yaml if that is "
                "what you pay in"
            )
        else:
            hint = "split the bill by BillingCurrency and reconcile each part on its own"
        count = f"{len(where)} row{'s' if len(where) > 1 else ''}"
        problems.add(
            problems.where(where[0]),
            "BillingCurrency",
            f"{currency} where {want} was expected ({count}, this is the first)",
            hint,
        )


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


_KEY_COLUMNS = (
    _DAY,
    *(f.name for f in FOCUS_SCHEMA if pa.types.is_string(f.type) or f.type == _TIME),
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
        row_values = _charge_row(charge)
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
        mask = pc.and_(mask, pc.fill_null(pc.is_in(values, pa.array(list(accepted))), False))
    if window is not None:
        start = pa.scalar(window[0], _TIME)
        end = pa.scalar(window[1], _TIME)
        inside = pc.and_(
            pc.greater_equal(bill.column("ChargePeriodStart"), start),
            pc.less_equal(bill.column("ChargePeriodEnd"), end),
        )
        mask = pc.and_(mask, pc.fill_null(inside, False))
    rows = pc.indices_nonzero(mask).to_pylist()
    return rows, bill.num_rows - len(rows)
