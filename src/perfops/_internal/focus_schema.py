"""The FOCUS 1.2 cost-and-usage columns perfops writes, with their Arrow types.

Shared by :mod:`perfops.finops.focus` (the export) and the lake's ``costs`` table
(:mod:`perfops.store.schema`), so a FOCUS file and the lake hold the same rows. Mandatory,
conditional and recommended columns of FOCUS 1.2 (FOCUS_Spec ``specification/columns``),
then perfops' ``x_`` columns (custom columns must carry the prefix:
``specification/attributes/column_handling.md``).
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["FOCUS_SCHEMA", "MONEY", "PRICE", "TIME"]

MONEY = pa.decimal128(38, 10)
PRICE = pa.decimal128(38, 16)
TIME = pa.timestamp("us", tz="UTC")

FOCUS_SCHEMA = pa.schema(
    [
        ("BilledCost", MONEY),
        ("BillingAccountId", pa.string()),
        ("BillingAccountName", pa.string()),
        ("BillingAccountType", pa.string()),
        ("BillingCurrency", pa.string()),
        ("BillingPeriodEnd", TIME),
        ("BillingPeriodStart", TIME),
        ("ChargeCategory", pa.string()),
        ("ChargeClass", pa.string()),
        ("ChargeDescription", pa.string()),
        ("ChargeFrequency", pa.string()),
        ("ChargePeriodEnd", TIME),
        ("ChargePeriodStart", TIME),
        ("CommitmentDiscountId", pa.string()),
        ("CommitmentDiscountStatus", pa.string()),
        ("ConsumedQuantity", MONEY),
        ("ConsumedUnit", pa.string()),
        ("ContractedCost", MONEY),
        ("ContractedUnitPrice", PRICE),
        ("EffectiveCost", MONEY),
        ("InvoiceId", pa.string()),
        ("InvoiceIssuerName", pa.string()),
        ("ListCost", MONEY),
        ("ListUnitPrice", PRICE),
        ("PricingCategory", pa.string()),
        ("PricingCurrency", pa.string()),
        ("PricingCurrencyContractedUnitPrice", PRICE),
        ("PricingCurrencyEffectiveCost", MONEY),
        ("PricingCurrencyListUnitPrice", PRICE),
        ("PricingQuantity", MONEY),
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
