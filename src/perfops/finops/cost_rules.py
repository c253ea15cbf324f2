"""Prometheus recording rules for GPU cost: the live twin of ``perfops cost report``.

``perfops slo rules`` writes them into ``rules.yml`` as the group ``perfops-cost``, so a team
on Prometheus and Grafana sees ``$``/h and ``$``/1M tokens without the lake. They follow the
cost report's allocation view, one evaluation at a time:

* a service holds the GPUs whose dcgm-exporter series its GPU selector matches
  (:meth:`~perfops.config.Config.gpu_selector`); a GPU two services match belongs to the first
  in perfops.yaml, as :func:`perfops.app.metrics.owners` decides for the lake. GPUs are counted
  once per ``UUID``, however many metrics or scrape jobs report them;
* each held GPU is one ``perfops:gpu_activity:ratio`` series (by ``UUID``, labelled with its
  service), which the later rules of the group read; its value is ``DCGM_FI_PROF_SM_ACTIVE``,
  else ``DCGM_FI_PROF_GR_ENGINE_ACTIVE``, else ``DCGM_FI_DEV_GPU_UTIL`` / 100, clamped to
  [0, 1] (the cost report's order; the rules choose per GPU, the report per window);
* one GPU-hour costs :meth:`PriceBook.hourly` of the service's GPU type: the prices are
  constants in the rules, written from the workspace's price book when the rules are made;
* GPUs no service holds are ``service="__idle__"``, priced by their ``modelName`` through
  :data:`~perfops.finops.usage.MODEL_NAME_GPU_TYPES` (a model name no entry fits is unpriced);
* tokens are input + output (``vllm:prompt_tokens_total`` + ``vllm:generation_tokens_total``
  through the service's engine selector), as :func:`~perfops.finops.unit.unit_costs` counts
  them for $/1M tokens.

Every cost series carries ``currency`` (the workspace's ``pricing.currency``) and
``gpu_type``; names are currency-neutral (``perfops:gpu_cost_per_hour:sum``), since a
workspace may bill in EUR.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from perfops._internal.escape import promql_label_value, promql_matcher
from perfops.config.models import Config
from perfops.errors import ConfigError
from perfops.finops.attribution import IDLE
from perfops.finops.usage import MODEL_NAME_GPU_TYPES

__all__ = [
    "COST_GROUP",
    "RULE_ACTIVITY",
    "RULE_BUSY",
    "RULE_COST",
    "RULE_GPUS",
    "RULE_IDLE_COST",
    "RULE_PER_1M_TOKENS",
    "RULE_TOKENS",
    "IdlePrice",
    "PricedService",
    "cost_rule_group",
    "idle_prices",
    "priced_services",
]

COST_GROUP = "perfops-cost"
RULE_ACTIVITY = "perfops:gpu_activity:ratio"
RULE_GPUS = "perfops:gpus:count"
RULE_BUSY = "perfops:gpu_busy:ratio"
RULE_COST = "perfops:gpu_cost_per_hour:sum"
RULE_IDLE_COST = "perfops:gpu_idle_cost_per_hour:sum"
RULE_TOKENS = "perfops:tokens:rate5m"
RULE_PER_1M_TOKENS = "perfops:cost_per_1m_tokens:ratio"

ACTIVITY = ("DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_DEV_GPU_UTIL")
TOKEN_COUNTERS = ("vllm:prompt_tokens_total", "vllm:generation_tokens_total")


@dataclass(frozen=True, slots=True)
class PricedService:
    """A service as the cost rules see it: its selectors (PromQL) and its GPU-hour price."""

    name: str
    team: str
    gpu_type: str
    hourly: Decimal
    gpus: str | None
    """the GPU series selector, ``{...}``; None: perfops.yaml does not say"""
    engine: str


@dataclass(frozen=True, slots=True)
class IdlePrice:
    """The price of a GPU type no service holds, found by its ``modelName``."""

    gpu_type: str
    hourly: Decimal
    include: tuple[str, ...]  # modelName substrings of this type
    exclude: tuple[str, ...]  # substrings of types listed before it, which win


def priced_services(
    config: Config, hourly: Callable[[str], Decimal]
) -> tuple[tuple[PricedService, ...], list[str]]:
    """Each service with its selectors and price (``hourly``: :meth:`PriceBook.hourly`), and
    a note for each service left out because its GPU type has no price."""
    out, notes = [], []
    for svc in config.services:
        try:
            price = hourly(svc.gpu.type)
        except ConfigError as exc:
            notes.append(f"{svc.name}: no cost rules, {exc.problems[0].message}")
            continue
        gpus = config.gpu_selector(svc)
        out.append(
            PricedService(
                svc.name,
                svc.team,
                svc.gpu.type,
                price,
                None if gpus is None else gpus.promql(),
                svc.series_selector.promql(),
            )
        )
    return tuple(out), notes


def idle_prices(hourly: Callable[[str], Decimal]) -> tuple[IdlePrice, ...]:
    """The GPU types of :data:`MODEL_NAME_GPU_TYPES` that have a price, each with the model
    name texts that mean it and those of the entries before it (which win)."""
    out = []
    for gpu_type in dict.fromkeys(gpu for _, gpu in MODEL_NAME_GPU_TYPES):
        first = next(i for i, (_, g) in enumerate(MODEL_NAME_GPU_TYPES) if g == gpu_type)
        include = tuple(n for n, g in MODEL_NAME_GPU_TYPES if g == gpu_type)
        exclude = tuple(n for n, g in MODEL_NAME_GPU_TYPES[:first] if g != gpu_type)
        try:
            out.append(IdlePrice(gpu_type, hourly(gpu_type), include, exclude))
        except ConfigError:
            continue
    return tuple(out)


def _with(selector: str, *matchers: str) -> str:
    inner = [m for m in (selector.strip().strip("{}").strip(), *matchers) if m]
    return "{" + ",".join(inner) + "}"


def _regex_matcher(name: str, texts: Sequence[str], op: str = "=~", *, inside: bool = False) -> str:
    """``name=~"a|b"`` matching any of ``texts`` literally (anywhere in the value when
    ``inside``); RE2 reads Python's escapes of punctuation the same way."""
    alternatives = "|".join(re.escape(t) for t in texts)
    regex = f".*({alternatives}).*" if inside else alternatives
    return f"{name}{op}{promql_label_value(regex)}"


