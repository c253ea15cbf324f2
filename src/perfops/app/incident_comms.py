"""Status updates of an incident: rendered from the comms templates with the live figures
of :func:`perfops.app.incident_figures.incident_figures`, and posted to the workspace's
Slack-compatible and PagerDuty receivers (``escalation.receivers`` in perfops.yaml).

Secrets stay in the environment: a Slack receiver's webhook URL and a PagerDuty routing key
are read from ``target_env`` at the moment of posting, never written to the lake, a log or
an error message (errors name the receiver, not its URL). A receiver's literal ``target``
is its URL (Slack) or, for PagerDuty, an Events API URL in place of PagerDuty's own when it
starts with http(s):// (a test's loopback receiver), else the routing key.

Each post is journaled as an ``update`` row of the incident with ``posted`` (the message
kind and the receivers' names), which sets when the next update is due.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from perfops.app.incident import record_change
from perfops.app.incident_figures import incident_figures
from perfops.app.runtime import Runtime
from perfops.config.models import Receiver
from perfops.errors import PerfopsError, UsageError
from perfops.respond import comms, notify, policy
from perfops.respond import incident as lifecycle

__all__ = [
    "last_post_ns",
    "message_context",
    "message_kind",
    "next_update_ns",
    "post_update",
    "render_update",
]

POST_TIMEOUT_S = 10.0
_POSTABLE = ("slack", "pagerduty")


def next_update_ns(rt: Runtime, inc: lifecycle.Incident) -> int:
    """When the next status update is due (``escalation.updates``: the first after opening,
    then after the last post), by :func:`perfops.respond.policy.next_update_due`."""
    last = last_post_ns(inc)
    due = policy.next_update_due(rt.config.escalation.updates, inc.opened_ns / 1e9,
                                 None if last is None else last / 1e9)  # fmt: skip
    return round(due * 1e9)


def last_post_ns(inc: lifecycle.Incident) -> int | None:
    """When the last status update was posted; None before the first."""
    posts = [ts for ts, d in inc.timeline if d.get("posted")]
    return posts[-1] if posts else None


def message_kind(inc: lifecycle.Incident) -> str:
    """initial before any post, resolution once resolved, else update."""
    if inc.status in ("resolved", "closed"):
        return "resolution"
    return "initial" if last_post_ns(inc) is None else "update"


def message_context(
    rt: Runtime, inc: lifecycle.Incident, message: str | None = None, at_ns: int | None = None
) -> dict[str, Any]:
    """What the templates are given (docs/respond.md lists it)."""
    now = rt.clock.now_ns() if at_ns is None else at_ns
    latest = message or next((d["message"] for _, d in reversed(inc.timeline)
                              if d.get("message") and not d.get("posted")
                   and d.get("by") != "alertmanager"), None)  # fmt: skip
    resolved = inc.status in ("resolved", "closed")
    return {
        "incident": inc.as_dict(),
        "message": latest,
        "now_ns": now,
        "next_update_ns": None if resolved else max(now, next_update_ns(rt, inc)),
        **incident_figures(rt, inc, now),
    }


def render_update(
    rt: Runtime,
    inc: lifecycle.Incident,
    *,
    kind: str | None = None,
    channel: str = "internal",
    message: str | None = None,
    workspace: Path | None = None,
) -> str:
    """The ``kind`` message (default :func:`message_kind`) for ``channel``."""
    context = message_context(rt, inc, message)
    return comms.render_message(kind or message_kind(inc), channel, context, workspace=workspace)


def _secret(receiver: Receiver, environ: Mapping[str, str]) -> str | None:
    if receiver.target_env is None:
        return None
    value = environ.get(receiver.target_env)
    if not value:
        raise UsageError(
            f"receiver {receiver.name}: ${receiver.target_env} is not set",
            hint=f"export {receiver.target_env} (its secret) before posting",
        )
    return value


def _send(receiver: Receiver, url: str, body: Mapping[str, Any]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=POST_TIMEOUT_S) as answer:
            answer.read()
    except urllib.error.HTTPError as exc:  # the URL may be the secret: never shown
        raise PerfopsError(
            f"receiver {receiver.name} ({receiver.kind}) refused the update: HTTP {exc.code}",
            hint="check the receiver's secret and that the service accepts it",
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PerfopsError(
            f"receiver {receiver.name} ({receiver.kind}) is unreachable: {type(reason).__name__}",
            hint="check the network and the receiver's URL",
        ) from None


def _post_one(
    rt: Runtime, receiver: Receiver, inc: lifecycle.Incident, text: str, environ: Mapping[str, str]
) -> None:
    secret = _secret(receiver, environ)
    target = receiver.target or ""
    if receiver.kind == "slack":
        _send(receiver, secret or target, notify.slack_message(text))
        return
    literal_url = target.startswith(("http://", "https://"))
    key = secret or ("" if literal_url else target)
    url = target if literal_url else notify.PAGERDUTY_EVENTS_URL
    first = last_post_ns(inc) is None
    summary = f"[{inc.severity}] {inc.title} ({inc.status})"
    details = {"incident_id": inc.incident_id, "status": inc.status, "update": text}
    event = notify.pagerduty_event(key, inc.as_dict(), summary,
                            action=notify.pagerduty_action(inc.status, first),
                            timestamp_ns=rt.clock.now_ns(), details=details)  # fmt: skip
    _send(receiver, url, event)


def _receivers(rt: Runtime, names: Sequence[str]) -> list[Receiver]:
    known = {r.name: r for r in rt.config.escalation.receivers if r.kind in _POSTABLE}
    if not known:
        raise UsageError(
            "perfops.yaml has no slack or pagerduty receiver to post to",
            hint="add one under escalation.receivers (kind: slack|pagerduty, target_env: VAR)",
        )
    missing = [n for n in names if n not in known]
    if missing:
        raise UsageError(f"no slack or pagerduty receiver {missing[0]!r}",
                         hint=f"receivers: {', '.join(known)}")  # fmt: skip
    return [known[n] for n in names] if names else list(known.values())


def post_update(
    rt: Runtime,
    inc: lifecycle.Incident,
    *,
    kind: str | None = None,
    receivers: Sequence[str] = (),
    environ: Mapping[str, str],
    workspace: Path | None = None,
    by: str | None = None,
) -> tuple[lifecycle.Incident, str]:
    """Render the internal message and post it to ``receivers`` (default: every slack and
    pagerduty receiver); journal the post; return the incident after it and the text."""
    chosen = _receivers(rt, receivers)
    kind = kind or message_kind(inc)
    text = render_update(rt, inc, kind=kind, workspace=workspace)
    sent: list[str] = []
    try:
        for receiver in chosen:
            _post_one(rt, receiver, inc, text, environ)
            sent.append(receiver.name)
    finally:  # what went out is journaled even when a later receiver fails
        after = _journal_post(rt, inc, kind, sent, by) if sent else inc
    return after, text


def _journal_post(rt: Runtime, inc: lifecycle.Incident, kind: str, names: list[str],
                  by: str | None) -> lifecycle.Incident:  # fmt: skip
    return record_change(rt, inc, "update", by=by, posted={"kind": kind, "receivers": names},
                         message=f"{kind} update posted to {', '.join(names)}")  # fmt: skip
