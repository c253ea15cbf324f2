"""promtool unit tests for the generated rules: each alert fires on a burn and stays silent
on a healthy series.

Every SLO whose series can be synthesised gets three cases, evaluated at 2h over three hours
of one-minute samples: a total outage pages and tickets; a healthy series stays silent; and a
slow burn, between the lowest ticket factor and the lowest page factor of the SLO's own
window set, tickets without paging (GPU health has a throttle-only outage instead: the
share of bad GPU-time is a whole-GPU fraction). Ratio SLOs read arbitrary PromQL, which
cannot be synthesised, so they are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perfops._internal.escape import promql_matcher, promql_selector, yaml_dump
from perfops.config.models import SLO, AvailabilitySLI, GoodputSLI, GpuHealthSLI, LatencySLI
from perfops.config.selector import parse_selector
from perfops.slo.rules import (
    _REASONS,
    _SUCCESS,
    _XID,
    DEFAULT_RUNBOOK,
    GpuSelector,
    Selector,
    _budget,
    _labels,
    _with,
    alert_annotations,
    alert_prefix,
    burn_windows,
    default_selector,
    format_le,
)
from perfops.slo.sources import HISTOGRAMS

__all__ = ["generate_rule_tests"]

_MINUTES = 180  # three hours of samples, one a minute
_EVAL = "2h"


def _grow(step: float) -> str:
    return f"0+{step:g}x{_MINUTES}"


def _histogram(
    metric: str, threshold: float, selector: str, good: float, total: float
) -> list[dict[str, str]]:
    name = HISTOGRAMS[metric][1]
    le = promql_matcher("le", format_le(threshold))
    return [
        {"series": f"{name}_bucket{_with(selector, le)}", "values": _grow(good)},
        {"series": f"{name}_count{_with(selector)}", "values": _grow(total)},
    ]


def _series(slo: SLO, selector: str, good: float, total: float) -> list[dict[str, str]]:
    """Input series where ``good`` of every ``total`` events per minute are good."""
    sli = slo.sli
    if isinstance(sli, LatencySLI):
        return _histogram(sli.metric, sli.threshold, selector, good, total)
    if isinstance(sli, GoodputSLI):  # every miss on the first threshold, the others clean
        (first, limit), *rest = sorted(sli.thresholds.items())
        out = _histogram(first, limit, selector, good, total)
        for metric, other in rest:
            out += _histogram(metric, other, selector, total, total)
        return out
    stop, abort = (
        promql_matcher("finished_reason", "stop"),
        promql_matcher("finished_reason", "abort"),
    )
    return [
        {"series": f"{_SUCCESS}{_with(selector, stop)}", "values": _grow(good)},
        {"series": f"{_SUCCESS}{_with(selector, abort)}", "values": _grow(total - good)},
    ]


def _gpus(selector: str, xid: int, reasons: int) -> list[dict[str, str]]:
    """Two GPUs, both with the given XID code and clocks event reasons throughout."""
    out = []
    for i in range(2):
        gpu = _with(selector, promql_matcher("gpu", str(i)), promql_matcher("UUID", f"GPU-{i}"))
        out += [
            {"series": f"{_XID}{gpu}", "values": f"{xid}x{_MINUTES}"},
            {"series": f"{_REASONS}{gpu}", "values": f"{reasons}x{_MINUTES}"},
        ]
    return out


def _expect(slo: SLO, severity: str, fires: bool, runbook: str) -> dict[str, Any]:
    alerts = []
    if fires:
        labels = {"severity": severity, **_labels(slo)}
        alerts = [
            {"exp_labels": labels, "exp_annotations": alert_annotations(slo, severity, runbook)}
        ]
    name = f"{alert_prefix(slo.name)}{severity.capitalize()}BurnRate"
    return {"eval_time": _EVAL, "alertname": name, "exp_alerts": alerts}


def _case(series: list[dict[str, str]], slo: SLO, fires: dict[str, bool], runbook: str) -> Any:
    return {
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [_expect(slo, s, f, runbook) for s, f in fires.items()],
    }


def _slow_burn(slo: SLO) -> float | None:
    """A burn rate that fires a ticket and no page, when the window set has one."""
    windows = burn_windows(slo)
    pages = [w.factor for w in windows if w.severity == "page"]
    tickets = [w.factor for w in windows if w.severity == "ticket"]
    if not pages or not tickets or min(tickets) >= min(pages):
        return None
    burn = (min(pages) + min(tickets)) / 2
    return burn if burn * _budget(slo) < 1 else None


def _cases(slo: SLO, selector: str, gpus: str, runbook: str) -> list[Any]:
    both, neither = {"page": True, "ticket": True}, {"page": False, "ticket": False}
    if isinstance(slo.sli, GpuHealthSLI):
        return [
            _case(_gpus(gpus, 79, 0), slo, both, runbook),  # XID 79: fell off the bus
            _case(_gpus(gpus, 0, 0x1), slo, neither, runbook),  # idle is not throttled
            _case(_gpus(gpus, 0, 0x20 | 0x1), slo, both, runbook),  # SW thermal slowdown
        ]
    total = 1000.0
    cases = [
        _case(_series(slo, selector, 0.0, total), slo, both, runbook),
        _case(_series(slo, selector, total, total), slo, neither, runbook),
    ]
    slow = _slow_burn(slo)
    if slow is not None:
        bad = total * slow * _budget(slo)
        series = _series(slo, selector, total - bad, total)
        cases.append(_case(series, slo, {"page": False, "ticket": True}, runbook))
    return cases


def generate_rule_tests(
    slos: Sequence[SLO],
    *,
    rule_file: str = "rules.yml",
    runbook_url_base: str = DEFAULT_RUNBOOK,
    selector: Selector | None = None,
    gpus: GpuSelector | None = None,
    extra: Sequence[Any] = (),
) -> str:
    """A promtool unit-test file for the rules :func:`generate_rules` writes for ``slos``.
    The input series carry labels that the SLO's selectors match (an SLO whose selector has
    a regex no simple value meets is left out, as are ratio SLOs). ``extra`` test cases (of
    other groups of the same rule file) are appended."""
    select, select_gpus = selector or default_selector, gpus or (lambda slo: None)
    tests = []
    for slo in slos:
        series, gpu_series = _example(select(slo)), _example(select_gpus(slo))
        if not isinstance(slo.sli, LatencySLI | AvailabilitySLI | GoodputSLI | GpuHealthSLI):
            continue
        if series is None or (isinstance(slo.sli, GpuHealthSLI) and gpu_series is None):
            continue
        tests += _cases(slo, series, gpu_series or "", runbook_url_base)
    doc = {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": [*tests, *extra]}
    return yaml_dump(doc)


def _example(selector: str | None) -> str | None:
    """Equality matchers of a series ``selector`` matches; None when there is none simple."""
    if selector is None:
        return None
    try:
        return promql_selector(parse_selector(selector, strict=False).example())
    except ValueError:
        return None
