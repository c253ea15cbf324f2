"""FOCUS bill import and reconciliation: what a FinOps user sees when perfops reads a bill."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from tests.conftest import FIXTURES
from tests.unit.finops._charges import DAY, charge

from perfops.errors import ConfigError, UsageError
from perfops.finops import (
    BILL_REQUIRED_COLUMNS,
    FOCUS_SCHEMA,
    Charge,
    read_focus_bill,
    reconcile,
    to_focus_table,
    write_focus,
)

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
    path = FIXTURES / "focus-sample-1.0.csv"
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


def test_absurd_dates_are_located_problems(tmp_path: Path) -> None:
    """A period from year 1 to year 9999 (an overflow in perfops before): each date outside
    2000 to 2099 is named with its line and column, and so is a charge ending before it
    starts, and a bill spanning more than a year."""
    rows = [
        day_row("2026-03-01", "i-a", "1.00"),
        {**day_row("2026-03-01", "i-b", "1.00"), "ChargePeriodStart": "0001-01-01T00:00:00Z"},
        {**day_row("2026-03-01", "i-c", "1.00"), "ChargePeriodEnd": "9999-12-31T23:00:00Z"},
        {**day_row("2026-03-02", "i-d", "1.00"), "ChargePeriodEnd": "2026-03-01T00:00:00Z"},
        day_row("2028-03-01", "i-e", "1.00"),
    ]
    path = bill_csv(tmp_path / "bill.csv", rows)
    with pytest.raises(ConfigError) as err:
        read_focus_bill(path)
    found = {(p.location, p.path): p for p in err.value.problems}
    early = found[(f"{path}:3", "ChargePeriodStart")]
    assert "'0001-01-01T00:00:00Z' is outside the years 2000 to 2099" in early.message
    assert "broken export" in (early.hint or "")
    assert "outside the years" in found[(f"{path}:4", "ChargePeriodEnd")].message
    assert "is before ChargePeriodStart" in found[(f"{path}:5", "ChargePeriodEnd")].message
    span = found[(f"{path}:2", "ChargePeriodStart")]
    assert "the bill spans 732 days, from 2026-03-01T00:00:00+00:00 (here) to " in span.message
    assert f"({path}:6)" in span.message
    assert "at most 366 days" in (span.hint or "")
    assert len(err.value.problems) == 4


def test_a_bill_of_a_year_is_read(tmp_path: Path) -> None:
    rows = [day_row("2026-01-01", "i-a", "1.00"), day_row("2026-12-31", "i-a", "1.00")]
    assert read_focus_bill(bill_csv(tmp_path / "bill.csv", rows)).num_rows == 2


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


def test_reconcile_by_every_column_a_charge_carries_and_no_other(tmp_path: Path) -> None:
    """perfops' own export reconciles with its charges by any per-charge column; columns
    to_focus_table fills from its arguments (account, currency, provider) are refused."""
    from_arguments = {
        "BillingAccountId",
        "BillingAccountName",
        "BillingAccountType",
        "BillingCurrency",
        "InvoiceIssuerName",
        "PricingCurrency",
        "ProviderName",
        "PublisherName",
    }
    charges = golden_charges()
    table = to_focus_table(
        charges,
        currency="USD",
        billing_account_id="ws-test",
        billing_account_name="perfops test workspace",
        provider="AWS",
    )
    bill = read_focus_bill(write_focus(table, tmp_path / "costs.parquet"), currency="USD")
    for f in FOCUS_SCHEMA:
        if not (pa.types.is_string(f.type) or pa.types.is_timestamp(f.type)):
            continue
        if f.name in from_arguments:
            with pytest.raises(UsageError, match=f"cannot reconcile by {f.name}"):
                reconcile(bill, charges, by=(f.name,))
        else:
            assert reconcile(bill, charges, by=(f.name,)).ok, f.name


def test_reconcile_with_an_empty_scope_compares_no_bill_line(golden_bill: pa.Table) -> None:
    r = reconcile(golden_bill, golden_charges(), by=(), scope={"ResourceId": set()})
    assert r.excluded_bill_lines == golden_bill.num_rows
    assert r.bill_total == 0
    assert not r.ok
