"""Inputs are bounded, as a user meets the bounds: a GPU count, a scrape interval, a scrape
answer, a bill's dates and the simulator's ports out of range are refused with the range and
the place (exit 2); a service of 100,000 GPUs (the bound) is priced at once and exactly."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

from tests._servers import quirky_targets
from tests.conftest import run_cli

from perfops.finops import BILL_REQUIRED_COLUMNS

SERVICE = """apiVersion: perfops/v1
services:
  - name: chat
    model: llama-3.1-8b
    endpoint: http://127.0.0.1:9/v1
    gpu: {{type: H100-SXM, count: {count}}}
pricing:
  gpus: [{{gpu: H100-SXM, hourly: 4.0}}]
"""


def test_a_service_at_the_gpu_bound_is_priced_exactly_and_one_past_it_is_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "perfops.yaml").write_text(SERVICE.format(count=100_000))
    report = run_cli("cost", "report", "--since", "1d", "--json", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    (row,) = [r for r in json.loads(report.stdout)["rows"] if r["group"] == "chat"]
    # 100,000 GPUs x the window (a day, to the millisecond after now) x $4, to the cent
    window_h = Decimal(86_400_000 + 1) / 3_600_000
    assert row["gpu_hours"] == round(100_000 * float(window_h), 6)
    assert Decimal(row["gpu_cost"]) == (100_000 * 4 * window_h).quantize(Decimal("0.01"))

    (tmp_path / "perfops.yaml").write_text(SERVICE.format(count=100_001))
    refused = run_cli("cost", "report", "--since", "1d", cwd=tmp_path)
    assert refused.returncode == 2
    assert "perfops.yaml:6:" in refused.stderr
    assert "GPU count must be at least 1 and at most 100,000" in refused.stderr


def test_a_scrape_interval_below_a_second_is_refused(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(
        "apiVersion: perfops/v1\ntelemetry:\n  interval: 1ms\n  targets:\n"
        "    - {name: t, kind: prometheus, url: 'http://127.0.0.1:9/metrics', timeout: 2s}\n"
    )
    result = run_cli("collect", "--duration", "1s", cwd=tmp_path)
    assert result.returncode == 2
    assert "perfops.yaml:3:13 telemetry.interval: a scrape interval must be at least 1 s" in (
        result.stderr
    )


def test_an_answer_past_the_scrape_limits_downs_its_target_naming_the_setting(
    tmp_path: Path,
) -> None:
    """/flood answers 100,000 samples (about 2 MB): past a 64 KiB body limit, and past a
    limit of 1,000 samples; a target within the limits stays up."""
    with quirky_targets() as quirky:
        (tmp_path / "perfops.yaml").write_text(
            "apiVersion: perfops/v1\ntelemetry:\n  interval: 1s\n  max_samples: 1000\n"
            "  targets:\n"
            f"    - {{name: big, kind: prometheus, url: '{quirky.url('/flood')}',"
            " max_body_bytes: 64KiB, max_samples: 200000}\n"
            f"    - {{name: many, kind: prometheus, url: '{quirky.url('/flood')}'}}\n"
            f"    - {{name: good, kind: prometheus, url: '{quirky.url('/good')}'}}\n"
        )
        result = run_cli("collect", "--duration", "2s", "--json", cwd=tmp_path)
    targets = json.loads(result.stdout)["targets"]
    assert targets["good"]["up"] is True
    assert targets["big"]["up"] is False
    assert "larger than max_body_bytes, 65,536 bytes" in targets["big"]["last_error"]
    assert "raise max_body_bytes for the target" in targets["big"]["last_error"]
    assert targets["many"]["up"] is False
    assert "more than 1,000 samples" in targets["many"]["last_error"]
    assert "telemetry.max_samples" in targets["many"]["last_error"]


def test_a_bill_from_year_1_to_9999_is_refused_with_file_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(SERVICE.format(count=1))
    row = dict.fromkeys(BILL_REQUIRED_COLUMNS, "x")
    row |= {
        "BilledCost": "1", "EffectiveCost": "1", "ListCost": "1", "ContractedCost": "1",
        "PricingQuantity": "1", "BillingCurrency": "USD",
        "BillingPeriodStart": "2026-03-01T00:00:00Z", "BillingPeriodEnd": "2026-04-01T00:00:00Z",
        "ChargePeriodStart": "0001-01-01T00:00:00Z", "ChargePeriodEnd": "9999-12-31T00:00:00Z",
    }  # fmt: skip
    bill = tmp_path / "bill.csv"
    with bill.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    result = run_cli("cost", "reconcile", str(bill), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"{bill}:2 ChargePeriodStart: '0001-01-01T00:00:00Z' is outside the years" in (
        result.stderr
    )
    assert f"{bill}:2 ChargePeriodEnd: '9999-12-31T00:00:00Z' is outside" in result.stderr


def test_the_simulator_refuses_ports_past_65535(tmp_path: Path) -> None:
    result = run_cli("sim", "--port", "65535", "--replicas", "2", cwd=tmp_path)
    assert result.returncode == 2
    assert "--port 65535 leaves no room for the 2 port(s) after it" in result.stderr
    assert "use --port 65533 or lower" in result.stderr