def _names(metrics: Sequence[str]) -> str:
    return _regex_matcher("__name__", metrics)


def _present(selector: str) -> str:
    """One series per GPU (by UUID) that any activity metric reports through ``selector``."""
    return f"group by (UUID) ({_with(selector, _names(ACTIVITY))})"


def _busy(selector: str) -> str:
    """Each GPU's activity in [0, 1], by UUID: the first activity metric it reports."""
    sm, gr, util = (f"max by (UUID) ({m}{_with(selector)})" for m in ACTIVITY)
    return f"clamp({sm} or on (UUID) {gr} or on (UUID) {util} / 100, 0, 1)"


def _price(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _held(services: Sequence[str]) -> str:
    """The GPUs ``services`` hold (their per-GPU activity series, recorded earlier in the
    group); empty for no services."""
    if not services:
        return ""
    names = _regex_matcher("service", services)
    return f" unless on (UUID) {RULE_ACTIVITY}{{{names}}}"


def _service_rules(svc: PricedService, earlier: Sequence[str], currency: str) -> list[Any]:
    def who() -> dict[str, str]:
        return {"service": svc.name, "team": svc.team}

    def money() -> dict[str, str]:
        return {**who(), "gpu_type": svc.gpu_type, "currency": currency}

    tokens = " + ".join(f"sum(rate({m}{_with(svc.engine)}[5m]))" for m in TOKEN_COUNTERS)
    rules: list[dict[str, Any]] = [{"record": RULE_TOKENS, "expr": tokens, "labels": who()}]
    if svc.gpus is None:
        return rules
    mine = f"{RULE_ACTIVITY}{{{promql_matcher('service', svc.name)}}}"
    cost = f"count({mine}) * {_price(svc.hourly)}"
    return rules + [
        {"record": RULE_ACTIVITY, "expr": _busy(svc.gpus) + _held(earlier), "labels": who()},
        {"record": RULE_GPUS, "expr": f"count({mine})", "labels": who()},
        {"record": RULE_BUSY, "expr": f"avg({mine})", "labels": who()},
        {"record": RULE_COST, "expr": cost, "labels": money()},
        {"record": RULE_IDLE_COST, "expr": f"sum(1 - {mine}) * {_price(svc.hourly)}",
         "labels": money()},
        {"record": RULE_PER_1M_TOKENS, "expr": f"1e6 * {cost} / (({tokens}) * 3600 > 0)",
         "labels": money()},
    ]  # fmt: skip


def _idle_rules(prices: Sequence[IdlePrice], currency: str) -> list[dict[str, Any]]:
    rules = []
    for entry in prices:
        matchers = [_regex_matcher("modelName", entry.include, inside=True)]
        if entry.exclude:
            matchers.append(_regex_matcher("modelName", entry.exclude, "!~", inside=True))
        free = f"{_present(_with('', *matchers))} unless on (UUID) {RULE_ACTIVITY}"
        cost = f"count({free}) * {_price(entry.hourly)}"
        for record in (RULE_COST, RULE_IDLE_COST):
            labels = {"service": IDLE, "gpu_type": entry.gpu_type, "currency": currency}
            rules.append({"record": record, "expr": cost, "labels": labels})
    return rules


def cost_rule_group(
    services: Sequence[PricedService], idle: Sequence[IdlePrice], *, currency: str
) -> dict[str, Any]:
    """The ``perfops-cost`` rule group: per service its GPUs, activity, $/h, idle $/h, tokens/s
    and $/1M tokens; per GPU type the $/h of the GPUs no service holds."""
    rules: list[dict[str, Any]] = []
    held: list[str] = []
    for svc in services:
        rules += _service_rules(svc, held, currency)
        if svc.gpus is not None:
            held.append(svc.name)
    rules += _idle_rules(idle, currency)
    return {"name": COST_GROUP, "rules": rules}
