"""The cost recording rules and their generated promtool tests, run by the real promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from perfops._internal.escape import yaml_dump
from perfops.config import Config, parse_config
from perfops.finops import price_book
from perfops.finops.cost_rule_tests import cost_rule_tests
from perfops.finops.cost_rules import RULE_COST, cost_rule_group, idle_prices, priced_services

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")

# Two services whose GPU selectors overlap (a GPU both match belongs to chat, the first), a
# third without GPU series, and label values that need escaping in PromQL.
PERFOPS_YAML = """
apiVersion: perfops/v1
services:
  - name: chat
    endpoint: http://127.0.0.1:8000/v1
    model: 'llama "8b" $x [0]'
    team: assistant
    gpu: {type: H100-SXM, count: 2}
    gpu_selector: '{Hostname=~"gpu-.*", pool="a\\\\b"}'
  - name: batch
    endpoint: http://127.0.0.1:8001/v1
    model: llama-70b
    team: research
    gpu: {type: H200}
    gpu_selector: '{Hostname=~"gpu-.*"}'
  - name: embed
    endpoint: http://127.0.0.1:8002/v1
    model: e5
    gpu: {type: L40S}
pricing:
  provider: aws
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def config() -> Config:
    return parse_config(PERFOPS_YAML)


def _files(tmp_path: Path, config: Config, edit: Any = None) -> Path:
    book = price_book(config.pricing)
    services, notes = priced_services(config, book.hourly)
    assert notes == []
    idle = idle_prices(book.hourly)
    rules = yaml_dump({"groups": [cost_rule_group(services, idle, currency=book.currency)]})
    if edit is not None:
        edited = edit(rules)
        assert edited != rules  # the mutation applies
        rules = edited
    (tmp_path / "rules.yml").write_text(rules)
    tests = cost_rule_tests(services, idle, currency=book.currency)
    doc = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "tests.yml").write_text(yaml_dump(doc))
    return tmp_path / "tests.yml"


@needs_promtool
def test_the_cost_rules_pass_their_generated_promtool_tests(tmp_path: Path, config: Config) -> None:
    tests = _files(tmp_path, config)
    checked = _run(str(PROMTOOL), "check", "rules", str(tmp_path / "rules.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    result = _run(str(PROMTOOL), "test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr


def test_expected_costs_are_the_price_books_prices(config: Config) -> None:
    """Each service's two test GPUs cost twice the price `perfops cost` charges; batch's
    selector matches chat's GPUs too, but they are chat's (the first), so batch pays for its
    own two only; free GPUs are priced by their modelName (the 40 GB A100 not as the 80 GB
    one)."""
    book = price_book(config.pricing)
    services, _ = priced_services(config, book.hourly)
    tests = cost_rule_tests(services, idle_prices(book.hourly), currency=book.currency)
    checks = {c["expr"]: c["exp_samples"] for c in tests[0]["promql_expr_test"]}
    costs = {s["labels"]: s["value"] for s in checks[RULE_COST]}
    by_service = {k.split('service="')[1].split('"')[0]: v for k, v in costs.items()}
    assert by_service["chat"] == 2 * float(book.hourly("H100-SXM"))
    assert by_service["batch"] == 2 * float(book.hourly("H200"))
    assert "embed" not in by_service  # no GPU series: no cost rule, only its tokens
    idle = {k.split('gpu_type="')[1].split('"')[0]: v for k, v in costs.items() if "__idle__" in k}
    assert idle == {"H100-SXM": float(book.hourly("H100-SXM")),
                    "A100-40GB": float(book.hourly("A100-40GB"))}  # fmt: skip


@needs_promtool
@pytest.mark.parametrize(
    ("wrong", "broken"),
    [
        (lambda t: t.replace("* 6.88", "* 6.89", 1), "perfops:gpu_cost_per_hour:sum"),
        (
            lambda t: t.replace("max by (UUID) (DCGM_FI_PROF_SM", "(DCGM_FI_PROF_SM", 1),
            "perfops:gpus:count",
        ),
        (lambda t: t.replace("A100\\\\-SXM4\\\\-40GB|", "", 1), "perfops:gpu_cost_per_hour:sum"),
    ],
    ids=["price", "uuid-dedupe", "model-order"],
)
def test_the_promtool_tests_catch_a_wrong_rule(
    tmp_path: Path, config: Config, wrong: Any, broken: str
) -> None:
    tests = _files(tmp_path, config, edit=wrong)
    result = _run(str(PROMTOOL), "test", "rules", str(tests))
    assert result.returncode != 0
    assert broken in result.stdout + result.stderr


def test_a_workspace_without_prices_gets_its_slo_rules_and_a_note(tmp_path: Path) -> None:
    """EUR with no EUR price: `perfops slo rules` still writes the SLO rules, and says why the
    cost rules are missing instead of failing."""
    from perfops.app import open_runtime, rule_files

    text = PERFOPS_YAML.replace("pricing:\n  provider: aws\n", "pricing: {currency: EUR}\n")
    text += "slos:\n  - {name: chat-ok, service: chat, objective: 99, sli: {kind: availability}}\n"
    (tmp_path / "perfops.yaml").write_text(text)
    files = rule_files(open_runtime(tmp_path / "perfops.yaml"))
    groups = [g["name"] for g in yaml.safe_load(files.rules)["groups"]]
    assert groups == ["perfops-slo-chat-ok-sli", "perfops-slo-chat-ok-meta",
                      "perfops-slo-chat-ok-alerts", "perfops-gpu-health"]  # fmt: skip
    (note,) = files.notes
    assert note.startswith("no cost rules: the workspace currency is EUR")
