"""The GPU health alerts `perfops slo rules` writes, tested by the real promtool on the cases
perfops generates for them; a rule that drifts from its definition fails those cases."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from perfops.slo.gpu_health_alerts import gpu_health_alert_group, gpu_health_rule_tests

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")
BASE = "https://runbooks.example.com/perfops"


def _promtool(tmp: Path, group: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    (tmp / "rules.yml").write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m",
             "tests": gpu_health_rule_tests(BASE)}  # fmt: skip
    (tmp / "rules_test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, "test", "rules", "rules_test.yml"], cwd=tmp,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def test_the_alerts_pass_their_cases(tmp_path: Path) -> None:
    group = gpu_health_alert_group(BASE)
    assert [r["alert"] for r in group["rules"]] == [
        "GpuXidErrors", "GpuClocksThrottled", "GpuEccErrors",
    ]  # fmt: skip
    assert all(r["annotations"]["runbook_url"] == f"{BASE}/{r['alert']}" for r in group["rules"])
    out = _promtool(tmp_path, group)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("alert", "field", "wrong"),
    [
        ("GpuXidErrors", "expr", "DCGM_FI_DEV_XID_ERRORS > 100"),  # misses XID 79
        ("GpuClocksThrottled", "for", "1m"),  # pages on a brief dip
        ("GpuClocksThrottled", "expr", "DCGM_FI_DEV_CLOCKS_EVENT_REASONS > 0"),  # idle counts
        ("GpuEccErrors", "expr", "DCGM_FI_DEV_ROW_REMAP_FAILURE != 0"),  # misses remaps
    ],
)
def test_a_drifted_rule_fails_its_cases(tmp_path: Path, alert: str, field: str, wrong: str) -> None:
    group = gpu_health_alert_group(BASE)
    rule = next(r for r in group["rules"] if r["alert"] == alert)
    rule[field] = wrong
    out = _promtool(tmp_path, group)
    assert out.returncode != 0, out.stdout
    assert alert in out.stdout + out.stderr
