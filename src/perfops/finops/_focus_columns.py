"""The FOCUS columns of one perfops charge, and the Arrow types FOCUS amounts are kept in.

Shared by the export (:mod:`~perfops.finops.focus`), which writes these columns, and the
reconciliation (:mod:`~perfops.finops.bill`), which groups perfops' charges by them exactly as
the export would write them.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Context, Decimal
from typing import TYPE_CHECKING

import pyarrow as pa

from perfops._internal import strict_json
from perfops._internal.focus_schema import MONEY, PRICE, TIME

if TYPE_CHECKING:
    from perfops.finops.focus import Charge

__all__ = ["EXACT", "MONEY", "PRICE", "TIME", "charge_row", "quantize"]

EXACT = pa.decimal128(38, 18)  # bills: 18 places keep any provider's precision
_DECIMAL38 = Context(prec=38)  # decimal128's precision; the default 28 is too few for 18 places
_STEP = {MONEY: Decimal("1e-10"), PRICE: Decimal("1e-16"), EXACT: Decimal("1e-18")}


def quantize(value: Decimal, kind: pa.DataType = MONEY) -> Decimal:
    """``value`` rounded half even to the scale of ``kind``; InvalidOperation past 38 digits."""
    return value.quantize(_STEP[kind], context=_DECIMAL38)


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


def _prices(c: Charge) -> dict[str, object]:
    """The FOCUS quantity, unit price and cost columns of one charge, mutually consistent."""
    qty, unit = c.quantity()
    qty = quantize(qty)
    cost = quantize(c.cost)
    contracted = c.contracted_cost
    if contracted is None:
        contracted = c.contracted_unit_price * qty if c.contracted_unit_price is not None else cost
    listed = c.list_cost
    if listed is None:
        listed = c.list_unit_price * qty if c.list_unit_price is not None else contracted
    contracted, listed = quantize(contracted), quantize(listed)

    def unit_price(given: Decimal | None, total: Decimal) -> Decimal:
        if given is not None:
            return quantize(given, PRICE)
        return quantize(total / qty, PRICE) if qty else Decimal(0)

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


def charge_row(c: Charge) -> dict[str, object]:
    """The FOCUS columns of one charge that depend on the charge alone.

    The rest (billing account, currencies, provider, publisher, invoice issuer) come from
    :func:`~perfops.finops.focus.to_focus_table`'s arguments.
    """
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
        "Tags": strict_json.dumps(tags, sort_keys=True) if tags else None,
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
