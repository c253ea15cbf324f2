"""The FinOps Foundation's focus-validator on perfops' FOCUS 1.2 export, Parquet and CSV.

The validator (PyPI focus-validator 2.2.1, bundled rules model 1.2.0.1: 578 rules, of which
the dynamic ones are skipped) is installed by `scripts/ensure-focus-validator` into its own
Python 3.12 venv. These tests skip only when the machine has no Python 3.12.

Applicability criteria passed: `perfops.finops.focus.APPLICABILITY_CRITERIA`, the optional FOCUS
features perfops' export really supports: account names, usage measurement (GPU-hours),
unit and negotiated pricing with a public list price (the price catalog), several pricing
categories (on demand, committed, spot), sub-accounts (teams), provisioned resources with
types (GPUs), regions and tags. Not claimed, because perfops has no such data: availability
zones, capacity reservations, commitment-discount tracking, several billing- or sub-account
types, and pricing in a currency other than the billing one. (`--applicability-criteria ALL`
fails exactly the rules about those columns.)

One rule fails on every FOCUS 1.2 dataset and is expected: InvoiceId-C-004-C ("MUST be null
when the charge has no invoice") and InvoiceId-C-005-C ("MUST NOT be null when it has one")
are encoded in model 1.2.0.1 without their conditions, so each applies to every row and any
InvoiceId fails one of them (FOCUS_Spec#2394). perfops issues no invoices, so its InvoiceId is
null: C-005-C fails, and their parent rule, the OR InvoiceId-C-003-C, passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from tests.conftest import FIXTURES
from tests.integration.finops._validator import NoPython312, Validator, ensure_validator

from perfops.finops import (
    APPLICABILITY_CRITERIA,
    Charge,
    read_focus_bill,
    reconcile,
    to_focus_table,
    write_focus,
)

pytestmark = pytest.mark.timeout(900)  # the first run installs the validator from PyPI

KNOWN_MODEL_DEFECT = ("InvoiceId-C-005-C",)


@pytest.fixture(scope="module")
def validator() -> Iterator[Validator]:
    try:
        yield ensure_validator()
    except NoPython312 as exc:
        pytest.skip(str(exc))


MONTH = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
REGIONS = {"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)"}
# GPU, type, region, purchase, list $/GPU-h, paid $/GPU-h (finops.md §4 prices)
GPUS = [
    ("GPU-1f3a0c2e-0001", "H100-SXM", "us-east-1", "on_demand", "6.88", "6.88"),
    ("GPU-1f3a0c2e-0002", "H100-SXM", "us-east-1", "on_demand", "6.88", "6.88"),
    ("GPU-77b0d1aa-0001", "H200", "us-east-2", "committed", "7.91", "4.98"),
    ("GPU-9c4e55f0-0001", "L40S", "us-east-1", "spot", "1.861", "0.75"),
]
# who used each GPU: service, team, model, share of the day
USERS = {
    "GPU-1f3a0c2e-0001": [("chat-api", "search", "llama-3.1-8b", 0.62)],
    "GPU-1f3a0c2e-0002": [
        ("chat-api", "search", "llama-3.1-8b", 0.41),
        ("summarize", "docs", "qwen2.5-7b", 0.33),
    ],
    "GPU-77b0d1aa-0001": [("summarize", "docs", "qwen2.5-7b", 0.71)],
    "GPU-9c4e55f0-0001": [("embed", "search", "bge-m3", 0.5)],
}
SHARED_COST = [
    ("chat-api", "search", "4.10"),
    ("summarize", "docs", "2.35"),
    ("embed", "search", "0.55"),
]


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def realistic_charges(days: int = 3) -> list[Charge]:
    """Three days of a small fleet: four GPUs (on demand, committed, spot) in two regions, three
    services of two teams, an idle line per GPU, shared cost per service, monitoring overhead."""
    out: list[Charge] = []
    for day in range(days):
        start = MONTH[0] + timedelta(days=day)
        when = {
            "charge_start": start,
            "charge_end": start + timedelta(days=1),
            "billing_start": MONTH[0],
            "billing_end": MONTH[1],
            "provider": "AWS",
        }
        for uuid, gpu, region, purchase, list_rate, paid in GPUS:
            where = {
                "resource_id": uuid,
                "gpu_type": gpu,
                "region": region,
                "region_name": REGIONS[region],
                "purchase": purchase,
                "list_unit_price": Decimal(list_rate),
            }
            busy = 0.0
            for service, team, model, share in USERS[uuid]:
                seconds = 86400 * share
                busy += seconds
                tokens = int(seconds * 2100)
                out.append(
                    Charge(
                        **when,
                        **where,
                        kind="gpu",
                        service=service,
                        team=team,
                        model=model,
                        tenant="acme" if service == "chat-api" else None,
                        gpu_seconds=seconds,
                        tokens=tokens,
                        slo_compliant_tokens=tokens * 97 // 100,
                        resource_name=f"{gpu.lower()}-{uuid[-4:]}",
                        cost=cents(Decimal(repr(seconds)) / 3600 * Decimal(paid)),
                        tags={"env": "prod", "cost-center": team},
                    )
                )
            idle = 86400 - busy
            out.append(
                Charge(
                    **when,
                    **where,
                    kind="idle",
                    gpu_seconds=idle,
                    resource_name="__idle__",
                    cost=cents(Decimal(repr(idle)) / 3600 * Decimal(paid)),
                )
            )
        for service, team, amount in SHARED_COST:
            out.append(
                Charge(
                    **when,
                    kind="shared",
                    service=service,
                    team=team,
                    region="us-east-1",
                    cost=Decimal(amount),
                    description=f"Load balancer and CPU hosts, share of {service}",
                )
            )
        out.append(
            Charge(
                **when,
                kind="overhead",
                region="us-east-1",
                cost=Decimal("3.00"),
                description="Monitoring stack (Prometheus, Grafana)",
            )
        )
    return out


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_perfops_export_passes_focus_validator(
    validator: Validator, tmp_path: Path, suffix: str
) -> None:
    charges = realistic_charges()
    table = to_focus_table(
        charges,
        currency="USD",
        billing_account_id="ws-demo",
        billing_account_name="perfops demo workspace",
        provider="AWS",
    )
    path = write_focus(table, tmp_path / f"perfops-costs{suffix}")

    result = validator.validate(path, tmp_path, criteria=",".join(APPLICABILITY_CRITERIA))

    assert result.total == 578
    assert result.failing == KNOWN_MODEL_DEFECT, result.failing
    assert result.passed >= 275  # 302 more are dynamic or for features perfops does not claim
    # What the validator accepted reads back to the cent and accounts for perfops' charges.
    bill = read_focus_bill(path, currency="USD")
    assert sum(bill.column("BilledCost").to_pylist()) == sum(c.cost for c in charges)
    assert reconcile(bill, charges, by=("ResourceId", "Day")).ok


def test_the_focus_1_0_sample_fails_focus_1_2_rules(validator: Validator, tmp_path: Path) -> None:
    """The validator can fail: a FOCUS 1.0 bill lacks 1.2's InvoiceId and ServiceSubcategory,
    has ContractedCost nulls (allowed in 1.0) and PricingUnits outside 1.2's unit format."""
    result = validator.validate(FIXTURES / "focus-sample-1.0.csv", tmp_path)

    assert result.failed == 23
    for rule in ("CostAndUsage-D-033-O", "CostAndUsage-D-042-O", "ContractedCost-C-003-M"):
        assert rule in result.failing
    assert "PricingUnit-C-003-O" in result.failing
