"""Generated SLO rules and Alertmanager config, checked by the real promtool and amtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from perfops.config import Config, parse_config
from perfops.errors import ConfigError
from perfops.slo.alertmanager import render_alertmanager_yaml
from perfops.slo.rule_tests import generate_rule_tests
from perfops.slo.rules import generate_rules, gpu_selectors, model_selector, render_rules_yaml

PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")
needs_amtool = pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed")

PERFOPS_YAML = """
apiVersion: perfops/v1
services:
  - name: chat
    endpoint: http://127.0.0.1:8000/v1
    model: llama-3.1-8b
    gpu: {type: H100-SXM}
    gpu_selector: '{Hostname=~"gpu-.*"}'
slos:
  - name: chat-ttft
    service: chat
    description: 99% of chat requests see their first token within 500 ms
    sli: {kind: latency, metric: ttft, threshold: 500ms}
    objective: 99.0
  - name: chat-e2e
    service: chat
    sli: {kind: latency, metric: e2e, threshold: 1s}
    objective: 99.5
  - name: chat-availability
    service: chat
    sli: {kind: availability}
    objective: 99.9
  - name: chat-goodput
    service: chat
    sli: {kind: goodput, thresholds: {ttft: 500ms, e2e: 1s}}
    objective: 99
  - name: chat-gpus
    service: chat
    sli: {kind: gpu_health}
    objective: 99.5
    window: month
  - name: chat-ttft-weekly
    service: chat
    sli: {kind: latency, metric: ttft, threshold: 1s}
    objective: 95
    window: 7d
    alerting: pyrra
