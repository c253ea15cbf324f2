"""Prometheus recording and alerting rules for SLOs, Sloth style, plus their promtool tests.

For every SLO the generator writes three rule groups (the layout of Sloth's
``examples/_gen/getting-started.yml``):

* ``slo:sli_error:ratio_rate<w>`` for each window the burn-rate alerts read;
* ``slo:objective:ratio`` and ``slo:error_budget:ratio``;
* ``<Name>PageBurnRate`` and ``<Name>TicketBurnRate``, multiwindow multi-burn-rate alerts
  without ``for:`` (the short window already guards against flapping, as in Sloth's
  ``google-30d`` set).

The rules run on the user's Prometheus, so they read vLLM's own metric names, not the lake's
canonical ones. Every series carries the labels ``slo`` and ``service``.

Availability is ``vllm:request_success_total``: good requests end with ``finished_reason`` in
``stop|length``; the total counts every finished reason, ``abort`` and ``error`` included.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from perfops._internal.durations import parse_duration
from perfops.config.models import SLO, AvailabilitySLI, LatencySLI, RatioSLI, Service
from perfops.errors import ConfigError, Problem

__all__ = [
    "BUCKETS",
    "WINDOW_SETS",
    "BurnWindow",
    "alert_prefix",
    "alert_annotations",
    "default_selector",
    "format_le",
    "generate_rule_tests",
    "generate_rules",
    "model_selector",
    "render_rules_yaml",
]

Selector = Callable[[SLO], str]


@dataclass(frozen=True, slots=True)
class BurnWindow:
    """One alert condition: both windows must burn faster than ``factor`` times the budget."""

    severity: str
    long: str
    short: str
    factor: float


# The SRE workbook, "Alerting on SLOs", table 5-8 (sre.google/workbook/alerting-on-slos), as in
# Sloth's internal/alert/windows/google-30d.yaml: factor = budget fraction * 720h / long window.
WINDOW_SETS: dict[str, tuple[BurnWindow, ...]] = {
    "google-30d": (
        BurnWindow("page", "1h", "5m", 14.4),
        BurnWindow("page", "6h", "30m", 6.0),
        BurnWindow("ticket", "1d", "2h", 3.0),
        BurnWindow("ticket", "3d", "6h", 1.0),
    ),
}

# vLLM v1 histogram buckets, copied from vllm/v1/metrics/loggers.py (PrometheusStatLogger);
# perfops.sim.metrics serves the same tuples. A latency threshold must be one of them.
_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)  # fmt: skip
_ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
                7.5, 10.0, 20.0, 40.0, 80.0)  # fmt: skip
_E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
                60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)  # fmt: skip

_HISTOGRAMS = {
    "ttft": "vllm:time_to_first_token_seconds",
    "itl": "vllm:inter_token_latency_seconds",
    "tpot": "vllm:request_time_per_output_token_seconds",
    "e2e": "vllm:e2e_request_latency_seconds",
}
BUCKETS: dict[str, tuple[float, ...]] = {
    "ttft": _TTFT_BUCKETS,
    "itl": _ITL_BUCKETS,
    "tpot": _ITL_BUCKETS,
    "e2e": _E2E_BUCKETS,
}
_SUCCESS = "vllm:request_success_total"
_GOOD_REASONS = "stop|length"
DEFAULT_RUNBOOK = "https://runbooks.example.com/perfops/slo"


def format_le(value: float) -> str:
    """``value`` as prometheus_client writes an ``le`` label: 0.5 -> "0.5", 1 -> "1.0"."""
    return "+Inf" if value == float("inf") else repr(float(value))


def alert_prefix(name: str) -> str:
    """A valid alert-name prefix from an SLO name: "chat-ttft" -> "ChatTtft"."""
    text = "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_.]", name))
    return text if text[:1].isalpha() else f"Slo{text}"


def default_selector(slo: SLO) -> str:
    """``{model_name="<slo.service>"}``: right when the service is named after its model."""
    return f'{{model_name="{slo.service}"}}'


def model_selector(services: Iterable[Service]) -> Selector:
    """A selector matching vLLM's ``model_name`` label to each service's ``model``."""
    models = {s.name: s.labels.get("model_name", s.model) for s in services}

    def select(slo: SLO) -> str:
        return f'{{model_name="{models.get(slo.service, slo.service)}"}}'

    return select


def _with(selector: str, *matchers: str) -> str:
    inner = [m for m in (selector.strip().strip("{}").strip(), *matchers) if m]
    return "{" + ",".join(inner) + "}"


def _rate(series: str, window: str) -> str:
    if "{{.window}}" in series:
        return series.replace("{{.window}}", window)
    return f"sum(rate({series}[{window}]))"


def _error_ratio(slo: SLO, selector: str, window: str) -> str:
    sli = slo.sli
    if isinstance(sli, LatencySLI):
        name = _HISTOGRAMS[sli.metric]
        le = f'le="{format_le(sli.threshold)}"'
        good = _rate(f"{name}_bucket{_with(selector, le)}", window)
        return f"1 - ({good} / {_rate(f'{name}_count{_with(selector)}', window)})"
    if isinstance(sli, AvailabilitySLI):
        reasons = f'finished_reason=~"{_GOOD_REASONS}"'
        good = _rate(f"{_SUCCESS}{_with(selector, reasons)}", window)
        return f"1 - ({good} / {_rate(f'{_SUCCESS}{_with(selector)}', window)})"
    assert isinstance(sli, RatioSLI)
    total = _rate(sli.total, window)
    if sli.bad is not None:
        return f"({_rate(sli.bad, window)}) / ({total})"
    return f"1 - (({_rate(str(sli.good), window)}) / ({total}))"


def _budget(slo: SLO) -> float:
    return round(1 - slo.objective / 100, 12)


def _problems(slo: SLO, index: int, windows: Sequence[BurnWindow]) -> list[Problem]:
    where, sli = f"slos[{index}]", slo.sli
    if not isinstance(sli, LatencySLI | AvailabilitySLI | RatioSLI):
        return [Problem("perfops.yaml", f"{where}.sli.kind", f"{sli.kind!r} has no rule "
                        "generator", "use latency, availability or ratio")]  # fmt: skip
    if isinstance(sli, RatioSLI) and (sli.good is None) == (sli.bad is None):
        return [Problem("perfops.yaml", f"{where}.sli", "set exactly one of good and bad")]
    out = []
    if isinstance(sli, LatencySLI) and sli.threshold not in BUCKETS[sli.metric]:
        out.append(_bucket_problem(where, sli))
    worst = max((w.factor for w in windows), default=0.0)
    if worst * _budget(slo) >= 1:
        out.append(Problem("perfops.yaml", f"{where}.objective", f"{slo.objective}% cannot "
                   f"burn {worst}x its budget, so that alert never fires",
                   f"raise the objective above {100 * (1 - 1 / worst):.2f}%"))  # fmt: skip
    return out


def _bucket_problem(where: str, sli: LatencySLI) -> Problem:
    buckets = BUCKETS[sli.metric]
    below = max((b for b in buckets if b < sli.threshold), default=None)
    above = min((b for b in buckets if b > sli.threshold), default=None)
    near = " and ".join(f"{b:g}s" for b in (below, above) if b is not None)
    return Problem(
        "perfops.yaml",
        f"{where}.sli.threshold",
        f"{sli.threshold:g}s is not a vLLM {sli.metric} histogram bucket boundary",
        f"use a boundary; the nearest are {near}",
    )


def _windows(window_set: str, windows: Sequence[BurnWindow] | None) -> Sequence[BurnWindow]:
    if windows is not None:
        return windows
    if window_set not in WINDOW_SETS:
        known = ", ".join(sorted(WINDOW_SETS))
        raise ConfigError([Problem("rules", "window_set", f"unknown {window_set!r}",
                                   f"valid: {known}")])  # fmt: skip
    return WINDOW_SETS[window_set]


def _check(slos: Sequence[SLO], windows: Sequence[BurnWindow]) -> None:
    problems = [p for i, slo in enumerate(slos) for p in _problems(slo, i, windows)]
    if problems:
        raise ConfigError(problems, source="SLO rules")


def _labels(slo: SLO) -> dict[str, str]:
    return {"slo": slo.name, "service": slo.service}


def _sli_group(slo: SLO, selector: str, windows: Sequence[BurnWindow]) -> dict[str, Any]:
    spans = sorted({w for b in windows for w in (b.long, b.short)}, key=parse_duration)
    rules = [
        {
            "record": f"slo:sli_error:ratio_rate{w}",
            "expr": _error_ratio(slo, selector, w),
            "labels": _labels(slo),
        }
        for w in spans
    ]
    return {"name": f"perfops-slo-{slo.name}-sli", "rules": rules}


def _meta_group(slo: SLO) -> dict[str, Any]:
    objective, budget = slo.objective / 100, _budget(slo)
    return {
        "name": f"perfops-slo-{slo.name}-meta",
        "rules": [
            {"record": "slo:objective:ratio", "expr": f"vector({objective:g})",
             "labels": _labels(slo)},
            {"record": "slo:error_budget:ratio", "expr": f"vector({budget:g})",
             "labels": _labels(slo)},
        ],
    }  # fmt: skip


def _condition(slo: SLO, window: BurnWindow) -> str:
    sel, limit = _with(f'slo="{slo.name}",service="{slo.service}"'), window.factor * _budget(slo)
    return (
        f"(slo:sli_error:ratio_rate{window.long}{sel} > {limit:.10g}"
        f" and slo:sli_error:ratio_rate{window.short}{sel} > {limit:.10g})"
    )


def alert_annotations(slo: SLO, severity: str, runbook_url_base: str) -> dict[str, str]:
    """The annotations of one SLO alert (also what the promtool tests expect)."""
    what = slo.description or f"SLO {slo.name} of {slo.service}"
    return {
        "summary": f"{slo.name}: error budget burning at {severity} rate",
        "description": f"{what}; objective {slo.objective:g}%.",
        "runbook_url": f"{runbook_url_base.rstrip('/')}/{slo.name}",
    }


def _alert(slo: SLO, severity: str, conds: Sequence[BurnWindow], runbook: str) -> dict[str, Any]:
    return {
        "alert": f"{alert_prefix(slo.name)}{severity.capitalize()}BurnRate",
        "expr": "\n  or ".join(_condition(slo, w) for w in conds),
        "labels": {"severity": severity, **_labels(slo)},
        "annotations": alert_annotations(slo, severity, runbook),
    }


def _alert_group(slo: SLO, windows: Sequence[BurnWindow], runbook: str) -> dict[str, Any]:
    severities = dict.fromkeys(w.severity for w in windows)
    rules = [_alert(slo, s, [w for w in windows if w.severity == s], runbook) for s in severities]
    return {"name": f"perfops-slo-{slo.name}-alerts", "rules": rules}


def generate_rules(
    slos: Sequence[SLO],
    *,
    window_set: str = "google-30d",
    windows: Sequence[BurnWindow] | None = None,
    runbook_url_base: str = DEFAULT_RUNBOOK,
    selector: Selector | None = None,
) -> dict[str, Any]:
    """The Prometheus rule file for ``slos``; ConfigError lists every SLO that cannot be built.

    ``windows`` overrides the named ``window_set``; ``selector`` maps an SLO to the label
    selector of its vLLM series (default :func:`default_selector`).
    """
    chosen = _windows(window_set, windows)
    _check(slos, chosen)
    select = selector or default_selector
    groups = []
    for slo in slos:
        groups += [_sli_group(slo, select(slo), chosen), _meta_group(slo)]
        groups.append(_alert_group(slo, chosen, runbook_url_base))
    return {"groups": groups}


def render_rules_yaml(slos: Sequence[SLO], **options: Any) -> str:
    """:func:`generate_rules` as YAML text."""
    return _dump(generate_rules(slos, **options))


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (alert expressions) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=200, allow_unicode=True)


# ---- promtool unit tests ---------------------------------------------------------------

_MINUTES = 180  # three hours of samples, one a minute
_EVAL = "2h"


def _series(slo: SLO, selector: str, good: float, total: float) -> list[dict[str, str]]:
    """Input series where ``good`` of every ``total`` events per minute are good."""
    sli, n = slo.sli, _MINUTES

    def grow(step: float) -> str:
        return f"0+{step:g}x{n}"

    if isinstance(sli, LatencySLI):
        name = _HISTOGRAMS[sli.metric]
        le = f'le="{format_le(sli.threshold)}"'
        return [
            {"series": f"{name}_bucket{_with(selector, le)}", "values": grow(good)},
            {"series": f"{name}_count{_with(selector)}", "values": grow(total)},
        ]
    stop, abort = 'finished_reason="stop"', 'finished_reason="abort"'
    return [
        {"series": f"{_SUCCESS}{_with(selector, stop)}", "values": grow(good)},
        {"series": f"{_SUCCESS}{_with(selector, abort)}", "values": grow(total - good)},
    ]


def _expect(slo: SLO, severity: str, fires: bool, runbook: str) -> dict[str, Any]:
    alerts = []
    if fires:
        labels = {"severity": severity, **_labels(slo)}
        alerts = [
            {"exp_labels": labels, "exp_annotations": alert_annotations(slo, severity, runbook)}
        ]
    name = f"{alert_prefix(slo.name)}{severity.capitalize()}BurnRate"
    return {"eval_time": _EVAL, "alertname": name, "exp_alerts": alerts}


def _case(slo: SLO, selector: str, error_rate: float, fires: dict[str, bool], runbook: str) -> Any:
    total = 1000.0
    return {
        "interval": "1m",
        "input_series": _series(slo, selector, total * (1 - error_rate), total),
        "alert_rule_test": [_expect(slo, s, f, runbook) for s, f in fires.items()],
    }


def _cases(slo: SLO, selector: str, runbook: str) -> list[Any]:
    slow = 2 * _budget(slo)  # burns 2x: under every page factor, over the 3d/6h ticket one
    return [
        _case(slo, selector, 1.0, {"page": True, "ticket": True}, runbook),
        _case(slo, selector, 0.0, {"page": False, "ticket": False}, runbook),
        _case(slo, selector, slow, {"page": False, "ticket": True}, runbook),
    ]


def generate_rule_tests(
    slos: Sequence[SLO],
    *,
    rule_file: str = "rules.yml",
    runbook_url_base: str = DEFAULT_RUNBOOK,
    selector: Selector | None = None,
) -> str:
    """A promtool unit-test file for the google-30d rules of ``slos``.

    Each latency and availability SLO gets three cases, evaluated at 2h: a total outage pages
    and tickets, a healthy series stays silent, and a 2x burn tickets without paging. Ratio
    SLOs read arbitrary PromQL, which cannot be synthesised, so they are left out.
    """
    select = selector or default_selector
    testable = [s for s in slos if isinstance(s.sli, LatencySLI | AvailabilitySLI)]
    tests = [c for s in testable for c in _cases(s, select(s), runbook_url_base)]
    doc = {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}
    return _dump(doc)
