"""Status updates from templates: initial, scoping, update and resolution messages, for the
internal channel (Slack ``mrkdwn``) and the public status page (HTML-safe Markdown).

The templates are Jinja2 files, ``respond/templates/comms/<kind>.md.j2``, each with a
``channel`` switch; a file of the same name in the workspace's ``templates/comms/`` (next to
perfops.yaml) replaces the built-in one. They only format what they are given (the figures
come from ``perfops.app``): every value is escaped for its channel on the way out, Slack's
``&``, ``<``, ``>`` for the internal channel, HTML autoescaping for the status page, so an
incident title cannot mention ``@channel`` or inject a script.

Each message states when the next is due (``escalation.updates`` in perfops.yaml, by
:func:`perfops.respond.policy.next_update_due`: PagerDuty's 5 minutes, then every 20).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from perfops._internal.escape import slack_mrkdwn
from perfops.errors import UsageError

__all__ = ["CHANNELS", "KINDS", "render_message"]

KINDS: tuple[str, ...] = ("initial", "scoping", "update", "resolution")
CHANNELS: tuple[str, ...] = ("internal", "status")


def _utc(ns: Any) -> str:
    if ns is None:
        return "unknown"
    return dt.datetime.fromtimestamp(int(ns) / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _num(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _loader(workspace: Path | None) -> jinja2.BaseLoader:
    builtin = jinja2.PackageLoader("perfops.respond", "templates/comms")
    if workspace is None:
        return builtin
    mine = jinja2.FileSystemLoader(workspace / "templates" / "comms")
    return jinja2.ChoiceLoader([mine, builtin])


def _environment(channel: str, workspace: Path | None) -> jinja2.Environment:
    status_page = channel == "status"
    env = jinja2.Environment(
        loader=_loader(workspace),
        autoescape=status_page,
        finalize=None if status_page else _slack_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["utc"] = _utc
    env.filters["num"] = _num
    return env


def _slack_finalize(value: Any) -> Any:
    return slack_mrkdwn(value) if isinstance(value, str) else value


def render_message(
    kind: str, channel: str, context: Mapping[str, Any], *, workspace: Path | None = None
) -> str:
    """The ``kind`` message for ``channel`` filled with ``context`` (see docs/respond.md for
    its fields); the workspace's ``templates/comms/<kind>.md.j2`` when there is one."""
    if kind not in KINDS:
        raise UsageError(f"unknown message kind {kind!r}", hint=f"kinds: {', '.join(KINDS)}")
    if channel not in CHANNELS:
        raise UsageError(f"unknown channel {channel!r}", hint=f"channels: {', '.join(CHANNELS)}")
    env = _environment(channel, workspace)
    try:
        template = env.get_template(f"{kind}.md.j2")
        return template.render({**context, "channel": channel, "kind": kind}).strip() + "\n"
    except jinja2.TemplateSyntaxError as exc:
        raise UsageError(
            f"{exc.filename or kind}:{exc.lineno}: template syntax error: {exc.message}",
            hint="fix the template (Jinja2 syntax)",
        ) from None
    except jinja2.UndefinedError as exc:
        raise UsageError(
            f"template {kind}.md.j2: {exc.message}",
            hint="use only the fields docs/respond.md lists",
        ) from None
