"""FOCUS export, bill import and reconciliation: what a FinOps user sees in the files."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import SHARED

from perfops.errors import ConfigError, UsageError
from perfops.finops.focus import (
    BILL_REQUIRED_COLUMNS,
    Charge,
    read_focus_bill,
    reconcile,
    to_focus_table,
    write_focus,
)

MONTH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
DAY = timedelta(days=1)
ACCOUNT = {
    "currency": "USD",
    "billing_account_id": "ws-test",
    "billing_account_name": "perfops test workspace",
    "provider": "AWS",
}


def charge(day: int = 1, cost: str = "10.00", **kw: object) -> Charge:
    start = MONTH[0] + (day - 1) * DAY
    fields: dict[str, object] = {
        "charge_start": start,
        "charge_end": start + DAY,
        "billing_start": MONTH[0],
        "billing_end": MONTH[1],
        "cost": Decimal(cost),
        "gpu_seconds": 3600.0,
        **kw,
    }
    return Charge(**fields)


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


# --- export -------------------------------------------------------------------------------


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


# --- reading a bill -----------------------------------------------------------------------

BILL_HEADER = [*BILL_REQUIRED_COLUMNS, "ResourceId"]


def bill_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    """A small FOCUS bill: every required column, defaults for those a row does not give."""
    defaults = {
        "BillingAccountId": "123456789012",
        "BillingAccountName": "acme",
        "BillingCurrency": "USD",
        "BillingPeriodStart": "2026-03-01T00:00:00Z",
        "BillingPeriodEnd": "2026-04-01T00:00:00Z",
        "ChargeCategory": "Usage",
        "ChargeDescription": "p5.48xlarge",
        "InvoiceIssuerName": "AWS",
        "ProviderName": "AWS",
        "PublisherName": "AWS",
        "ServiceCategory": "Compute",
        "ServiceName": "Amazon Elastic Compute Cloud",
        "PricingUnit": "Hours",
        "PricingQuantity": "24",
    }
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=BILL_HEADER)
        writer.writeheader()
        for row in rows:
            cost = row.get("EffectiveCost", "0")
            costs = dict.fromkeys(("BilledCost", "ListCost", "ContractedCost"), cost)
            writer.writerow({**defaults, **costs, **row})
    return path


def day_row(day: str, resource: str, cost: str, **kw: str) -> dict[str, str]:
    start = datetime.fromisoformat(f"{day}T00:00:00+00:00")
    end = (start + DAY).isoformat().replace("+00:00", "Z")
    return {
        "ChargePeriodStart": start.isoformat().replace("+00:00", "Z"),
        "ChargePeriodEnd": end,
        "ResourceId": resource,
        "EffectiveCost": cost,
        **kw,
    }


def test_reads_the_focus_1_0_sample_bill() -> None:
    path = SHARED / "fixtures/focus-sample-1.0.csv"
    bill = read_focus_bill(path, currency="USD")
    with path.open(newline="") as f:
        expected = sum(Decimal(r["EffectiveCost"]) for r in csv.DictReader(f))
    assert bill.num_rows == 1000
    assert sum(bill.column("EffectiveCost").to_pylist()) == expected
    assert bill.schema.field("ChargePeriodStart").type == pa.timestamp("us", tz="UTC")
    assert bill.column("ChargePeriodStart").to_pylist()[0] == datetime(2024, 9, 18, 22, tzinfo=UTC)


def test_a_bill_missing_columns_names_the_file_and_every_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "bill.csv"
    path.write_text("BilledCost,BillingCurrency,ServiceName\n1.00,USD,EC2\n")
    with pytest.raises(ConfigError) as err:
        read_focus_bill(path)
    text = str(err.value)
    assert str(path) in text
    assert "missing columns" in text
    for column in ("EffectiveCost", "ChargePeriodStart", "ProviderName", "ListCost"):
        assert column in text
    assert "BilledCost," not in text.split("missing columns")[1]
    assert "FOCUS 1.0 or later" in text


def test_a_bill_in_another_currency_names_file_row_both_currencies_and_the_fix(
    tmp_path: Path,
) -> None:
    rows = [day_row("2026-03-01", "i-a", "1.00"), day_row("2026-03-01", "i-b", "2.00")]
    rows[1]["BillingCurrency"] = "EUR"
    path = bill_csv(tmp_path / "bill.csv", rows)
    with pytest.raises(ConfigError) as err:
        read_focus_bill(path, currency="USD")
    (problem,) = err.value.problems
    assert problem.location == f"{path}:3"  # the header is line 1
    assert problem.path == "BillingCurrency"
    assert "EUR where USD was expected" in problem.message
    assert "pricing.currency" in (problem.hint or "")


def test_a_bill_in_two_currencies_is_refused_even_without_a_workspace_currency(
    tmp_path: Path,
) -> None:
    rows = [day_row("2026-03-01", "i-a", "1.00"), day_row("2026-03-01", "i-b", "2.00")]
    rows[1]["BillingCurrency"] = "EUR"
    with pytest.raises(ConfigError, match="EUR where USD was expected"):
        read_focus_bill(bill_csv(tmp_path / "bill.csv", rows))


def test_bad_numbers_and_dates_are_all_reported_with_line_and_column(tmp_path: Path) -> None:
    rows = [
        day_row("2026-03-01", "i-a", "1.00"),
        day_row("2026-03-01", "i-b", "1,234.50"),
        day_row("2026-03-01", "i-c", "2.00", ChargePeriodEnd="next tuesday"),
    ]
    path = bill_csv(tmp_path / "bill.csv", rows)
    with pytest.raises(ConfigError) as err:
        read_focus_bill(path)
    found = {(p.location, p.path): p for p in err.value.problems}
    money = found[(f"{path}:3", "EffectiveCost")]
    assert "'1,234.50' is not a decimal number" in money.message
    assert "without currency symbols" in (money.hint or "")
    assert "is not a date-time" in found[(f"{path}:4", "ChargePeriodEnd")].message
    assert err.value.exit_code == 2


def test_a_parquet_bill_reports_rows_and_keeps_map_tags_as_json(tmp_path: Path) -> None:
    rows = [day_row("2026-03-01", "i-a", "1.00"), day_row("2026-03-01", "i-b", "12 USD")]
    table = pacsv.read_csv(
        bill_csv(tmp_path / "bill.csv", rows),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(BILL_HEADER, pa.string())),
    )
    tags = pa.array([[("team", "search")], None], pa.map_(pa.string(), pa.string()))
    path = tmp_path / "bill.parquet"
    pq.write_table(table.append_column("Tags", tags), path)
    with pytest.raises(ConfigError) as err:
        read_focus_bill(path)
    where = {(p.location, p.path) for p in err.value.problems}
    assert (f"{path} row 2", "EffectiveCost") in where
    assert (f"{path} row 2", "BilledCost") in where
    pq.write_table(table.slice(0, 1).append_column("Tags", tags.slice(0, 1)), path)
    assert read_focus_bill(path).column("Tags").to_pylist() == ['{"team": "search"}']


def test_a_bill_with_an_unknown_suffix_or_no_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"\*\.csv or \*\.parquet"):
        read_focus_bill(tmp_path / "bill.xlsx")
    with pytest.raises(UsageError, match="no such file"):
        read_focus_bill(tmp_path / "absent.parquet")


# --- reconciliation -----------------------------------------------------------------------


@pytest.fixture
def golden_bill(tmp_path: Path) -> pa.Table:
    """Worked by hand (see test_reconcile_golden_case)."""
    rows = [
        day_row("2026-03-01", "i-a", "100.00"),  # row 1
        day_row("2026-03-02", "i-a", "100.00"),  # row 2
        day_row("2026-03-01", "i-b", "50.00"),  # row 3
        day_row("2026-03-01", "i-c", "20.00"),  # row 4: a GPU host perfops does not know
        day_row("2026-03-01", "i-a", "15.00", ChargeCategory="Tax"),  # row 5: out of scope
        day_row("2026-02-28", "i-a", "100.00"),  # row 6: before perfops' first charge
    ]
    return read_focus_bill(bill_csv(tmp_path / "bill.csv", rows), currency="USD")


def golden_charges() -> list[Charge]:
    return [
        charge(1, "60.00", service="chat", resource_id="i-a"),
        charge(1, "39.50", service="summarize", resource_id="i-a"),
        charge(1, "0.50", kind="idle", resource_id="i-a"),
        charge(2, "100.40", service="chat", resource_id="i-a"),
        charge(1, "45.00", service="chat", resource_id="i-b"),
        charge(2, "5.00", service="chat", resource_id="i-d"),
    ]


def test_reconcile_golden_case(golden_bill: pa.Table) -> None:
    """By hand, with the default 0.5 % / 1 cent tolerance:

    i-a: billed 100 + 100 = 200.00, attributed 60 + 39.50 + 0.50 + 100.40 = 200.40,
         +0.40 = +0.2 % -> match
    i-b: billed 50.00, attributed 45.00, -5.00 = -10 % -> under
    i-c: billed 20.00, attributed nothing -> bill only (bill row 4 unaccounted for)
    i-d: billed nothing, attributed 5.00 -> perfops only
    Tax (row 5) is out of scope, row 6 is before the first charge: 2 lines left out.
    Totals: billed 270.00, attributed 250.40, -19.60 = -7.26 %; matched 200.00.
    """
    r = reconcile(golden_bill, golden_charges(), by=("ResourceId",))
    groups = {g.key[0]: g for g in r.groups}
    assert [(k, g.status) for k, g in groups.items()] == [
        ("i-a", "match"),
        ("i-b", "under"),
        ("i-c", "bill only"),
        ("i-d", "perfops only"),
    ]
    assert groups["i-a"].difference == Decimal("0.40")
    assert groups["i-a"].difference_pct == Decimal("0.2")
    assert groups["i-b"].difference_pct == Decimal(-10)
    assert groups["i-d"].difference_pct is None
    assert groups["i-a"].bill_rows == (1, 2)
    assert r.unmatched_bill_lines == (4,)
    assert r.excluded_bill_lines == 2
    assert (r.bill_total, r.perfops_total) == (Decimal("270.00"), Decimal("250.40"))
    assert r.difference == Decimal("-19.60")
    assert round(r.difference_pct or 0, 2) == Decimal("-7.26")
    assert (r.matched, r.unmatched_bill) == (Decimal("200.00"), Decimal("20.00"))
    assert not r.ok
    assert r.summary().startswith("perfops does NOT account for the bill: billed 270.00 USD")


def test_reconcile_by_day_and_in_total(golden_bill: pa.Table) -> None:
    by_day = reconcile(golden_bill, golden_charges(), by=("Day",))
    assert [(g.key, g.bill, g.perfops, g.status) for g in by_day.groups] == [
        (("2026-03-01",), Decimal("170.00"), Decimal("145.00"), "under"),
        (("2026-03-02",), Decimal("100.00"), Decimal("105.40"), "over"),
    ]
    # i-a alone, in total: 200.00 billed vs 200.40 attributed is inside 0.5 %.
    # A scope replaces the default one, so it names ChargeCategory again to leave out the tax.
    scope = {"ResourceId": {"i-a"}, "ChargeCategory": {"Usage"}}
    only_a = reconcile(golden_bill, golden_charges()[:4], by=(), scope=scope)
    assert only_a.ok
    assert only_a.summary().startswith("perfops accounts for the bill")
    strict = reconcile(
        golden_bill, golden_charges()[:4], by=(), scope=scope, tolerance_pct=Decimal("0.1")
    )
    assert not strict.ok


def test_reconcile_names_the_columns_it_can_group_by(golden_bill: pa.Table) -> None:
    with pytest.raises(UsageError, match="cannot reconcile by Colour.*ResourceId"):
        reconcile(golden_bill, golden_charges(), by=("Colour",))
    with pytest.raises(UsageError, match="the bill has no column SkuId"):
        reconcile(golden_bill, golden_charges(), by=("SkuId",))
