"""Alert names and the runbook each one links to: one function each, used by the rule
generator (the ``runbook_url`` annotation) and the runbook generator (the file it writes), so
the link always names the file."""

from __future__ import annotations

import re

__all__ = [
    "DASHBOARD_RUNBOOKS",
    "GPU_HEALTH_ALERTS",
    "alert_prefix",
    "runbook_name",
    "runbook_url",
    "slo_alert_name",
]

# Where `perfops dashboard` (default address) serves the workspace's runbooks.
DASHBOARD_RUNBOOKS = "http://127.0.0.1:8080/runbooks"

# GPU health alerts by what they watch (XID errors, clock throttling, ECC errors):
# `perfops slo rules` writes them (perfops.slo.gpu_health_alerts) and `perfops runbook`
# their runbooks, under these names.
GPU_HEALTH_ALERTS = {"xid": "GpuXidErrors", "throttle": "GpuClocksThrottled", "ecc": "GpuEccErrors"}


def alert_prefix(name: str) -> str:
    """A valid alert-name prefix from an SLO name: "chat-ttft" -> "ChatTtft"."""
    text = "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_.]", name))
    return text if text[:1].isalpha() else f"Slo{text}"


def slo_alert_name(slo_name: str, severity: str) -> str:
    """The burn-rate alert of an SLO at a severity: ("chat-ttft", "page") ->
    "ChatTtftPageBurnRate"."""
    return f"{alert_prefix(slo_name)}{severity.capitalize()}BurnRate"


def runbook_name(alertname: str) -> str:
    """The runbook of an alert: the file ``runbooks/<name>.md`` and the URL path
    ``.../runbooks/<name>``. Anything but letters, digits, '-' and '_' becomes '-', so the
    name is always one safe path segment."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", alertname).strip("-")
    return name or "alert"


def runbook_url(base: str, alertname: str) -> str:
    """The ``runbook_url`` of an alert under ``base``."""
    return f"{base.rstrip('/')}/{runbook_name(alertname)}"
