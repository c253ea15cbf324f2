"""FOCUS 1.2 export: perfops' charges as a FOCUS cost-and-usage table, Parquet or CSV.

FOCUS (FinOps Open Cost and Usage Specification, https://focus.finops.org) is the column
standard cloud bills are exported in. :func:`to_focus_table` turns :class:`Charge` rows (what
perfops attributed to each service, team, model, idle capacity and shared cost) into a FOCUS 1.2
cost-and-usage table with every mandatory column, the conditional columns perfops can honestly
fill (listed with the feature flags in :data:`APPLICABILITY_CRITERIA`), and ``x_`` columns for
tokens, SLO-compliant tokens and GPU-seconds. :func:`write_focus` writes it as Parquet or CSV.
The FinOps Foundation's focus-validator 2.2.1 passes it on every rule but InvoiceId-C-005-C,
which no dataset can pass alongside its twin C-004-C (FOCUS_Spec#2394;
``tests/integration/finops``). Reading a provider's FOCUS bill and reconciling it with these
charges is :mod:`~perfops.finops.bill`.

Money is :class:`~decimal.Decimal` throughout: costs and quantities are kept to 10 decimal
places, unit prices to 16 (so ``unit price x quantity = cost`` holds to well within the
validator's 1e-9), and no amount passes through a float.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal, get_args

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from perfops._internal.focus_schema import FOCUS_SCHEMA
from perfops.errors import UsageError
from perfops.finops._focus_columns import charge_row, quantize

__all__ = [
    "APPLICABILITY_CRITERIA",
    "FOCUS_SCHEMA",
    "FOCUS_VERSION",
    "Charge",
    "ChargeKind",
    "PurchaseOption",
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
        quantity = quantize(self.quantity()[0])
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
        row = charge_row(charge)
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
