"""`perfops incident open|update|resolve|close|list|show|message|serve`: the incident
lifecycle in the lake, its status updates, and the Alertmanager webhook receiver; the
escalation policy (`incident policy`, cli/incident_policy.py) and the postmortem draft
(`incident postmortem`, cli/postmortem.py) are mounted here."""

from __future__ import annotations

import datetime as dt
import os
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from perfops.cli._context import echo_json, runtime
from perfops.cli._terminal import echo
from perfops.cli.incident_policy import policy_app
from perfops.cli.postmortem import postmortem

if TYPE_CHECKING:
    from perfops.respond import incident as lifecycle

app = typer.Typer(
    help="Incidents: lifecycle (triage to closed), roles, status updates posted to Slack and "
    "PagerDuty, the Alertmanager webhook receiver that opens them, the escalation policy "
    "and postmortems.",
    no_args_is_help=True,
)
app.add_typer(policy_app, name="policy")
app.command("postmortem")(postmortem)

Id = Annotated[str, typer.Argument(help="the incident id (inc-...)", show_default=False)]
Message = Annotated[str | None, typer.Option("--message", "-m", help="what changed, in a line")]
By = Annotated[str | None, typer.Option("--by", help="who makes the change")]
Json = Annotated[bool, typer.Option("--json", help="print the incident as JSON")]
Services = Annotated[
    list[str] | None, typer.Option("--service", help="an affected service (repeatable)")
]
Slos = Annotated[list[str] | None, typer.Option("--slo", help="an affected SLO (repeatable)")]
Commander = Annotated[str | None, typer.Option("--commander", help="incident commander")]
Scribe = Annotated[str | None, typer.Option("--scribe", help="scribe")]
Liaison = Annotated[str | None, typer.Option("--liaison", help="communications liaison")]
Sme = Annotated[str | None, typer.Option("--sme", help="subject-matter expert")]
Post = Annotated[
    bool, typer.Option("--post", help="post a status update to the slack/pagerduty receivers")
]
To = Annotated[
    list[str] | None, typer.Option("--to", help="post to this receiver only (repeatable)")
]
Kind = Annotated[
    str | None,
    typer.Option("--kind", help="initial, scoping, update or resolution (default: by status)"),
]


def _roles(commander: str | None, scribe: str | None, liaison: str | None, sme: str | None
           ) -> dict[str, str | None]:  # fmt: skip
    return {"incident_commander": commander, "scribe": scribe,
            "communications_liaison": liaison, "subject_matter_expert": sme}  # fmt: skip


def _workspace(ctx: typer.Context) -> Path:
    """The folder of perfops.yaml, where ``templates/comms/`` overrides live."""
    named = (ctx.find_root().obj or {}).get("config")
    return Path(named).resolve().parent if named else Path.cwd()


def _utc(ns: int | None) -> str:
    if ns is None:
        return "-"
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _say(inc: lifecycle.Incident, as_json: bool, verb: str) -> None:
    if as_json:
        echo_json(inc.as_dict())
    else:
        echo(f"{inc.incident_id} {verb}: {inc.status}, {inc.severity}, {inc.title}")


def _post(ctx: typer.Context, inc: lifecycle.Incident, kind: str | None, to: list[str] | None,
          by: str | None, quiet: bool) -> lifecycle.Incident:  # fmt: skip
    from perfops.app.incident_comms import post_update

    after, text = post_update(runtime(ctx), inc, kind=kind, receivers=to or [],
                              environ=os.environ, workspace=_workspace(ctx), by=by)  # fmt: skip
    if not quiet:
        echo(text.rstrip())
    return after


@app.command("open")
def open_(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="what users see, in a line", show_default=False)],
    severity: Annotated[str, typer.Option(help="SEV-1 (worst) .. SEV-5")] = "SEV-3",
    service: Services = None,
    slo: Slos = None,
    commander: Commander = None,
    scribe: Scribe = None,
    liaison: Liaison = None,
    sme: Sme = None,
    message: Message = None,
    by: By = None,
    post: Post = False,
    to: To = None,
    as_json: Json = False,
) -> None:
    """Open an incident (status triage); services and SLOs must be those of perfops.yaml."""
    from perfops.app.incident import open_incident

    inc = open_incident(runtime(ctx), title, severity=severity, services=service or [],
                        slos=slo or [], roles=_roles(commander, scribe, liaison, sme),
                        message=message, by=by)  # fmt: skip
    if post:
        inc = _post(ctx, inc, "initial", to, by, as_json)
    _say(inc, as_json, "opened")


@app.command("update")
def update(
    ctx: typer.Context,
    incident_id: Id,
    status: Annotated[
        str | None,
        typer.Option(help="triage, investigating, identified, monitoring, resolved"),
    ] = None,
    severity: Annotated[str | None, typer.Option(help="SEV-1 .. SEV-5")] = None,
    service: Services = None,
    slo: Slos = None,
    commander: Commander = None,
    scribe: Scribe = None,
    liaison: Liaison = None,
    sme: Sme = None,
    message: Message = None,
    by: By = None,
    post: Post = False,
    to: To = None,
    kind: Kind = None,
    as_json: Json = False,
) -> None:
    """Change an incident's status (checked against the lifecycle), severity, roles,
    services or SLOs (added), or note progress; --post sends a status update."""
    from perfops.app.incident import update_incident

    inc = update_incident(runtime(ctx), incident_id, status=status, severity=severity,
                          services=service or [], slos=slo or [],
                          roles=_roles(commander, scribe, liaison, sme), message=message,
                          by=by)  # fmt: skip
    if post:
        inc = _post(ctx, inc, kind, to, by, as_json)
    _say(inc, as_json, "updated")


