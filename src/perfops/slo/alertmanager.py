"""An Alertmanager configuration from perfops.yaml's escalation policy.

The route tree sends each severity to its receivers (one child route per receiver, all but the
last with ``continue: true``); the root falls back to the first route's first receiver, so no
alert is dropped. A firing page inhibits the ticket of the same ``slo`` and ``service``.

Escalation steps become child routes of their severity: step N's receiver with ``group_wait``
set to the step's delay (Alertmanager never notifies a group that resolved while it waited,
so an alert resolved before the delay stops there) and ``repeat_interval`` set to the policy's
``repeat_every`` when it repeats. A later step through a receiver an earlier step used adds no
route: escalating within one pager (PagerDuty's own policy) is that pager's work. Alertmanager
repeats until the alert resolves; the number of rounds (``repeat``) is for the pager behind
the receiver and for ``incident policy simulate``.

Secrets: Alertmanager 0.25 does not expand environment variables, so a receiver's
``target_env`` becomes a ``*_file`` setting (``routing_key_file`` for PagerDuty,
``api_url_file`` for Slack) pointing at ``<secrets_dir>/<ENV_NAME>``; mount the secret there.
Webhooks have no ``url_file`` in 0.25 and email addresses are not secret, so those two need a
literal ``target``.
"""

from __future__ import annotations

import re
from typing import Any

from perfops._internal.durations import format_duration
from perfops._internal.escape import alertmanager_matcher, promql_label_name, yaml_dump
from perfops.config.models import Escalation, Receiver, Route
from perfops.errors import ConfigError, Problem

__all__ = ["DEFAULT_SECRETS_DIR", "generate_alertmanager", "render_alertmanager_yaml"]

DEFAULT_SECRETS_DIR = "/etc/alertmanager/secrets"
# Placeholders that make an email receiver valid; replace them with your relay.
_SMTP = {"smtp_smarthost": "localhost:25", "smtp_from": "perfops@localhost"}
_WHERE = "perfops.yaml"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _secret(receiver: Receiver, key: str, secrets_dir: str) -> dict[str, str]:
    if receiver.target is not None:
        return {key: receiver.target}
    return {f"{key}_file": f"{secrets_dir.rstrip('/')}/{receiver.target_env}"}


def _receiver(receiver: Receiver, secrets_dir: str) -> dict[str, Any]:
    kind, out = receiver.kind, {"name": receiver.name}
    if kind == "pagerduty":
        return out | {"pagerduty_configs": [_secret(receiver, "routing_key", secrets_dir)]}
    if kind == "slack":
        return out | {"slack_configs": [_secret(receiver, "api_url", secrets_dir)]}
    if kind == "email":
        return out | {"email_configs": [{"to": receiver.target, "send_resolved": True}]}
    return out | {"webhook_configs": [{"url": receiver.target}]}


def _receiver_problems(index: int, receiver: Receiver) -> list[Problem]:
    path = f"escalation.receivers[{index}]"
    literal_only = receiver.kind in ("email", "webhook")
    env = receiver.target_env
    if receiver.target is None and env is not None and not _ENV_NAME.fullmatch(env):
        return [
            Problem(
                _WHERE,
                f"{path}.target_env",
                f"{env!r} is not an environment variable name (it names the secret's file)",
                "use letters, digits and '_', e.g. PAGERDUTY_ROUTING_KEY",
            )
        ]
    if receiver.target is None and (literal_only or receiver.target_env is None):
        hint = "set target" if literal_only else "set target or target_env"
        why = " (Alertmanager 0.25 cannot read it from a file)" if literal_only else ""
        return [Problem(_WHERE, path, f"{receiver.kind} receiver has no target{why}", hint)]
    return []


def _route_problems(index: int, route: Route, known: set[str]) -> list[Problem]:
    path = f"escalation.routes[{index}].receivers"
    if not route.receivers:
        return [Problem(_WHERE, path, "a route needs at least one receiver")]
    valid = ", ".join(sorted(known)) or "none defined"
    return [
        Problem(_WHERE, path, f"unknown receiver {name!r}", f"valid: {valid}")
        for name in route.receivers
        if name not in known
    ]


def _label_problems(escalation: Escalation) -> list[Problem]:
    problems = []
    for i, name in enumerate(escalation.group_by):
        try:
            promql_label_name(name)
        except ValueError as exc:
            problems.append(Problem(_WHERE, f"escalation.group_by[{i}]", str(exc)))
    return problems


