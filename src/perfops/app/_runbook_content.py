"""What each runbook says, gathered from perfops.yaml and the lake: its meaning, the SLO's
impact (from :func:`perfops.app.slo.slo_statuses`), the diagnosis queries (each a perfops
command and the app function that answers it, so ``runbook check`` runs exactly what the
page tells the reader to run), the mitigation steps and the escalation routes."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from perfops._internal.durations import format_duration, parse_duration
from perfops.app.metrics import show_metric
from perfops.app.runtime import Runtime
from perfops.app.slo import SloStatus, slo_history, slo_status
from perfops.config import SLO, Config, GoodputSLI, LatencySLI
from perfops.respond import runbook as rbk
from perfops.slo.rules import burn_windows, period_s
from perfops.slo.sources import HISTOGRAMS

__all__ = ["LakeQuery", "escalation_lines", "gpu_steps", "impact_lines", "queries", "slo_steps"]

_HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class LakeQuery:
    """A diagnosis query and how to run it on the workspace: the answer, in one line."""

    query: rbk.Query
    run: Callable[[Runtime], str]


def _status_line(slo: SLO) -> Callable[[Runtime], str]:
    def run(rt: Runtime) -> str:
        s = slo_status(rt, slo)
        if s.error is not None:
            raise RuntimeError(s.error)
        if s.no_data is not None:
            return f"no data: {s.no_data}"
        left = s.budget.remaining_pct if s.budget else None
        return f"{s.state}: SLI {s.sli_pct:.3f}%, budget left {left:.1f}%"

    return run


def _history_line(slo: SLO) -> Callable[[Runtime], str]:
    def run(rt: Runtime) -> str:
        days = slo_history(rt, slo)
        with_data = [d for d in days if d[2] > 0]
        return f"{len(days)} days, {len(with_data)} with events"

    return run


def _metric_line(metric: str, labels: str | None) -> Callable[[Runtime], str]:
    def run(rt: Runtime) -> str:
        end = rt.clock.now_ns() // 1_000_000 + 1
        views = show_metric(rt, metric, end - _HOUR_MS, end, labels)
        return f"{len(views)} series, {sum(v.samples for v in views)} samples in the last hour"

    return run


def _metric(metric: str, labels: str | None, title: str, promql: str | None) -> LakeQuery:
    flag = f" --labels {shlex.quote(labels)}" if labels else ""
    command = f"perfops metrics show {metric}{flag} --since 1h"
    return LakeQuery(rbk.Query(title, command, promql), _metric_line(metric, labels))


def _inner(selector: str) -> str:
    return selector.strip().removeprefix("{").removesuffix("}")


def queries(config: Config, slo: SLO) -> list[LakeQuery]:
    """The diagnosis of an SLO's alerts: its status and budget, then the series behind it."""
    labels = f'slo="{slo.name}",service="{slo.service}"'
    svc = next((s for s in config.services if s.name == slo.service), None)
    sel = _inner(svc.series_selector.promql()) if svc else ""
    out = [
        LakeQuery(rbk.Query("The SLO now: SLI, budget left, burn rate per alert window",
                        f"perfops slo status {slo.name}",
                        f"slo:sli_error:ratio_rate1h{{{labels}}}"
                        f" / on (slo, service) slo:error_budget:ratio{{{labels}}}"),
                  _status_line(slo)),
        LakeQuery(rbk.Query("The budget day by day over the period (when did it start burning?)",
                        f"perfops slo history {slo.name}"), _history_line(slo)),
    ]  # fmt: skip
    sli = slo.sli
    metrics = (
        [sli.metric] if isinstance(sli, LatencySLI)
        else sorted(sli.thresholds) if isinstance(sli, GoodputSLI) else []
    )  # fmt: skip
    for m in metrics:
        lake, prom = HISTOGRAMS[m]
        q = f"histogram_quantile(0.99, sum by (le) (rate({prom}_bucket{{{sel}}}[5m])))"
        out.append(_metric(lake, sel or None, f"{m} latency of {slo.service}: p99 now", q))
    if metrics:
        out.append(_metric("llm.requests_waiting", sel or None, "Queued requests (saturation?)",
                           f"sum(vllm:num_requests_waiting{{{sel}}})"))  # fmt: skip
        out.append(_metric("llm.kv_cache_usage", sel or None, "KV cache usage (preemptions?)",
                           f"max(vllm:kv_cache_usage_perc{{{sel}}})"))  # fmt: skip
    if sli.kind == "availability":
        out.append(_metric("llm.requests", sel or None, "Finished requests by reason",
                           f"sum by (finished_reason) (rate(vllm:request_success_total{{{sel}}}"
                           "[5m]))"))  # fmt: skip
    if sli.kind == "gpu_health":
        out += gpu_queries(None)
    return out


_GPU = {
    "xid": ("gpu.xid", "XID errors per GPU (79: fell off the bus, 48/63/64: ECC)",
            "max by (UUID, Hostname) (DCGM_FI_DEV_XID_ERRORS)"),
    "throttle": ("gpu.clocks_event_reasons", "Clock event reasons (thermal, power brake)",
                 "max by (UUID, Hostname) (DCGM_FI_DEV_CLOCKS_EVENT_REASONS)"),
    "temp": ("gpu.temp_celsius", "GPU temperature", "max by (UUID) (DCGM_FI_DEV_GPU_TEMP)"),
    "ecc": ("gpu.xid", "XID errors of the ECC family (48, 63, 64, 94, 95)",
            "increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL[1h])"),
}  # fmt: skip


