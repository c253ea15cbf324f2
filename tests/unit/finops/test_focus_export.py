"""FOCUS 1.2 export: the columns, prices and files a FinOps user gets from perfops' charges."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.finops._charges import charge

from perfops.errors import UsageError
from perfops.finops import (
    BILL_REQUIRED_COLUMNS,
    Charge,
    read_focus_bill,
    to_focus_table,
    write_focus,
)

ACCOUNT = {
    "currency": "USD",
    "billing_account_id": "ws-test",
    "billing_account_name": "perfops test workspace",
    "provider": "AWS",
}


def mixed_charges() -> list[Charge]:
    """GPU, idle, shared and overhead lines over two days, three services, two teams."""
    gpu = {"gpu_type": "H100-SXM", "region": "us-east-1", "list_unit_price": Decimal("6.88")}
    out: list[Charge] = []
    for day in (1, 2):
        out += [
            charge(day, "13.76", service="chat", team="search", model="llama-3.1-8b",
                   gpu_seconds=7200.0, tokens=9_000_000, slo_compliant_tokens=8_700_000,
                   resource_id="GPU-aaaa", **gpu),
            charge(day, "4.59", service="summarize", team="docs", model="qwen2.5-7b",
                   gpu_seconds=2400.0, tokens=2_000_000, slo_compliant_tokens=1_990_000,
                   resource_id="GPU-aaaa", purchase="spot", **gpu),
            charge(day, "1.15", kind="idle", gpu_seconds=600.0, resource_id="GPU-aaaa",
                   resource_name="__idle__", **gpu),
            charge(day, "0.70", kind="shared", service="chat", team="search", gpu_seconds=0.0),
            charge(day, "0.33", kind="overhead", gpu_seconds=0.0, description="Prometheus"),
        ]  # fmt: skip
    return out


def test_export_has_the_mandatory_focus_columns_and_perfops_x_columns() -> None:
    table = to_focus_table(mixed_charges(), **ACCOUNT)
    assert set(BILL_REQUIRED_COLUMNS) <= set(table.column_names)
    for x in ("x_Tokens", "x_SloCompliantTokens", "x_GpuSeconds", "x_Service", "x_Team"):
        assert x in table.column_names
    assert pa.types.is_decimal(table.schema.field("BilledCost").type)
    row = table.slice(0, 1).to_pylist()[0]
    assert row["ServiceName"] == "chat"
    assert row["SubAccountId"] == "search"
    assert row["PricingUnit"] == "GPU-Hours"
    assert row["PricingQuantity"] == Decimal(2)
    assert row["ListUnitPrice"] == Decimal("6.88")
    assert row["ServiceCategory"] == "AI and Machine Learning"
    assert row["ChargeFrequency"] == "Usage-Based"
    assert row["ProviderName"] == row["InvoiceIssuerName"] == row["PublisherName"] == "AWS"


def test_purchase_options_map_to_focus_pricing_categories() -> None:
    charges = [charge(purchase=p) for p in ("on_demand", "committed", "spot")]
    table = to_focus_table(charges, **ACCOUNT)
    assert table.column("PricingCategory").to_pylist() == ["Standard", "Committed", "Dynamic"]


def test_idle_and_overhead_lines_get_their_own_service_names() -> None:
    rows = to_focus_table(mixed_charges()[:5], **ACCOUNT).to_pylist()
    names = {r["x_ChargeKind"]: r["ServiceName"] for r in rows}
    assert names["idle"] == "Idle GPU Capacity"
    assert names["overhead"] == "Platform Overhead"
    overhead = next(r for r in rows if r["x_ChargeKind"] == "overhead")
    assert overhead["PricingQuantity"] == 1
    assert overhead["PricingUnit"] == "Allocations"
    assert overhead["ResourceId"] is None
    assert overhead["ResourceType"] is None


@settings(max_examples=200, deadline=None)
@given(
    seconds=st.floats(min_value=1, max_value=30 * 86400, allow_nan=False),
    cents=st.integers(min_value=0, max_value=10**9),
    list_rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(500), places=4),
)
def test_unit_price_times_quantity_is_the_cost_as_focus_requires(
    seconds: float, cents: int, list_rate: Decimal
) -> None:
    """focus-validator checks ListUnitPrice x PricingQuantity = ListCost to a relative 1e-9."""
    c = charge(cost=str(Decimal(cents) / 100), gpu_seconds=seconds, list_unit_price=list_rate)
    row = to_focus_table([c], **ACCOUNT).to_pylist()[0]
    for price, total in (("ListUnitPrice", "ListCost"), ("ContractedUnitPrice", "ContractedCost")):
        product = row[price] * row["PricingQuantity"]
        assert abs(product - row[total]) <= Decimal("1e-9") * max(abs(row[total]), Decimal(1))
    assert row["BilledCost"] == row["EffectiveCost"] == Decimal(cents) / 100


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_export_round_trips_through_a_file(tmp_path: Path, suffix: str) -> None:
    charges = mixed_charges()
    path = write_focus(to_focus_table(charges, **ACCOUNT), tmp_path / f"costs{suffix}")
    bill = read_focus_bill(path, currency="USD")
    assert bill.num_rows == len(charges)
    assert sum(bill.column("BilledCost").to_pylist()) == sum(c.cost for c in charges)
    assert sum(bill.column("x_Tokens").to_pylist()) == sum(c.tokens for c in charges)
    assert bill.column("ChargePeriodStart").to_pylist()[0] == charges[0].charge_start
    assert bill.column("x_Team").to_pylist()[0] == "search"


def test_csv_export_writes_iso_utc_dates(tmp_path: Path) -> None:
    path = write_focus(to_focus_table([charge()], **ACCOUNT), tmp_path / "costs.csv")
    with path.open(newline="") as f:
        row = next(csv.DictReader(f))
    assert row["ChargePeriodStart"] == "2026-03-01T00:00:00Z"
    assert row["BilledCost"] == "10.0000000000"


def test_write_focus_names_the_formats_it_knows(tmp_path: Path) -> None:
    table = to_focus_table([charge()], **ACCOUNT)
    with pytest.raises(UsageError, match=r"costs\.json.*\.parquet or \*\.csv"):
        write_focus(table, tmp_path / "costs.json")


def test_a_charge_rejects_naive_times_and_cost_without_quantity() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        charge(charge_start=datetime(2026, 3, 1), charge_end=datetime(2026, 3, 2))
    with pytest.raises(ValueError, match="pricing quantity"):
        charge(cost="5.00", gpu_seconds=0.0)
