"""GPU health alerts, one per GPU, fleet-wide: what `perfops runbook` writes the
``GpuXidErrors``, ``GpuClocksThrottled`` and ``GpuEccErrors`` runbooks for.

They watch dcgm-exporter's series on every GPU, claimed by a service or not (an idle GPU that
throws XIDs is still a GPU to drain before it is given work):

- ``GpuXidErrors`` (page): the last-XID gauge is not 0, the same test the GPU health SLO makes;
- ``GpuClocksThrottled`` (ticket): a throttling reason (power cap, HW slowdown, thermal, power
  brake; :func:`~perfops.slo.rules.throttle_bits`, again the SLO's) held for 5 minutes, so
  that a brief power-cap dip does not page;
- ``GpuEccErrors`` (page): HBM rows remapped for uncorrectable errors in the last 10 minutes,
  or a remap that failed (dcgm-exporter's default counters; the node should be drained).

The annotations name the GPU from its labels (dcgm-exporter writes ``Hostname`` before PR
#655 and ``hostname`` after; both are shown, one is empty). Each alert's ``runbook_url`` is
its runbook's, as for the SLO alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perfops._internal.runbook_names import GPU_HEALTH_ALERTS, runbook_url
from perfops.slo.rules import DEFAULT_RUNBOOK, throttle_bits, xid_metric

__all__ = ["GPU_HEALTH_GROUP", "gpu_health_alert_group", "gpu_health_rule_tests"]

GPU_HEALTH_GROUP = "perfops-gpu-health"
_WHERE = (
    "GPU {{ $labels.gpu }} ({{ $labels.UUID }}) on {{ $labels.Hostname }}{{ $labels.hostname }}"
)
_REMAPPED = "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS"
_REMAP_FAILED = "DCGM_FI_DEV_ROW_REMAP_FAILURE"


@dataclass(frozen=True, slots=True)
class _Alert:
    what: str
    severity: str
    expr: str
    hold: str | None
    summary: str


def _alerts() -> tuple[_Alert, ...]:
    return (
        _Alert("xid", "page", f"{xid_metric()} != 0", None,
               f"{_WHERE}: XID error {{{{ $value }}}}"),
        _Alert("throttle", "ticket", f"({throttle_bits()}) > 0", "5m",
               f"{_WHERE}: clocks throttled (power, thermal or HW slowdown) for 5 minutes"),
        _Alert("ecc", "page",
               f"increase({_REMAPPED}[10m]) > 0 or {_REMAP_FAILED} != 0", None,
               f"{_WHERE}: uncorrectable HBM errors (rows remapped, or a remap failed)"),
    )  # fmt: skip


def gpu_health_alert_group(runbook_url_base: str = DEFAULT_RUNBOOK) -> dict[str, Any]:
    """The ``perfops-gpu-health`` rule group."""
    rules = []
    for a in _alerts():
        name = GPU_HEALTH_ALERTS[a.what]
        rule: dict[str, Any] = {"alert": name, "expr": a.expr}
        if a.hold:
            rule["for"] = a.hold
        rule["labels"] = {"severity": a.severity}
        rule["annotations"] = {"summary": a.summary,
                               "runbook_url": runbook_url(runbook_url_base, name)}  # fmt: skip
        rules.append(rule)
    return {"name": GPU_HEALTH_GROUP, "rules": rules}


_GPU_A = {"gpu": "0", "UUID": "GPU-a", "Hostname": "node-1", "modelName": "NVIDIA H100"}
_GPU_B = {"gpu": "1", "UUID": "GPU-b", "Hostname": "node-1", "modelName": "NVIDIA H100"}


def _series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{metric}{{{inner}}}", "values": values}


def _expected(what: str, labels: dict[str, str], summary: str, base: str) -> dict[str, Any]:
    name = GPU_HEALTH_ALERTS[what]
    severity = next(a.severity for a in _alerts() if a.what == what)
    notes = {"summary": summary, "runbook_url": runbook_url(base, name)}
    return {"exp_labels": {**labels, "severity": severity}, "exp_annotations": notes}


def gpu_health_rule_tests(runbook_url_base: str = DEFAULT_RUNBOOK) -> list[dict[str, Any]]:
    """promtool test cases for the group: GPU a throws XID 79 from minute 2 and remaps a row at
    minute 4; GPU b is throttled by HW slowdown (bit 8) from minute 1, and GPU a only idles
    (bit 1, not a throttling reason)."""
    where = "GPU {gpu} ({UUID}) on {Hostname}"
    a, b = where.format(**_GPU_A), where.format(**_GPU_B)
    series = [
        _series(xid_metric(), _GPU_A, "0 0 79x10"),
        _series(xid_metric(), _GPU_B, "0x12"),
        _series("DCGM_FI_DEV_CLOCKS_EVENT_REASONS", _GPU_A, "1x12"),
        _series("DCGM_FI_DEV_CLOCKS_EVENT_REASONS", _GPU_B, "0 8x11"),
        _series(_REMAPPED, _GPU_A, "0 0 0 0 1x8"),
        _series(_REMAPPED, _GPU_B, "0x12"),
        _series(_REMAP_FAILED, _GPU_A, "0x12"),
        _series(_REMAP_FAILED, _GPU_B, "0x12"),
    ]

    def case(at: str, what: str, fired: list[dict[str, Any]]) -> dict[str, Any]:
        return {"eval_time": at, "alertname": GPU_HEALTH_ALERTS[what], "exp_alerts": fired}

    base = runbook_url_base
    tests = [
        case("1m", "xid", []),
        case("3m", "xid", [_expected("xid", _GPU_A, f"{a}: XID error 79", base)]),
        case("5m", "throttle", []),  # throttled from minute 1, held 4 minutes: pending
        case("7m", "throttle", [_expected(
            "throttle", _GPU_B,
            f"{b}: clocks throttled (power, thermal or HW slowdown) for 5 minutes", base)]),
        case("3m", "ecc", []),
        case("5m", "ecc", [_expected(
            "ecc", _GPU_A, f"{a}: uncorrectable HBM errors (rows remapped, or a remap failed)",
            base)]),
    ]  # fmt: skip
    return [{"interval": "1m", "input_series": series, "alert_rule_test": tests}]