def gpu_queries(what: str | None) -> list[LakeQuery]:
    """The GPU series behind one GPU health alert (``xid``, ``throttle``, ``ecc``), or all."""
    keys = {"xid": ("xid",), "throttle": ("throttle", "temp"), "ecc": ("ecc",)}
    chosen = keys[what] if what else ("xid", "throttle", "temp")
    return [_metric(_GPU[k][0], None, _GPU[k][1], _GPU[k][2]) for k in chosen]


_USERS_SEE = {
    "latency": "requests slower than {threshold}",
    "goodput": "requests that miss a latency threshold ({threshold})",
    "availability": "requests that fail (aborted or errored) instead of an answer",
    "ratio": "bad events as the SLO's ratio counts them",
    "gpu_health": "less capacity: GPUs in an XID error or throttled serve slower or not at all",
}


def _threshold(slo: SLO) -> str:
    sli = slo.sli
    if isinstance(sli, LatencySLI):
        return f"{sli.metric} {format_duration(sli.threshold)}"
    if isinstance(sli, GoodputSLI):
        return ", ".join(f"{m} {format_duration(t)}" for m, t in sorted(sli.thresholds.items()))
    return ""


def impact_lines(slo: SLO, severity: str, status: SloStatus | None) -> list[str]:
    """What users see, the objective, where the budget stands, and what this alert means
    in budget: each window of ``severity`` fires once that share of the period's budget
    has burned at its rate."""
    period = format_duration(period_s(slo)) if not isinstance(slo.window, str) else slo.window
    out = [
        "Users see " + _USERS_SEE[slo.sli.kind].format(threshold=_threshold(slo)) + ".",
        f"Objective {slo.objective:g}% good over {period}: an error budget of "
        f"{100 - slo.objective:.4g}% of events.",
    ]
    for w in burn_windows(slo):
        if w.severity == severity:
            spent = 100 * w.factor * parse_duration(w.long) / period_s(slo)
            out.append(f"Fires at {w.factor:g}x the budget rate over {w.long} (and {w.short}): "
                       f"{spent:.3g}% of the period's budget spent in {w.long}.")  # fmt: skip
    out += _now_lines(status)
    return out


def _now_lines(status: SloStatus | None) -> list[str]:
    if status is None or status.error is not None:
        return [f"Now: cannot evaluate ({status.error})."] if status else []
    if status.no_data is not None or status.sli_pct is None:
        return [f"Now: no data ({status.no_data})."]
    left = status.budget.remaining_pct if status.budget else None
    out = [f"Now ({status.period}): SLI {status.sli_pct:.3f}% over {status.total:,.0f} events; "
           f"budget left {left:.1f}%."]  # fmt: skip
    if status.firing:
        out.append("Firing now: " + ", ".join(status.firing) + ".")
    return out


def slo_steps(slo: SLO) -> list[rbk.MitigationStep]:
    """The mitigations a runbook of ``slo`` lists; drills and experiments record the same
    ``action`` keys (app/drill.py: ``rollback``)."""
    rollback = rbk.MitigationStep("rollback", "Roll back the last deploy")
    if slo.sli.kind == "gpu_health":
        return gpu_steps("xid") + gpu_steps("throttle")
    if slo.sli.kind == "availability":
        restart = rbk.MitigationStep("restart", "Restart the failing replica")
        return [rollback, restart, rbk.MitigationStep("drain", "Drain it from the balancer")]
    return [rollback,
            rbk.MitigationStep("scale_out", "Add replicas until the queue drains"),
            rbk.MitigationStep("shed_load", "Shed or rate-limit low-priority traffic"),
            rbk.MitigationStep("drain", "Drain the slowest replica from the balancer")]  # fmt: skip


def gpu_steps(what: str) -> list[rbk.MitigationStep]:
    drain = rbk.MitigationStep("drain", "Cordon and drain the GPU's node")
    if what == "throttle":
        return [drain, rbk.MitigationStep("cooling", "Check cooling, power caps and clocks policy")]
    return [drain, rbk.MitigationStep("gpu_reset", "Reset the GPU, or reboot the node")]


def escalation_lines(config: Config, severity: str) -> list[str]:
    """Who an alert of ``severity`` reaches, from perfops.yaml ``escalation:``."""
    receivers = {r.name: r for r in config.escalation.receivers}
    out = []
    for route in config.escalation.routes:
        if route.severity != severity:
            continue
        for name in route.receivers:
            r = receivers.get(name)
            how = (
                f"{r.kind}" + (f" (secret in ${r.target_env})" if r.target_env else "")
                if r
                else "?"
            )
            out.append(f"{name}: {how}; grouped by {', '.join(config.escalation.group_by)}, "
                       f"first after {format_duration(route.group_wait)}, repeated every "
                       f"{format_duration(route.repeat_interval)} while firing.")  # fmt: skip
    return out