def _step_problems(escalation: Escalation, known: set[str]) -> list[Problem]:
    if not escalation.steps:
        return []
    paged = [r for r in escalation.routes if r.severity in escalation.paging]
    problems = [
        Problem(_WHERE, f"escalation.steps[{i}].receiver", f"unknown receiver {step.receiver!r}",
                f"valid: {', '.join(sorted(known)) or 'none defined'}")
        for i, step in enumerate(escalation.steps)
        if step.receiver is not None and step.receiver not in known
    ]  # fmt: skip
    if not paged:
        problems.append(
            Problem(
                _WHERE,
                "escalation.steps",
                f"no route for the paging severities ({', '.join(escalation.paging)})",
                "add a route, e.g. {severity: page, receivers: [oncall]}",
            )
        )
    return problems


def _check(escalation: Escalation) -> None:
    known = {r.name for r in escalation.receivers}
    problems = _label_problems(escalation) + _step_problems(escalation, known)
    problems += [p for i, r in enumerate(escalation.receivers) for p in _receiver_problems(i, r)]
    problems += [p for i, r in enumerate(escalation.routes) for p in _route_problems(i, r, known)]
    if not escalation.routes:
        problems.append(Problem(_WHERE, "escalation.routes", "no routes", "add a page route"))
    if problems:
        raise ConfigError(problems, source="Alertmanager config")


def _deliveries(escalation: Escalation, route: Route) -> list[tuple[str, float, float]]:
    """(receiver, group_wait, repeat_interval) of each child route of ``route``: its receivers
    at once; for a paging severity, each step's receiver held back by the step's delay (a
    group whose alerts resolve within its group_wait is never notified, as an alert resolved
    before a step's delay stops the escalation), repeating every round while it fires."""
    now = [(name, route.group_wait, route.repeat_interval) for name in route.receivers]
    if route.severity not in escalation.paging or not escalation.steps:
        return now
    repeat = escalation.repeat_every if escalation.repeat else route.repeat_interval
    steps: dict[str, tuple[str, float, float]] = {}
    for step in escalation.steps:  # a receiver's first step: later ones are its pager's to run
        name = step.receiver or route.receivers[0]
        steps.setdefault(name, (name, max(route.group_wait, step.after), repeat))
    return [*steps.values(), *(d for d in now if d[0] not in steps)]


def _child_routes(escalation: Escalation, route: Route) -> list[dict[str, Any]]:
    deliveries = _deliveries(escalation, route)
    last = len(deliveries) - 1
    return [
        {
            "receiver": name,
            "matchers": [alertmanager_matcher("severity", route.severity)],
            "group_wait": format_duration(wait),
            "group_interval": format_duration(route.group_interval),
            "repeat_interval": format_duration(repeat),
        }
        | ({"continue": True} if i < last else {})
        for i, (name, wait, repeat) in enumerate(deliveries)
    ]


def _inhibit_rules() -> list[dict[str, Any]]:
    return [
        {
            "source_matchers": [alertmanager_matcher("severity", "page")],
            "target_matchers": [alertmanager_matcher("severity", "ticket")],
            "equal": ["slo", "service"],
        }
    ]


def generate_alertmanager(
    escalation: Escalation, *, secrets_dir: str = DEFAULT_SECRETS_DIR
) -> dict[str, Any]:
    """The Alertmanager config for ``escalation``; ConfigError lists every problem at once."""
    _check(escalation)
    receivers = [_receiver(r, secrets_dir) for r in escalation.receivers]
    routes = [child for route in escalation.routes for child in _child_routes(escalation, route)]
    config: dict[str, Any] = {}
    if any(r.kind == "email" for r in escalation.receivers):
        config["global"] = dict(_SMTP)
    config["route"] = {
        "receiver": escalation.routes[0].receivers[0],
        "group_by": list(escalation.group_by),
        "routes": routes,
    }
    config["receivers"] = receivers
    config["inhibit_rules"] = _inhibit_rules()
    return config


def render_alertmanager_yaml(escalation: Escalation, **options: Any) -> str:
    """:func:`generate_alertmanager` as YAML text."""
    return yaml_dump(generate_alertmanager(escalation, **options))
