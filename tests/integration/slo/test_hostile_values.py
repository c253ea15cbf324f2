"""Hostile values (quotes, backslashes, newlines, ``{}``, template actions, markup, ANSI and
OSC escapes, bidi controls) in the config that the generated rules, promtool tests,
Alertmanager config, Grafana dashboards and OpenSLO imports carry: each file is accepted by
the real tool that reads it, and each value reads back as itself, selecting nothing else."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from perfops._internal.escape import alertmanager_matcher, promql_selector, yaml_dump
from perfops.config import Config, parse_config
from perfops.config.models import SLO
from perfops.errors import ConfigError
from perfops.slo.alertmanager import generate_alertmanager
from perfops.slo.grafana import dashboard, render_dashboard_json
from perfops.slo.openslo import import_openslo, render_slos_yaml
from perfops.slo.rule_tests import generate_rule_tests
from perfops.slo.rules import generate_rules, model_selector, render_rules_yaml

PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")
needs_amtool = pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed")

# A model name that, pasted into a selector, would end it and add `or vector(1)`; one that
# would widen it to every model; one with everything else a value can hold.
BREAKOUT = 'x"} or vector(1) or foo{a="'
WIDENER = 'x",model_name!="'
MIXED = "a\\b\nc\x1b[2J\x1b]8;;http://e.example/\x07 [/bold] {{ $value }} $hostname \u202eZ"
HOSTILE = (BREAKOUT, WIDENER, MIXED)
DESCRIPTION = 'fires {{ query "up" }} on {{ $labels.service }}; "quoted" \\ [red]x[/] {'
BIDI_OR_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

PERFOPS_YAML = f"""
apiVersion: perfops/v1
services:
  - name: breakout
    endpoint: http://127.0.0.1:8000/v1
    model: {json.dumps(BREAKOUT)}
    gpu: {{type: H100-SXM}}
  - name: widener
    endpoint: http://127.0.0.1:8000/v1
    model: {json.dumps(WIDENER)}
    gpu: {{type: H100-SXM}}
  - name: mixed
    endpoint: http://127.0.0.1:8000/v1
    model: placeholder
    labels: {{model_name: {json.dumps(MIXED)}}}
    gpu: {{type: H100-SXM}}
slos:
  - {{name: breakout-ttft, service: breakout, sli: {{kind: latency, metric: ttft,
     threshold: 500ms}}, objective: 99, description: {json.dumps(DESCRIPTION)}}}
  - {{name: widener-avail, service: widener, sli: {{kind: availability}}, objective: 99.9}}
  - {{name: mixed-goodput, service: mixed, sli: {{kind: goodput, thresholds: {{ttft: 500ms,
     e2e: 1s}}}}, objective: 99, description: {json.dumps(MIXED)}}}
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def config() -> Config:
    parsed = parse_config(PERFOPS_YAML)
    assert [s.labels.get("model_name", s.model) for s in parsed.services] == list(HOSTILE)
    return parsed


def _hostile_service_slo() -> SLO:
    """An SLO whose service name (free text in the model) is hostile: the default selectors
    put it in ``model_name`` and ``service`` matchers, and it labels every rule."""
    return SLO.model_validate(
        {"name": "gpus", "service": MIXED, "sli": {"kind": "gpu_health"}, "objective": 99.5,
         "description": DESCRIPTION}
    )  # fmt: skip


def _gpus(slo: SLO) -> str:
    """GPU series selected by a hostile host name: the SLO's service name."""
    return promql_selector({"Hostname": slo.service})


def _decoys(tests_yaml: str) -> str:
    """The promtool tests with, in every case, another model whose every request fails:
    a selector that a value widened would read it, and the healthy cases would fire."""
    doc = yaml.safe_load(tests_yaml)
    decoys = [
        {"series": 'vllm:request_success_total{model_name="decoy",finished_reason="abort"}',
         "values": "0+1000x180"},
        {"series": 'vllm:time_to_first_token_seconds_bucket{model_name="decoy",le="0.5"}',
         "values": "0x180"},
        {"series": 'vllm:time_to_first_token_seconds_count{model_name="decoy"}',
         "values": "0+1000x180"},
    ]  # fmt: skip
    for case in doc["tests"]:
        case["input_series"] += decoys
    return yaml_dump(doc)


