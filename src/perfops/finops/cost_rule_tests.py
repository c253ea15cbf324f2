"""promtool unit tests for the cost recording rules of :mod:`perfops.finops.cost_rules`.

One synthetic fleet, expected values computed here from the same prices the rules were
written with (never typed by hand):

* per service with a GPU selector, two GPUs its selector matches: one reporting
  ``DCGM_FI_PROF_SM_ACTIVE`` 0.25 (plus ``DCGM_FI_DEV_GPU_UTIL`` 90, which must lose to it, and
  the same GPU again from a second scrape job, which must count once), one reporting only
  ``DCGM_FI_DEV_GPU_UTIL`` 50 (activity 0.5);
* per service, prompt and generation token counters growing 1200 and 600 a minute;
* two GPUs no selector matches, an H100 and a 40 GB A100 (which must not be priced as the
  80 GB one), priced by ``modelName``.

Who holds a GPU follows the rules' own order (the first service whose selector matches), so a
fleet whose selectors overlap gets the expectations it should. A service whose selectors have
no simple example series (a regex no plain value meets) is left out, as in the SLO tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perfops._internal.escape import promql_selector
from perfops.config.selector import Selector, parse_selector
from perfops.finops.attribution import IDLE
from perfops.finops.cost_rules import (
    RULE_BUSY,
    RULE_COST,
    RULE_GPUS,
    RULE_IDLE_COST,
    RULE_PER_1M_TOKENS,
    RULE_TOKENS,
    IdlePrice,
    PricedService,
)
from perfops.finops.usage import gpu_type_of_model_name

__all__ = ["cost_rule_tests"]

_MINUTES = 15
_EVAL = "10m"
_PROMPT_PER_MIN, _OUTPUT_PER_MIN = 1200.0, 600.0
_REPLICA = "perfops_test_scrape"  # a label no selector names: the second scrape job
_FREE = (("GPU-free-h100", "NVIDIA H100 80GB HBM3"), ("GPU-free-a100", "NVIDIA A100-SXM4-40GB"))


@dataclass(frozen=True, slots=True)
class _Gpu:
    labels: dict[str, str]
    activity: float
    series: list[dict[str, str]]


def _example(selector: str | None) -> dict[str, str] | None:
    if selector is None:
        return None
    try:
        return parse_selector(selector, strict=False).example()
    except ValueError:
        return None


def _flat(value: float) -> str:
    return f"{value:g}x{_MINUTES}"


def _gpus(svc: PricedService, labels: Mapping[str, str]) -> list[_Gpu]:
    base = {**labels, "modelName": "NVIDIA H100 80GB HBM3"}
    sm = {**base, "UUID": f"GPU-{svc.name}-0"}
    util = {**base, "UUID": f"GPU-{svc.name}-1"}
    return [
        _Gpu(sm, 0.25, [
            {"series": f"DCGM_FI_PROF_SM_ACTIVE{promql_selector(sm)}", "values": _flat(0.25)},
            {"series": f"DCGM_FI_PROF_SM_ACTIVE{promql_selector({**sm, _REPLICA: 'b'})}",
             "values": _flat(0.25)},
            {"series": f"DCGM_FI_DEV_GPU_UTIL{promql_selector(sm)}", "values": _flat(90)},
        ]),
        _Gpu(util, 0.5, [
            {"series": f"DCGM_FI_DEV_GPU_UTIL{promql_selector(util)}", "values": _flat(50)},
        ]),
    ]  # fmt: skip


def _free_gpus() -> list[_Gpu]:
    out = []
    for uuid, model in _FREE:
        labels = {"UUID": uuid, "modelName": model}
        series = f"DCGM_FI_PROF_SM_ACTIVE{promql_selector(labels)}"
        out.append(_Gpu(labels, 0.0, [{"series": series, "values": _flat(0)}]))
    return out


def _tokens(engine: Mapping[str, str]) -> list[dict[str, str]]:
    return [
        {"series": f"vllm:prompt_tokens_total{promql_selector(engine)}",
         "values": f"0+{_PROMPT_PER_MIN:g}x{_MINUTES}"},
        {"series": f"vllm:generation_tokens_total{promql_selector(engine)}",
         "values": f"0+{_OUTPUT_PER_MIN:g}x{_MINUTES}"},
    ]  # fmt: skip


def _sample(metric: str, labels: Mapping[str, str], value: float) -> dict[str, Any]:
    return {"labels": f"{metric}{promql_selector(labels)}", "value": value}


def _service_samples(
    svc: PricedService, held: Sequence[_Gpu], currency: str
) -> list[tuple[str, dict[str, Any]]]:
    who = {"service": svc.name, "team": svc.team}
    money = {**who, "gpu_type": svc.gpu_type, "currency": currency}
    tokens_per_s = (_PROMPT_PER_MIN + _OUTPUT_PER_MIN) / 60
    out = [(RULE_TOKENS, _sample(RULE_TOKENS, who, tokens_per_s))]
    if not held:
        return out
    price, n = float(svc.hourly), len(held)
    cost = n * price
    return out + [
        (RULE_GPUS, _sample(RULE_GPUS, who, n)),
        (RULE_BUSY, _sample(RULE_BUSY, who, sum(g.activity for g in held) / n)),
        (RULE_COST, _sample(RULE_COST, money, cost)),
        (RULE_IDLE_COST, _sample(RULE_IDLE_COST, money, sum(1 - g.activity for g in held) * price)),
        (
            RULE_PER_1M_TOKENS,
            _sample(RULE_PER_1M_TOKENS, money, 1e6 * n * price / (tokens_per_s * 3600)),
        ),
    ]


def _idle_samples(
    free: Sequence[_Gpu], idle: Sequence[IdlePrice], currency: str
) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for entry in idle:
        n = sum(gpu_type_of_model_name(g.labels["modelName"]) == entry.gpu_type for g in free)
        if not n:
            continue
        labels = {"service": IDLE, "gpu_type": entry.gpu_type, "currency": currency}
        value = n * float(entry.hourly)
        out += [(record, _sample(record, labels, value)) for record in (RULE_COST, RULE_IDLE_COST)]
    return out


def cost_rule_tests(
    services: Sequence[PricedService], idle: Sequence[IdlePrice], *, currency: str
) -> list[dict[str, Any]]:
    """promtool test cases (the ``tests:`` entries) for the ``perfops-cost`` group."""
    selectors: list[tuple[PricedService, Selector | None, dict[str, str]]] = []
    inputs: list[dict[str, str]] = []
    gpus: list[_Gpu] = []
    for svc in services:
        engine = _example(svc.engine)
        gpu_labels = _example(svc.gpus)
        if engine is None or (svc.gpus is not None and gpu_labels is None):
            continue
        selectors.append((svc, None if svc.gpus is None else parse_selector(svc.gpus), engine))
        inputs += _tokens(engine)
        if gpu_labels is not None:
            gpus += _gpus(svc, gpu_labels)
    gpus += _free_gpus()
    if not selectors:
        return []
    held: dict[str, list[_Gpu]] = {svc.name: [] for svc, _, _ in selectors}
    free: list[_Gpu] = []
    for gpu in gpus:
        inputs += gpu.series
        owner = next((s.name for s, sel, _ in selectors if sel and sel.matches(gpu.labels)), None)
        (free if owner is None else held[owner]).append(gpu)
    expected: dict[str, list[dict[str, Any]]] = {}
    for svc, _, _ in selectors:
        for record, sample in _service_samples(svc, held[svc.name], currency):
            expected.setdefault(record, []).append(sample)
    for record, sample in _idle_samples(free, idle, currency):
        expected.setdefault(record, []).append(sample)
    checks = [
        {"expr": record, "eval_time": _EVAL, "exp_samples": samples}
        for record, samples in expected.items()
    ]
    return [{"interval": "1m", "input_series": inputs, "promql_expr_test": checks}]
