"""Prometheus recording and alerting rules for SLOs, Sloth style, plus their promtool tests.

For every SLO the generator writes three rule groups (the layout of Sloth's
``examples/_gen/getting-started.yml``):

* ``slo:sli_error:ratio_rate<w>`` for each window the burn-rate alerts read;
* ``slo:objective:ratio`` and ``slo:error_budget:ratio``;
* ``<Name>PageBurnRate`` and ``<Name>TicketBurnRate``, multiwindow multi-burn-rate alerts
  without ``for:`` (the short window already guards against flapping, as in Sloth's
  ``google-30d`` set).

The rules run on the user's Prometheus, so they read vLLM's own metric names, not the lake's
canonical ones, selected by the service's series selector (``services[].selector``, by default
``{model_name="<model>"}``; GPU health by ``gpu_selector``): the same definition
``perfops slo status`` reads the lake with. What each SLI reads is chosen once, by
:func:`perfops.slo.sources.sli_source`. Every recorded series carries the labels ``slo`` and
``service``, which the rules set themselves.

Availability is ``vllm:request_success_total``: good requests end with ``finished_reason`` in
``stop|length``; the total counts every finished reason, ``abort`` and ``error`` included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from perfops._internal.durations import format_duration, parse_duration
from perfops._internal.escape import go_template_text, promql_matcher, promql_selector, yaml_dump
from perfops._internal.runbook_names import (
    DASHBOARD_RUNBOOKS,
    alert_prefix,
    runbook_url,
    slo_alert_name,
)
from perfops.config.models import (
    SLO,
    AvailabilitySLI,
    Config,
    GoodputSLI,
    GpuHealthSLI,
    LatencySLI,
    RatioSLI,
    Service,
)
from perfops.errors import ConfigError, Problem
from perfops.slo.sources import HISTOGRAMS
from perfops.slo.windows import load_window_set

__all__ = [
    "BUCKETS",
    "CALENDAR_PERIOD_S",
    "DEFAULT_RUNBOOK",
    "BurnWindow",
    "alert_name",
    "alert_prefix",
    "alert_annotations",
    "burn_windows",
    "default_selector",
    "format_le",
    "generate_rules",
    "gpu_selectors",
    "model_selector",
    "service_selector",
    "period_s",
    "render_rules_yaml",
    "rule_problems",
    "throttle_bits",
    "xid_metric",
]

Selector = Callable[[SLO], str]
GpuSelector = Callable[[SLO], str | None]
Where = Callable[..., str]  # (index of the SLO, *field path) -> "perfops.yaml:12:5"


@dataclass(frozen=True, slots=True)
class BurnWindow:
    """One alert condition as the rules write it: both windows (Prometheus durations) must burn
    faster than ``factor`` times the budget."""

    severity: str
    long: str
    short: str
    factor: float


# Calendar periods as a rule sees them: Prometheus has no calendar, so a week is 7d and a
# month 30d; the factors follow from that period as for a rolling window.
CALENDAR_PERIOD_S = {"week": 7 * 86400.0, "month": 30 * 86400.0}


def period_s(slo: SLO) -> float:
    """The SLO period in seconds; calendar periods at their nominal length."""
    return CALENDAR_PERIOD_S[slo.window] if isinstance(slo.window, str) else float(slo.window)


def burn_windows(slo: SLO) -> tuple[BurnWindow, ...]:
    """The SLO's alert windows: its window set (``alerting``, a data file in slo/windows/)
    adapted to its period, exactly as ``perfops slo status`` evaluates them."""
    chosen = load_window_set(slo.alerting, period_s=period_s(slo))
    return tuple(
        BurnWindow(w.severity, _prom_duration(w.long_s), _prom_duration(w.short_s), w.factor)
        for w in chosen.windows
    )


def _prom_duration(seconds: float) -> str:
    return format_duration(round(seconds))


# vLLM v1 histogram buckets, copied from vllm/v1/metrics/loggers.py (PrometheusStatLogger);
# perfops.sim.metrics serves the same tuples. A latency threshold must be one of them.
_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)  # fmt: skip
_ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
                7.5, 10.0, 20.0, 40.0, 80.0)  # fmt: skip
_E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
                60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)  # fmt: skip

BUCKETS: dict[str, tuple[float, ...]] = {
    "ttft": _TTFT_BUCKETS,
    "itl": _ITL_BUCKETS,
    "tpot": _ITL_BUCKETS,
    "e2e": _E2E_BUCKETS,
}
_SUCCESS = "vllm:request_success_total"
_GOOD_REASONS = "stop|length"
DEFAULT_RUNBOOK = DASHBOARD_RUNBOOKS


def format_le(value: float) -> str:
    """``value`` as prometheus_client writes an ``le`` label: 0.5 -> "0.5", 1 -> "1.0"."""
    return "+Inf" if value == float("inf") else repr(float(value))


def default_selector(slo: SLO) -> str:
    """``{model_name="<slo.service>"}``: right when the service is named after its model."""
    return promql_selector({"model_name": slo.service})


def service_selector(services: Iterable[Service]) -> Selector:
    """Each SLO's engine series: its service's :attr:`~perfops.config.Service.series_selector`
    (the one definition ``perfops slo status`` reads the lake with)."""
    known = {s.name: s.series_selector.promql() for s in services}

    def select(slo: SLO) -> str:
        return known.get(slo.service) or default_selector(slo)

    return select


model_selector = service_selector  # the name before selectors were the services' own


def gpu_selectors(config: Config) -> GpuSelector:
    """Each SLO's GPU series: :meth:`~perfops.config.Config.gpu_selector` of its service, or
    None when perfops.yaml does not say how its GPUs are found."""
    known = {s.name: config.gpu_selector(s) for s in config.services}

    def select(slo: SLO) -> str | None:
        found = known.get(slo.service)
        return None if found is None else found.promql()

    return select


def _with(selector: str, *matchers: str) -> str:
    inner = [m for m in (selector.strip().strip("{}").strip(), *matchers) if m]
    return "{" + ",".join(inner) + "}"


def _rate(series: str, window: str) -> str:
    if "{{.window}}" in series:
        return series.replace("{{.window}}", window)
    return f"sum(rate({series}[{window}]))"


def _latency_error(metric: str, threshold: float, selector: str, window: str) -> str:
    name = HISTOGRAMS[metric][1]
    le = promql_matcher("le", format_le(threshold))
    good = _rate(f"{name}_bucket{_with(selector, le)}", window)
    return f"1 - ({good} / {_rate(f'{name}_count{_with(selector)}', window)})"


def _error_ratio(slo: SLO, selector: str, window: str) -> str:
    sli = slo.sli
    if isinstance(sli, LatencySLI):
        return _latency_error(sli.metric, sli.threshold, selector, window)
    if isinstance(sli, GoodputSLI):
        # A request misses the goodput SLO when it misses any threshold; vLLM's histograms are
        # per metric, so the rules alert on the union bound (the sum of the per-threshold error
        # ratios, at most 1): never lower than the exact ratio `perfops slo status` computes
        # from request records, so the alerts err towards firing.
        terms = [
            f"({_latency_error(m, t, selector, window)})" for m, t in sorted(sli.thresholds.items())
        ]
        return f"clamp_max({' + '.join(terms)}, 1)"
    if isinstance(sli, GpuHealthSLI):
        return f"avg_over_time({_GPU_BAD}{_with('', *_label_matchers(slo))}[{window}])"
    if isinstance(sli, AvailabilitySLI):
        reasons = f'finished_reason=~"{_GOOD_REASONS}"'
        good = _rate(f"{_SUCCESS}{_with(selector, reasons)}", window)
        return f"1 - ({good} / {_rate(f'{_SUCCESS}{_with(selector)}', window)})"
    assert isinstance(sli, RatioSLI)
    total = _rate(sli.total, window)
    if sli.bad is not None:
        return f"({_rate(sli.bad, window)}) / ({total})"
    return f"1 - (({_rate(str(sli.good), window)}) / ({total}))"


# GPU health: the share of GPUs, now, in an XID error or throttled (clocks event reasons
# 0xEC: SW power cap, HW slowdown, SW/HW thermal, HW power brake). PromQL has no bitwise
# AND, so each bit is floor(x / bit) % 2. Where the exporter does not export the reasons,
# the XID part stands alone. Recorded every evaluation; the windows average it over time.
_GPU_BAD = "slo:gpu_bad:ratio"
_XID = "DCGM_FI_DEV_XID_ERRORS"
_REASONS = "DCGM_FI_DEV_CLOCKS_EVENT_REASONS"
_THROTTLE_BITS = (4, 8, 32, 64, 128)


def throttle_bits(selector: str = "") -> str:
    """Per GPU, how many of the throttling reasons (0xEC) its clocks event reasons hold: 0 when
    it is not throttled. The one definition of throttled, for the GPU health SLO and alert."""
    reasons = f"{_REASONS}{selector}"
    return " + ".join(f"(floor({reasons} / {b}) % 2)" for b in _THROTTLE_BITS)


def xid_metric() -> str:
    """dcgm-exporter's last-XID gauge (the error's code, 0 when none): a GPU with a non-zero
    value is in an XID error, for the GPU health SLO and alert alike."""
    return _XID


def _gpu_bad_now(selector: str) -> str:
    bits = throttle_bits(selector)
    xid = f"max by (UUID) ({_XID}{selector} != bool 0)"
    throttled = f"max by (UUID) (({bits}) > bool 0)"
    return f"avg(clamp_max({xid} + on (UUID) {throttled}, 1) or on (UUID) {xid})"


def _label_matchers(slo: SLO) -> tuple[str, ...]:
    return tuple(promql_matcher(k, v) for k, v in _labels(slo).items())


def _budget(slo: SLO) -> float:
    return round(1 - slo.objective / 100, 12)


def _nowhere(index: int, *path: str | int) -> str:
    return "perfops.yaml"


def rule_problems(
    slo: SLO,
    index: int,
    windows: Sequence[BurnWindow],
    *,
    gpus: str | None = "",
    where: Where = _nowhere,
) -> list[Problem]:
    """Why the rules of ``slo`` (``slos[index]``) cannot be built, each located by ``where``
    at the field at fault: none when they can."""
    sli = slo.sli

    def problem(path: tuple[str, ...], message: str, hint: str | None = None) -> Problem:
        dotted = ".".join((f"slos[{index}]", *path))
        return Problem(where(index, *path), dotted, message, hint)

    if isinstance(sli, RatioSLI) and (sli.good is None) == (sli.bad is None):
        return [problem(("sli",), "set exactly one of good and bad")]
    out = []
    if isinstance(sli, LatencySLI) and sli.threshold not in BUCKETS[sli.metric]:
        out.append(_bucket_problem(problem, ("sli", "threshold"), sli.metric, sli.threshold))
    if isinstance(sli, GoodputSLI):
        out += [
            _bucket_problem(problem, ("sli", "thresholds", metric), metric, limit)
            for metric, limit in sli.thresholds.items()
            if limit not in BUCKETS[metric]
        ]
    if isinstance(sli, GpuHealthSLI) and gpus is None:
        out.append(problem(("service",), f"no GPU series selector for service {slo.service!r}",
                           "set services[].gpu_selector (e.g. {Hostname=~\"gpu-.*\"}), "
                           "services[].labels, or a telemetry target with service: "
                           f"{slo.service}"))  # fmt: skip
    worst = max((w.factor for w in windows), default=0.0)
    if worst * _budget(slo) >= 1:
        out.append(problem(("objective",), f"{slo.objective}% cannot "
                   f"burn {worst}x its budget, so that alert never fires",
                   f"raise the objective above {100 * (1 - 1 / worst):.2f}%"))  # fmt: skip
    return out


def _bucket_problem(
    problem: Callable[[tuple[str, ...], str, str | None], Problem],
    path: tuple[str, ...],
    metric: str,
    threshold: float,
) -> Problem:
    buckets = BUCKETS[metric]
    below = max((b for b in buckets if b < threshold), default=None)
    above = min((b for b in buckets if b > threshold), default=None)
    near = " and ".join(f"{b:g}s" for b in (below, above) if b is not None)
    return problem(
        path,
        f"{threshold:g}s is not a vLLM {metric} histogram bucket boundary",
        f"use a boundary; the nearest are {near}",
    )


def _labels(slo: SLO) -> dict[str, str]:
    return {"slo": slo.name, "service": slo.service}


def _sli_group(
    slo: SLO, selector: str, gpus: str | None, windows: Sequence[BurnWindow]
) -> dict[str, Any]:
    spans = sorted({w for b in windows for w in (b.long, b.short)}, key=parse_duration)
    now: list[dict[str, Any]] = []
    if isinstance(slo.sli, GpuHealthSLI):  # first: later rules of the group read it
        now = [{"record": _GPU_BAD, "expr": _gpu_bad_now(gpus or ""), "labels": _labels(slo)}]
    rules = now + [
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
    sel, limit = promql_selector(_labels(slo)), window.factor * _budget(slo)
    return (
        f"(slo:sli_error:ratio_rate{window.long}{sel} > {limit:.10g}"
        f" and slo:sli_error:ratio_rate{window.short}{sel} > {limit:.10g})"
    )


def alert_annotations(slo: SLO, severity: str, runbook_url_base: str) -> dict[str, str]:
    """The annotations of one SLO alert as Prometheus shows them (what the promtool tests
    expect); the rule file holds them as templates whose expansion is this text."""
    what = slo.description or f"SLO {slo.name} of {slo.service}"
    return {
        "summary": f"{slo.name}: error budget burning at {severity} rate",
        "description": f"{what}; objective {slo.objective:g}%.",
        "runbook_url": runbook_url(runbook_url_base, alert_name(slo, severity)),
    }


def alert_name(slo: SLO, severity: str) -> str:
    """The name of ``slo``'s burn-rate alert at ``severity`` ("ChatTtftPageBurnRate"); its
    runbook is :func:`perfops._internal.runbook_names.runbook_name` of it."""
    return slo_alert_name(slo.name, severity)


def _templates(texts: dict[str, str]) -> dict[str, str]:
    """Alert labels and annotations are Go templates: each value is escaped to expand to
    itself, so a ``{{ }}`` in a description or service name is never executed."""
    return {key: go_template_text(text) for key, text in texts.items()}


def _alert(slo: SLO, severity: str, conds: Sequence[BurnWindow], runbook: str) -> dict[str, Any]:
    return {
        "alert": alert_name(slo, severity),
        "expr": "\n  or ".join(_condition(slo, w) for w in conds),
        "labels": _templates({"severity": severity, **_labels(slo)}),
        "annotations": _templates(alert_annotations(slo, severity, runbook)),
    }


def _alert_group(slo: SLO, windows: Sequence[BurnWindow], runbook: str) -> dict[str, Any]:
    severities = dict.fromkeys(w.severity for w in windows)
    rules = [_alert(slo, s, [w for w in windows if w.severity == s], runbook) for s in severities]
    return {"name": f"perfops-slo-{slo.name}-alerts", "rules": rules}


def generate_rules(
    slos: Sequence[SLO],
    *,
    windows: Sequence[BurnWindow] | None = None,
    runbook_url_base: str = DEFAULT_RUNBOOK,
    selector: Selector | None = None,
    gpus: GpuSelector | None = None,
    where: Where = _nowhere,
) -> dict[str, Any]:
    """The Prometheus rule file for ``slos``; ConfigError lists every SLO that cannot be built,
    each problem located by ``where`` (index of the SLO, field path -> ``file:line:col``).

    Each SLO alerts on its own window set adapted to its period (:func:`burn_windows`) unless
    ``windows`` overrides them all. ``selector`` maps an SLO to the label selector of its vLLM
    series (:func:`service_selector`; default :func:`default_selector`), ``gpus`` to that of
    its dcgm-exporter series (:func:`gpu_selectors`; None: not known, which a GPU health SLO
    cannot do without).
    """

    def chosen(slo: SLO) -> Sequence[BurnWindow]:
        return windows if windows is not None else burn_windows(slo)

    select, select_gpus = selector or default_selector, gpus or (lambda slo: None)
    problems = [
        p
        for i, slo in enumerate(slos)
        for p in rule_problems(slo, i, chosen(slo), gpus=select_gpus(slo), where=where)
    ]
    if problems:
        raise ConfigError(problems, source="SLO rules")
    groups = []
    for slo in slos:
        groups += [
            _sli_group(slo, select(slo), select_gpus(slo), chosen(slo)),
            _meta_group(slo),
            _alert_group(slo, chosen(slo), runbook_url_base),
        ]
    return {"groups": groups}


def render_rules_yaml(slos: Sequence[SLO], **options: Any) -> str:
    """:func:`generate_rules` as YAML text."""
    return yaml_dump(generate_rules(slos, **options))