@app.command("resolve")
def resolve(
    ctx: typer.Context,
    incident_id: Id,
    message: Message = None,
    by: By = None,
    post: Post = False,
    to: To = None,
    as_json: Json = False,
) -> None:
    """Mark an incident resolved (users are no longer affected); --post sends the
    resolution message."""
    from perfops.app.incident import resolve_incident

    inc = resolve_incident(runtime(ctx), incident_id, message=message, by=by)
    if post:
        inc = _post(ctx, inc, "resolution", to, by, as_json)
    _say(inc, as_json, "resolved")


@app.command("close")
def close(
    ctx: typer.Context, incident_id: Id, message: Message = None, by: By = None,
    as_json: Json = False,
) -> None:  # fmt: skip
    """Close a resolved incident (after its follow-up: the postmortem)."""
    from perfops.app.incident import close_incident

    _say(close_incident(runtime(ctx), incident_id, message=message, by=by), as_json, "closed")


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="only incidents in this status")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="only open ones")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON list")] = False,
) -> None:
    """The incidents, newest first."""
    from perfops.app.incident import incidents

    rows = [i for i in incidents(runtime(ctx))
            if (status is None or i.status == status) and (not open_only or i.is_open)]  # fmt: skip
    if as_json:
        echo_json([_summary(i) for i in rows])
        return
    if not rows:
        echo("no incidents")
    for i in rows:
        echo(f"{i.incident_id}  {i.severity}  {i.status:<13} {_utc(i.opened_ns)}  "
             f"{','.join(i.services) or '-'}  {i.title}")  # fmt: skip


def _summary(inc: lifecycle.Incident) -> dict[str, Any]:
    full = inc.as_dict()
    return {k: v for k, v in full.items() if k not in ("timeline", "alerts")} | {
        "alerts_firing": len(inc.firing)
    }


@app.command("show")
def show(ctx: typer.Context, incident_id: Id, as_json: Json = False) -> None:
    """One incident: its state, roles, alerts and timeline."""
    from perfops.app.incident import incident_state

    inc = incident_state(runtime(ctx), incident_id)
    if as_json:
        echo_json(inc.as_dict())
        return
    echo(f"{inc.incident_id}: {inc.title}\n  status {inc.status}, {inc.severity}, opened "
         f"{_utc(inc.opened_ns)} UTC, services {', '.join(inc.services) or '-'}, SLOs "
         f"{', '.join(inc.slos) or '-'}")  # fmt: skip
    for role, who in inc.roles.items():
        echo(f"  {role.replace('_', ' ')}: {who or 'unassigned'}")
    for alert in inc.alerts.values():
        echo(f"  alert {alert.get('alertname')} {alert.get('status')} since "
             f"{alert.get('starts_at')}")  # fmt: skip
    for ts, data in inc.timeline:
        text = data.get("message") or ""
        echo(f"  {_utc(ts)}  {data.get('action'):<7} {data.get('status'):<13} {text}")


@app.command("message")
def message_(
    ctx: typer.Context,
    incident_id: Id,
    kind: Kind = None,
    channel: Annotated[
        str, typer.Option(help="internal (Slack mrkdwn) or status (status page)")
    ] = "internal",
) -> None:
    """Print a status update filled with the live numbers, without posting it."""
    from perfops.app.incident import incident_state
    from perfops.app.incident_comms import render_update

    rt = runtime(ctx)
    inc = incident_state(rt, incident_id)
    typer.echo(render_update(rt, inc, kind=kind, channel=channel,
                             workspace=_workspace(ctx)).rstrip())  # fmt: skip


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="bind address; anything but loopback needs --token-env")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port (0: a free one)")] = 9095,
    token_env: Annotated[
        str | None,
        typer.Option("--token-env", help="environment variable holding the bearer token"),
    ] = None,
) -> None:
    """Receive Alertmanager's webhook at POST /alertmanager until Ctrl-C: every alert is
    recorded, a firing page alert opens or joins an incident, a resolution marks it."""
    import asyncio

    from perfops.cli.dashboard import _token
    from perfops.web import check_receiver_bind, serve_receiver

    token = _token(token_env)
    check_receiver_bind(host, token)
    rt = runtime(ctx)

    def ready(url: str) -> None:
        echo(f"perfops incident serve: Alertmanager webhook at {url} (Ctrl-C stops it)",
             err=True)  # fmt: skip

    with suppress(KeyboardInterrupt):  # a second Ctrl-C while stopping
        asyncio.run(serve_receiver(rt, host, port, token, ready))
    echo("receiver stopped", err=True)