escalation:
  receivers:
    - {name: oncall, kind: pagerduty, target_env: PAGERDUTY_ROUTING_KEY}
    - {name: team-chat, kind: slack, target_env: SLACK_WEBHOOK_URL}
    - {name: audit, kind: webhook, target: http://127.0.0.1:9095/alerts}
  routes:
    - {severity: page, receivers: [oncall, audit], repeat_interval: 1h}
    - {severity: ticket, receivers: [team-chat], repeat_interval: 12h}
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def config() -> Config:
    return parse_config(PERFOPS_YAML)


@pytest.fixture
def rule_files(tmp_path: Path, config: Config) -> Path:
    select, gpus = model_selector(config.services), gpu_selectors(config)
    (tmp_path / "rules.yml").write_text(render_rules_yaml(config.slos, selector=select, gpus=gpus))
    tests = generate_rule_tests(config.slos, rule_file="rules.yml", selector=select, gpus=gpus)
    (tmp_path / "tests.yml").write_text(tests)
    return tmp_path


@needs_promtool
def test_promtool_accepts_the_generated_rules(rule_files: Path) -> None:
    result = _run(str(PROMTOOL), "check", "rules", str(rule_files / "rules.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    # 6 SLOs x (7 SLI windows + 2 meta + 2 alerts), plus GPU health's instant rule
    assert "SUCCESS: 67 rules found" in result.stdout


@needs_promtool
def test_alerts_fire_on_a_burn_and_stay_silent_when_healthy(rule_files: Path) -> None:
    tests = yaml.safe_load((rule_files / "tests.yml").read_text())
    assert len(tests["tests"]) == 18  # three cases for each SLO
    result = _run(str(PROMTOOL), "test", "rules", str(rule_files / "tests.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_tests_catch_a_rule_that_never_fires(tmp_path: Path, config: Config) -> None:
    select = model_selector(config.services)
    ttft = config.slos[:1]  # chat-ttft alone keeps promtool quick
    rules = tmp_path / "rules.yml"
    # chat-ttft's page thresholds (13.44x and 5.6x a 1% budget: google-30d on 28 days)
    text = render_rules_yaml(ttft, selector=select)
    rules.write_text(text.replace("> 0.1344", "> 2").replace("> 0.056", "> 2"))
    tests = tmp_path / "tests.yml"
    tests.write_text(generate_rule_tests(ttft, rule_file="rules.yml", selector=select))
    result = _run(str(PROMTOOL), "test", "rules", str(tests))
    assert result.returncode != 0
    assert "ChatTtftPageBurnRate" in result.stdout + result.stderr


def test_rules_read_vllm_series_with_the_bucket_label_as_written(config: Config) -> None:
    rules = generate_rules(
        config.slos, selector=model_selector(config.services), gpus=gpu_selectors(config)
    )
    groups = rules["groups"]
    exprs = {r["record"]: r["expr"] for r in groups[3]["rules"]}  # chat-e2e SLIs
    assert set(exprs) == {
        f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    }
    assert (
        'vllm:e2e_request_latency_seconds_bucket{model_name="llama-3.1-8b",le="1.0"}[1h]'
        in exprs["slo:sli_error:ratio_rate1h"]
    )
    availability = groups[6]["rules"][0]["expr"]
    assert 'finished_reason=~"stop|length"' in availability


def test_a_threshold_off_the_bucket_grid_names_the_nearest_boundaries(config: Config) -> None:
    odd = config.slos[0].model_copy(
        update={"sli": config.slos[0].sli.model_copy(update={"threshold": 0.3})}
    )
    with pytest.raises(ConfigError) as caught:
        generate_rules([odd])
    assert "slos[0].sli.threshold" in str(caught.value)
    assert "0.25s and 0.5s" in str(caught.value)


@pytest.fixture
def am_file(tmp_path: Path, config: Config) -> Path:
    path = tmp_path / "am.yml"
    path.write_text(render_alertmanager_yaml(config.escalation))
    return path


@needs_amtool
def test_amtool_accepts_the_generated_config(am_file: Path) -> None:
    result = _run(str(AMTOOL), "check-config", str(am_file))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_amtool
@pytest.mark.parametrize(
    ("severity", "receivers"),
    [("page", "oncall,audit"), ("ticket", "team-chat")],
)
def test_alerts_route_to_the_receivers_of_their_severity(
    am_file: Path, severity: str, receivers: str
) -> None:
    result = _run(
        str(AMTOOL), "config", "routes", "test", "--config.file", str(am_file),
        f"severity={severity}", "slo=x", "service=y",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receivers


def test_a_page_inhibits_the_ticket_of_the_same_slo(config: Config) -> None:
    am = yaml.safe_load(render_alertmanager_yaml(config.escalation))
    assert am["inhibit_rules"] == [
        {
            "source_matchers": ['severity="page"'],
            "target_matchers": ['severity="ticket"'],
            "equal": ["slo", "service"],
        }
    ]


def test_escalation_problems_are_reported_together(config: Config) -> None:
    from perfops.config import Receiver, Route
    from perfops.slo.alertmanager import generate_alertmanager

    broken = config.escalation.model_copy(
        update={
            "receivers": (Receiver(name="hook", kind="webhook", target_env="HOOK_URL"),),
            "routes": (Route(severity="page", receivers=("nobody",)),),
        }
    )
    with pytest.raises(ConfigError) as caught:
        generate_alertmanager(broken)
    assert len(caught.value.problems) == 2
    assert "unknown receiver 'nobody'" in str(caught.value)


def test_each_slo_alerts_on_its_own_window_set_and_period(config: Config) -> None:
    rules = generate_rules(config.slos, gpus=gpu_selectors(config))
    groups = {g["name"]: g["rules"] for g in rules["groups"]}
    weekly = groups["perfops-slo-chat-ttft-weekly-alerts"][0]["expr"]
    # Pyrra scales the windows with the period: 7d / 28d of 1h is 15m; the factor stays 14
    assert "slo:sli_error:ratio_rate15m" in weekly
    assert "> 0.7" in weekly  # 14 x 5%
    monthly = groups["perfops-slo-chat-gpus-alerts"][0]["expr"]
    assert "> 0.072 " in monthly  # google-30d on a calendar month (30d): 14.4 x 0.5%
    goodput = groups["perfops-slo-chat-goodput-sli"][0]["expr"]
    assert goodput.startswith("clamp_max(")
    assert "vllm:time_to_first_token_seconds_bucket" in goodput
    assert "vllm:e2e_request_latency_seconds_bucket" in goodput
    gpus = groups["perfops-slo-chat-gpus-sli"]
    assert gpus[0]["record"] == "slo:gpu_bad:ratio"
    assert "DCGM_FI_DEV_CLOCKS_EVENT_REASONS" in gpus[0]["expr"]
    assert 'DCGM_FI_DEV_XID_ERRORS{Hostname=~"gpu-.*"}' in gpus[0]["expr"]  # its gpu_selector


def test_a_gpu_health_slo_without_a_gpu_selector_is_a_located_problem() -> None:
    """No `service` label is assumed on GPU series: a GPU health SLO whose service says
    nothing of its GPUs cannot have rules, and the problem names its line."""
    text = PERFOPS_YAML.replace("    gpu_selector: '{Hostname=~\"gpu-.*\"}'\n", "")
    config = parse_config(text)
    with pytest.raises(ConfigError) as caught:
        generate_rules(
            config.slos,
            gpus=gpu_selectors(config),
            where=lambda i, *path: config.where("slos", i, *path),
        )
    line = text.splitlines().index("  - name: chat-gpus") + 1
    assert f"perfops.yaml:{line + 1}:14 slos[4].service: no GPU series selector" in str(
        caught.value
    )


def test_goodput_thresholds_off_the_grid_are_located(config: Config) -> None:
    goodput = config.slos[3]
    odd = goodput.model_copy(
        update={"sli": goodput.sli.model_copy(update={"thresholds": {"ttft": 0.3, "e2e": 1.0}})}
    )
    with pytest.raises(ConfigError) as caught:
        generate_rules([odd])
    assert "slos[0].sli.thresholds.ttft" in str(caught.value)


GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", ["rules.yml", "rules_test.yml"])
def test_generated_files_match_the_reviewed_golden_files(config: Config, name: str) -> None:
    """Any change to the generated rules shows up as a diff of a reviewed file; regenerate
    with UPDATE_GOLDEN=1 after checking it (promtool tests above must still pass)."""
    import os

    select, gpus = model_selector(config.services), gpu_selectors(config)
    text = (
        render_rules_yaml(config.slos, selector=select, gpus=gpus)
        if name == "rules.yml"
        else generate_rule_tests(config.slos, rule_file="rules.yml", selector=select, gpus=gpus)
    )
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


STEPS_YAML = """
apiVersion: perfops/v1
escalation:
  receivers:
    - {name: primary-pager, kind: pagerduty, target_env: PD_PRIMARY}
    - {name: secondary-pager, kind: pagerduty, target_env: PD_SECONDARY}
    - {name: audit, kind: webhook, target: http://127.0.0.1:9095/alerts}
    - {name: team-chat, kind: slack, target_env: SLACK_WEBHOOK_URL}
  routes:
    - {severity: page, receivers: [primary-pager, audit], repeat_interval: 4h}
    - {severity: ticket, receivers: [team-chat]}
  schedules:
    - {name: primary, people: [ana, bo], start: 2025-01-06}
    - {name: secondary, people: [cy], start: 2025-01-06}
  steps:
    - {after: 0m, notify: [primary]}
    - {after: 15m, notify: [secondary], receiver: secondary-pager}
    - {after: 25m, notify: [primary]}
  repeat: 2
  repeat_every: 45m
"""


@pytest.fixture
def steps_am(tmp_path: Path) -> Path:
    path = tmp_path / "am-steps.yml"
    path.write_text(render_alertmanager_yaml(parse_config(STEPS_YAML).escalation))
    return path


def test_steps_become_routes_held_back_by_their_delay(steps_am: Path) -> None:
    routes = yaml.safe_load(steps_am.read_text())["route"]["routes"]
    timing = [(r["receiver"], r["group_wait"], r["repeat_interval"], "continue" in r)
              for r in routes]  # fmt: skip
    assert timing == [
        ("primary-pager", "30s", "45m", True),  # step 1; step 3 goes through the same pager
        ("secondary-pager", "15m", "45m", True),  # step 2, after 15 minutes
        ("audit", "30s", "4h", False),  # the route's other receiver, at once
        ("team-chat", "30s", "4h", False),
    ]


@needs_amtool
def test_amtool_routes_a_page_through_every_step(steps_am: Path) -> None:
    check = _run(str(AMTOOL), "check-config", str(steps_am))
    assert check.returncode == 0, check.stdout + check.stderr
    page = _run(str(AMTOOL), "config", "routes", "test", "--config.file", str(steps_am),
                "severity=page", "slo=x", "service=y")  # fmt: skip
    assert page.stdout.strip() == "primary-pager,secondary-pager,audit"
    ticket = _run(str(AMTOOL), "config", "routes", "test", "--config.file", str(steps_am),
                  "severity=ticket")  # fmt: skip
    assert ticket.stdout.strip() == "team-chat"


def test_steps_without_a_paging_route_are_refused() -> None:
    from perfops.slo.alertmanager import generate_alertmanager

    config = parse_config(STEPS_YAML.replace("severity: page,", "severity: info,"))
    with pytest.raises(ConfigError, match="no route for the paging severities"):
        generate_alertmanager(config.escalation)
