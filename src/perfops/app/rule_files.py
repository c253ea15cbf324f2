"""The Prometheus rule files of a workspace, as `perfops slo rules` writes them: the SLO rules
of :mod:`perfops.slo.rules`, the GPU health alerts of :mod:`perfops.slo.gpu_health_alerts` and
the cost recording rules of :mod:`perfops.finops.cost_rules` in one ``rules.yml``, and their
promtool tests in one ``rules_test.yml``.

The cost rules price GPUs with :func:`perfops.app.cost.workspace_prices`, the price book
`perfops cost` uses, so a GPU-hour costs the same on Grafana as in the cost report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perfops._internal.escape import yaml_dump
from perfops.app.cost import workspace_prices
from perfops.app.runtime import Runtime
from perfops.errors import ConfigError
from perfops.finops import cost_rule_group, cost_rule_tests, idle_prices, priced_services
from perfops.slo.gpu_health_alerts import gpu_health_alert_group, gpu_health_rule_tests
from perfops.slo.rule_tests import generate_rule_tests
from perfops.slo.rules import DEFAULT_RUNBOOK, generate_rules, gpu_selectors, service_selector

__all__ = ["RuleFiles", "rule_files"]


@dataclass(frozen=True, slots=True)
class RuleFiles:
    rules: str
    """rules.yml: every SLO's groups, then ``perfops-gpu-health`` and ``perfops-cost``"""
    tests: str
    """rules_test.yml, reading ``rule_file``"""
    notes: tuple[str, ...]
    """what was left out, and why"""


def rule_files(
    rt: Runtime, *, runbook_url_base: str = DEFAULT_RUNBOOK, rule_file: str = "rules.yml"
) -> RuleFiles:
    """The workspace's rule file and its promtool tests. A ConfigError lists every SLO whose
    rules cannot be built, located in perfops.yaml; prices that cannot be read leave the cost
    rules out, with a note saying why."""
    config = rt.config
    select, gpus = service_selector(config.services), gpu_selectors(config)
    doc = generate_rules(
        config.slos,
        runbook_url_base=runbook_url_base,
        selector=select,
        gpus=gpus,
        where=lambda i, *path: config.where("slos", i, *path),
    )
    doc["groups"].append(gpu_health_alert_group(runbook_url_base))
    cost_tests: list[Any] = []
    try:
        book = workspace_prices(rt)
    except ConfigError as exc:  # the SLO rules do not need prices: say why cost has none
        problem = exc.problems[0]
        notes = [
            f"no cost rules: {problem.message}" + (f" ({problem.hint})" if problem.hint else "")
        ]
    else:
        services, notes = priced_services(config, book.hourly)
        idle = idle_prices(book.hourly)
        doc["groups"].append(cost_rule_group(services, idle, currency=book.currency))
        cost_tests = cost_rule_tests(services, idle, currency=book.currency)
    tests = generate_rule_tests(
        config.slos,
        rule_file=rule_file,
        runbook_url_base=runbook_url_base,
        selector=select,
        gpus=gpus,
        extra=[*gpu_health_rule_tests(runbook_url_base), *cost_tests],
    )
    return RuleFiles(yaml_dump(doc), tests, tuple(notes))