@needs_promtool
def test_promtool_accepts_and_tests_rules_for_hostile_models_and_services(
    tmp_path: Path, config: Config
) -> None:
    slos = [*config.slos, _hostile_service_slo()]
    select = model_selector(config.services)
    runbook = "https://runbooks.example.com/{{ $value }}/"
    rules = render_rules_yaml(slos, selector=select, gpus=_gpus, runbook_url_base=runbook)
    assert not BIDI_OR_CONTROL.search(rules)
    (tmp_path / "rules.yml").write_text(rules)
    checked = _run(str(PROMTOOL), "check", "rules", str(tmp_path / "rules.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 45 rules found" in checked.stdout  # 3 SLOs x 11 rules, GPU health 12

    tests = generate_rule_tests(
        slos, rule_file="rules.yml", selector=select, gpus=_gpus, runbook_url_base=runbook
    )
    (tmp_path / "tests.yml").write_text(_decoys(tests))
    tested = _run(str(PROMTOOL), "test", "rules", str(tmp_path / "tests.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_alert_labels_and_annotations_expand_to_the_values(config: Config) -> None:
    """What promtool compared above: the expected alerts carry the raw values."""
    tests = yaml.safe_load(generate_rule_tests([_hostile_service_slo()], gpus=_gpus))
    fired = tests["tests"][0]["alert_rule_test"][0]["exp_alerts"][0]
    assert fired["exp_labels"]["service"] == MIXED
    assert fired["exp_annotations"]["description"].startswith(DESCRIPTION)


def test_rule_selectors_hold_each_value_as_one_string(config: Config) -> None:
    groups = generate_rules(config.slos, selector=model_selector(config.services))["groups"]
    breakout = groups[0]["rules"][0]["expr"]
    assert 'model_name="x\\"} or vector(1) or foo{a=\\""' in breakout
    assert "or vector(1)" not in breakout.replace('or vector(1) or foo{a=\\""', "")
    mixed = yaml_dump(groups[6])
    assert "\\u001b[2J" in mixed
    assert "\\u202eZ" in mixed


def test_grafana_dashboards_build_round_trip_and_escape_their_queries(config: Config) -> None:
    for service in config.services:
        text = render_dashboard_json(service, config.slos)
        original = json.loads(text)
        again = json.loads(json.dumps(Dashboard.from_json(original), cls=JSONEncoder))
        exprs = [t["expr"] for p in again["panels"] for t in p.get("targets", [])]
        assert exprs == [t["expr"] for p in original["panels"] for t in p.get("targets", [])]
        model = service.labels.get("model_name", service.model)
        engine = [e for e in exprs if "model_name=" in e]
        assert engine
        for expr in engine:
            value = expr.split("model_name=", 1)[1]
            # one string literal, then the selector's end; no Grafana variable inside it
            literal = re.match(r'"(?:[^"\\\n]|\\.)*"', value)
            assert literal is not None, expr
            assert value[literal.end()] == "}", expr
            assert "$" not in literal.group()
            assert "[[" not in literal.group()
            assert ast.literal_eval(literal.group()) == model  # Go's escapes, as Python's
        assert not BIDI_OR_CONTROL.search(text)


@needs_promtool
def test_promtool_parses_every_dashboard_query(tmp_path: Path, config: Config) -> None:
    """Dashboard PromQL as recording rules: promtool parses each expression."""
    exprs = [
        t["expr"].replace("$hostname", ".*")
        for service in config.services
        for p in dashboard(service, config.slos)["panels"]
        for t in p.get("targets", [])
    ]
    rules = [{"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(exprs)]
    (tmp_path / "q.yml").write_text(yaml_dump({"groups": [{"name": "q", "rules": rules}]}))
    checked = _run(str(PROMTOOL), "check", "rules", str(tmp_path / "q.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@needs_amtool
@pytest.mark.parametrize("value", [*HOSTILE, DESCRIPTION])
def test_amtool_reads_an_alertmanager_matcher_as_the_raw_value(tmp_path: Path, value: str) -> None:
    """Two routes: the legacy ``match`` map holds the raw value; the other, the matcher
    perfops writes. An alert with the value reaches both."""
    config = {
        "route": {
            "receiver": "default",
            "routes": [
                {"receiver": "raw", "match": {"team": value}, "continue": True},
                {"receiver": "escaped", "matchers": [alertmanager_matcher("team", value)]},
            ],
        },
        "receivers": [{"name": "default"}, {"name": "raw"}, {"name": "escaped"}],
    }
    path = tmp_path / "am.yml"
    path.write_text(yaml_dump(config))
    assert _run(str(AMTOOL), "check-config", str(path)).returncode == 0
    routed = _run(
        str(AMTOOL), "config", "routes", "test", "--config.file", str(path),
        alertmanager_matcher("team", value),
    )  # fmt: skip
    assert routed.returncode == 0, routed.stdout + routed.stderr
    assert routed.stdout.strip() == "raw,escaped"


def test_alertmanager_refuses_group_by_and_secret_names_it_cannot_write(config: Config) -> None:
    from pydantic import ValidationError

    from perfops.config import Receiver, Route

    # perfops.yaml refuses such a name when it is read ...
    with pytest.raises(ValidationError, match="is not the name of an environment variable"):
        Receiver(name="oncall", kind="pagerduty", target_env="../../etc/passwd")
    # ... and the generator refuses it again if one is built around the loader
    hostile = Receiver.model_construct(
        name="oncall", kind="pagerduty", target_env="../../etc/passwd"
    )
    escalation = config.escalation.model_copy(
        update={
            "group_by": ("alertname", 'slo"}'),
            "receivers": (hostile,),
            "routes": (Route(severity="page", receivers=("oncall",)),),
        }
    )
    with pytest.raises(ConfigError) as caught:
        generate_alertmanager(escalation)
    text = str(caught.value)
    assert "escalation.group_by[1]" in text
    assert "not a Prometheus label name" in text
    assert "escalation.receivers[0].target_env" in text


def test_openslo_import_writes_yaml_that_reads_back(tmp_path: Path) -> None:
    doc: dict[str, Any] = {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {"name": "chat"},
        "spec": {
            "service": "chat",
            "description": MIXED,
            "indicator": {"spec": {"ratioMetric": {
                "counter": True,
                "good": {"metricSource": {"spec": {"query": f"good{{m={json.dumps(MIXED)}}}"}}},
                "total": {"metricSource": {"spec": {"query": "total"}}},
            }}},
            "objectives": [{"target": 0.99}],
        },
    }  # fmt: skip
    entries, _ = import_openslo(yaml.safe_dump(doc), source="in\nput\x1b[2J.yaml")
    text = render_slos_yaml(entries, source="in\nput\x1b[2J.yaml")
    assert not BIDI_OR_CONTROL.search(text)
    assert text.startswith("# Imported from in\\nput\\x1b[2J.yaml by")
    slo = yaml.safe_load(text)["slos"][0]
    assert slo["description"] == MIXED
    assert slo["sli"]["good"] == f"good{{m={json.dumps(MIXED)}}}"
